// Every mutant is killed within the default budget, by the kind of property it is meant to trip, and the
// minimized trace it leaves replays: it fails on the mutant and passes on the reference model.
import { describe, expect, test } from "vitest";
import { resolveEngine } from "../engines/resolve.ts";
import { checkWith } from "../fuzz/runner.ts";
import { layers } from "../layers/index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { campaignOn } from "./helpers.ts";

const zoo = layers.flatMap((layer) => layer.mutants.map((m) => [`${layer.name} mutant ${m.name}`, layer, m] as const));
describe.each(zoo)("%s", (_, layer, m) => {
  test("is killed (seed 1, default mutant budget) by the kind of property it is meant to trip, and its trace replays", async () => {
    const r = await campaignOn(layer, `mutant:${m.name}`, {
      seed: 1,
      runs: 20_000,
      maxOps: 200,
    });
    expect(r.status, `${m.name} survived ${r.runs} runs`).toBe("failed");
    if (m.killedBy) expect(r.failure!.kind).toBe(m.killedBy);
    const again = await checkWith(
      layer,
      r.trace!.geometry,
      await resolveEngine(layer, `mutant:${m.name}`),
      r.trace!.ops,
    );
    expect(again?.property).toBe(r.failure!.property);
    expect(
      await checkWith(layer, r.trace!.geometry, await resolveEngine(layer, "model"), r.trace!.ops),
    ).toBeUndefined();
  });
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
