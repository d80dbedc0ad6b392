// Throughput of every layer and flavour, the same way for each: sequences generated up front (fixed seed, every
// feature the model offers), then the bare model, the oracle alone, and the full check (model + oracle +
// observation compare + every property per op) timed over them. ratio = bare / checked: what checking costs;
// oracleFloor = 1 + bare / oracle: the least it can cost while the (eager) oracle runs every op.
// scaling: the full check's ops/s on longer sequences at the layer's geometry over the same at a geometry whose size
// is as much as 1,000× larger (as far as the layer's schema allows; LARGER says by what): 1 means flat.
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
  /**
   * The lowest bare / checked the oracle leaves, if everything else cost nothing: the model and the oracle both run
   * every op, so (1/bare + 1/oracle) / (1/bare) = 1 + bare / oracle.
   */
  readonly oracleFloor: number;
  readonly ops: number;
  /** Checked ops/s at the layer's geometry over checked ops/s at the larger one, on longer sequences. */
  readonly scaling: number;
  /** What the larger geometry is. */
  readonly scaledBy: string;
}

/** Each layer's size made larger: 1,000× where its schema allows, else its most (the text says what). */
const LARGER: Record<string, { readonly by: string; readonly geometry: (g: Record<string, unknown>) => object }> = {
  mm: { by: "pages ×1,000", geometry: (g) => ({ ...g, pages: (g.pages as number) * 1000 }) },
  overlay: {
    by: "names 3→16, depth 3→4 (39 → 69,904 paths)",
    geometry: (g) => ({ ...g, names: "abcdefghijklmnop".split(""), depth: 4 }),
  },
  snapshot: { by: "keys 10→1,024 (the schema's most)", geometry: (g) => ({ ...g, keys: 1024 }) },
  mvcc: { by: "keys 4→64 (the schema's most)", geometry: (g) => ({ ...g, keys: 64 }) },
};

/** The scaling runs: fewer, longer sequences, so that the state grows. */
const LONG = { sequences: 30, maxOps: 1000, rounds: 1 };

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
  const seqs = sample(layer, geometry, o);
  const bare = await rate(seqs, o.rounds, (ops) => {
    const m = layer.model(geometry);
    for (const op of ops) m.apply(op);
  });
  const oracle = await rate(seqs, o.rounds, (ops) => {
    const m = layer.oracle(geometry);
    for (const op of ops) m.apply(op);
  });
  const checked = await checkedRate(layer, flavour, geometry, seqs, o.rounds);
  const ops = seqs.reduce((a, s) => a + s.length, 0);
  const larger = LARGER[layer.name];
  const long = async (g: unknown) => checkedRate(layer, flavour, g, sample(layer, g, LONG), LONG.rounds);
  const scaling = larger
    ? (await long(geometry)) /
      (await long(layer.geometrySchema.parse(larger.geometry(geometry as Record<string, unknown>))))
    : Number.NaN;
  return {
    layer: layer.name,
    flavour,
    bare,
    oracle,
    checked,
    ratio: bare / checked,
    oracleFloor: 1 + bare / oracle,
    ops,
    scaling,
    scaledBy: larger?.by ?? "no larger geometry known",
  };
}

/** Sequences generated at this geometry (seed 42, every feature the model offers). */
function sample(layer: AnyLayer, geometry: unknown, o: Pick<RateOptions, "sequences" | "maxOps">): unknown[][] {
  const arb = sequenceArbitrary(layer, geometry, layer.model(geometry).features, o.maxOps);
  return fc.sample(arb, { seed: 42, numRuns: o.sequences });
}

/** The full check's ops/s over these sequences. */
function checkedRate(
  layer: AnyLayer,
  flavour: string,
  geometry: unknown,
  seqs: readonly unknown[][],
  rounds: number,
): Promise<number> {
  return rate(seqs, rounds, async (ops) => {
    const f = await checkSequence(layer, geometry, layer.model(geometry), ops);
    if (f) throw new Error(`a bench sequence of ${layer.name} (${flavour}) failed ${f.property}: ${f.message}`);
  });
}
