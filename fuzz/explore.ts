// Exhaustive exploration: every sequence over the layer's small alphabet, shortest first (BFS by length), so the
// first failure found is a shortest counterexample over that alphabet.
import type { EngineFactory } from "../engines/types.ts";
import type { AnyLayer } from "../layers/layer.ts";
import { checkWith, type Failure } from "./runner.ts";
import type { Trace } from "./trace.ts";

export interface ExploreOptions {
  readonly depth: number;
  readonly geometry?: unknown;
  readonly onProgress?: (p: { depth: number; sequences: number; elapsedMs: number }) => void;
}

export interface ExploreResult {
  readonly status: "passed" | "failed";
  readonly depth: number;
  readonly alphabet: number;
  readonly sequences: number;
  readonly elapsedMs: number;
  readonly trace?: Trace;
  readonly failure?: Failure;
}

export async function explore(
  layer: AnyLayer,
  factory: EngineFactory,
  options: ExploreOptions,
): Promise<ExploreResult> {
  try {
    return await search(layer, factory, options);
  } finally {
    await factory.dispose?.();
  }
}

async function search(layer: AnyLayer, factory: EngineFactory, options: ExploreOptions): Promise<ExploreResult> {
  if (!layer.alphabet) throw new Error(`layer ${layer.name} has no exploration alphabet`);
  const geometry = options.geometry ?? { ...(layer.defaultGeometry as object), ...factory.geometry };
  // Only ops the engine supports: a probe engine says which features it has.
  const probe = await factory.create(geometry);
  const features = probe.features;
  await probe.close?.();
  const alphabet = layer.alphabet(geometry).filter((op) => {
    const needs = layer.requires?.(op);
    return needs === undefined || features.has(needs);
  });
  const started = Date.now();
  let sequences = 0;
  let lastReport = 0;
  for (let depth = 1; depth <= options.depth; depth++) {
    const digits = new Array<number>(depth).fill(0);
    for (;;) {
      const ops = [...layer.prelude, ...digits.map((d) => alphabet[d])];
      sequences++;
      const failure = await checkWith(layer, geometry, factory, ops);
      if (failure) {
        const trace: Trace = {
          cowcheck: 1,
          layer: layer.name,
          geometry,
          features: [],
          ops: ops.slice(0, failure.index + 1),
        };
        return {
          status: "failed",
          depth,
          alphabet: alphabet.length,
          sequences,
          elapsedMs: Date.now() - started,
          trace,
          failure,
        };
      }
      const now = Date.now();
      if (options.onProgress && now - lastReport >= 100) {
        lastReport = now;
        options.onProgress({ depth, sequences, elapsedMs: now - started });
      }
      // next sequence of this length, in lexicographic order (an odometer over the alphabet)
      let i = depth - 1;
      while (i >= 0 && ++digits[i] === alphabet.length) digits[i--] = 0;
      if (i < 0) break;
    }
  }
  return {
    status: "passed",
    depth: options.depth,
    alphabet: alphabet.length,
    sequences,
    elapsedMs: Date.now() - started,
  };
}
