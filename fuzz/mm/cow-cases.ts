// Every case of the kernel's CoW selftest (tools/testing/selftests/mm/cow.c): each test crossed with each backing
// the machine offers, as cow.c's main() runs them, plus the mirrored direction and the mprotect step of every
// fork-based test. A case is either an op sequence with the observation cow.c asserts, or blocked, naming the
// vocabulary it still lacks. scenarios/mm-cow.ts writes the expressible ones under traces/mm/cow/.
import { type MmFeature, type MmGeometry, type MmObs, type MmOp, opFeatures } from "../../models/mm/types.ts";

/** What cow.c's detection finds on a machine (detect_thp_sizes, detect_hugetlb_page_sizes, detect_huge_zeropage). */
export interface CowMachine {
  /** THP orders, ascending: every mTHP order the kernel offers and the PMD order (the geometry's hugeOrder). */
  readonly thpOrders: readonly number[];
  /** hugetlb page orders, ascending. */
  readonly hugetlbOrders: readonly number[];
  readonly hugeZeroPage: boolean;
}

/**
 * x86-64 on 6.18, as this project's machines run it: THP orders 2 (16 KiB) to the PMD order (hugepages-8kB has no
 * anonymous THP), hugetlb at the PMD and the PUD order (2 MiB, 1 GiB), the huge zero page enabled.
 */
export const x86Machine = (g: MmGeometry): CowMachine => ({
  thpOrders: Array.from({ length: g.hugeOrder - 1 }, (_, i) => i + 2),
  hugetlbOrders: [g.hugeOrder, g.hugeOrder + 9],
  hugeZeroPage: true,
});

/** What a case cannot be written without: ("window") a 1 GiB huge page, past the 2,048-page window the traces use. */
export type CowGap = "window";

export interface CowCase {
  /** A file name: the test's and the backing's slugs, and the variant's. */
  readonly name: string;
  /** cow.c's test description (its anon_test_cases, anon_thp_test_cases or non_anon_test_cases entry). */
  readonly test: string;
  /** cow.c's backing, as its "[RUN] … with …" line names it. */
  readonly backing: string;
  /** "cow.c" for cow.c's own case; otherwise the variant cowcheck adds (the mirrored direction, the mprotect step). */
  readonly variant: "cow.c" | "mirrored" | "mprotect" | "mirrored-mprotect";
  /** What the case cannot be written without (empty: `ops` is the case). */
  readonly gaps: readonly CowGap[];
  /** Steps of cow.c the ops leave out because nothing in the vocabulary observes them (clear_softdirty). */
  readonly omits?: string;
  /**
   * cow.c's expected failure (KSFT_XFAIL), why Linux fails it: hugetlb's vmsplice cases, where `asserts` is the
   * leak cow.c expects (the data written after the vmsplice), which the oracle allows.
   */
  readonly xfail?: string;
  readonly ops: readonly MmOp[];
  /** cow.c's assertion: the last op's observation (for an XFAIL case, the failure it expects). */
  readonly asserts: MmObs;
}

const P = 1; // cow.c's process
const C = 2; // its child
/** memset(mem, 1, size) populates; memset(mem, 0xff, size) modifies (cow.c's values). */
const OLD = 1;
const NEW = 0xff;

/** Where the case's memory is and how big, with the ops that set it up. */
interface Backing {
  readonly slug: string;
  readonly text: string;
  readonly gaps: readonly CowGap[];
  /** hugetlb memory: cow.c expects its vmsplice tests to fail (is_hugetlb → xfail). */
  readonly hugetlb?: boolean;
  /** Steps of cow.c's setup the ops do otherwise. */
  readonly omits?: string;
  readonly setup: readonly MmOp[];
  readonly mem: number;
  readonly size: number;
}

/** Ops in cow.c's terms, over [mem, mem + size). */
const at = (mem: number, size: number) => ({
  fill: (pid: number, value: number): MmOp => ({ op: "fill", pid, page: mem, pages: size, value }),
  read: (pid: number): MmOp =>
    size > 1 ? { op: "read", pid, page: mem, pages: size } : { op: "read", pid, page: mem },
  mprotect: (pid: number): MmOp[] => [
    { op: "mprotect", pid, page: mem, pages: size, prot: "r" },
    { op: "mprotect", pid, page: mem, pages: size, prot: "rw" },
  ],
  munmap: (pid: number): MmOp => ({ op: "munmap", pid, page: mem, pages: size }),
  pin: (pid: number, kind: "get" | "longterm", write: boolean, fast?: boolean): MmOp => ({
    op: "pin",
    pid,
    page: mem,
    ...(size > 1 ? { pages: size } : {}),
    kind,
    write,
    ...(fast === undefined ? {} : { fast }),
  }),
});

