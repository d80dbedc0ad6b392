// Disk files (feature "disk"): files on a disk filesystem beside the shmem ones. Their one difference the ops can
// see is dirty tracking: a writable longterm pin of a shared writable mapping of one is refused (mm/gup.c
// writable_file_mapping_allowed), by the model and the oracle alike; the op schema keeps `disk` to file ops.
import { expect, test } from "vitest";
import { mmSimplifications } from "../fuzz/mm/ops.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, type MmGeometry, type MmObs, type MmOp, mmOpSchema } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

const g: MmGeometry = { ...defaultMmGeometry, pages: 16, diskFiles: 1 };

/** The last observation of `ops` on the model and on the oracle (which must agree). */
function last(ops: MmOp[]): MmObs {
  const model = new MmModel(g);
  const oracle = new MmOracle(g);
  let obs: MmObs = { ok: true };
  for (const op of ops) {
    obs = model.apply(op);
    expect(oracle.apply(op)).toEqual(obs);
  }
  return obs;
}

const pinAfter = (map: Partial<Extract<MmOp, { op: "mmap" }>>, ...between: MmOp[]): MmObs =>
  last([
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: true, file: 0, ...map } as MmOp,
    ...between,
    { op: "pin", pid: 1, page: 1, kind: "longterm", write: true },
  ]);

test("a writable longterm pin of a shared writable disk-file mapping is refused: it would need dirty tracking", () => {
  expect(pinAfter({ disk: true })).toEqual({ error: "EFAULT" });
  expect(pinAfter({ disk: true, shared: false })).toEqual({ handle: 1 }); // COW broken: an anonymous page
  expect(pinAfter({})).toEqual({ handle: 1 }); // shmem needs no dirty tracking
  // made writable later, by mprotect: refused the same
  expect(pinAfter({ disk: true, prot: "r" }, { op: "mprotect", pid: 1, page: 0, pages: 2, prot: "rw" })).toEqual({
    error: "EFAULT",
  });
  // a read-only longterm pin and a GUP reference take no write: taken
  expect(
    last([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: true, file: 0, disk: true },
      { op: "pin", pid: 1, page: 1, kind: "get", write: false },
    ]),
  ).toEqual({ handle: 1 });
});

test("disk files are numbered apart from the others, and hold what is written to them", () => {
  expect(
    last([
      { op: "fileWrite", file: 0, page: 3, cell: 0, value: 7, disk: true },
      { op: "fileRead", file: 0, page: 3 },
    ]),
  ).toEqual({ data: [0, 0, 0, 0] });
  expect(
    last([
      { op: "fileWrite", file: 0, page: 3, cell: 0, value: 7, disk: true },
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 4, prot: "r", shared: false, file: 0, disk: true },
      { op: "read", pid: 1, page: 3 },
    ]),
  ).toEqual({ data: [7, 0, 0, 0] });
  expect(last([{ op: "fileRead", file: 1, page: 0, disk: true }])).toEqual({ error: "EBADF" });
});

test("`disk` names a file: without one, or with hugetlb, the op is malformed", () => {
  const mmap = { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false };
  expect(mmOpSchema.safeParse({ ...mmap, file: 0, disk: true }).success).toBe(true);
  const bad = [
    { ...mmap, disk: true },
    { ...mmap, file: 0, disk: true, hugetlb: true },
    { op: "fileRead", file: 0, page: 0, disk: true, hugetlb: true },
  ];
  for (const op of bad) expect(mmOpSchema.safeParse(op).error?.issues[0]?.path).toEqual(["disk"]);
});

test("the shrinker's candidates stay well formed: mapping a disk file anonymously drops `disk` too", () => {
  const ops: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: true, file: 0, disk: true },
    { op: "pin", pid: 1, page: 1, kind: "longterm", write: true },
  ];
  let candidates = 0;
  for (const c of mmSimplifications(ops)) {
    candidates++;
    for (const [i, op] of c.entries())
      expect(mmOpSchema.safeParse(op).success, `${i}: ${JSON.stringify(op)}`).toBe(true);
  }
  expect(candidates).toBeGreaterThan(3);
});
