// hugetlb (feature "hugetlb"): the model's rules from mm/hugetlb.c, each shown by the model's state and, where an
// observation shows it, by the oracle agreeing; and random campaigns where hugetlb meets every other op.
import { expect, test } from "vitest";
import { allows } from "../core/index.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, type MmGeometry, type MmOp } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

const g: MmGeometry = defaultMmGeometry; // huge pages of 4 pages, one hugetlb memfd
const H = 4;
const run = (ops: MmOp[]) => {
  const model = new MmModel(g);
  const oracle = new MmOracle(g);
  const obs = ops.map((op) => {
    const o = model.apply(op);
    oracle.chose(o);
    expect(allows(oracle.apply(op), o), JSON.stringify(op)).toBe(true);
    return o;
  });
  return { model, obs };
};
const spawn: MmOp = { op: "spawn" };
const anon = (page: number, pages: number, shared = false): MmOp => ({
  op: "mmap",
  pid: 1,
  page,
  pages,
  prot: "rw",
  shared,
  hugetlb: true,
});

test("a hugetlb mmap starts at a huge page and is rounded up to whole ones; nothing splits it off a huge boundary", () => {
  const { model, obs } = run([
    spawn,
    anon(1, 1),
    anon(4, 5), // [4, 12)
    { op: "munmap", pid: 1, page: 4, pages: 1 },
    { op: "mprotect", pid: 1, page: 4, pages: 2, prot: "r" },
    { op: "mprotect", pid: 1, page: 4, pages: 2, prot: "rw" }, // no change: no split, fine
    { op: "madvise", pid: 1, page: 5, pages: 2, advice: "dontneed" },
    { op: "madvise", pid: 1, page: 4, pages: 6, advice: "dontneed" }, // the end rounded down to 8
    { op: "madvise", pid: 1, page: 4, pages: 4, advice: "pageout" },
    { op: "madvise", pid: 1, page: 4, pages: 4, advice: "wipeonfork" },
    { op: "madvise", pid: 1, page: 4, pages: 4, advice: "dontfork" }, // aligned: a split at 8
    { op: "munmap", pid: 1, page: 8, pages: 4 },
  ]);
  expect(obs.slice(1)).toEqual([
    { error: "EINVAL" },
    { ok: true },
    { error: "EINVAL" },
    { error: "EINVAL" },
    { ok: true },
    { error: "EINVAL" },
    { ok: true },
    { error: "EINVAL" },
    { error: "EINVAL" },
    { ok: true },
    { ok: true },
  ]);
  expect(model.procs.get(1)!.vmas.map((v) => [v.start, v.end, v.hugetlb, v.dontfork])).toEqual([[4, 8, true, true]]);
});

test("an unmap refused at its end keeps the split it made at its start (vms_gather_munmap_vmas)", () => {
  const { model, obs } = run([spawn, anon(0, 8), { op: "munmap", pid: 1, page: 4, pages: 1 }]);
  expect(obs[2]).toEqual({ error: "EINVAL" });
  expect(model.procs.get(1)!.vmas.map((v) => [v.start, v.end])).toEqual([
    [0, 4],
    [4, 8],
  ]);
});

test("a private fault maps a new exclusive huge page read-only (no zero page); a write reuses it", () => {
  const { model } = run([spawn, anon(0, H), { op: "read", pid: 1, page: 1 }]);
  const pmd = model.procs.get(1)!.pmds.get(0)!;
  const f = model.frames.get(pmd.pfn)!;
  expect([pmd.writable, f.hugetlb, f.anon, f.nr, f.anonExclusive]).toEqual([false, true, true, H, true]);
  model.apply({ op: "write", pid: 1, page: 2, cell: 0, value: 7 });
  expect(model.procs.get(1)!.pmds.get(0)).toMatchObject({ pfn: pmd.pfn, writable: true });
  expect(model.copiedPages).toBe(0);
});

test("a CoW after fork copies the whole huge page; the other side keeps the old one", () => {
  const { model, obs } = run([
    spawn,
    anon(0, H),
    { op: "fill", pid: 1, page: 0, pages: H, value: 1 },
    { op: "fork", pid: 1 },
    { op: "write", pid: 2, page: 3, cell: 0, value: 9 },
    { op: "read", pid: 1, page: 3 },
  ]);
  expect(obs[5]).toEqual({ data: [1, 1, 1, 1] });
  expect(model.copiedPages).toBe(H);
  expect(model.procs.get(1)!.pmds.get(0)!.pfn).not.toBe(model.procs.get(2)!.pmds.get(0)!.pfn);
});