/** The observation of reading `size` pages that all hold `value`. */
function holding(g: MmGeometry, size: number, value: number): MmObs {
  const page = Array<number>(g.cellsPerPage).fill(value);
  return size > 1 ? { pages: Array.from({ length: size }, () => page) } : { data: page };
}

const spawn: MmOp = { op: "spawn" };
const fork: MmOp = { op: "fork", pid: P };
const exitChild: MmOp = { op: "exit", pid: C };
const pinRead: MmOp = { op: "pinRead", handle: 1 };
const madvise = (
  page: number,
  pages: number,
  advice: "hugepage" | "nohugepage" | "dontneed" | "dontfork" | "dofork" | "pageout",
): MmOp => ({
  op: "madvise",
  pid: P,
  page,
  pages,
  advice,
});

/** cow.c's anonymous backings (run_anon_test_case): a base page, THPs of every size, hugetlb pages. */
function anonBackings(g: MmGeometry, m: CowMachine): Backing[] {
  const base: Backing = {
    slug: "base-page",
    text: "base page",
    gaps: [],
    setup: [
      spawn,
      { op: "mmap", pid: P, page: 0, pages: 1, prot: "rw", shared: false },
      madvise(0, 1, "nohugepage"),
      at(0, 1).fill(P, OLD),
    ],
    mem: 0,
    size: 1,
  };
  const out: Backing[] = [
    base,
    // do_run_with_base_page(swapout): madvise(mem, pagesize, MADV_PAGEOUT) after populating
    {
      ...base,
      slug: "swapped-out-base-page",
      text: "swapped out base page",
      setup: [...base.setup, madvise(0, 1, "pageout")],
    },
  ];
  for (const order of m.thpOrders) {
    // do_run_with_thp: twice the THP size mapped, the aligned THP inside it populated with memset(1)
    const S = 1 << order;
    const kb = (g.pageSize >> 10) << order;
    // run_anon_test_case: the PMD size "never" and this size "always" (thp_push_settings)
    const policy: MmOp[] = [
      { op: "thpPolicy", order: g.hugeOrder, enabled: order === g.hugeOrder ? "always" : "never" },
    ];
    if (order !== g.hugeOrder) policy.push({ op: "thpPolicy", order, enabled: "always" });
    const populated: MmOp[] = [
      spawn,
      ...policy,
      { op: "mmap", pid: P, page: 0, pages: 2 * S, prot: "rw", shared: false },
      madvise(S, S, "hugepage"),
      at(S, S).fill(P, OLD),
    ];
    const run = (slug: string, text: string, gaps: CowGap[], steps: MmOp[], mem = S, size = S): Backing => ({
      slug: `${slug}-${kb}k`,
      text: `${text} (${kb} kB)`,
      gaps,
      setup: [...populated, ...steps],
      mem,
      size,
    });
    const pteMapped = [
      { op: "mprotect", pid: P, page: S + 1, pages: 1, prot: "r" },
      { op: "mprotect", pid: P, page: S + 1, pages: 1, prot: "rw" },
    ] satisfies MmOp[];
    const singlePte = [madvise(S + 1, S - 1, "dontneed")];
    // do_run_with_thp's *_SWAPOUT runs: madvise(mem, size, MADV_PAGEOUT) after the run's own steps
    const pageout = (steps: MmOp[], size = S): MmOp[] => [...steps, madvise(S, size, "pageout")];
    if (order === g.hugeOrder) {
      out.push(run("thp", "THP", [], []), run("swapped-out-thp", "swapped-out THP", [], pageout([])));
    }
    // THP_RUN_PARTIAL_MREMAP moves the upper half to fresh memory (cow.c maps PROT_NONE to find a place; any free
    // one) and runs the test on the lower half
    const to = 3 * S;
    out.push(
      run("pte-mapped-thp", "PTE-mapped THP", [], pteMapped),
      run("swapped-out-pte-mapped-thp", "swapped-out, PTE-mapped THP", [], pageout(pteMapped)),
      run("single-pte-of-thp", "single PTE of THP", [], singlePte, S, 1),
      run("single-pte-of-swapped-out-thp", "single PTE of swapped-out THP", [], pageout(singlePte, 1), S, 1),
      run(
        "partially-mremapped-thp",
        "partially mremap()'ed THP",
        [],
        [{ op: "mremap", pid: P, page: S + S / 2, pages: S / 2, newPages: S / 2, to }],
        S, // cow.c tests the half that stayed: fn(mem, mremap_size)
        S / 2,
      ),
      run(
        "partially-shared-thp",
        "partially shared THP",
        [],
        [madvise(S + 1, S - 1, "dontfork"), fork, exitChild, madvise(S + 1, S - 1, "dofork")],
      ),
    );
  }
  for (const order of m.hugetlbOrders) {
    // run_with_hugetlb: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB of one huge page, populated with memset(1)
    const kb = (g.pageSize >> 10) << order;
    const fits = order === g.hugeOrder;
    out.push({
      slug: `hugetlb-${kb}k`,
      text: `hugetlb (${kb} kB)`,
      gaps: fits ? [] : ["window"],
      hugetlb: true,
      setup: fits
        ? [
            spawn,
            { op: "mmap", pid: P, page: 0, pages: 1 << order, prot: "rw", shared: false, hugetlb: true },
            at(0, 1 << order).fill(P, OLD),
          ]
        : [],
      mem: 0,
      size: 1 << order,
    });
  }
  return out;
}

