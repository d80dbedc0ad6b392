// Parallel campaigns: the same verdict and the same counterexample whichever thread finishes first.
import { expect, test } from "vitest";
import { resolveEngine } from "../engines/resolve.ts";
import { runParallelCampaign } from "../fuzz/parallel.ts";
import { checkWith } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";

const registry = new URL("../layers/index.ts", import.meta.url).href;
const named = async (spec: string) => ({ spec, factory: await resolveEngine(mmLayer, spec) });

test("two workers kill a mutant; the lowest failing stream decides, so repeated runs agree", async () => {
  const run = async () =>
    runParallelCampaign(mmLayer, await named("mutant:wp-copy-leak"), {
      seed: 1,
      runs: 2000,
      maxOps: 200,
      workers: 2,
      registry,
    });
  const [a, b] = [await run(), await run()];
  expect(a.status).toBe("failed");
  expect(b.trace).toEqual(a.trace);
  expect(a.failure?.property).toBe("refcount-conservation");
  const again = await checkWith(
    mmLayer,
    a.trace!.geometry,
    await resolveEngine(mmLayer, "mutant:wp-copy-leak"),
    a.trace!.ops,
  );
  expect(again?.property).toBe("refcount-conservation");
});

test("two workers on the model: every stream passes and the counts add up", async () => {
  const r = await runParallelCampaign(mmLayer, await named("model"), {
    seed: 9,
    runs: 400,
    maxOps: 100,
    workers: 2,
    registry,
  });
  expect(r.status).toBe("passed");
  expect(r.runs).toBe(400);
});
