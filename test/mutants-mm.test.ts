// The mm zoo (test/mutant-zoo.ts): each mutant killed, its trace failing the same way with the state decoded from
// JSON (what a stdio engine's inspect answers); the mutants that only the economy bounds, or only the data, catch.
import { expect, test } from "vitest";
import { checkSequence } from "../fuzz/runner.ts";
import { layers } from "../layers/index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import type { MmModel } from "../models/mm/model.ts";
import type { MmGeometry } from "../models/mm/types.ts";
import { campaignOn } from "./helpers.ts";
import { ThroughJson } from "./mm-json.ts";
import { killEach } from "./mutant-zoo.ts";

test("every layer's zoo is run by a test/mutants-*.test.ts file", () => {
  expect(layers.map((l) => l.name).sort()).toEqual(["mm", "mvcc", "overlay", "snapshot"]);
});

// a structural mutant's trace fails the same way when the state comes through JSON (an equivalence kill compares
// observations only)
killEach(mmLayer, mmLayer.mutants, async (r, m) => {
  if (r.failure!.kind === "equivalence") return;
  const tg = r.trace!.geometry as MmGeometry; // a mutant may prefer its own (the mTHP ones)
  const viaJson = await checkSequence(mmLayer, tg, new ThroughJson(m.create(tg) as MmModel), r.trace!.ops);
  expect(viaJson?.property, `${m.name} through JSON`).toBe(r.failure!.property);
});

test("the eager engine fails only the economy bounds: without them (--skip economy) it survives", async () => {
  const r = await campaignOn(mmLayer, "mutant:eager-fork", {
    seed: 3,
    runs: 300,
    maxOps: 200,
    skip: ["economy"],
  });
  expect(r.failure).toBeUndefined();
  expect(r.status).toBe("passed");
});

// Mutants that an economy bound kills first must still be caught by what they break: the data or the structure.
test.each([
  ["private-file-stale", "observational-equivalence"],
  ["thp-cow-wrong-subpage", "observational-equivalence"],
  ["wp-reuse-by-mapcount", "observational-equivalence"],
])("%s is killed without the economy bounds too, by %s", async (name, property) => {
  const r = await campaignOn(mmLayer, `mutant:${name}`, {
    seed: 1,
    runs: 20_000,
    maxOps: 200,
    skip: ["economy"],
  });
  expect(r.status).toBe("failed");
  expect(r.failure?.property).toBe(property);
});

test("thp-cow-copies-huge gives the right data and structure: without the economy bounds it survives", async () => {
  const r = await campaignOn(mmLayer, "mutant:thp-cow-copies-huge", {
    seed: 1,
    runs: 3000,
    maxOps: 200,
    skip: ["economy"],
  });
  expect(r.status).toBe("passed");
});
