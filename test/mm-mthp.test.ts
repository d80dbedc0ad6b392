// Multi-size THP in the model (feature "mthp"): which folio a write fault allocates under each THP size's policy
// (alloc_anon_folio), and what copy-on-write does with one (__wp_can_reuse_large_anon_folio).
import { describe, expect, test } from "vitest";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { MIN_ANON_THP_ORDER, type MmGeometry, type MmOp, mthpGeometry } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

const g: MmGeometry = { pageSize: 4096, cellsPerPage: 1, pages: 64, hugeOrder: 4, files: 0 };

/** The model after running `ops`, none of which may answer an error. */
function run(ops: MmOp[], geometry = g): MmModel {
  const m = new MmModel(geometry);
  for (const op of ops) expect(m.apply(op), JSON.stringify(op)).not.toHaveProperty("error");
  return m;
}

/** The size of the folio pid 1 maps at `page`, and whether that page is AnonExclusive. */
function folioAt(m: MmModel, page: number, pid = 1): { nr: number; head: number; exclusive: boolean } {
  const pte = m.procs.get(pid)!.ptes.get(page)!;
  const f = m.folioOf(pte.pfn);
  return { nr: f.nr, head: f.pfn, exclusive: f.pageExclusive[pte.pfn - f.pfn] };
}

const spawn: MmOp = { op: "spawn" };
const mmap = (page: number, pages: number): MmOp => ({ op: "mmap", pid: 1, page, pages, prot: "rw", shared: false });
const policy = (order: number, enabled: "always" | "madvise" | "never" | "inherit"): MmOp => ({
  op: "thpPolicy",
  order,
  enabled,
});
/** The PMD order off, so a hugepage VMA shows what the smaller orders do. */
const noPmd: MmOp = { op: "thpPolicy", order: g.hugeOrder, enabled: "never" };
const write = (page: number, pid = 1): MmOp => ({ op: "write", pid, page, cell: 0, value: 7 });
const advise = (page: number, pages: number, advice: "hugepage" | "nohugepage"): MmOp => ({
  op: "madvise",
  pid: 1,
  page,
  pages,
  advice,
});

test("a THP size's knob exists for orders 2 … hugeOrder only, on the model and the oracle alike", () => {
  for (const order of [0, 1, 2, 3, 4, 5]) {
    const want = order >= 2 && order <= g.hugeOrder ? { ok: true } : { error: "EINVAL" };
    expect(new MmModel(g).apply(policy(order, "always")), `order ${order}`).toEqual(want);
    expect(new MmOracle(g).apply(policy(order, "always")), `order ${order}`).toEqual(want);
  }
});

describe("which folio a write fault allocates", () => {
  test("at the start no order below the PMD is on: a base page", () => {
    expect(folioAt(run([spawn, mmap(0, 32), write(5)]), 5).nr).toBe(1);
  });

  test('"always": the largest allowed order whose aligned range fits, every page mapped writable and exclusive', () => {
    const m = run([spawn, policy(2, "always"), policy(3, "always"), mmap(0, 32), write(5)]);
    const f = folioAt(m, 5);
    expect(f.nr).toBe(8); // order 3 beats order 2
    expect(f.head % 8).toBe(0);
    for (let i = 0; i < 8; i++) {
      const pte = m.procs.get(1)!.ptes.get(i)!;
      expect(pte).toMatchObject({ pfn: f.head + i, writable: true });
      expect(folioAt(m, i).exclusive).toBe(true);
    }
    expect(m.frames.get(f.head)).toMatchObject({ refcount: 8, mapcount: 8 });
  });

  test('"madvise" and "inherit" (of the top level\'s madvise) need MADV_HUGEPAGE; "never" and nohugepage refuse', () => {
    for (const mode of ["madvise", "inherit"] as const) {
      expect(folioAt(run([spawn, policy(2, mode), mmap(0, 32), write(5)]), 5).nr, mode).toBe(1);
      const advised = [spawn, noPmd, policy(2, mode), mmap(0, 32), advise(0, 32, "hugepage"), write(5)];
      expect(folioAt(run(advised), 5).nr).toBe(4);
    }
    expect(
      folioAt(run([spawn, noPmd, policy(2, "never"), mmap(0, 32), advise(0, 32, "hugepage"), write(5)]), 5).nr,
    ).toBe(1);
    expect(folioAt(run([spawn, policy(2, "always"), mmap(0, 32), advise(0, 32, "nohugepage"), write(5)]), 5).nr).toBe(
      1,
    );
  });

  test("an order falls back where its range has a PTE already (pte_range_none) or leaves the VMA", () => {
    const m = run([spawn, policy(2, "always"), policy(3, "always"), mmap(0, 32), write(1)]);
    expect(folioAt(m, 1).nr).toBe(8);
    m.apply({ op: "madvise", pid: 1, page: 0, pages: 1, advice: "dontneed" });
    m.apply(write(0)); // [0, 8) and [0, 4) both hold mapped pages now
    expect(folioAt(m, 0).nr).toBe(1);
    const small = run([spawn, policy(2, "always"), policy(3, "always"), mmap(0, 6), write(1), write(5)]);
    expect(folioAt(small, 1).nr).toBe(4); // [0, 8) leaves the 6-page VMA, [0, 4) fits
    expect(folioAt(small, 5).nr).toBe(1); // [4, 8) leaves it too
  });

  test("the PMD order has its policy too: never keeps a hugepage VMA on smaller orders", () => {
    const thp = run([spawn, mmap(0, 32), advise(0, 32, "hugepage"), write(5)]);
    expect(thp.procs.get(1)!.pmds.size).toBe(1); // inherit → madvise → the VMA is advised: a PMD
    const m = run([spawn, policy(4, "never"), policy(2, "always"), mmap(0, 32), advise(0, 32, "hugepage"), write(5)]);
    expect(m.procs.get(1)!.pmds.size).toBe(0);
    expect(folioAt(m, 5).nr).toBe(4);
  });

  test("a read fault maps the zero page whatever the policy", () => {
    const m = new MmModel(g);
    for (const op of [spawn, policy(2, "always"), mmap(0, 32)]) m.apply(op);
    expect(m.apply({ op: "read", pid: 1, page: 5 })).toEqual({ data: [0] });
    expect(m.procs.get(1)!.ptes.get(5)!.pfn).toBe(0);
    expect(m.procs.get(1)!.ptes.size).toBe(1);
  });
});