interface Test {
  readonly slug: string;
  readonly text: string;
  readonly variant: CowCase["variant"];
  readonly omits?: string;
  readonly gaps?: readonly CowGap[];
  /** The ops after the backing's, and what the last one must observe. */
  readonly run: (g: MmGeometry, mem: number, size: number) => { ops: MmOp[]; asserts: MmObs };
}

/**
 * do_test_cow_in_parent: the writer (the parent in cow.c) modifies after fork, optionally after mprotect(R/O) and
 * back; the other side must still read the old values. With `child`, the mirror: the child writes, the parent checks.
 */
const cowAfterFork = (child: boolean, mprotect: boolean) => (g: MmGeometry, mem: number, size: number) => {
  const m = at(mem, size);
  const [writer, checker] = child ? [C, P] : [P, C];
  return {
    ops: [fork, ...(mprotect ? m.mprotect(writer) : []), m.fill(writer, NEW), m.read(checker)],
    asserts: holding(g, size, OLD),
  };
};

/** do_test_cow_in_parent with child_vmsplice_memcmp_fn: the child vmsplices and unmaps; the parent modifies. */
const vmspliceInChild = (mprotect: boolean) => (g: MmGeometry, mem: number, size: number) => {
  const m = at(mem, size);
  return {
    ops: [fork, m.pin(C, "get", false), m.munmap(C), ...(mprotect ? m.mprotect(P) : []), m.fill(P, NEW), pinRead],
    asserts: holding(g, size, OLD),
  };
};

/** do_test_vmsplice_in_parent: the parent vmsplices (before or after fork) and unmaps; the child modifies. */
const vmspliceInParent = (beforeFork: boolean, mprotect: boolean) => (g: MmGeometry, mem: number, size: number) => {
  const m = at(mem, size);
  const pin = m.pin(P, "get", false);
  return {
    ops: [
      ...(beforeFork ? [pin, fork] : [fork, pin]),
      m.munmap(P),
      ...(mprotect ? m.mprotect(C) : []),
      m.fill(C, NEW),
      exitChild,
      pinRead,
    ],
    asserts: holding(g, size, OLD),
  };
};

/**
 * do_test_iouring: a R/W longterm pin (a fixed buffer), then fork or a R/O mapping of the range; the process
 * modifies and the pin must see it. Mirrored (with fork): the child modifies its copy and the pin must not.
 */
const iouring =
  (useFork: boolean, child = false) =>
  (g: MmGeometry, mem: number, size: number) => {
    const m = at(mem, size);
    return {
      ops: [m.pin(P, "longterm", true), ...(useFork ? [fork] : m.mprotect(P)), m.fill(child ? C : P, NEW), pinRead],
      asserts: holding(g, size, child ? OLD : NEW),
    };
  };

