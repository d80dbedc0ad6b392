// The mm layer's race programs (Layer.races, docs/races.md): real race tests as threads of ops, which the
// interleaving explorer runs in every order up to its bound.
import type { Program } from "../../core/index.ts";
import { hugeSize, type MmGeometry, type MmOp } from "../../models/mm/types.ts";

const POKE = 0x2a;

export function mmRaces(g: MmGeometry): { name: string; program: Program<MmOp> }[] {
  const huge = hugeSize(g);
  const races: { name: string; program: Program<MmOp> }[] = [
    {
      // LTP's dirtyc0w (testcases/kernel/security/dirtyc0w): one thread writes a read-only private mapping of a file
      // through /proc/self/mem while another discards the page with MADV_DONTNEED; then the file is read back
      name: "dirtyc0w",
      program: {
        prelude: [{ op: "spawn" }, { op: "mmap", pid: 1, page: 0, pages: 1, prot: "r", shared: false, file: 0 }],
        threads: [
          [{ op: "forceWrite", pid: 1, page: 0, cell: 0, value: POKE }],
          [{ op: "madvise", pid: 1, page: 0, pages: 1, advice: "dontneed" }],
        ],
        epilogue: [{ op: "fileRead", file: 0, page: 0 }],
      },
    },
  ];
  if (g.pages >= 2 * huge)
    races.push({
      // CVE-2017-1000405's race (Bindecy's "Huge Dirty COW" proof of concept): a forced write to a read-only THP
      // range that maps the huge zero page, while another thread discards the range, reads it back in (the huge zero
      // page again) and reads it through /proc/self/mem; then another range mapping the huge zero page is read
      name: "huge-zero-dirty-cow",
      program: {
        prelude: [
          { op: "spawn" },
          ...[0, huge].flatMap((page): MmOp[] => [
            { op: "mmap", pid: 1, page, pages: huge, prot: "r", shared: false },
            { op: "madvise", pid: 1, page, pages: huge, advice: "hugepage" },
            { op: "read", pid: 1, page },
          ]),
        ],
        threads: [
          [{ op: "forceWrite", pid: 1, page: 0, cell: 0, value: POKE }],
          [
            { op: "madvise", pid: 1, page: 0, pages: huge, advice: "dontneed" },
            { op: "read", pid: 1, page: 0 },
            { op: "forceRead", pid: 1, page: 0 },
          ],
        ],
        epilogue: [{ op: "read", pid: 1, page: huge }],
      },
    });
  return races;
}
