// The families of the kernel's own CoW selftest (tools/testing/selftests/mm/cow.c) as short named op sequences at
// any geometry, each page holding its own value (so a copy of the wrong subpage shows, which cow.c's memset cannot).
// Each scenario records its decisive observation and the mutants (the bug classes) it exists to catch. They are the
// mm layer's corpus (run first in every campaign, and seeds that random ops are spliced into); cow.c's own cases,
// every one, are fuzz/mm/cow-cases.ts.
import { defaultMmGeometry, type MmGeometry, type MmObs, type MmOp } from "../../models/mm/types.ts";

export interface CowScenario {
  readonly name: string;
  /** The cow.c test it expresses, and what it shows. */
  readonly note: string;
  readonly ops: MmOp[];
  /** The decisive observation: op index (negative counts from the end) and what it must be. */
  readonly decisive: { readonly at: number; readonly obs: MmObs };
  /** Mutants this scenario kills: the bug classes cow.c exists to catch. */
  readonly kills: readonly string[];
}

const OLD = 0x11;
const NEW = 0x22;
const DEV = 0x33;

const spawn: MmOp = { op: "spawn" };
const mmap = (pages: number): MmOp => ({ op: "mmap", pid: 1, page: 0, pages, prot: "rw", shared: false });
/** Page i holds OLD + i (mod 256), so a copy of the wrong page shows. */
const old = (page: number): number => (OLD + page) & 0xff;
const fill = (pid: number, pages: number): MmOp[] =>
  Array.from({ length: pages }, (_, page): MmOp => ({ op: "write", pid, page, cell: 0, value: old(page) }));
const fork: MmOp = { op: "fork", pid: 1 };
const write = (pid: number, page: number, value: number): MmOp => ({ op: "write", pid, page, cell: 0, value });
const read = (pid: number, page: number): MmOp => ({ op: "read", pid, page });
const data = (v: number): MmObs => ({ data: [v, 0, 0, 0] });

/** cow.c test_cow_in_parent: the child writes after fork; the parent must keep seeing its old data. */
function cowInParent(name: string, note: string, setup: MmOp[], page: number, kills: string[]): CowScenario {
  // The child writes cell 1, so the rest of its copy still shows where the copy came from.
  const ops = [
    ...setup,
    fork,
    { op: "write", pid: 2, page, cell: 1, value: NEW } as MmOp,
    read(2, page),
    read(1, page),
    read(2, page === 0 ? 1 : 0),
  ];
  return { name, note, ops, decisive: { at: -2, obs: data(old(page)) }, kills };
}

/** MADV_PAGEOUT of page 0: swapped out before the test, as cow.c's swapped-out backings are. */
const pageout: MmOp = { op: "madvise", pid: 1, page: 0, pages: 1, advice: "pageout" };

/** cow.c's vmsplice() + unmap in child on a base page (after `before`): the pipe must keep the old data. */
function vmspliceInChild(name: string, note: string, before: MmOp[], kills: string[]): CowScenario {
  const ops: MmOp[] = [
    spawn,
    mmap(1),
    ...fill(1, 1),
    ...before,
    fork,
    { op: "pin", pid: 2, page: 0, kind: "get", write: false },
    { op: "munmap", pid: 2, page: 0, pages: 1 },
    write(1, 0, NEW),
    { op: "pinRead", handle: 1 },
  ];
  return { name, note, ops, decisive: { at: -1, obs: data(OLD) }, kills };
}