type RoPin = "shared" | "previously-shared" | "ro-exclusive" | "plain";

/**
 * do_test_ro_pin: a R/O longterm pin (GUP or GUP-fast) on a page shared with a child, previously shared, or mapped
 * R/O while exclusive; the process modifies and the pin must see it. Mirrored (shared): the child modifies, the pin
 * must not see it.
 */
const roPin =
  (how: RoPin, fast: boolean, child = false) =>
  (g: MmGeometry, mem: number, size: number) => {
    const m = at(mem, size);
    const before: MmOp[] =
      how === "shared"
        ? [fork]
        : how === "previously-shared"
          ? [fork, exitChild]
          : how === "ro-exclusive"
            ? m.mprotect(P)
            : [];
    return {
      ops: [...before, m.pin(P, "longterm", false, fast), m.fill(child ? C : P, NEW), pinRead],
      asserts: holding(g, size, child ? OLD : NEW),
    };
  };

const SOFTDIRTY =
  "clear_softdirty() between the two mprotect() calls (it only stops mprotect mapping the page R/W at once; nothing observes it)";

/** cow.c's anon_test_cases, in its order, each followed by the variants cowcheck adds. */
function anonTests(): Test[] {
  const t = (
    slug: string,
    text: string,
    run: Test["run"],
    variant: Test["variant"] = "cow.c",
    omits?: string,
  ): Test => ({
    slug,
    text,
    variant,
    run,
    ...(omits ? { omits } : {}),
  });
  const roPins: Test[] = [];
  for (const [how, slug, text] of [
    ["shared", "ro-pin-on-ro-mapped-shared-page", "R/O-mapped shared page"],
    ["previously-shared", "ro-pin-on-ro-mapped-previously-shared-page", "R/O-mapped previously-shared page"],
    ["ro-exclusive", "ro-pin-on-ro-mapped-exclusive-page", "R/O-mapped exclusive page"],
  ] as const) {
    for (const fast of [false, true]) {
      const name = fast ? slug.replace("ro-pin", "ro-fast-pin") : slug;
      const title = `R/O GUP${fast ? "-fast" : ""} pin on ${text}`;
      roPins.push(t(name, title, roPin(how, fast), "cow.c", how === "ro-exclusive" ? SOFTDIRTY : undefined));
      if (how === "shared") roPins.push(t(name, title, roPin(how, fast, true), "mirrored"));
    }
  }
  return [
    t("basic-cow", "Basic COW after fork()", cowAfterFork(false, false)),
    t("basic-cow", "Basic COW after fork()", cowAfterFork(true, false), "mirrored"),
    t("basic-cow-mprotect", "Basic COW after fork() with mprotect() optimization", cowAfterFork(false, true)),
    t(
      "basic-cow-mprotect",
      "Basic COW after fork() with mprotect() optimization",
      cowAfterFork(true, true),
      "mirrored",
    ),
    t("vmsplice-unmap-in-child", "vmsplice() + unmap in child", vmspliceInChild(false)),
    t(
      "vmsplice-unmap-in-child-mprotect",
      "vmsplice() + unmap in child with mprotect() optimization",
      vmspliceInChild(true),
    ),
    t(
      "vmsplice-before-fork-unmap-in-parent",
      "vmsplice() before fork(), unmap in parent after fork()",
      vmspliceInParent(true, false),
    ),
    t(
      "vmsplice-before-fork-unmap-in-parent",
      "vmsplice() before fork(), unmap in parent after fork()",
      vmspliceInParent(true, true),
      "mprotect",
    ),
    t("vmsplice-unmap-in-parent", "vmsplice() + unmap in parent after fork()", vmspliceInParent(false, false)),
    t(
      "vmsplice-unmap-in-parent",
      "vmsplice() + unmap in parent after fork()",
      vmspliceInParent(false, true),
      "mprotect",
    ),
    t("iouring-ro-mapped", "R/O-mapping a page registered as iouring fixed buffer", iouring(false), "cow.c", SOFTDIRTY),
    t("iouring-fork", "fork() with an iouring fixed buffer", iouring(true)),
    t("iouring-fork", "fork() with an iouring fixed buffer", iouring(true, true), "mirrored"),
    ...roPins,
  ];
}

