// A campaign: generate op sequences with fast-check, run each through the runner, shrink the first failure
// (fast-check's shrinker, then one-op removal to 1-minimality) and hand back a replayable trace.
import fc from "fast-check";
import { EngineFailure, type EngineFactory } from "../engines/types.ts";
import type { AnyLayer } from "../layers/layer.ts";
import { checkWith, renderStateAfter, type Failure, type Step } from "./runner.ts";
import { minimizeWith } from "./minimize.ts";
import type { Trace } from "./trace.ts";

export interface CampaignOptions {
  readonly seed: number;
  /** Sequences to run (at most). */
  readonly runs: number;
  /** Longest generated sequence (the layer's prelude comes on top). */
  readonly maxOps: number;
  /** Stop generating new sequences after this long (shrinking still completes). */
  readonly timeMs?: number;
  readonly geometry?: unknown;
  /** Restrict generated ops to these features (default: the engine's). */
  readonly features?: ReadonlySet<string>;
  readonly onProgress?: (p: Progress) => void;
}

export interface Progress {
  readonly runs: number;
  readonly ops: number;
  readonly elapsedMs: number;
  readonly phase: "fuzz" | "shrink";
}

export interface CampaignResult {
  readonly status: "passed" | "failed" | "engine-failure";
  readonly engine: string;
  readonly layer: string;
  readonly seed: number;
  readonly runs: number;
  readonly ops: number;
  readonly elapsedMs: number;
  /** For "failed": the minimized trace and what it violates. */
  readonly trace?: Trace;
  readonly failure?: Failure;
  readonly originalLength?: number;
  /** For "failed": each op of the trace with the engine's and the oracle's observation. */
  readonly steps?: readonly Step[];
  /** The engine's state after the failing op, drawn by the layer (when the engine can be inspected). */
  readonly state?: string;
  /** For "engine-failure": the error, and the trace up to and including the op that broke the engine. */
  readonly engineFailure?: { kind: string; message: string; detail?: string };
}

export function sequenceArbitrary(layer: AnyLayer, geometry: unknown, features: ReadonlySet<string>, maxOps: number): fc.Arbitrary<unknown[]> {
  return fc
    .array(layer.opArbitrary(geometry, features), { minLength: 1, maxLength: maxOps, size: "max" })
    .map((ops) => [...layer.prelude, ...ops]);
}

export async function runCampaign(layer: AnyLayer, factory: EngineFactory, options: CampaignOptions): Promise<CampaignResult> {
  const geometry = options.geometry ?? layer.defaultGeometry;
  const started = Date.now();
  const probe = await factory.create(geometry);
  const features = options.features ?? probe.features;
  await probe.close?.();

  let runs = 0;
  let ops = 0;
  let lastReport = 0;
  let shrinking = false;
  let brokenEngine: { error: EngineFailure; ops: unknown[] } | undefined;
  const progress = (): void => {
    const now = Date.now();
    if (options.onProgress && now - lastReport >= 100) {
      lastReport = now;
      options.onProgress({ runs, ops, elapsedMs: now - started, phase: shrinking ? "shrink" : "fuzz" });
    }
  };

  const property = fc.asyncProperty(sequenceArbitrary(layer, geometry, features, options.maxOps), async (seq) => {
    if (brokenEngine) return true; // an engine failure ends the campaign: do not shrink it
    if (!shrinking) {
      runs++;
      ops += seq.length;
    }
    progress();
    try {
      const failure = await checkWith(layer, geometry, factory, seq);
      if (failure) shrinking = true;
      return failure === undefined;
    } catch (e) {
      if (!(e instanceof EngineFailure)) throw e;
      brokenEngine = { error: e, ops: seq };
      return true;
    }
  });

  const details = await fc.check(property, {
    seed: options.seed,
    numRuns: options.runs,
    interruptAfterTimeLimit: options.timeMs,
    markInterruptAsFailure: false,
    endOnFailure: false,
  });

  const base = { engine: factory.name, layer: layer.name, seed: options.seed, runs, ops };
  const traceOf = (seqOps: unknown[]): Trace => ({ cowcheck: 1, layer: layer.name, geometry, features: [...features].sort(), seed: options.seed, ops: seqOps });

  if (brokenEngine) {
    const e = brokenEngine.error;
    return {
      ...base, status: "engine-failure", elapsedMs: Date.now() - started,
      trace: traceOf(brokenEngine.ops.slice(0, (e.opIndex ?? brokenEngine.ops.length - 1) + 1)),
      engineFailure: { kind: e.kind, message: e.opIndex === undefined ? e.message : `op ${e.opIndex}: ${e.message}`, detail: e.detail },
    };
  }
  if (!details.failed) return { ...base, status: "passed", elapsedMs: Date.now() - started };
  if (!details.counterexample) throw details.errorInstance ?? new Error("fast-check failed without a counterexample");

  const shrunk = details.counterexample[0] as unknown[];
  const first = await checkWith(layer, geometry, factory, shrunk);
  if (!first) throw new Error(`${factory.name}: the shrunk counterexample no longer fails (the engine is not deterministic)`);
  const minimal = await minimizeWith(
    shrunk,
    async (candidate) => (await checkWith(layer, geometry, factory, candidate))?.property === first.property,
    layer.simplify?.bind(layer),
  );
  const steps: Step[] = [];
  const failure = (await checkWith(layer, geometry, factory, minimal, { onStep: (step) => steps.push(step) }))!;
  const failing = minimal.slice(0, failure.index + 1);
  return {
    ...base, status: "failed", elapsedMs: Date.now() - started,
    trace: traceOf(failing), failure, originalLength: shrunk.length, steps, state: await renderStateAfter(layer, geometry, factory, failing),
  };
}
