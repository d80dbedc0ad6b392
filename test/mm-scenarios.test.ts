// Hand-written mm scenarios: exact observations and exact structure, on the model and the oracle alike.
import { describe, expect, test } from "vitest";
import { checkSequence } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, keyOf, type MmObs, type MmOp } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

const g = { ...defaultMmGeometry, cellsPerPage: 1 };
const A = 65, X = 88, Y = 89;

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
    const failure = await checkSequence(mmLayer, g, new MmModel(g), [...setup, { op: "write", pid: 2, page: 0, cell: 0, value: X }, { op: "exit", pid: 2 }, { op: "exit", pid: 1 }]);
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
    const { obs } = both([...base, { op: "madvise", pid: 1, page: 0, pages: 6, advice: "dontneed" }, { op: "read", pid: 1, page: 0 }, { op: "read", pid: 1, page: 4 }]);
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
    expect(obs.slice(-7)).toEqual([{ error: "EINVAL" }, { ok: true }, { ok: true }, { pid: 2 }, { data: [0] }, { data: [8] }, { fault: "SEGV" }]);
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
    expect(obs).toEqual([{ error: "ESRCH" }, { pid: 1 }, { error: "EINVAL" }, { error: "EINVAL" }, { pid: 2 }, { pid: 3 }, { ok: true }, { pid: 2 }]);
  });
});
