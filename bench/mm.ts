// npm run bench, the mm layer in detail: the base op set, unarranged sequences and the address-space scaling beside
// every feature. Sequences are generated up front (fixed seed) so only execution is timed: the bare model, and the
// full check (model + oracle + observation compare + every property per op).
import fc from "fast-check";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, MM_FEATURES, type MmGeometry, type MmOp } from "../models/mm/types.ts";
import { rate } from "./layers.ts";

const SEQUENCES = 400;
const OPS = 500;
const ROUNDS = 5;

/** Every mm feature on (pins, THP, KSM, files), as `cowcheck run` uses with the model; or the base op set (none). */
const ALL = new Set(["inspect", ...MM_FEATURES]);
const BASE = new Set(["inspect"]);

/** Without `arrange`: most ops then name an exited process or an unmapped page. */
const UNARRANGED = { ...mmLayer, arrange: undefined };

function sequences(g: MmGeometry, features: ReadonlySet<string>, layer = mmLayer): MmOp[][] {
  const arb = sequenceArbitrary(layer, g, features, OPS).filter((s) => s.length > OPS / 2);
  return fc.sample(arb, { seed: 42, numRuns: SEQUENCES }) as MmOp[][];
}

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`.padStart(10);
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(10);

/** The fraction of ops that do something (neither an error nor a fault). */
function useful(g: MmGeometry, seqs: MmOp[][]): number {
  let ok = 0;
  let all = 0;
  for (const s of seqs) {
    const m = new MmModel(g);
    for (const op of s) {
      const o = m.apply(op);
      all++;
      if (!("error" in o) && !("fault" in o)) ok++;
    }
  }
  return ok / all;
}

async function measure(
  g: MmGeometry,
  features = ALL,
  layer = mmLayer,
): Promise<{ checked: number; bare: number; useful: number }> {
  const seqs = sequences(g, features, layer);
  const bare = await rate(seqs, ROUNDS, (ops) => {
    const m = new MmModel(g);
    for (const op of ops as MmOp[]) m.apply(op);
  });
  const checked = await rate(seqs, ROUNDS, async (ops) => {
    const f = await checkSequence(layer, g, new MmModel(g), ops);
    if (f) throw new Error(`bench sequence failed ${f.property}: ${f.message}`);
  });
  return { checked, bare, useful: useful(g, seqs) };
}

export interface MmBench {
  readonly small: Measured;
  readonly base: Measured;
  readonly unarranged: Measured;
  readonly p64: Measured;
  readonly p64k: Measured;
}
type Measured = Awaited<ReturnType<typeof measure>>;

export async function mmBench(): Promise<MmBench> {
  const small = await measure(defaultMmGeometry);
  const base = await measure(defaultMmGeometry, BASE);
  const unarranged = await measure(defaultMmGeometry, BASE, UNARRANGED);
  const p64 = await measure({ ...defaultMmGeometry, pages: 64 });
  const p64k = await measure({ ...defaultMmGeometry, pages: 65_536 });
  return { small, base, unarranged, p64, p64k };
}

export function printMm({ small, base, unarranged, p64, p64k }: MmBench): void {
  console.log(`mm layer, ${SEQUENCES} sequences of ≤${OPS} ops, best of ${ROUNDS} rounds (node ${process.version})`);
  console.log(
    `every feature on (${MM_FEATURES.join(", ")}); small geometry (${defaultMmGeometry.pages} pages, ${defaultMmGeometry.cellsPerPage} cells/page, huge page ${1 << defaultMmGeometry.hugeOrder} pages):`,
  );
  console.log(`  checked ops/s (model + oracle + every property) ${fmt(small.checked)}`);
  console.log(`  bare model ops/s                                ${fmt(small.bare)}`);
  console.log(
    `  checked/bare cost ratio                         ${(small.bare / small.checked).toFixed(2).padStart(10)}x`,
  );
  console.log(`  ops that do something (not an error or fault)   ${pct(small.useful)}`);
  console.log(`the base op set only (no pins, THP, KSM, files), same geometry:`);
  console.log(`  checked ops/s                                   ${fmt(base.checked)}`);
  console.log(`  bare model ops/s                                ${fmt(base.bare)}`);
  console.log(
    `  checked/bare cost ratio                         ${(base.bare / base.checked).toFixed(2).padStart(10)}x`,
  );
  console.log(`  ops that do something                           ${pct(base.useful)}`);
  console.log(`the base op set, sequences not arranged (most ops miss):`);
  console.log(`  checked ops/s                                   ${fmt(unarranged.checked)}`);
  console.log(`  bare model ops/s                                ${fmt(unarranged.bare)}`);
  console.log(`  ops that do something                           ${pct(unarranged.useful)}`);
  console.log(`address-space scaling, every feature on (checked ops/s):`);
  console.log(`  64 pages                                        ${fmt(p64.checked)}`);
  console.log(`  65,536 pages                                    ${fmt(p64k.checked)}`);
  console.log(
    `  64-page / 65,536-page                           ${(p64.checked / p64k.checked).toFixed(2).padStart(10)}x`,
  );
}