describe("copy-on-write of an mTHP", () => {
  const forked = [spawn, policy(2, "always"), mmap(0, 32), write(5), { op: "fork", pid: 1 } as MmOp];

  test("after fork a write copies one page; the rest stays shared", () => {
    const m = run([...forked, write(6, 2)]);
    expect(folioAt(m, 6, 2).nr).toBe(1);
    expect(folioAt(m, 5, 2).head).toBe(folioAt(m, 5, 1).head);
    expect(m.copiedPages).toBe(1);
  });

  test("once the child is gone, the parent's write reuses the folio (every mapping its own)", () => {
    const m = run([...forked, { op: "exit", pid: 2 }, write(6)]);
    expect(folioAt(m, 6)).toMatchObject({ nr: 4, exclusive: true });
    expect(m.copiedPages).toBe(0);
  });

  test("the maybe-shared bit (MM_ID) outlives the slots: a third mm left alone still copies; the slot holder reuses", () => {
    const three = [...forked, { op: "fork", pid: 1 } as MmOp]; // pid 1 slot 0, pid 2 slot 1, pid 3 none
    const alone = run([...three, { op: "exit", pid: 1 }, { op: "exit", pid: 2 }, write(6, 3)]);
    expect(folioAt(alone, 6, 3).nr).toBe(1); // copied: no slot holds pid 3's mappings
    const holder = run([...three, { op: "exit", pid: 2 }, { op: "exit", pid: 3 }, write(6)]);
    expect(folioAt(holder, 6)).toMatchObject({ nr: 4, exclusive: true }); // slot 0 holds every mapping: reused
  });

  test("a GUP reference on it forces the copy (refcount above mapcount), and keeps what it referenced", () => {
    const m = run([
      ...forked,
      { op: "exit", pid: 2 },
      { op: "pin", pid: 1, page: 5, kind: "get", write: false },
      { op: "write", pid: 1, page: 5, cell: 0, value: 9 },
    ]);
    expect(folioAt(m, 5).nr).toBe(1); // copied out of the folio
    expect(m.apply({ op: "pinRead", handle: 1 })).toEqual({ data: [7] });
    expect(m.apply({ op: "read", pid: 1, page: 5 })).toEqual({ data: [9] });
  });
});

test("the layer's mthp flavour leaves room for an mTHP order below the PMD", () => {
  const flavour = mmLayer.flavours!.find((f) => f.name === "mthp")!;
  expect(flavour.geometry).toEqual(mthpGeometry);
  expect(mthpGeometry.hugeOrder! - 1).toBeGreaterThanOrEqual(MIN_ANON_THP_ORDER);
  const m = new MmModel({ ...g, ...mthpGeometry });
  for (const op of [spawn, policy(2, "always"), mmap(0, 8), write(1)]) m.apply(op);
  expect(folioAt(m, 1).nr).toBe(4);
});
