// Hand-written mm scenarios: exact observations and exact structure, on the model and the oracle alike.
import { describe, expect, test } from "vitest";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { loadTrace } from "../layers/index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, keyOf, type MmGeometry, type MmObs, type MmOp } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

const g = { ...defaultMmGeometry, cellsPerPage: 1 };
const A = 65,
  X = 88,
  Y = 89;

/** Run ops on model and oracle; they must agree op by op. Returns the model (for structure) and the observations. */
function both(ops: MmOp[], geometry = g): { model: MmModel; obs: MmObs[] } {
  const model = new MmModel(geometry);
  const oracle = new MmOracle(geometry);
  const obs = ops.map((op, i) => {
    const m = model.apply(op);
    expect(m, `op ${i} ${JSON.stringify(op)}`).toEqual(oracle.apply(op));
    return m;
  });
  return { model, obs };
}

const pfn = (m: MmModel, pid: number, page: number): number | undefined => m.procs.get(pid)?.ptes.get(page)?.pfn;

describe("the seed article's example: four pages of 'A', fork, the child writes pages 0 and 1", () => {
  const setup: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 4, prot: "rw", shared: false },
    ...[0, 1, 2, 3].map((page): MmOp => ({ op: "write", pid: 1, page, cell: 0, value: A })),
    { op: "fork", pid: 1 },
  ];

  test("after fork both processes map the same four frames, read-only, not AnonExclusive", () => {
    const { model, obs } = both(setup);
    expect(obs.at(-1)).toEqual({ pid: 2 });
    expect(model.allocations).toBe(4);
    for (let page = 0; page < 4; page++) {
      const f = model.frames.get(pfn(model, 1, page)!)!;
      expect(pfn(model, 2, page)).toBe(f.pfn);
      expect(f).toMatchObject({ refcount: 2, mapcount: 2, anonExclusive: false });
      expect(f.rmap).toEqual(new Set([keyOf(1, page), keyOf(2, page)]));
      expect(model.procs.get(1)!.ptes.get(page)!.writable).toBe(false);
      expect(model.procs.get(2)!.ptes.get(page)!.writable).toBe(false);
    }
    expect(model.procs.get(1)!.tlb.size).toBe(0); // flush_tlb_mm at the end of dup_mmap
  });

  test("the child sees X Y, the parent still sees A A; exactly two pages were copied", () => {
    const { model, obs } = both([
      ...setup,
      { op: "write", pid: 2, page: 0, cell: 0, value: X },
      { op: "write", pid: 2, page: 1, cell: 0, value: Y },
      { op: "read", pid: 2, page: 0 },
      { op: "read", pid: 2, page: 1 },
      { op: "read", pid: 1, page: 0 },
      { op: "read", pid: 1, page: 1 },
    ]);
    expect(obs.slice(-4)).toEqual([{ data: [X] }, { data: [Y] }, { data: [A] }, { data: [A] }]);
    expect(model.allocations).toBe(6);
    expect(pfn(model, 2, 0)).not.toBe(pfn(model, 1, 0));
    expect(pfn(model, 2, 2)).toBe(pfn(model, 1, 2)); // never written: still shared
    const old = model.frames.get(pfn(model, 1, 0)!)!;
    expect(old).toMatchObject({ refcount: 1, mapcount: 1, anonExclusive: false });
    const copy = model.frames.get(pfn(model, 2, 0)!)!;
    expect(copy).toMatchObject({ refcount: 1, mapcount: 1, anonExclusive: true });
  });

  test("after the child's copy the parent's write reuses its page: refcount 1, no allocation (wp_can_reuse_anon_folio)", () => {
    const { model } = both([...setup, { op: "write", pid: 2, page: 0, cell: 0, value: X }]);
    const before = pfn(model, 1, 0);
    const allocations = model.allocations;
    model.apply({ op: "write", pid: 1, page: 0, cell: 0, value: Y });
    expect(pfn(model, 1, 0)).toBe(before);
    expect(model.allocations).toBe(allocations);
    expect(model.frames.get(before!)!.anonExclusive).toBe(true);
  });

  test("every property holds along the scenario", async () => {
    const failure = await checkSequence(mmLayer, g, new MmModel(g), [
      ...setup,
      { op: "write", pid: 2, page: 0, cell: 0, value: X },
      { op: "exit", pid: 2 },
      { op: "exit", pid: 1 },
    ]);
    expect(failure).toBeUndefined();
  });
});

