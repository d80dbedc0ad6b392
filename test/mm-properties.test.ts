// Property tests of the reference model with fixed seeds, over several geometries; and the JSON state path
// (what a stdio engine's inspect answers) judges exactly as the in-process path does.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Engine } from "../core/index.ts";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { decodeMmState, encodeMmState } from "../models/mm/state.ts";
import {
  defaultMmGeometry,
  MM_FEATURES,
  type MmGeometry,
  type MmObs,
  type MmOp,
  type MmState,
} from "../models/mm/types.ts";
import { campaignOn } from "./helpers.ts";

const geometries: MmGeometry[] = [
  defaultMmGeometry,
  { ...defaultMmGeometry, cellsPerPage: 1, pages: 4 },
  { ...defaultMmGeometry, cellsPerPage: 8, pages: 64 },
  { ...defaultMmGeometry, cellsPerPage: 2, pages: 65_536 },
  { ...defaultMmGeometry, hugeOrder: 3, files: 1, pages: 64 },
];

describe.each(geometries.map((g) => [JSON.stringify(g), g] as const))(
  "the mm model holds every property, geometry %s",
  (_, g) => {
    test.each([1, 2, 3])("seed %i", async (seed) => {
      const r = await campaignOn(mmLayer, "model", {
        seed,
        runs: 300,
        maxOps: 300,
        geometry: g,
      });
      expect(r.failure?.message).toBeUndefined();
      expect(r.status).toBe("passed");
      expect(r.ops).toBeGreaterThan(300 * 50);
    });
  },
);

/** The model seen only through JSON: inspect encodes, the layer decodes (no `touched`, so every check is full). */
class ThroughJson implements Engine<MmOp, MmObs, MmState> {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string>;
  constructor(private readonly inner: MmModel) {
    this.features = inner.features;
  }
  apply(op: MmOp): MmObs {
    return this.inner.apply(op);
  }
  inspect(): MmState {
    return decodeMmState(JSON.parse(JSON.stringify(encodeMmState(this.inner))), this.inner.geometry);
  }
}

test("decoded JSON state passes on the model, and fails each structural mutant's trace the same way", async () => {
  const g = defaultMmGeometry;
  await fc.assert(
    fc.asyncProperty(sequenceArbitrary(mmLayer, g, new Set(["inspect", ...MM_FEATURES]), 100), async (ops) => {
      expect(await checkSequence(mmLayer, g, new ThroughJson(new MmModel(g)), ops)).toBeUndefined();
    }),
    { seed: 11, numRuns: 60 },
  );
  for (const m of mmLayer.mutants) {
    const r = await campaignOn(mmLayer, `mutant:${m.name}`, {
      seed: 1,
      runs: 20_000,
      maxOps: 200,
    });
    if (r.failure?.kind === "equivalence") continue;
    const tg = r.trace!.geometry as MmGeometry; // a mutant may prefer its own (the mTHP ones)
    const viaJson = await checkSequence(mmLayer, tg, new ThroughJson(m.create(tg) as MmModel), r.trace!.ops);
    expect(viaJson?.property, m.name).toBe(r.failure!.property);
  }
});
