// Replaying a trace: the same runner, one fixed sequence, every op and observation reported as it goes; a failing
// interleaving's trace replays its schedule instead (docs/races.md).
import {
  type AnyLayer,
  type EngineFactory,
  type Failure,
  InputError,
  type Program,
  resolveGeometry,
  type Step,
  type Trace,
} from "../core/index.ts";
import { checkSchedule } from "./interleave.ts";
import { type CheckOptions, checkWith } from "./runner.ts";

export interface ReplayOptions extends Omit<CheckOptions, "expected"> {
  readonly onStep?: (step: Step) => void;
}

/** The program of a trace that records an interleaving: its ops are the prelude. */
export function programOf(trace: Trace): Program {
  const il = trace.interleaving;
  if (!il) throw new Error("programOf: the trace records no interleaving");
  return { prelude: trace.ops, threads: il.threads, epilogue: il.epilogue };
}

/**
 * Run a validated trace on an engine, with the geometry the geometry rule gives it; the first failure, or undefined
 * if every observation (the trace's recorded ones too) and property held. An interleaving's trace runs its
 * schedule, judged as the explorer judges one; its failure is placed after the prelude.
 */
export async function replayTrace(
  layer: AnyLayer,
  trace: Trace,
  factory: EngineFactory,
  options: ReplayOptions = {},
): Promise<Failure | undefined> {
  const geometry = resolveGeometry(layer, { engine: factory, user: trace.geometry });
  if (trace.interleaving) {
    if (options.against)
      throw new InputError("--against compares views op by op; an interleaving is replayed without it");
    const r = await checkSchedule(layer, geometry, factory, programOf(trace), trace.interleaving.schedule);
    const f = r.failure;
    return f && { index: trace.ops.length, property: f.property, kind: f.kind, message: f.message };
  }
  return checkWith(layer, geometry, factory, trace.ops, { ...options, expected: trace.expected });
}
