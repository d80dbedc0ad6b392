// Replaying a trace: the same runner, one fixed sequence, every op and observation reported as it goes.
import {
  type AnyLayer,
  type EngineFactory,
  type Failure,
  resolveGeometry,
  type Step,
  type Trace,
} from "../core/index.ts";
import { type CheckOptions, checkWith } from "./runner.ts";

export interface ReplayOptions extends Omit<CheckOptions, "expected"> {
  readonly onStep?: (step: Step) => void;
}

/**
 * Run a validated trace on an engine, with the geometry the geometry rule gives it; the first failure, or undefined
 * if every observation (the trace's recorded ones too) and property held.
 */
export function replayTrace(
  layer: AnyLayer,
  trace: Trace,
  factory: EngineFactory,
  options: ReplayOptions = {},
): Promise<Failure | undefined> {
  const geometry = resolveGeometry(layer, { engine: factory, user: trace.geometry });
  return checkWith(layer, geometry, factory, trace.ops, { ...options, expected: trace.expected });
}