describe("basic CoW after fork", () => {
  test("the parent's write after fork copies; the child keeps the old data", () => {
    const { model, obs } = both([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 2, pages: 1, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 2, cell: 0, value: 1 },
      { op: "fork", pid: 1 },
      { op: "write", pid: 1, page: 2, cell: 0, value: 2 },
      { op: "read", pid: 2, page: 2 },
      { op: "read", pid: 1, page: 2 },
    ]);
    expect(obs.slice(-2)).toEqual([{ data: [1] }, { data: [2] }]);
    expect(model.allocations).toBe(2);
  });

  test("a read of untouched private memory maps the zero page without counting it; a write then allocates", () => {
    const { model, obs } = both([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: false },
      { op: "read", pid: 1, page: 0 },
    ]);
    expect(obs.at(-1)).toEqual({ data: [0] });
    expect(pfn(model, 1, 0)).toBe(0);
    expect(model.frames.get(0)).toMatchObject({ zero: true, refcount: 1, mapcount: 0 });
    expect(model.allocations).toBe(0);
    model.apply({ op: "write", pid: 1, page: 0, cell: 0, value: 7 });
    expect(pfn(model, 1, 0)).not.toBe(0);
    expect(model.allocations).toBe(1);
  });

  test("fork of a VMA holding only zero-page PTEs copies no PTEs (no anon_vma: vma_needs_copy is false)", () => {
    const { model } = both([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: false },
      { op: "read", pid: 1, page: 0 },
      { op: "fork", pid: 1 },
    ]);
    expect(model.procs.get(2)!.ptes.size).toBe(0);
  });

  test("a shared mapping is never copied: the child's write is the parent's", () => {
    const { model, obs } = both([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: true },
      { op: "write", pid: 1, page: 0, cell: 0, value: 3 },
      { op: "fork", pid: 1 },
      { op: "write", pid: 2, page: 0, cell: 0, value: 4 },
      { op: "read", pid: 1, page: 0 },
    ]);
    expect(obs.at(-1)).toEqual({ data: [4] });
    expect(model.allocations).toBe(1);
    const f = model.frames.get(pfn(model, 1, 0)!)!;
    expect(f).toMatchObject({ cache: "shmem", mapcount: 2, refcount: 3 });
  });
});