/** cow.c's anon_thp_test_cases: a PMD THP, PTE-mapped, collapsed before or after fork with all or half shared. */
function collapseTests(g: MmGeometry): Test[] {
  const S = 1 << g.hugeOrder;
  const collapse: MmOp = { op: "collapse", pid: P, page: S };
  const cases: [string, string, MmOp[], number, number][] = [
    ["collapse-before-fork", "when collapsing before fork()", [collapse, fork], S, S],
    ["collapse-after-fork-fully-shared", "when collapsing after fork() (fully shared)", [fork, collapse], S, S],
    [
      "collapse-after-fork-lower-shared",
      "when collapsing after fork() (lower shared)",
      [madvise(S + S / 2, S / 2, "dontfork"), fork, madvise(S, S, "dofork"), collapse],
      S,
      S / 2,
    ],
    [
      "collapse-after-fork-upper-shared",
      "when collapsing after fork() (upper shared)",
      [madvise(S, S / 2, "dontfork"), fork, madvise(S, S, "dofork"), collapse],
      S + S / 2,
      S / 2,
    ],
  ];
  return cases.map(([slug, text, steps, checked, size]) => ({
    slug,
    text: `Basic COW after fork() ${text}`,
    variant: "cow.c",
    run: (g2: MmGeometry) => ({
      ops: [
        { op: "mprotect", pid: P, page: S + 1, pages: 1, prot: "r" },
        { op: "mprotect", pid: P, page: S + 1, pages: 1, prot: "rw" },
        ...steps,
        at(S, S).fill(P, NEW),
        at(checked, size).read(C),
      ],
      asserts: holding(g2, size, OLD),
    }),
  }));
}

/** cow.c's non-anonymous backings (run_non_anon_test_case): `mem` private R/W, `smem` a second mapping of the same. */
function nonAnonBackings(g: MmGeometry, m: CowMachine): (Backing & { smem: number })[] {
  const S = 1 << g.hugeOrder;
  const two = (mem: MmOp, smem: MmOp): MmOp[] => [spawn, mem, smem];
  const touch = (mem: number, smem: number): MmOp[] => [
    { op: "read", pid: P, page: mem },
    { op: "read", pid: P, page: smem },
  ];
  const out: (Backing & { smem: number })[] = [
    {
      slug: "shared-zeropage",
      text: "shared zeropage",
      gaps: [],
      setup: [
        ...two(
          { op: "mmap", pid: P, page: 0, pages: 1, prot: "rw", shared: false },
          { op: "mmap", pid: P, page: 2 * S, pages: 1, prot: "r", shared: false },
        ),
        ...touch(0, 2 * S),
      ],
      mem: 0,
      smem: 2 * S,
      size: 1,
    },
  ];
  // run_with_memfd, run_with_tmpfile (tmpfile(): a file on the disk filesystem of /tmp, ext4 here)
  const file = (slug: string, text: string, disk: boolean) => ({
    slug,
    text,
    gaps: [],
    setup: [
      ...two(
        { op: "mmap", pid: P, page: 0, pages: 1, prot: "rw", shared: false, file: 0, ...(disk ? { disk } : {}) },
        { op: "mmap", pid: P, page: 2 * S, pages: 1, prot: "r", shared: true, file: 0, ...(disk ? { disk } : {}) },
      ),
      ...touch(0, 2 * S),
    ],
    mem: 0,
    smem: 2 * S,
    size: 1,
  });
  out.push(file("memfd", "memfd", false), file("tmpfile", "tmpfile", true));
  if (m.hugeZeroPage) {
    out.push({
      slug: "huge-zeropage",
      text: "huge zeropage",
      gaps: [],
      setup: [
        ...two(
          { op: "mmap", pid: P, page: 0, pages: 2 * S, prot: "rw", shared: false },
          { op: "mmap", pid: P, page: 2 * S, pages: 2 * S, prot: "r", shared: false },
        ),
        madvise(S, S, "hugepage"),
        madvise(3 * S, S, "hugepage"),
        ...touch(S, 3 * S),
      ],
      mem: S,
      smem: 3 * S,
      size: S,
    });
  }
  for (const order of m.hugetlbOrders) {
    // run_with_memfd_hugetlb: a hugetlb memfd of one huge page, mapped private R/W at mem and shared R/O at smem
    const kb = (g.pageSize >> 10) << order;
    const n = 1 << order;
    const fits = order === g.hugeOrder;
    const [mem, smem] = [0, 2 * S];
    out.push({
      slug: `memfd-hugetlb-${kb}k`,
      text: `memfd hugetlb (${kb} kB)`,
      gaps: fits ? [] : ["window"],
      hugetlb: true,
      omits:
        "fallocate() of the memfd: the shared mapping's read fills its page cache instead, before the private mapping's read (a private fault on a hole would take a page of its own)",
      setup: fits
        ? [
            ...two(
              { op: "mmap", pid: P, page: mem, pages: n, prot: "rw", shared: false, file: 0, hugetlb: true },
              { op: "mmap", pid: P, page: smem, pages: n, prot: "r", shared: true, file: 0, hugetlb: true },
            ),
            ...touch(smem, mem),
          ]
        : [],
      mem,
      smem,
      size: n,
    });
  }
  return out;
}

