// Ranges (fill, range read and pin) and mremap on the model and the oracle: the rules docs/mm.md states, each as
// an op sequence whose observations both give, and where they concern structure, the model's state.
import { describe, expect, test } from "vitest";
import { checkSequence } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry, MmObs, MmOp } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

const g: MmGeometry = { pageSize: 4096, cellsPerPage: 2, pages: 64, hugeOrder: 3, files: 1 };

/** Model and oracle side by side: the model's observations, checked against what the oracle allows. */
function both(ops: MmOp[]): { model: MmModel; obs: MmObs[] } {
  const model = new MmModel(g);
  const oracle = new MmOracle(g);
  const obs = ops.map((op) => {
    const m = model.apply(op);
    const allowed = oracle.apply(op) as { oneOf?: unknown[] };
    if (allowed.oneOf) {
      expect(allowed.oneOf, JSON.stringify(op)).toContainEqual(m);
      oracle.chose(m);
    } else expect(m, JSON.stringify(op)).toEqual(allowed);
    return m;
  });
  return { model, obs };
}

const spawn: MmOp = { op: "spawn" };
const mmap = (page: number, pages: number, prot: "r" | "rw" = "rw"): MmOp => ({
  op: "mmap",
  pid: 1,
  page,
  pages,
  prot,
  shared: false,
});
const vmas = (m: MmModel, pid = 1) => m.procs.get(pid)!.vmas.map((v) => [v.start, v.end]);

describe("ranges", () => {
  test("fill writes page by page and stops at the first page that faults, the pages before keeping the value", () => {
    const { obs } = both([
      spawn,
      mmap(0, 3),
      { op: "fill", pid: 1, page: 1, pages: 4, value: 9 },
      { op: "read", pid: 1, page: 0, pages: 3 },
    ]);
    expect(obs[2]).toEqual({ fault: "SEGV" });
    expect(obs[3]).toEqual({
      pages: [
        [0, 0],
        [9, 9],
        [9, 9],
      ],
    });
  });

  test("a range read stops at the first fault; a one-page read answers {data}", () => {
    const { obs } = both([
      spawn,
      mmap(0, 2),
      { op: "read", pid: 1, page: 1, pages: 3 },
      { op: "read", pid: 1, page: 1 },
    ]);
    expect(obs[2]).toEqual({ fault: "SEGV" });
    expect(obs[3]).toEqual({ data: [0, 0] });
  });

  test("a range pin is all or nothing: EFAULT leaves no reference, and its cells number the whole range", () => {
    const { obs, model } = both([
      spawn,
      mmap(0, 2),
      { op: "pin", pid: 1, page: 0, pages: 3, kind: "longterm", write: true },
      { op: "pin", pid: 1, page: 0, pages: 2, kind: "longterm", write: true },
      { op: "pinWrite", handle: 1, cell: 3, value: 5 },
      { op: "read", pid: 1, page: 1 },
      { op: "pinRead", handle: 1 },
      { op: "pinWrite", handle: 1, cell: 4, value: 5 },
    ]);
    expect(obs[2]).toEqual({ error: "EFAULT" });
    expect(obs[3]).toEqual({ handle: 1 }); // the failed pin took no handle
    expect(obs[5]).toEqual({ data: [0, 5] }); // cell 3 = page 1, cell 1
    expect(obs[6]).toEqual({
      pages: [
        [0, 0],
        [0, 5],
      ],
    });
    expect(obs[7]).toEqual({ error: "EINVAL" });
    expect(model.pins.size).toBe(1);
  });

  test("a vmsplice'd range keeps what it held when the process writes after fork (each page copied, none reused)", () => {
    const { obs } = both([
      spawn,
      mmap(0, 2),
      { op: "fill", pid: 1, page: 0, pages: 2, value: 1 },
      { op: "fork", pid: 1 },
      { op: "pin", pid: 2, page: 0, pages: 2, kind: "get", write: false },
      { op: "munmap", pid: 2, page: 0, pages: 2 },
      { op: "fill", pid: 1, page: 0, pages: 2, value: 2 },
      { op: "pinRead", handle: 1 },
    ]);
    expect(obs.at(-1)).toEqual({
      pages: [
        [1, 1],
        [1, 1],
      ],
    });
  });
});