test("fork copies a pinned exclusive huge page for the child at once (hugetlb_try_dup_anon_rmap)", () => {
  const { model } = run([
    spawn,
    anon(0, H),
    { op: "fill", pid: 1, page: 0, pages: H, value: 1 },
    { op: "pin", pid: 1, page: 0, kind: "longterm", write: true },
    { op: "fork", pid: 1 },
  ]);
  const [parent, child] = [model.procs.get(1)!.pmds.get(0)!, model.procs.get(2)!.pmds.get(0)!];
  expect(parent.writable && child.writable).toBe(true);
  expect(parent.pfn).not.toBe(child.pfn);
});

/** cow.c's vmsplice() + unmap in child, with the child's reference taken as `kind`: the parent writes 255 last. */
const inChild = (kind: "get" | "pin"): MmOp[] => [
  spawn,
  anon(0, H),
  { op: "fill", pid: 1, page: 0, pages: H, value: 1 },
  { op: "fork", pid: 1 },
  { op: "pin", pid: 2, page: 0, kind, write: false },
  { op: "munmap", pid: 2, page: 0, pages: H },
  { op: "fill", pid: 1, page: 0, pages: H, value: 255 },
  { op: "pinRead", handle: 1 },
];

test("the vmsplice leak cow.c expects: reuse by mapcount lets a GET reference see the other side's write", () => {
  expect(run(inChild("get")).obs[7]).toEqual({ data: [255, 255, 255, 255] });
});

test("a private mapping of a hugetlb memfd hole takes a page of its own: the memfd's later writes never show", () => {
  const file = (shared: boolean, page: number): MmOp => ({
    op: "mmap",
    pid: 1,
    page,
    pages: H,
    prot: "rw",
    shared,
    file: 0,
    hugetlb: true,
  });
  const { obs } = run([
    spawn,
    file(false, 0),
    file(true, 8),
    { op: "read", pid: 1, page: 0 }, // a hole: an anonymous page
    { op: "write", pid: 1, page: 9, cell: 0, value: 5 },
    { op: "read", pid: 1, page: 1 },
    { op: "madvise", pid: 1, page: 0, pages: H, advice: "dontneed" },
    { op: "read", pid: 1, page: 1 }, // now the memfd's page
    { op: "fileRead", file: 0, page: 1, hugetlb: true },
    { op: "fileWrite", file: 0, page: 1, cell: 0, value: 1, hugetlb: true },
  ]);
  expect(obs.slice(5)).toEqual([
    { data: [0, 0, 0, 0] },
    { ok: true },
    { data: [5, 0, 0, 0] },
    { data: [5, 0, 0, 0] },
    { error: "EINVAL" },
  ]);
});

test.each([1, 2, 3])(
  "model and oracle agree with hugetlb among every op, every property holding (seed %i)",
  async (seed) => {
    const factory = { name: "model", create: (geo: unknown) => new MmModel(geo as MmGeometry) };
    const r = await runCampaign(mmLayer, factory, { seed, runs: 300, maxOps: 120 });
    expect(r.failure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
  },
);

test("a flag change refused at its end keeps the split it made at its start (vma_modify)", () => {
  const { model, obs } = run([
    spawn,
    anon(0, 8),
    { op: "mprotect", pid: 1, page: 4, pages: 1, prot: "r" },
    { op: "madvise", pid: 1, page: 0, pages: 2, advice: "dontfork" }, // refused at its start: no split
  ]);
  expect(obs.slice(2)).toEqual([{ error: "EINVAL" }, { error: "EINVAL" }]);
  expect(model.procs.get(1)!.vmas.map((v) => [v.start, v.end])).toEqual([
    [0, 4],
    [4, 8],
  ]);
});

test("a short-term read-only pin is unshared first: unlike a GET reference, it never sees the other side's write", () => {
  const model = new MmModel(g);
  const oracle = new MmOracle(g);
  const answers = inChild("pin").map((op) => [model.apply(op), oracle.apply(op)]);
  expect(answers.at(-1)).toEqual([{ data: [1, 1, 1, 1] }, { data: [1, 1, 1, 1] }]); // the oracle allows nothing else
});
