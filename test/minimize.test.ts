// Minimization: ddmin reaches 1-minimality; pairs of ops and the layers' rewrites reach what deletion alone cannot,
// each taken only when it makes the trace strictly smaller in the size order (fewer ops, then smaller ops), which
// ends; and a campaign's minimized trace is as short as explore's shortest counterexample.
import fc from "fast-check";
import { expect, test } from "vitest";
import type { Trace } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { shortestKill } from "../fuzz/explore.ts";
import {
  compareSize,
  MAX_CANDIDATES,
  minimize,
  minimizeTrace,
  minimizeWith,
  sizeOf,
  traceSize,
} from "../fuzz/minimize.ts";
import { mmSimplifications } from "../fuzz/mm/ops.ts";
import { mvccSimplifications } from "../fuzz/mvcc/ops.ts";
import { overlaySimplifications } from "../fuzz/overlay/ops.ts";
import { checkWith } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import { overlayLayer } from "../layers/overlay/index.ts";
import type { MmOp } from "../models/mm/types.ts";
import type { MvccOp } from "../models/mvcc/types.ts";
import type { OverlayOp } from "../models/overlay/types.ts";

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
  expect(candidates.slice(0, 3)).toEqual([
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

test.each([
  ["fork", { op: "fork", pid: 1 }],
  ["spawn", { op: "spawn" }],
] as const)("a %s and an exit removed together, the survivor renumbered: no single op can go", async (_, creator) => {
  // process 1 makes process 2 and exits; 2 forks, its child taking the free pid 1, whose page must be wiped
  const ops: MmOp[] = [
    { op: "spawn" },
    creator,
    { op: "exit", pid: 1 },
    { op: "mmap", pid: 2, page: 0, pages: 1, prot: "rw", shared: false },
    { op: "write", pid: 2, page: 0, cell: 0, value: 1 },
    { op: "madvise", pid: 2, page: 0, pages: 1, advice: "wipeonfork" },
    { op: "fork", pid: 2 },
    { op: "read", pid: 1, page: 0 },
  ];
  const mutant = await resolveEngine(mmLayer, "mutant:wipeonfork-ignored");
  const fails = async (c: MmOp[]): Promise<boolean> =>
    (await checkWith(mmLayer, mmLayer.defaultGeometry, mutant, c))?.property === "observational-equivalence";
  expect(await fails(ops)).toBe(true);
  expect(await minimize(ops, fails)).toEqual(ops); // 1-minimal: deletion alone is stuck
  expect(await minimizeWith(ops, fails, mmSimplifications)).toEqual([
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
    { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
    { op: "madvise", pid: 1, page: 0, pages: 1, advice: "wipeonfork" },
    { op: "fork", pid: 1 },
    { op: "read", pid: 2, page: 0 },
  ]); // explore's shortest counterexample for this mutant
});

// In the overlay and mvcc models a lone umount or COMMIT is a harmless error or warning, so ddmin removes a mount and
// then its umount; an engine where the lone one matters (here: a failure that needs both or neither) leaves ddmin
// stuck, and the pair goes together.
test("a mount and its umount removed together where neither goes alone", async () => {
  const needed: OverlayOp[] = [
    { op: "layer", entries: [{ type: "file", path: "a", data: "x" }] },
    { op: "mount", c: 2, layers: [1], redirectDir: false, index: false, metacopy: false },
    { op: "read", c: 2, path: "a" },
  ];
  const ops: OverlayOp[] = [
    needed[0]!,
    needed[1]!,
    { op: "mount", c: 1, layers: [1], redirectDir: false, index: true, metacopy: false },
    needed[2]!,
    { op: "umount", c: 1 },
  ];
  const count = (c: readonly OverlayOp[], kind: string) => c.filter((o) => o.op === kind).length;
  const fails = async (c: OverlayOp[]): Promise<boolean> =>
    needed.every((n) => c.includes(n)) && count(c, "mount") - count(c, "umount") === 1;
  expect(await fails(ops)).toBe(true);
  expect(await minimize(ops, fails)).toEqual(ops);
  expect(await minimizeWith(ops, fails, overlaySimplifications)).toEqual(needed);
});

test("a BEGIN and its COMMIT removed together where neither goes alone", async () => {
  const needed: MvccOp[] = [
    { op: "update", tx: 2, key: 1, add: 1 },
    { op: "read", tx: 1, key: 1 },
  ];
  const ops: MvccOp[] = [{ op: "begin", tx: 1, level: "rr" }, needed[0]!, needed[1]!, { op: "commit", tx: 1 }];
  const count = (c: readonly MvccOp[], kind: string) => c.filter((o) => o.op === kind).length;
  const fails = async (c: MvccOp[]): Promise<boolean> =>
    needed.every((n) => c.includes(n)) && count(c, "begin") === count(c, "commit");
  expect(await fails(ops)).toBe(true);
  expect(await minimize(ops, fails)).toEqual(ops);
  expect(await minimizeWith(ops, fails, mvccSimplifications)).toEqual(needed);
});

test("a smaller layer op is taken through minimizeTrace: the layer keeps the entries the failure needs", async () => {
  const trace: Trace = {
    cowcheck: 1,
    layer: "overlay",
    geometry: {},
    features: [],
    ops: [
      {
        op: "layer",
        entries: [
          { type: "dir", path: "a" },
          { type: "dir", path: "b", mode: 0o700 },
          { type: "file", path: "b/x", data: "hello" },
          { type: "dir", path: "d" },
          { type: "file", path: "d/f", data: "lo", mode: 0o644 },
          { type: "file", path: "c", data: "abc" },
          { type: "link", path: "e", to: "c" },
          { type: "symlink", path: "s", target: "/cowcheck-void/a" },
          { type: "whiteout", path: "w" },
          { type: "dir", path: "a/b" },
          { type: "file", path: "a/b/c", data: "zz" },
        ],
      },
      { op: "mount", c: 2, layers: [1], redirectDir: true, index: true, metacopy: false },
      { op: "unlink", c: 2, path: "d/f" },
      { op: "unlink", c: 2, path: "d/f" },
    ],
  };
  const mutant = await resolveEngine(overlayLayer, "mutant:unlink-no-whiteout");
  const r = await minimizeTrace(overlayLayer, trace, mutant);
  expect(r.kind).toBe("property");
  // as many ops, each smaller: 2 entries of 11, no mode, no data, mount options off, container 1
  expect(r.kind === "property" && r.trace.ops).toEqual([
    {
      op: "layer",
      entries: [
        { type: "dir", path: "d" },
        { type: "file", path: "d/f", data: "" },
      ],
    },
    { op: "mount", c: 1, layers: [1], redirectDir: false, index: false, metacopy: false },
    { op: "unlink", c: 1, path: "d/f" },
    { op: "unlink", c: 1, path: "d/f" },
  ]);
});

test("mvcc: lower clients, keys and values are taken through minimizeTrace", async () => {
  const trace: Trace = {
    cowcheck: 1,
    layer: "mvcc",
    geometry: {},
    features: [],
    ops: [
      { op: "insert", tx: 3, key: 4, value: 7 },
      { op: "begin", tx: 5, level: "rr" },
      { op: "update", tx: 5, key: 4, value: 9 },
      { op: "update", tx: 3, key: 4, value: 8 },
    ],
  };
  const mutant = await resolveEngine(mvccLayer, "mutant:no-row-lock");
  const r = await minimizeTrace(mvccLayer, trace, mutant);
  expect(r.kind === "property" && r.trace.ops).toEqual([
    { op: "insert", tx: 1, key: 1, value: 0 },
    { op: "begin", tx: 2, level: "rr" },
    { op: "update", tx: 2, key: 1, value: 0 },
    { op: "update", tx: 1, key: 1, value: 0 },
  ]);
});

test("the size order: fewer ops, then smaller ops, then lower names", () => {
  expect(sizeOf({ op: "write", pid: 1, page: 3 })).toBeGreaterThan(sizeOf({ op: "write", pid: 1, page: 2 }));
  expect(sizeOf({ entries: [{ path: "a" }] })).toBeLessThan(sizeOf({ entries: [{ path: "a" }, { path: "b" }] }));
  expect(sizeOf({ shared: false })).toBeLessThan(sizeOf({ shared: true }));
  const cmp = (a: unknown[], b: unknown[]) => Math.sign(compareSize(traceSize(a), traceSize(b)));
  expect(cmp([{ v: 99 }], [{ v: 1 }, { v: 1 }])).toBe(-1);
  expect(cmp([{ v: 1 }], [{ v: 2 }])).toBe(-1);
  expect(cmp([{ path: "a" }], [{ path: "b" }])).toBe(-1);
  expect(cmp([{ a: 1, b: 2 }], [{ b: 2, a: 1 }])).toBe(0); // the same op, keys in another order
});

test("a pathological simplify ends: rewrites of the same size, endless ones, ones that grow", async () => {
  let proposals = 0;
  const same = function* (xs: readonly number[]): Iterable<number[]> {
    for (;;) {
      proposals++;
      yield [...xs]; // the same trace
      yield [...xs].reverse(); // the same length and weight: taken only while it comes earlier in the canonical order
      yield [...xs, 0]; // longer
      yield xs.map((x) => x + 1); // heavier
    }
  };
  let asked = 0;
  const fails = async (c: number[]): Promise<boolean> => {
    asked++;
    return [3, 1, 2].every((n) => c.includes(n));
  };
  const out = await minimizeWith([5, 3, 9, 1, 2], fails, same);
  // ddmin keeps [3, 1, 2]; its reverse is as long and as heavy but earlier in the canonical order, so it is taken
  // once, and reversing back is not smaller
  expect(out).toEqual([2, 1, 3]);
  expect(proposals).toBeLessThanOrEqual(3 * Math.ceil(MAX_CANDIDATES / 4));
  expect(asked).toBeLessThan(100); // each distinct candidate is asked once
});

test.each([
  ["mm", "fork-no-tlb-flush"],
  ["mm", "wp-copy-leak"],
  ["overlay", "metacopy-ignored"],
  ["mvcc", "no-row-lock"],
] as const)("%s %s: a campaign's minimized trace is as short as explore's shortest", async (layerName, name) => {
  const layer = { mm: mmLayer, overlay: overlayLayer, mvcc: mvccLayer }[layerName];
  const factory = await resolveEngine(layer, `mutant:${name}`);
  const shortest = await shortestKill(layer, factory, 4);
  expect(shortest).not.toBeNull();
  const r = await runCampaign(layer, factory, { seed: 1, runs: 20_000, maxOps: 200 });
  expect(r.status).toBe("failed");
  expect(r.trace!.ops.length).toBeLessThanOrEqual(shortest!);
});

test("without a layer's rewrites, one op's values are lowered, and no rewrite makes an op invalid", async () => {
  // fails while some op names 3 or more, and reads item 2 or more of what it names
  const ops = [
    { n: 9, at: [5, 4] },
    { n: 1, at: [] },
  ];
  const fails = async (c: { n: number; at: number[] }[]) => c.some((o) => o.n >= 3 && o.at.length >= 2);
  expect(await minimizeWith(ops, fails)).toEqual([{ n: 3, at: [0, 0] }]);
  // an op with fewer than two items is not one the layer defines: the list stays as long as it was
  const valid = (o: { n: number; at: number[] }) => o.at.length >= 2;
  const loose = async (c: { n: number; at: number[] }[]) => c.some((o) => o.n >= 3);
  expect(await minimizeWith([ops[0]!], loose, undefined, valid)).toEqual([{ n: 3, at: [0, 0] }]);
  expect(await minimizeWith([ops[0]!], loose)).toEqual([{ n: 3, at: [] }]);
});