describe("VMA operations", () => {
  const base: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: false },
    { op: "mmap", pid: 1, page: 4, pages: 2, prot: "rw", shared: true },
    { op: "write", pid: 1, page: 0, cell: 0, value: 9 },
    { op: "write", pid: 1, page: 4, cell: 0, value: 8 },
  ];

  test("MADV_DONTNEED: private memory reads zeros again, shared memory keeps its data", () => {
    const { obs } = both([
      ...base,
      { op: "madvise", pid: 1, page: 0, pages: 6, advice: "dontneed" },
      { op: "read", pid: 1, page: 0 },
      { op: "read", pid: 1, page: 4 },
    ]);
    expect(obs.slice(-3)).toEqual([{ error: "ENOMEM" }, { data: [0] }, { data: [8] }]); // pages 2-3 are a hole
  });

  test("MADV_WIPEONFORK gives the child zeros; MADV_DONTFORK gives it nothing; both refuse a shared mapping only where Linux does", () => {
    const { obs } = both([
      ...base,
      { op: "madvise", pid: 1, page: 4, pages: 1, advice: "wipeonfork" },
      { op: "madvise", pid: 1, page: 0, pages: 1, advice: "wipeonfork" },
      { op: "madvise", pid: 1, page: 5, pages: 1, advice: "dontfork" },
      { op: "fork", pid: 1 },
      { op: "read", pid: 2, page: 0 },
      { op: "read", pid: 2, page: 4 },
      { op: "read", pid: 2, page: 5 },
    ]);
    expect(obs.slice(-7)).toEqual([
      { error: "EINVAL" },
      { ok: true },
      { ok: true },
      { pid: 2 },
      { data: [0] },
      { data: [8] },
      { fault: "SEGV" },
    ]);
  });

  test("mprotect: read-only memory faults on write; a hole stops mprotect with ENOMEM after the part before it", () => {
    const { obs } = both([
      ...base,
      { op: "mprotect", pid: 1, page: 0, pages: 5, prot: "r" },
      { op: "write", pid: 1, page: 1, cell: 0, value: 1 },
      { op: "write", pid: 1, page: 4, cell: 0, value: 1 },
      { op: "read", pid: 1, page: 0 },
    ]);
    expect(obs.slice(-4)).toEqual([{ error: "ENOMEM" }, { fault: "SEGV" }, { ok: true }, { data: [9] }]);
  });

  test("munmap of part of a shared mapping keeps the object alive for the rest; exit frees everything", () => {
    const { model, obs } = both([
      ...base,
      { op: "fork", pid: 1 },
      { op: "munmap", pid: 1, page: 4, pages: 1 },
      { op: "read", pid: 1, page: 4 },
      { op: "read", pid: 2, page: 4 },
      { op: "exit", pid: 2 },
      { op: "exit", pid: 1 },
    ]);
    expect(obs.slice(-4, -2)).toEqual([{ fault: "SEGV" }, { data: [8] }]);
    expect([...model.frames.values()].filter((f) => !f.zero)).toEqual([]);
  });

  test("a zero length is EINVAL for mmap and munmap, a successful no-op for mprotect and madvise (as in Linux)", () => {
    const { obs } = both([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 0, prot: "rw", shared: false },
      { op: "munmap", pid: 1, page: 0, pages: 0 },
      { op: "mprotect", pid: 1, page: 0, pages: 0, prot: "r" },
      { op: "madvise", pid: 1, page: 0, pages: 0, advice: "dontneed" },
    ]);
    expect(obs.slice(1)).toEqual([{ error: "EINVAL" }, { error: "EINVAL" }, { ok: true }, { ok: true }]);
  });

  test("ops on a missing pid are ESRCH; ranges outside the window are EINVAL; pids are reused lowest-first", () => {
    const { obs } = both([
      { op: "read", pid: 1, page: 0 },
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 15, pages: 2, prot: "rw", shared: false },
      { op: "read", pid: 1, page: 16 },
      { op: "fork", pid: 1 },
      { op: "fork", pid: 1 },
      { op: "exit", pid: 2 },
      { op: "fork", pid: 3 },
    ]);
    expect(obs).toEqual([
      { error: "ESRCH" },
      { pid: 1 },
      { error: "EINVAL" },
      { error: "EINVAL" },
      { pid: 2 },
      { pid: 3 },
      { ok: true },
      { pid: 2 },
    ]);
  });
});

