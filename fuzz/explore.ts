// Exhaustive exploration: every sequence over the layer's small alphabet, shortest first (BFS by length), so the
// first failure found is a shortest counterexample over that alphabet.
import {
  type AnyLayer,
  type CampaignResult,
  type EngineFactory,
  featuresNeeded,
  InputError,
  resolveGeometry,
  type Step,
  type Trace,
} from "../core/index.ts";
import { checkWith, drawTrace, startEngine } from "./runner.ts";

export interface ExploreOptions {
  readonly depth: number;
  /** The user's geometry fields; the geometry rule completes them (core/geometry.ts). */
  readonly geometry?: unknown;
  readonly onProgress?: (p: { depth: number; sequences: number; elapsedMs: number }) => void;
}

export interface ExploreResult {
  readonly status: "passed" | "failed";
  readonly depth: number;
  /** Ops in the alphabet (those the engine supports). */
  readonly alphabet: number;
  readonly sequences: number;
  readonly elapsedMs: number;
  /** The layer's prelude, which every explored sequence starts with. */
  readonly prelude: number;
  /** For "failed": the shortest counterexample as a campaign result (its trace, steps and state picture). */
  readonly result?: CampaignResult;
}

/** Every sequence up to the depth, shortest first. The factory is borrowed: whoever made it disposes it. */
export async function explore(
  layer: AnyLayer,
  factory: EngineFactory,
  options: ExploreOptions,
): Promise<ExploreResult> {
  if (!layer.alphabet) throw new InputError(`layer ${layer.name} has no exploration alphabet`);
  const geometry = resolveGeometry(layer, { engine: factory, user: options.geometry });
  // Only ops the engine supports: a probe engine says which features it has.
  const probe = await startEngine(factory, geometry);
  const features = probe.features;
  await probe.close?.();
  const alphabet = layer.alphabet(geometry).filter((op) => featuresNeeded(layer, op).every((f) => features.has(f)));
  const started = Date.now();
  let sequences = 0;
  let lastReport = 0;
  const outcome = { alphabet: alphabet.length, prelude: layer.prelude.length };
  for (let depth = 1; depth <= options.depth; depth++) {
    const digits = new Array<number>(depth).fill(0);
    for (;;) {
      const ops = [...layer.prelude, ...digits.map((d) => alphabet[d])];
      sequences++;
      const failure = await checkWith(layer, geometry, factory, ops);
      if (failure) {
        const elapsedMs = Date.now() - started;
        const failing = ops.slice(0, failure.index + 1);
        const trace: Trace = { cowcheck: 1, layer: layer.name, geometry, features: [], ops: failing };
        const steps: Step[] = [];
        await checkWith(layer, geometry, factory, failing, { onStep: (step) => steps.push(step) });
        const result: CampaignResult = {
          status: "failed",
          engine: factory.name,
          layer: layer.name,
          seed: 0,
          runs: sequences,
          ops: 0,
          elapsedMs,
          trace,
          failure,
          originalLength: failing.length,
          steps,
          anomaly: layer.classify?.(failing, failure, geometry),
          ...(await drawTrace(layer, geometry, factory, failing, steps, failure)),
        };
        return { status: "failed", depth, sequences, elapsedMs, ...outcome, result };
      }
      const now = Date.now();
      if (now - lastReport >= 100) {
        lastReport = now;
        options.onProgress?.({ depth, sequences, elapsedMs: now - started });
        // an in-process engine never leaves the microtask queue: give the event loop a turn, so Ctrl-C stops it
        await new Promise((r) => setImmediate(r));
      }
      // next sequence of this length, in lexicographic order (an odometer over the alphabet)
      let i = depth - 1;
      while (i >= 0 && ++digits[i] === alphabet.length) digits[i--] = 0;
      if (i < 0) break;
    }
  }
  return { status: "passed", depth: options.depth, sequences, elapsedMs: Date.now() - started, ...outcome };
}

/**
 * The length of a shortest counterexample over the layer's alphabet (explore's first failure: the layer's prelude
 * and the ops up to the failing one), or null where none exists up to the depth (or the layer has no alphabet). It
 * costs one explore: a + a² + … + a^depth sequences for an alphabet of a ops when nothing fails (mm's 18 ops at depth
 * 5: 2,000,718 sequences, about a minute). The factory is borrowed.
 */
export async function shortestKill(
  layer: AnyLayer,
  factory: EngineFactory,
  depth: number,
  options: Omit<ExploreOptions, "depth"> = {},
): Promise<number | null> {
  if (!layer.alphabet) return null;
  const r = await explore(layer, factory, { ...options, depth });
  return r.status === "failed" ? (r.result?.trace?.ops.length ?? null) : null;
}
