// Property tests of the reference model with fixed seeds, over several geometries; and the JSON state path
// (what a stdio engine's inspect answers) judges exactly as the in-process path does.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, MM_FEATURES, type MmGeometry } from "../models/mm/types.ts";
import { campaignOn } from "./helpers.ts";
import { ThroughJson } from "./mm-json.ts";

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

test("decoded JSON state passes on the model (each structural mutant's trace fails the same way through it: test/mutants-mm.test.ts)", async () => {
  const g = defaultMmGeometry;
  await fc.assert(
    fc.asyncProperty(sequenceArbitrary(mmLayer, g, new Set(["inspect", ...MM_FEATURES]), 100), async (ops) => {
      expect(await checkSequence(mmLayer, g, new ThroughJson(new MmModel(g)), ops)).toBeUndefined();
    }),
    { seed: 11, numRuns: 60 },
  );
});