/** The scenarios at a geometry: a huge page is 2^hugeOrder pages (4 for fuzzing, 512 on a real kernel). */
export function cowScenariosFor(g: MmGeometry): CowScenario[] {
  const H = 1 << g.hugeOrder;
  const thp: MmOp = { op: "madvise", pid: 1, page: 0, pages: H, advice: "hugepage" };
  return [
    cowInParent(
      "basic-cow-base-page",
      "cow.c 'Basic COW after fork()' on a base page: the child's write is private to the child",
      [spawn, mmap(1), ...fill(1, 1)],
      0,
      ["fork-parent-writable", "wp-reuse-shared", "fork-keeps-exclusive"],
    ),
    cowInParent(
      "basic-cow-swapped-out",
      "cow.c 'Basic COW after fork()' on a swapped-out base page: fork shares the swap entry, which is exclusive to neither side any more",
      [spawn, mmap(1), ...fill(1, 1), pageout],
      0,
      ["swap-fork-keeps-exclusive"],
    ),
    cowInParent(
      "basic-cow-pmd-thp",
      "cow.c 'Basic COW after fork()' with a PMD-mapped THP: the child's write splits its PMD and copies one page",
      [spawn, mmap(H), thp, ...fill(1, H)],
      1,
      ["thp-cow-wrong-subpage", "thp-cow-copies-huge"],
    ),
    cowInParent(
      "basic-cow-pte-thp",
      "cow.c 'Basic COW after fork()' with a PTE-mapped THP (mprotect of one page splits the PMD first)",
      [
        spawn,
        mmap(H),
        thp,
        ...fill(1, H),
        { op: "mprotect", pid: 1, page: 1, pages: 1, prot: "r" },
        { op: "mprotect", pid: 1, page: 1, pages: 1, prot: "rw" },
      ],
      2,
      ["fork-parent-writable", "wp-reuse-shared"],
    ),
    cowInParent(
      "basic-cow-single-pte-thp",
      "cow.c 'Basic COW after fork()' with a single PTE of a THP (the rest unmapped; the folio stays whole)",
      [spawn, mmap(H), thp, ...fill(1, H), { op: "munmap", pid: 1, page: 1, pages: H - 1 }],
      0,
      ["fork-parent-writable", "wp-reuse-shared"],
    ),
    vmspliceInChild(
      "vmsplice-unmap-in-child",
      "cow.c 'vmsplice() + unmap in child' (CVE-2020-29374): the child's vmsplice reference must not see the parent's later write",
      [],
      ["wp-reuse-by-mapcount"],
    ),
    vmspliceInChild(
      "vmsplice-unmap-in-child-swapped-out",
      "cow.c 'vmsplice() + unmap in child' on a swapped-out base page: the parent's write finds the page the pipe holds in the swap cache and must not take it over",
      [pageout],
      ["swapin-reuse-by-mapcount"],
    ),
    {
      name: "vmsplice-unmap-in-child-pmd-thp",
      note: "cow.c 'vmsplice() + unmap in child' with a PMD-mapped THP: the parent's write must not reuse the THP the pipe still holds",
      ops: [
        spawn,
        mmap(H),
        thp,
        ...fill(1, H),
        fork,
        { op: "pin", pid: 2, page: 1, kind: "get", write: false },
        { op: "munmap", pid: 2, page: 0, pages: H },
        write(1, 1, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(old(1)) },
      kills: ["thp-reuse-by-mapcount"],
    },
    {
      name: "vmsplice-before-fork-unmap-in-parent",
      note: "cow.c 'vmsplice() before fork(), unmap in parent after fork()': the parent's reference must not see the child's write",
      ops: [
        spawn,
        mmap(1),
        ...fill(1, 1),
        { op: "pin", pid: 1, page: 0, kind: "get", write: false },
        fork,
        { op: "madvise", pid: 1, page: 0, pages: 1, advice: "dontneed" },
        write(2, 0, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(OLD) },
      kills: ["wp-reuse-by-mapcount"],
    },
    {
      name: "fork-with-rw-longterm-pin",
      note: "cow.c 'R/W longterm GUP pin' then fork (io_uring fixed buffer): the pinned page stays the parent's; the child gets a copy",
      ops: [
        spawn,
        mmap(1),
        ...fill(1, 1),
        { op: "pin", pid: 1, page: 0, kind: "longterm", write: true },
        fork,
        write(2, 0, NEW),
        { op: "pinWrite", handle: 1, cell: 1, value: DEV },
        read(2, 0),
        read(1, 0),
      ],
      decisive: { at: -1, obs: { data: [OLD, DEV, 0, 0] } },
      kills: ["fork-shares-pinned"],
    },
    {
      name: "ro-longterm-pin-on-shared-page",
      note: "cow.c 'R/O longterm GUP pin on a shared page': the pin unshares first, so the parent's later write reaches it",
      ops: [
        spawn,
        mmap(1),
        ...fill(1, 1),
        fork,
        { op: "pin", pid: 1, page: 0, kind: "longterm", write: false },
        write(1, 0, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(NEW) },
      kills: ["ro-pin-no-unshare"],
    },
    {
      name: "ro-longterm-pin-on-previously-shared-page",
      note: "cow.c 'R/O longterm GUP pin on a previously-shared page': the child is gone, the page is not AnonExclusive yet; the pin must still follow the parent",
      ops: [
        spawn,
        mmap(1),
        ...fill(1, 1),
        fork,
        { op: "exit", pid: 2 },
        { op: "pin", pid: 1, page: 0, kind: "longterm", write: false },
        write(1, 0, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(NEW) },
      kills: ["ro-pin-no-unshare"],
    },
    {
      name: "ro-longterm-pin-on-exclusive-page",
      note: "cow.c 'R/O longterm GUP pin on an exclusive page': no unshare needed; the process's writes reach the pin",
      ops: [
        spawn,
        mmap(1),
        ...fill(1, 1),
        { op: "pin", pid: 1, page: 0, kind: "longterm", write: false },
        write(1, 0, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(NEW) },
      kills: [],
    },
    {
      name: "ro-longterm-pin-on-ro-mapped-shared-page",
      note: "cow.c 'R/O longterm GUP pin on an R/O-mapped shared page': pinned while read-only and shared, then made writable and written",
      ops: [
        spawn,
        mmap(1),
        ...fill(1, 1),
        fork,
        { op: "mprotect", pid: 1, page: 0, pages: 1, prot: "r" },
        { op: "pin", pid: 1, page: 0, kind: "longterm", write: false },
        { op: "mprotect", pid: 1, page: 0, pages: 1, prot: "rw" },
        write(1, 0, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(NEW) },
      kills: ["ro-pin-no-unshare"],
    },
    {
      name: "ro-longterm-pin-on-shared-pmd-thp",
      note: "cow.c 'R/O longterm GUP pin on a shared page' with a PMD-mapped THP: the unshare splits the PMD and copies one page",
      ops: [
        spawn,
        mmap(H),
        thp,
        ...fill(1, H),
        fork,
        { op: "pin", pid: 1, page: 1, kind: "longterm", write: false },
        write(1, 1, NEW),
        { op: "pinRead", handle: 1 },
      ],
      decisive: { at: -1, obs: data(NEW) },
      kills: ["ro-pin-no-unshare"],
    },
    {
      name: "cow-private-hugetlb-memfd-mapped-once",
      note: "cow.c 'Basic COW' with a memfd hugetlb, the private mapping the page's only mapper: its write copies the huge page (hugetlb_wp never reuses a page-cache page), so the memfd keeps its data",
      ops: [
        spawn,
        { op: "mmap", pid: 1, page: 2 * H, pages: H, prot: "rw", shared: true, file: 0, hugetlb: true },
        write(1, 2 * H + 1, OLD),
        { op: "munmap", pid: 1, page: 2 * H, pages: H },
        { op: "mmap", pid: 1, page: 0, pages: H, prot: "rw", shared: false, file: 0, hugetlb: true },
        read(1, 1),
        write(1, 1, NEW),
        { op: "fileRead", file: 0, page: 1, hugetlb: true },
      ],
      decisive: { at: -1, obs: data(OLD) },
      kills: ["hugetlb-private-file-reused"],
    },
    {
      name: "longterm-pin-shared-disk-file",
      note: "an io_uring fixed buffer over a MAP_SHARED mapping of a disk file: a writable longterm pin there needs dirty tracking, so GUP refuses it (writable_file_mapping_allowed, since 6.5); over a private mapping it breaks COW and is taken",
      ops: [
        spawn,
        { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false, file: 0, disk: true },
        { op: "mmap", pid: 1, page: H, pages: 1, prot: "rw", shared: true, file: 0, disk: true },
        { op: "pin", pid: 1, page: 0, kind: "longterm", write: true },
        { op: "pin", pid: 1, page: H, kind: "longterm", write: true },
      ],
      decisive: { at: -1, obs: { error: "EFAULT" } },
      kills: ["disk-file-longterm-pin-allowed"],
    },
  ];
}

/** The corpus at the fuzzing geometry. */
export const cowScenarios: readonly CowScenario[] = cowScenariosFor(defaultMmGeometry);
