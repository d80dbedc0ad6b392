// Throughput of every layer and flavour, the same way for each: sequences generated up front (fixed seed, every
// feature the model offers), then the bare model, the oracle alone, and the full check (model + oracle +
// observation compare + every property per op) timed over them. ratio = bare / checked: what checking costs.
import fc from "fast-check";
import type { AnyLayer } from "../core/index.ts";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";

export interface LayerRate {
  readonly layer: string;
  readonly flavour: string;
  /** Ops per second. */
  readonly bare: number;
  readonly oracle: number;
  readonly checked: number;
  /** bare / checked. */
  readonly ratio: number;
  readonly ops: number;
}

export interface RateOptions {
  readonly sequences: number;
  readonly maxOps: number;
  /** Timed rounds after one warm-up; the best counts. */
  readonly rounds: number;
}

/** Best of `rounds` (after one warm-up round), in ops per second. */
export async function rate(
  seqs: readonly unknown[][],
  rounds: number,
  run: (ops: unknown[]) => unknown,
): Promise<number> {
  const total = seqs.reduce((a, s) => a + s.length, 0);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round <= rounds; round++) {
    const t0 = performance.now();
    for (const s of seqs) await run(s);
    const ms = performance.now() - t0;
    if (round > 0) best = Math.min(best, ms);
  }
  return (total / best) * 1000;
}

/** The layer's geometry in each flavour: the default, then each flavour's overrides. */
export function flavoursOf(layer: AnyLayer): { name: string; geometry: unknown }[] {
  const base = layer.defaultGeometry as object;
  return [
    { name: "default", geometry: base },
    ...(layer.flavours ?? []).map((f) => ({ name: f.name, geometry: { ...base, ...(f.geometry as object) } })),
  ];
}

export async function measureLayer(
  layer: AnyLayer,
  flavour: string,
  geometry: unknown,
  o: RateOptions,
): Promise<LayerRate> {
  const features = layer.model(geometry).features;
  const arb = sequenceArbitrary(layer, geometry, features, o.maxOps);
  const seqs = fc.sample(arb, { seed: 42, numRuns: o.sequences });
  const bare = await rate(seqs, o.rounds, (ops) => {
    const m = layer.model(geometry);
    for (const op of ops) m.apply(op);
  });
  const oracle = await rate(seqs, o.rounds, (ops) => {
    const m = layer.oracle(geometry);
    for (const op of ops) m.apply(op);
  });
  const checked = await rate(seqs, o.rounds, async (ops) => {
    const f = await checkSequence(layer, geometry, layer.model(geometry), ops);
    if (f) throw new Error(`a bench sequence of ${layer.name} (${flavour}) failed ${f.property}: ${f.message}`);
  });
  const ops = seqs.reduce((a, s) => a + s.length, 0);
  return { layer: layer.name, flavour, bare, oracle, checked, ratio: bare / checked, ops };
}
