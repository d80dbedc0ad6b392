// Replaying a trace: the same runner, one fixed sequence, every op and observation reported as it goes.
import { resolveEngine } from "../engines/resolve.ts";
import { checkWith, type Failure, type Step } from "./runner.ts";
import { validateTrace } from "./trace.ts";

export interface ReplayOptions {
  /** model (default), oracle, mutant:NAME, stdio:CMD */
  readonly engine?: string;
  readonly onStep?: (step: Step) => void;
}

/** Run a trace (a parsed JSON value) against an engine; the first failure, or undefined if every property held. */
export async function checkTrace(json: unknown, options: ReplayOptions = {}): Promise<Failure | undefined> {
  const { layer, trace } = validateTrace(json);
  const factory = resolveEngine(layer, options.engine ?? "model");
  try {
    return await checkWith(layer, trace.geometry, factory, trace.ops, {
      expected: trace.expected,
      onStep: options.onStep,
    });
  } finally {
    await factory.dispose?.();
  }
}
