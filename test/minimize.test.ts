// Minimization: ddmin reaches 1-minimality; the mm rewrites remove processes that deletion alone cannot.
import fc from "fast-check";
import { expect, test } from "vitest";
import { resolveEngine } from "../engines/resolve.ts";
import { minimize, minimizeWith } from "../fuzz/minimize.ts";
import { mmSimplifications } from "../fuzz/mm/ops.ts";
import { checkWith } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import type { MmOp } from "../models/mm/types.ts";

test("ddmin returns a 1-minimal failing subsequence", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat(20), { minLength: 1, maxLength: 60 }),
      fc.uniqueArray(fc.nat(20), { minLength: 1, maxLength: 3 }),
      async (xs, needed) => {
        const input = [...xs, ...needed];
        const fails = async (c: number[]): Promise<boolean> => needed.every((n) => c.includes(n));
        const out = await minimize(input, fails);
        expect(await fails(out)).toBe(true);
        for (let i = 0; i < out.length; i++) expect(await fails(out.filter((_, j) => j !== i))).toBe(false);
      },
    ),
    { seed: 5, numRuns: 200 },
  );
});

test("collapsing processes renames pids canonically: a noisy fork chain becomes the 4-op counterexample", async () => {
  const noisy: MmOp[] = [
    { op: "spawn" },
    { op: "spawn" },
    { op: "mmap", pid: 2, page: 0, pages: 1, prot: "rw", shared: false },
    { op: "fork", pid: 2 },
    { op: "spawn" },
    { op: "fork", pid: 3 },
    { op: "write", pid: 5, page: 0, cell: 0, value: 1 },
    { op: "fork", pid: 5 },
  ];
  const mutant = await resolveEngine(mmLayer, "mutant:fork-no-tlb-flush");
  const fails = async (c: MmOp[]): Promise<boolean> =>
    (await checkWith(mmLayer, mmLayer.defaultGeometry, mutant, c))?.property === "tlb-coherence";
  expect(await fails(noisy)).toBe(true);
  expect(await minimize(noisy, fails)).toHaveLength(noisy.length); // deletion alone is stuck
  expect(await minimizeWith(noisy, fails, mmSimplifications)).toEqual([
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
    { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
    { op: "fork", pid: 1 },
  ]);
});

test("a collapse hands the child's ops to its parent and renumbers later processes", () => {
  const ops: MmOp[] = [
    { op: "spawn" },
    { op: "fork", pid: 1 },
    { op: "fork", pid: 1 },
    { op: "write", pid: 3, page: 0, cell: 0, value: 1 },
    { op: "exit", pid: 2 },
  ];
  const candidates = [...mmSimplifications(ops)];
  // removing the spawn drops everything; removing fork→2 drops its exit and renumbers 3 → 2; removing fork→3 gives its write to 1
  expect(candidates).toEqual([
    [],
    [{ op: "spawn" }, { op: "fork", pid: 1 }, { op: "write", pid: 2, page: 0, cell: 0, value: 1 }],
    [
      { op: "spawn" },
      { op: "fork", pid: 1 },
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "exit", pid: 2 },
    ],
  ]);
});