describe("pins, files, KSM, THP collapse, and what Linux may choose", () => {
  const g4 = defaultMmGeometry; // 4 cells per page, huge page = 4 pages
  const run = (ops: MmOp[]) => {
    const model = new MmModel(g4);
    const oracle = new MmOracle(g4);
    return { model, obs: ops.map((op) => model.apply(op)), expected: ops.map((op) => oracle.apply(op)) };
  };
  const base: MmOp[] = [{ op: "spawn" }, { op: "mmap", pid: 1, page: 0, pages: 4, prot: "rw", shared: false }];

  test("a GUP reference is not coherent: after fork the parent's write may or may not reach it, and the oracle allows both, nothing else", async () => {
    const ops: MmOp[] = [
      ...base,
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "pin", pid: 1, page: 0, kind: "get", write: false }, // vmsplice of an exclusive page
      { op: "fork", pid: 1 },
      { op: "write", pid: 1, page: 0, cell: 0, value: 2 }, // the page is shared now: the parent copies
      { op: "pinRead", handle: 1 },
    ];
    const { obs, expected } = run(ops);
    expect(obs.at(-1)).toEqual({ data: [1, 0, 0, 0] }); // Linux: the pipe keeps the old page
    expect(expected.at(-1)).toEqual({ oneOf: [{ data: [2, 0, 0, 0] }, { data: [1, 0, 0, 0] }] });
    // An engine that is the model except for what the reference reads.
    const answering = (last: MmObs) => {
      const inner = new MmModel(g4);
      return {
        layer: "mm" as const,
        features: inner.features,
        apply: (op: MmOp) => (op.op === "pinRead" ? last : inner.apply(op)),
      };
    };
    expect(await checkSequence(mmLayer, g4, answering({ data: [2, 0, 0, 0] }), ops)).toBeUndefined();
    const foreign = await checkSequence(mmLayer, g4, answering({ data: [3, 0, 0, 0] }), ops);
    expect(foreign).toMatchObject({
      property: "observational-equivalence",
      message: "observation is none of those the oracle allows",
    });
  });

  test("a MAP_PRIVATE file page reads the page cache until written; the file never sees the private write; DONTNEED goes back to the file", () => {
    const { model, obs, expected } = run([
      { op: "spawn" },
      { op: "fileWrite", file: 0, page: 1, cell: 0, value: 7 },
      { op: "mmap", pid: 1, page: 4, pages: 2, prot: "rw", shared: false, file: 0 },
      { op: "read", pid: 1, page: 5 },
      { op: "fileWrite", file: 0, page: 1, cell: 0, value: 8 },
      { op: "read", pid: 1, page: 5 }, // still the page cache: sees 8
      { op: "write", pid: 1, page: 5, cell: 1, value: 9 }, // private copy now
      { op: "fileWrite", file: 0, page: 1, cell: 0, value: 10 },
      { op: "read", pid: 1, page: 5 },
      { op: "fileRead", file: 0, page: 1 },
      { op: "madvise", pid: 1, page: 5, pages: 1, advice: "dontneed" },
      { op: "read", pid: 1, page: 5 },
    ]);
    expect(obs).toEqual(expected);
    expect([obs[3], obs[5], obs[8], obs[9], obs[11]]).toEqual([
      { data: [7, 0, 0, 0] },
      { data: [8, 0, 0, 0] },
      { data: [8, 9, 0, 0] },
      { data: [10, 0, 0, 0] },
      { data: [10, 0, 0, 0] },
    ]);
    expect(model.copiedPages).toBe(1); // only the write copied
  });

  test("a write pin on a shared file mapping writes the page cache: write(2)'s readers see the device's data", () => {
    const { obs, expected } = run([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: true, file: 1 },
      { op: "pin", pid: 1, page: 0, kind: "longterm", write: true },
      { op: "pinWrite", handle: 1, cell: 2, value: 5 },
      { op: "fileRead", file: 1, page: 0 },
      { op: "pinWrite", handle: 9, cell: 0, value: 1 },
      { op: "pin", pid: 1, page: 0, kind: "get", write: true },
    ]);
    expect(obs).toEqual(expected);
    expect(obs.slice(-3)).toEqual([{ data: [0, 0, 5, 0] }, { error: "EBADF" }, { error: "EINVAL" }]);
  });

  test("KSM merges identical mergeable pages of two processes into one write-protected page; a write copies it; unmergeable breaks it", () => {
    const { model, obs, expected } = run([
      ...base,
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
      { op: "write", pid: 1, page: 0, cell: 0, value: 4 },
      { op: "write", pid: 1, page: 1, cell: 0, value: 4 },
      { op: "spawn" },
      { op: "mmap", pid: 2, page: 0, pages: 1, prot: "rw", shared: false },
      { op: "madvise", pid: 2, page: 0, pages: 1, advice: "mergeable" },
      { op: "write", pid: 2, page: 0, cell: 0, value: 4 },
      { op: "ksmScan" },
    ]);
    expect(obs).toEqual(expected);
    const k = model.procs.get(1)!.ptes.get(0)!.pfn;
    expect(model.procs.get(1)!.ptes.get(1)!.pfn).toBe(k);
    expect(model.procs.get(2)!.ptes.get(0)!.pfn).toBe(k);
    expect(model.frames.get(k)).toMatchObject({ ksm: true, anonExclusive: false, mapcount: 3, refcount: 3 });
    model.apply({ op: "write", pid: 2, page: 0, cell: 0, value: 5 });
    expect(model.procs.get(2)!.ptes.get(0)!.pfn).not.toBe(k); // never reused
    model.apply({ op: "madvise", pid: 1, page: 0, pages: 2, advice: "unmergeable" });
    expect(model.frames.has(k)).toBe(false);
    expect(model.apply({ op: "read", pid: 1, page: 1 })).toEqual({ data: [4, 0, 0, 0] });
  });

  test("KSM leaves a page with a GUP reference alone, and never merges a page with itself", () => {
    const { model } = run([
      ...base,
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
      { op: "write", pid: 1, page: 0, cell: 0, value: 4 },
      { op: "write", pid: 1, page: 1, cell: 0, value: 4 },
      { op: "pin", pid: 1, page: 1, kind: "get", write: false },
      { op: "write", pid: 1, page: 2, cell: 0, value: 6 },
      { op: "fork", pid: 1 }, // page 2 is now one page mapped twice: no twin of its own
      { op: "ksmScan" },
    ]);
    const frames = [0, 1, 2].map((p) => model.frames.get(model.procs.get(1)!.ptes.get(p)!.pfn)!);
    expect(frames.map((f) => f.ksm)).toEqual([false, false, false]);
  });

  test("a referenced page in the unstable tree defeats each merge with it: break_cow undoes the scanned page's, and a KSM page without a stable node stays put", () => {
    // what Linux 6.18 does (traces/mm/linux/ksm-pinned-tree-page-leaves-orphan.trace.json)
    const { model, obs, expected } = run([
      ...base,
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
      { op: "write", pid: 1, page: 0, cell: 0, value: 2 },
      { op: "pin", pid: 1, page: 0, kind: "get", write: false }, // page 0 enters the unstable tree first, and cannot merge
      { op: "write", pid: 1, page: 1, cell: 0, value: 2 },
      { op: "fork", pid: 1 },
      { op: "ksmScan" },
    ]);
    expect(obs).toEqual(expected);
    const at = (pid: number, page: number) => model.frames.get(model.procs.get(pid)!.ptes.get(page)!.pfn)!;
    expect(at(1, 0)).toBe(at(2, 0));
    expect(at(1, 0)).toMatchObject({ ksm: false, mapcount: 2 });
    // pid 1 scanned page 1 first: it became KSM, page 0 failed, break_cow gave pid 1 a private copy
    expect(at(1, 1)).toMatchObject({ ksm: false, anonExclusive: true, mapcount: 1 });
    // pid 2's mapping still holds that KSM page, outside the stable tree: write_protect_page gives up on it for good
    expect(at(2, 1)).toMatchObject({ ksm: true, ksmStable: false, mapcount: 1 });
    model.apply({ op: "ksmScan" });
    expect(at(2, 1)).toMatchObject({ ksm: true, ksmStable: false });
    expect(model.apply({ op: "write", pid: 2, page: 1, cell: 1, value: 9 })).toEqual({ ok: true });
    expect(at(2, 1)).toMatchObject({ ksm: false, anonExclusive: true }); // a KSM page is always copied on write
  });

  test("break_cow's copy is read-only and dirty: a reference on it, shared after a fork, defeats the next merge", () => {
    // what Linux 6.18 does (traces/mm/linux/ksm-break-cow-copy-is-dirty.trace.json)
    const { model, obs, expected } = run([
      ...base,
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
      { op: "pin", pid: 1, page: 3, kind: "longterm", write: true }, // in the unstable tree, defeating every merge
      { op: "fork", pid: 1 }, // fork copies the pinned page for pid 2
      { op: "ksmScan" }, // pid 2's copy merges, then break_cow gives pid 2 another
    ]);
    expect(obs).toEqual(expected);
    const pte = (pid: number) => model.procs.get(pid)!.ptes.get(3)!;
    expect(pte(2)).toMatchObject({ writable: false, dirty: true });
    expect(model.frames.get(pte(2).pfn)).toMatchObject({ ksm: false, anonExclusive: true });
    for (const op of [
      { op: "fork", pid: 2 },
      { op: "pin", pid: 2, page: 3, kind: "get", write: false },
      { op: "ksmScan" },
    ] as MmOp[])
      model.apply(op);
    // the dirty PTE makes write_protect_page count references, and the vmsplice one fails it: no merge, no break_cow
    expect(pte(2).pfn).toBe(pte(3).pfn);
    expect(model.frames.get(pte(2).pfn)).toMatchObject({ ksm: false, mapcount: 2 });
  });

  test("a KSM page takes at most max_page_sharing sharers: the next identical pages start another", () => {
    const geometry = { ...g4, pages: 512 };
    const model = new MmModel(geometry);
    const ops: MmOp[] = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 300, prot: "rw", shared: false },
      { op: "madvise", pid: 1, page: 0, pages: 300, advice: "mergeable" },
      ...Array.from({ length: 300 }, (_, page): MmOp => ({ op: "write", pid: 1, page, cell: 0, value: 7 })),
      { op: "ksmScan" },
    ];
    for (const op of ops) model.apply(op);
    const frames = new Map<number, number>();
    for (const pte of model.procs.get(1)!.ptes.values()) frames.set(pte.pfn, (frames.get(pte.pfn) ?? 0) + 1);
    expect([...frames.values()].sort((a, b) => b - a)).toEqual([256, 44]);
    for (const pfn of frames.keys()) expect(model.frames.get(pfn)).toMatchObject({ ksm: true, ksmStable: true });
  });

  test("a stale node of the unstable tree stops every later search of that full scan; a pinned page there defeats each twin", () => {
    // what Linux 6.18 does (traces/mm/linux/ksm-stale-unstable-node-stops-search.trace.json): past max_page_sharing,
    // pid 3 pages 127-129 meet pid 2's page of zeros (the zero page since its folio's split) at the tree's root in
    // one scan, and pid 1's pinned page in every later one: they stay unmerged, each with a private copy
    const { trace } = loadTrace("traces/mm/linux/ksm-stale-unstable-node-stops-search.trace.json");
    const model = new MmModel(trace.geometry as MmGeometry);
    for (const op of trace.ops) model.apply(op as MmOp);
    const at = (pid: number, page: number) => model.frames.get(model.procs.get(pid)!.ptes.get(page)!.pfn)!;
    const kpage = at(1, 0);
    expect(kpage).toMatchObject({ ksm: true, mapcount: 256 });
    for (let page = 0; page < 127; page++) expect(at(3, page)).toBe(kpage);
    for (const page of [127, 128, 129])
      expect(at(3, page)).toMatchObject({ ksm: false, anonExclusive: true, mapcount: 1 });
    expect(at(1, 1)).toMatchObject({ ksm: false, anonExclusive: true }); // the pinned page
  });

  test("KSM splits a THP to merge its pages, its pages of zeros becoming the zero page; a THP held by a GUP reference is left whole", () => {
    const thp = (pinned: boolean) =>
      run([
        ...base,
        { op: "madvise", pid: 1, page: 0, pages: 4, advice: "hugepage" },
        { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
        { op: "write", pid: 1, page: 0, cell: 0, value: 1 }, // a THP: pages 1 to 3 hold zeros
        { op: "write", pid: 1, page: 3, cell: 0, value: 1 },
        ...(pinned ? [{ op: "pin", pid: 1, page: 2, kind: "get", write: false } as const] : []),
        { op: "ksmScan" },
      ]).model;
    const split = thp(false);
    const pfn = (page: number) => split.procs.get(1)!.ptes.get(page)!.pfn;
    expect(split.procs.get(1)!.pmds.size).toBe(0);
    expect(pfn(0)).toBe(pfn(3)); // [1,0,0,0] twice
    expect(split.frames.get(pfn(0))).toMatchObject({ nr: 1, ksm: true, mapcount: 2 });
    // split_huge_page maps a page of zeros as the shared zero page (try_to_map_unused_to_zeropage), as Linux 6.18 does
    expect([pfn(1), pfn(2)]).toEqual([0, 0]);
    expect(split.frames.get(0)!.zero).toBe(true);
    const whole = thp(true);
    expect(whole.procs.get(1)!.pmds.size).toBe(1);
    expect([...whole.frames.values()].some((f) => f.ksm)).toBe(false);
  });

  test("a collapse swaps its range in before it finds a KSM page mapped twice there, and keeps what it swapped in", () => {
    // what Linux 6.18 does (traces/mm/linux/collapse-swaps-in-before-ksm-page-twice.trace.json)
    const { model, obs, expected } = run([
      ...base,
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "hugepage" },
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
      { op: "pin", pid: 1, page: 0, kind: "longterm", write: true }, // a THP, pinned: fork copies it page by page
      { op: "fork", pid: 1 },
      { op: "exit", pid: 1 },
      { op: "madvise", pid: 2, page: 0, pages: 1, advice: "pageout" },
      { op: "ksmScan" }, // pages 1-3, all zeros, become one KSM page mapped three times
      { op: "collapse", pid: 2, page: 0 },
    ]);
    expect(obs).toEqual(expected);
    const proc = model.procs.get(2)!;
    expect(proc.pmds.size).toBe(0); // __collapse_huge_page_isolate fails at the KSM page's second PTE
    expect(proc.swaps.has(0)).toBe(false); // ... after __collapse_huge_page_swapin read page 0 back
    expect(proc.ptes.has(0)).toBe(true);
  });

  test("collapse copies PTE-mapped pages into one exclusive THP; a pinned page blocks it", () => {
    const ops: MmOp[] = [
      ...base,
      ...[0, 1, 3].map((page): MmOp => ({ op: "write", pid: 1, page, cell: 0, value: page + 1 })),
      { op: "collapse", pid: 1, page: 2 },
    ];
    const { model, obs, expected } = run(ops);
    expect(obs).toEqual(expected);
    const pmd = model.procs.get(1)!.pmds.get(0)!;
    expect(model.frames.get(pmd.pfn)).toMatchObject({ nr: 4, entireMapcount: 1, refcount: 1, anonExclusive: true });
    expect([0, 1, 2, 3].map((page) => model.apply({ op: "read", pid: 1, page }))).toEqual(
      [1, 2, 0, 4].map((v) => ({ data: [v, 0, 0, 0] })),
    );
    const pinned = run([
      ...ops.slice(0, -1),
      { op: "pin", pid: 1, page: 3, kind: "pin", write: true },
      ops.at(-1)!,
    ]).model;
    expect(pinned.procs.get(1)!.pmds.size).toBe(0);
  });
});