/** cow.c's non_anon_test_cases: test_cow (the other mapping keeps its data), R/O longterm pins (GUP, GUP-fast). */
function nonAnonTests(smemOf: (mem: number) => number): Test[] {
  return [
    {
      slug: "cow",
      text: "Basic COW",
      variant: "cow.c",
      run: (g, mem, size) => ({
        ops: [at(mem, size).fill(P, NEW), at(smemOf(mem), size).read(P)],
        asserts: holding(g, size, 0),
      }),
    },
    { slug: "ro-longterm-pin", text: "R/O longterm GUP pin", variant: "cow.c", run: roPin("plain", false) },
    { slug: "ro-longterm-fast-pin", text: "R/O longterm GUP-fast pin", variant: "cow.c", run: roPin("plain", true) },
  ];
}

const suffix = (v: CowCase["variant"]): string => (v === "cow.c" ? "" : `--${v}`);

/** Every cow.c case on machine `m` at geometry `g` (a window of at least four huge pages), and cowcheck's variants. */
export function cowCases(g: MmGeometry, m: CowMachine = x86Machine(g)): CowCase[] {
  if (g.pages < 4 << g.hugeOrder)
    throw new Error(`cow.c's cases need a window of at least four huge pages (${4 << g.hugeOrder})`);
  const out: CowCase[] = [];
  const add = (test: Test, b: Backing): void => {
    const gaps = [...new Set([...b.gaps, ...(test.gaps ?? [])])];
    const { ops, asserts } = gaps.length ? { ops: [], asserts: {} as MmObs } : test.run(g, b.mem, b.size);
    // cow.c's vmsplice tests pass is_hugetlb as their xfail
    const xfail = b.hugetlb && test.slug.startsWith("vmsplice");
    const omits = [test.omits, b.omits].filter(Boolean).join("; ");
    out.push({
      name: `${test.slug}--${b.slug}${suffix(test.variant)}`,
      test: test.text,
      backing: b.text,
      variant: test.variant,
      gaps,
      ...(omits ? { omits } : {}),
      ...(xfail
        ? { xfail: "hugetlb_wp reuses a page mapped once whatever GUP reference holds it: the vmsplice'd data leaks" }
        : {}),
      ops: gaps.length ? [] : [...b.setup, ...ops],
      asserts: xfail && !gaps.length ? holding(g, b.size, NEW) : asserts,
    });
  };
  const anon = anonBackings(g, m);
  for (const test of anonTests()) for (const b of anon) add(test, b);
  // run_anon_thp_test_cases: a PMD THP under the default settings (the PMD order "inherit": no thpPolicy)
  const S = 1 << g.hugeOrder;
  const pmd: Backing = {
    slug: "thp",
    text: `THP (${(g.pageSize >> 10) << g.hugeOrder} kB)`,
    gaps: [],
    setup: [
      spawn,
      { op: "mmap", pid: P, page: 0, pages: 2 * S, prot: "rw", shared: false },
      madvise(S, S, "hugepage"),
      at(S, S).fill(P, OLD),
    ],
    mem: S,
    size: S,
  };
  for (const test of collapseTests(g)) add(test, pmd);
  const nonAnon = nonAnonBackings(g, m);
  for (const b of nonAnon) for (const test of nonAnonTests(() => b.smem)) add(test, b);
  return out;
}

/** The features a case's ops need. */
export const caseFeatures = (c: CowCase): MmFeature[] => [...new Set(c.ops.flatMap((op) => opFeatures(op)))].sort();
