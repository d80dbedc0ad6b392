// Exhaustive exploration: the model has no counterexample to depth 4 over the alphabet; each mutant's
// counterexample found by BFS is a shortest one (nothing shorter fails, checked by brute force over prefixes).
import { expect, test } from "vitest";
import { resolveEngine } from "../engines/resolve.ts";
import { explore } from "../fuzz/explore.ts";
import { checkWith } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { differences } from "../reports/explain.ts";

test("the mm model survives every sequence of up to 4 ops over the alphabet", async () => {
  const r = await explore(mmLayer, await resolveEngine(mmLayer, "model"), { depth: 4 });
  expect(r.status).toBe("passed");
  const a = mmLayer.alphabet!(mmLayer.defaultGeometry).length;
  expect(r.sequences).toBe(a + a ** 2 + a ** 3 + a ** 4);
});

test.each(["fork-no-tlb-flush", "wp-copy-leak", "zero-page-written", "eager-fork"])(
  "explore finds a shortest counterexample for %s",
  async (name) => {
    const factory = await resolveEngine(mmLayer, `mutant:${name}`);
    const r = await explore(mmLayer, factory, { depth: 4 });
    expect(r.status).toBe("failed");
    const ops = r.result!.trace!.ops;
    expect(await checkWith(mmLayer, mmLayer.defaultGeometry, factory, ops)).toBeDefined();
    // BFS order: every shorter sequence over the alphabet passed, so in particular every proper prefix does
    for (let n = 1; n < ops.length; n++)
      expect(await checkWith(mmLayer, mmLayer.defaultGeometry, factory, ops.slice(0, n))).toBeUndefined();
  },
);

test("differences are positional paths", () => {
  expect(differences({ data: [0, 0, 0] }, { data: [1, 0, 2] })).toEqual(["data[0]: 0 → 1", "data[2]: 0 → 2"]);
  expect(differences({ data: [0] }, { fault: "SEGV" })).toEqual(["data: [0] → absent", 'fault: absent → "SEGV"']);
  expect(differences({ pid: 2 }, { pid: 2 })).toEqual([]);
});