describe("forced accesses through /proc/self/mem (FOLL_FORCE)", () => {
  const ro: MmOp[] = [
    { op: "spawn" },
    { op: "fileWrite", file: 0, page: 0, cell: 0, value: 5 },
    { op: "mmap", pid: 1, page: 0, pages: 2, prot: "r", shared: false }, // anonymous
    { op: "mmap", pid: 1, page: 4, pages: 2, prot: "r", shared: false, file: 0 },
    { op: "mmap", pid: 1, page: 8, pages: 2, prot: "r", shared: true, file: 1 },
  ];

  test("a forced write to untouched read-only anonymous memory faults in an exclusive page left read-only and clean (do_anonymous_page without VM_WRITE)", () => {
    const { model, obs } = both([
      ...ro,
      { op: "forceWrite", pid: 1, page: 0, cell: 0, value: X },
      { op: "read", pid: 1, page: 0 },
    ]);
    expect(obs.slice(-2)).toEqual([{ ok: true }, { data: [X] }]);
    const pte = model.procs.get(1)!.ptes.get(0)!;
    expect(pte).toMatchObject({ writable: false, dirty: false });
    expect(model.frames.get(pte.pfn)).toMatchObject({ anon: true, anonExclusive: true, refcount: 1, mapcount: 1 });
    expect(model.copiedPages).toBe(0);
  });

  test("on the zero page and on a MAP_PRIVATE file page it breaks copy-on-write into a read-only dirty copy; the file keeps its data", () => {
    const { model, obs } = both([
      ...ro,
      { op: "read", pid: 1, page: 1 }, // the zero page
      { op: "read", pid: 1, page: 4 }, // the page cache's page
      { op: "forceWrite", pid: 1, page: 1, cell: 0, value: X },
      { op: "forceWrite", pid: 1, page: 4, cell: 0, value: Y },
      { op: "read", pid: 1, page: 1 },
      { op: "read", pid: 1, page: 4 },
      { op: "fileRead", file: 0, page: 0 },
    ]);
    expect(obs.slice(-3)).toEqual([{ data: [X] }, { data: [Y] }, { data: [5] }]);
    for (const page of [1, 4]) {
      const pte = model.procs.get(1)!.ptes.get(page)!;
      expect(pte).toMatchObject({ writable: false, dirty: true });
      expect(model.frames.get(pte.pfn)).toMatchObject({ anon: true, anonExclusive: true, cache: null });
    }
    expect(model.copiedPages).toBe(1); // the file page's; the zero page's copy is a zeroed page
  });

  test("a read-only shared mapping refuses it (EIO, as check_vma_flags does), a writable one takes it, and an unmapped page is EIO for both", () => {
    const { obs } = both([
      ...ro,
      { op: "forceWrite", pid: 1, page: 8, cell: 0, value: X },
      { op: "forceRead", pid: 1, page: 8 },
      { op: "mprotect", pid: 1, page: 8, pages: 1, prot: "rw" },
      { op: "forceWrite", pid: 1, page: 8, cell: 0, value: Y },
      { op: "fileRead", file: 1, page: 0 },
      { op: "forceWrite", pid: 1, page: 12, cell: 0, value: X },
      { op: "forceRead", pid: 1, page: 12 },
    ]);
    expect(obs.slice(-7)).toEqual([
      { error: "EIO" },
      { data: [0] },
      { ok: true },
      { ok: true },
      { data: [Y] },
      { error: "EIO" },
      { error: "EIO" },
    ]);
  });

  test("after fork, a forced write copies the shared page like a write; the other process keeps its data", () => {
    const { model, obs } = both([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 0, cell: 0, value: A },
      { op: "mprotect", pid: 1, page: 0, pages: 1, prot: "r" },
      { op: "fork", pid: 1 },
      { op: "forceWrite", pid: 2, page: 0, cell: 0, value: X },
      { op: "read", pid: 1, page: 0 },
      { op: "read", pid: 2, page: 0 },
    ]);
    expect(obs.slice(-2)).toEqual([{ data: [A] }, { data: [X] }]);
    expect(pfn(model, 1, 0)).not.toBe(pfn(model, 2, 0));
    expect(model.procs.get(2)!.ptes.get(0)).toMatchObject({ writable: false, dirty: true });
    expect(model.copiedPages).toBe(1);
  });

  test("every property holds along forced accesses", async () => {
    for (const trace of ["force-write-private-readonly", "force-write-private-hugetlb"]) {
      const { trace: t } = loadTrace(`traces/mm/linux/${trace}.trace.json`);
      const geometry = t.geometry as MmGeometry;
      expect(await checkSequence(mmLayer, geometry, new MmModel(geometry), t.ops as MmOp[])).toBeUndefined();
    }
  });
});

/** Linux may copy where reuse was allowed (a transient LRU or swap-cache reference): a model that always does must pass too. */
class AlwaysCopiesShared extends MmModel {
  protected override wpCanReuseAnonFolio(): boolean {
    return false;
  }
}

test("the properties accept Linux's allowed choice: copying a non-exclusive page that could have been reused", async () => {
  const factory = {
    name: "always-copies",
    create: (geo: unknown) => new AlwaysCopiesShared(geo as typeof defaultMmGeometry),
  };
  const r = await runCampaign(mmLayer, factory, { seed: 5, runs: 1500, maxOps: 200 });
  expect(r.failure?.message).toBeUndefined();
  expect(r.status).toBe("passed");
});
