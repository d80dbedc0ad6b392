// The mm layer's race programs (Layer.races, docs/races.md): real race tests as threads of ops, which the
// interleaving explorer runs in every order up to its bound.
import fc from "fast-check";
import type { Engine, Program } from "../../core/index.ts";
import { hugeSize, type MmGeometry, type MmOp } from "../../models/mm/types.ts";

const POKE = 0x2a;

/**
 * A write's fault (a forced write's too) breaks copy-on-write (the page becomes the process's own: a copy of what it
 * showed then) before the retried store, and another thread may see the copy in between (Layer.precursor): the same
 * kind of write of the value the cell holds when the judge places it (a write to a read-only page faults alike).
 */
export function mmPrecursor(op: MmOp): ((oracle: Engine<MmOp, unknown>) => MmOp | undefined) | undefined {
  if (op.op !== "forceWrite" && op.op !== "write") return undefined;
  return (oracle) => {
    const now = oracle.apply({ op: "forceRead", pid: op.pid, page: op.page }) as { data?: number[] };
    const value = now.data?.[op.cell];
    return value === undefined ? undefined : { ...op, value };
  };
}

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
  races.push({
    // ksmd merging two identical pages while a thread writes one of them: the write faults on the write-protected
    // page between write_protect_page and replace_page (mm/ksm.c's pte_same test), then both pages are read
    name: "ksm-write-during-merge",
    program: {
      prelude: [
        { op: "spawn" },
        { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: false },
        { op: "madvise", pid: 1, page: 0, pages: 2, advice: "mergeable" },
        { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
        { op: "write", pid: 1, page: 1, cell: 0, value: 1 },
      ],
      threads: [[{ op: "ksmScan" }], [{ op: "write", pid: 1, page: 0, cell: 0, value: POKE }]],
      epilogue: [
        { op: "read", pid: 1, page: 0 },
        { op: "read", pid: 1, page: 1 },
      ],
    },
  });
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

/**
 * Generated race programs (Layer.raceArbitrary): the threads of process 1 contend for one page `p` of a fresh
 * mapping whose kind is drawn (anonymous or a file, private or shared, read-only or writable, THP-advised or not),
 * after a few ops that give the page a history (a write, a read, a fork, an mprotect). Each thread runs one or
 * two ops on that page or its mapping; the epilogue reads the mapping in every process, the file behind it, and a
 * second mapping of untouched anonymous memory (the zero pages), so that a write landing in a shared page shows.
 */
export function mmRaceArbitrary(g: MmGeometry, features: ReadonlySet<string>): fc.Arbitrary<Program<MmOp>> {
  const huge = hugeSize(g);
  const n = Math.max(1, Math.min(huge, Math.floor(g.pages / 4))); // the mapping: a huge page where the window allows
  const witness = 2 * n; // the second mapping, huge-aligned too
  const has = (f: string) => features.has(f);
  const file = has("file") && g.files > 0 ? fc.option(fc.nat(g.files - 1), { nil: undefined }) : fc.constant(undefined);
  const kind = fc.record({
    file,
    shared: fc.boolean(),
    prot: fc.constantFrom("r" as const, "rw" as const),
    hugepage: has("thp") ? fc.boolean() : fc.constant(false),
    mergeable: has("ksm") ? fc.boolean() : fc.constant(false),
  });
  const value = fc.integer({ min: 1, max: 255 });
  return fc
    .record({ kind, p: fc.nat(n - 1), history: fc.array(fc.nat(3), { maxLength: 3 }) })
    .chain(({ kind: k, p, history }) => {
      const forked = history.includes(2);
      // KSM: a mergeable private anonymous mapping whose page p has a twin (the same write to another page)
      const merging = k.mergeable && k.file === undefined && !k.shared && n > 1;
      const twin = (p + 1) % n;
      const op = fc.oneof(
        ...(has("force")
          ? [
              {
                weight: 6,
                arbitrary: value.map((v): MmOp => ({ op: "forceWrite", pid: 1, page: p, cell: 0, value: v })),
              },
              { weight: 3, arbitrary: fc.constant<MmOp>({ op: "forceRead", pid: 1, page: p }) },
            ]
          : []),
        { weight: 3, arbitrary: fc.constant<MmOp>({ op: "read", pid: 1, page: p }) },
        { weight: 3, arbitrary: value.map((v): MmOp => ({ op: "write", pid: 1, page: p, cell: 0, value: v })) },
        {
          weight: 5,
          arbitrary: fc
            .tuple(fc.boolean(), fc.constantFrom("dontneed" as const, ...(has("swap") ? (["pageout"] as const) : [])))
            .map(
              ([whole, advice]): MmOp => ({ op: "madvise", pid: 1, page: whole ? 0 : p, pages: whole ? n : 1, advice }),
            ),
        },
        { weight: 1, arbitrary: fc.constant<MmOp>({ op: "fork", pid: 1 }) },
        {
          weight: 1,
          arbitrary: fc
            .constantFrom("r" as const, "rw" as const)
            .map((prot): MmOp => ({ op: "mprotect", pid: 1, page: 0, pages: n, prot })),
        },
        ...(has("gup")
          ? [{ weight: 1, arbitrary: fc.constant<MmOp>({ op: "pin", pid: 1, page: p, kind: "get", write: false }) }]
          : []),
        ...(has("thp") ? [{ weight: 1, arbitrary: fc.constant<MmOp>({ op: "collapse", pid: 1, page: p }) }] : []),
        ...(merging ? [{ weight: 3, arbitrary: fc.constant<MmOp>({ op: "ksmScan" }) }] : []),
        ...(k.file !== undefined
          ? [
              {
                weight: 2,
                arbitrary: value.map((v): MmOp => ({ op: "fileWrite", file: k.file!, page: p, cell: 0, value: v })),
              },
            ]
          : []),
      );
      const thread = fc.array(op, { minLength: 1, maxLength: 2 });
      const threads = fc.oneof(
        { weight: 4, arbitrary: fc.tuple(thread, thread) },
        {
          weight: 1,
          arbitrary: fc.tuple(thread, thread, thread),
        },
      );
      const prelude: MmOp[] = [
        { op: "spawn" },
        {
          op: "mmap",
          pid: 1,
          page: 0,
          pages: n,
          prot: k.prot,
          shared: k.shared,
          ...(k.file === undefined ? {} : { file: k.file }),
        },
        ...(k.hugepage && k.file === undefined && !k.shared
          ? [{ op: "madvise", pid: 1, page: 0, pages: n, advice: "hugepage" } as MmOp]
          : []),
        ...(merging
          ? ([
              { op: "madvise", pid: 1, page: 0, pages: n, advice: "mergeable" },
              { op: "mprotect", pid: 1, page: 0, pages: n, prot: "rw" },
              { op: "write", pid: 1, page: p, cell: 1, value: 7 },
              { op: "write", pid: 1, page: twin, cell: 1, value: 7 },
              ...(k.prot === "r" ? [{ op: "mprotect", pid: 1, page: 0, pages: n, prot: "r" }] : []),
            ] as MmOp[])
          : []),
        ...(g.pages >= witness + n
          ? ([
              { op: "mmap", pid: 1, page: witness, pages: n, prot: "r", shared: false },
              ...(has("thp") ? [{ op: "madvise", pid: 1, page: witness, pages: n, advice: "hugepage" }] : []),
              { op: "read", pid: 1, page: witness },
            ] as MmOp[])
          : []),
        ...history.map((h): MmOp => {
          switch (h) {
            case 0:
              return { op: "read", pid: 1, page: p };
            case 1:
              return { op: "write", pid: 1, page: p, cell: 1, value: 7 };
            case 2:
              return { op: "fork", pid: 1 };
            default:
              return { op: "mprotect", pid: 1, page: 0, pages: n, prot: "r" };
          }
        }),
      ];
      const looks = (pid: number): MmOp[] => Array.from({ length: n }, (_, page): MmOp => ({ op: "read", pid, page }));
      const epilogue: MmOp[] = [
        ...looks(1),
        ...(forked ? looks(2) : []),
        ...(k.file === undefined
          ? []
          : Array.from({ length: n }, (_, page): MmOp => ({ op: "fileRead", file: k.file!, page }))),
        ...(g.pages >= witness + n ? [{ op: "read", pid: 1, page: witness } as MmOp] : []),
      ];
      return threads.map((ts): Program<MmOp> => ({ prelude, threads: ts, epilogue }));
    });
}