describe("mremap", () => {
  test("a move keeps contents, leaves the source unmapped, and takes the destination's place", () => {
    const { obs, model } = both([
      spawn,
      mmap(0, 4),
      mmap(20, 2, "r"),
      { op: "write", pid: 1, page: 1, cell: 0, value: 7 },
      { op: "mremap", pid: 1, page: 0, pages: 2, newPages: 2, to: 20 },
      { op: "read", pid: 1, page: 21 },
      { op: "read", pid: 1, page: 1 },
      { op: "write", pid: 1, page: 20, cell: 0, value: 1 }, // the destination took the source's protection
    ]);
    expect(obs.slice(4)).toEqual([{ ok: true }, { data: [7, 0] }, { fault: "SEGV" }, { ok: true }]);
    expect(vmas(model)).toEqual([
      [2, 4],
      [20, 22],
    ]);
  });

  test("a same-size move takes every VMA of the range, holes and all", () => {
    const { obs, model } = both([
      spawn,
      mmap(0, 2),
      mmap(3, 1, "r"),
      { op: "mremap", pid: 1, page: 0, pages: 4, newPages: 4, to: 10 },
      { op: "read", pid: 1, page: 13 },
    ]);
    expect(obs[3]).toEqual({ ok: true });
    expect(obs[4]).toEqual({ data: [0, 0] });
    expect(vmas(model)).toEqual([
      [10, 12],
      [13, 14],
    ]);
  });

  test("a range that grows or moves may not cross its VMA's end (EFAULT); an unmapped start is EFAULT too", () => {
    const { obs } = both([
      spawn,
      mmap(0, 2),
      mmap(2, 2, "r"),
      { op: "mremap", pid: 1, page: 0, pages: 3, newPages: 4, to: 10 },
      { op: "mremap", pid: 1, page: 5, pages: 1, newPages: 1, to: 10 },
    ]);
    expect(obs.slice(3)).toEqual([{ error: "EFAULT" }, { error: "EFAULT" }]);
  });

  test("in place: a shrink unmaps the tail; a growth needs room (ENOMEM) and the range to end at the VMA's end", () => {
    const { obs, model } = both([
      spawn,
      mmap(0, 4),
      mmap(6, 1),
      { op: "mremap", pid: 1, page: 0, pages: 4, newPages: 2 },
      { op: "read", pid: 1, page: 3 },
      { op: "mremap", pid: 1, page: 0, pages: 2, newPages: 7 },
      { op: "mremap", pid: 1, page: 0, pages: 2, newPages: 6 },
    ]);
    expect(obs.slice(3)).toEqual([{ ok: true }, { fault: "SEGV" }, { error: "ENOMEM" }, { ok: true }]);
    expect(vmas(model)).toEqual([[0, 7]]); // grown into [2, 6), and merged with [6, 7): both never faulted
  });

  test("zero lengths, a destination outside the window or overlapping the source are EINVAL", () => {
    const { obs } = both([
      spawn,
      mmap(0, 4),
      { op: "mremap", pid: 1, page: 0, pages: 0, newPages: 2 },
      { op: "mremap", pid: 1, page: 0, pages: 2, newPages: 0 },
      { op: "mremap", pid: 1, page: 0, pages: 2, newPages: 2, to: 63 },
      { op: "mremap", pid: 1, page: 0, pages: 2, newPages: 2, to: 1 },
    ]);
    expect(obs.slice(2)).toEqual([{ error: "EINVAL" }, { error: "EINVAL" }, { error: "EINVAL" }, { error: "EINVAL" }]);
  });

  test("a moved PMD stays whole where both sides line up on a huge page, and is split where they do not", () => {
    const thp = (to: number) =>
      both([
        spawn,
        mmap(0, 8),
        { op: "madvise", pid: 1, page: 0, pages: 8, advice: "hugepage" },
        { op: "write", pid: 1, page: 0, cell: 0, value: 3 },
        { op: "mremap", pid: 1, page: 0, pages: 8, newPages: 8, to },
        { op: "read", pid: 1, page: to },
      ]);
    const aligned = thp(16);
    expect(aligned.obs.at(-1)).toEqual({ data: [3, 0] });
    expect(aligned.model.procs.get(1)!.pmds.has(16)).toBe(true);
    const unaligned = thp(20);
    expect(unaligned.obs.at(-1)).toEqual({ data: [3, 0] });
    expect(unaligned.model.procs.get(1)!.pmds.size).toBe(0);
    expect(unaligned.model.procs.get(1)!.ptes.size).toBe(8);
  });

  test("a moved faulted anonymous VMA keeps its pgoff and stays apart; a never-faulted one merges", async () => {
    const faulted = both([
      spawn,
      mmap(0, 3),
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "mremap", pid: 1, page: 0, pages: 1, newPages: 1, to: 1 },
    ]);
    expect(vmas(faulted.model)).toEqual([
      [1, 2],
      [2, 3],
    ]);
    const fresh = both([spawn, mmap(0, 3, "r"), { op: "mremap", pid: 1, page: 0, pages: 1, newPages: 1, to: 1 }]);
    expect(vmas(fresh.model)).toEqual([[1, 3]]);
    // every property holds along the way
    const ops: MmOp[] = [spawn, mmap(0, 3, "r"), { op: "mremap", pid: 1, page: 0, pages: 1, newPages: 1, to: 1 }];
    expect(await checkSequence(mmLayer, g, new MmModel(g), ops)).toBeUndefined();
  });
});
