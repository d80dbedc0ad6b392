// The mm layer's vocabulary: geometry, ops, observations and the inspected state that invariants read.
import { z } from "zod";
import { InputError } from "../../core/index.ts";

/**
 * Bounds on every number a geometry or an op can give (docs/mm.md, "Bounds"), checked by the schemas before any
 * work. Far above what the generator or a real engine uses, they keep the worst case cheap: no op costs more than
 * the state it touches (the window is never walked page by page), and a (pid, page) pair packs exactly into one
 * number (keyOf: pid × 2^32 + page < 2^53).
 */
/** Bytes per page: real pages are 4–64 KiB. */
export const MM_MAX_PAGE_SIZE = 1 << 20;
/** Cells per page: a 4 KiB page's bytes. */
export const MM_MAX_CELLS = 4096;
/** The window: 2^24 pages (64 GiB of 4 KiB pages; the linux engine uses 2,048, the generator 16). */
export const MM_MAX_PAGES = 1 << 24;
/** A huge page is at most 2^9 pages (x86-64's 2 MiB PMD; the generator uses 2^2). */
export const MM_MAX_HUGE_ORDER = 9;
/** Pages one read, fill or pin may cover: a 2 MiB huge page of 4 KiB pages, twice over. */
export const MM_MAX_SPAN = 1024;
/** Files the ops may name. */
export const MM_MAX_FILES = 64;
/** Processes alive at once, hence pids (1 … this), and pin handles likewise (the generator names 6 and 4). */
export const MM_MAX_PIDS = 1 << 20;
export const MM_MAX_HANDLES = 1 << 20;

export const mmGeometrySchema = z
  .object({
    /** Bytes per page; only real systems care (the model stores cells). */
    pageSize: z.number().int().positive().max(MM_MAX_PAGE_SIZE),
    /** Observable cells (bytes at real geometry) per page; cell i sits at byte i * pageSize / cellsPerPage. */
    cellsPerPage: z.number().int().min(1).max(MM_MAX_CELLS),
    /** Pages of address space the ops may name: the window [0, pages). */
    pages: z.number().int().min(4).max(MM_MAX_PAGES),
    /** A huge page (PMD-sized folio) is 2^hugeOrder pages; real x86-64 is 9, fuzzing uses 2. */
    hugeOrder: z.number().int().min(1).max(MM_MAX_HUGE_ORDER),
    /** Regular files the ops may name (0..files-1), each `pages` pages long, all zeros at boot. */
    files: z.number().int().min(0).max(MM_MAX_FILES),
    /**
     * hugetlb memfds (MFD_HUGETLB) the ops may name with `hugetlb: true` (0..hugetlbFiles-1, feature "hugetlb"),
     * each as long as the window's whole huge pages (no hugetlb mapping reaches past them), all zeros at boot;
     * absent: none.
     */
    hugetlbFiles: z.number().int().min(0).max(MM_MAX_FILES).optional(),
    /**
     * Files on a disk filesystem (an O_TMPFILE on ext4 for the kernel) the ops may name with `disk: true`
     * (0..diskFiles-1, feature "disk"), each `pages` pages long, all zeros at boot; absent: none.
     */
    diskFiles: z.number().int().min(0).max(MM_MAX_FILES).optional(),
  })
  .strict();
export type MmGeometry = z.infer<typeof mmGeometrySchema>;

export const defaultMmGeometry: MmGeometry = {
  pageSize: 4096,
  cellsPerPage: 4,
  pages: 16,
  hugeOrder: 2,
  files: 2,
  hugetlbFiles: 1,
  diskFiles: 1,
};
/** The "mthp" flavour: huge pages of 2^3 pages, so anonymous THPs of order 2 (feature "mthp") sit below the PMD. */
export const mthpGeometry: Partial<MmGeometry> = { hugeOrder: 3, pages: 32 };

const pid = z.number().int().min(1).max(MM_MAX_PIDS);
// A page or range may reach past the window (EINVAL): up to the largest window, so every window can be overshot.
const page = z.number().int().min(0).max(MM_MAX_PAGES);
const pages = z.number().int().min(0).max(MM_MAX_PAGES);
/** The pages one access op covers (read, fill, pin): at least one, at most a huge page's worth of the largest window. */
const span = z.number().int().min(1).max(MM_MAX_SPAN);
const prot = z.enum(["r", "rw"]);
export type Prot = z.infer<typeof prot>;
export const madviseAdvice = z.enum([
  "dontneed",
  "dontfork",
  "dofork",
  "wipeonfork",
  "keeponfork",
  "hugepage",
  "nohugepage", // feature "thp"
  "mergeable",
  "unmergeable", // feature "ksm"
  "pageout", // feature "swap": MADV_PAGEOUT, reclaim to swap now
]);
export type MadviseAdvice = z.infer<typeof madviseAdvice>;

/** A THP size's policy: allocate at fault always, only in MADV_HUGEPAGE ranges, never, or as the top level says. */
export const thpMode = z.enum(["always", "madvise", "never", "inherit"]);
export type ThpMode = z.infer<typeof thpMode>;
/** The smallest anonymous THP order (THP_ORDERS_ALL_ANON leaves out orders 0 and 1). */
export const MIN_ANON_THP_ORDER = 2;

/** How a pin takes its reference: FOLL_GET (what vmsplice takes), FOLL_PIN, or FOLL_PIN | FOLL_LONGTERM. */
export const pinKind = z.enum(["get", "pin", "longterm"]);
export type PinKind = z.infer<typeof pinKind>;
const handle = z.number().int().min(1).max(MM_MAX_HANDLES);
const file = z.number().int().min(0).max(MM_MAX_FILES);
// A cell ≥ cellsPerPage is EINVAL: up to the most cells a page may have, so every geometry's can be overshot.
const cell = z.number().int().min(0).max(MM_MAX_CELLS);
const value = z.number().int().min(0).max(255);

const notBoth = (o: { hugetlb?: boolean; disk?: boolean }): boolean => !(o.hugetlb && o.disk);
const bothMessage = { message: "a file is a hugetlb memfd or a disk file, not both", path: ["disk"] };

export const mmOpSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("spawn") }).strict(),
  z.object({ op: z.literal("fork"), pid }).strict(),
  z.object({ op: z.literal("exit"), pid }).strict(),
  z.object({ op: z.literal("exec"), pid }).strict(),
  /**
   * With `file`, a mapping of that file from its page 0 (feature "file"); without, anonymous memory. `hugetlb`
   * (feature "hugetlb"): huge pages from the hugetlb pool, MAP_HUGETLB for anonymous memory, and with `file` the
   * hugetlb memfd of that number; the range starts at a huge page and is rounded up to whole ones. `disk`
   * (feature "disk", with `file` only): the disk file of that number.
   */
  z
    .object({
      op: z.literal("mmap"),
      pid,
      page,
      pages,
      prot,
      shared: z.boolean(),
      file: file.optional(),
      hugetlb: z.boolean().optional(),
      disk: z.boolean().optional(),
    })
    .strict()
    .refine((o) => !o.disk || (o.file !== undefined && !o.hugetlb), {
      message: "disk names a disk file: it needs file, and not hugetlb",
      path: ["disk"],
    }),
  z.object({ op: z.literal("munmap"), pid, page, pages }).strict(),
  z.object({ op: z.literal("mprotect"), pid, page, pages, prot }).strict(),
  z.object({ op: z.literal("madvise"), pid, page, pages, advice: madviseAdvice }).strict(),
  /** Reads every cell of the page (of `pages` pages from it, feature "range"): one read shows any difference in it. */
  z.object({ op: z.literal("read"), pid, page, pages: span.optional() }).strict(),
  z.object({ op: z.literal("write"), pid, page, cell, value }).strict(),
  /**
   * Forced accesses through /proc/self/mem (feature "force"): get_user_pages with FOLL_FORCE, as ptrace and a
   * debugger use, so a read-only private mapping can be written (the write breaks copy-on-write and stays private)
   * while a read-only shared one cannot. forceRead reads every cell of the page; a page nothing maps is EIO.
   */
  z.object({ op: z.literal("forceRead"), pid, page }).strict(),
  z.object({ op: z.literal("forceWrite"), pid, page, cell, value }).strict(),
  /** memset: every cell of `pages` pages from `page` gets `value`, page by page (feature "range"). */
  z.object({ op: z.literal("fill"), pid, page, pages: span, value }).strict(),
  /**
   * mremap of [page, page + pages): with `to`, moved there (MREMAP_MAYMOVE | MREMAP_FIXED) as `newPages`
   * pages; without, resized in place (feature "mremap").
   */
  z.object({ op: z.literal("mremap"), pid, page, pages, newPages: pages, to: page.optional() }).strict(),
  // GUP references held by a device on behalf of the process that took them (until unpin or its exit):
  // feature "gup" for FOLL_GET (kind "get"), unpin and pinRead; feature "pin" for FOLL_PIN kinds and pinWrite.
  // One reference covers `pages` pages (feature "range"), as vmsplice or a fixed buffer takes a range; `fast`
  // says whether GUP-fast takes it (absent: as the engine does).
  z
    .object({
      op: z.literal("pin"),
      pid,
      page,
      pages: span.optional(),
      kind: pinKind,
      write: z.boolean(),
      fast: z.boolean().optional(),
    })
    .strict(),
  z.object({ op: z.literal("unpin"), handle }).strict(),
  z.object({ op: z.literal("pinRead"), handle }).strict(),
  z.object({ op: z.literal("pinWrite"), handle, cell, value }).strict(),
  // feature "thp": khugepaged (or MADV_COLLAPSE) visits the huge-page-aligned range holding `page`
  z.object({ op: z.literal("collapse"), pid, page }).strict(),
  // feature "ksm": ksmd runs until every mergeable page has been considered
  z.object({ op: z.literal("ksmScan") }).strict(),
  // feature "mthp": /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled for anonymous THPs of 2^order
  // pages (2 … hugeOrder; others EINVAL). Machine-wide; at start every order below hugeOrder is "never" and
  // hugeOrder "inherit", which follows the top-level setting, "madvise".
  z
    .object({ op: z.literal("thpPolicy"), order: z.number().int().min(0).max(MM_MAX_HUGE_ORDER), enabled: thpMode })
    .strict(),
  // feature "file": read(2) and write(2) of one page of a file (`hugetlb`: of a hugetlb memfd, feature "hugetlb";
  // `disk`: of a disk file, feature "disk")
  z
    .object({ op: z.literal("fileRead"), file, page, hugetlb: z.boolean().optional(), disk: z.boolean().optional() })
    .strict()
    .refine(notBoth, bothMessage),
  z
    .object({
      op: z.literal("fileWrite"),
      file,
      page,
      cell,
      value,
      hugetlb: z.boolean().optional(),
      disk: z.boolean().optional(),
    })
    .strict()
    .refine(notBoth, bothMessage),
]);
export type MmOp = z.infer<typeof mmOpSchema>;

/** The features an op needs beyond the base set (none: []): engines lacking one never see the op. */
export function opFeatures(op: MmOp): readonly MmFeature[] {
  const one = opFeature(op);
  const range = (op.op === "read" || op.op === "pin") && op.pages !== undefined && op.pages > 1;
  return range ? (one ? ["range", one] : ["range"]) : one ? [one] : [];
}

/** The feature an op's kind needs, a range apart (see opFeatures). */
function opFeature(op: MmOp): MmFeature | undefined {
  switch (op.op) {
    case "fill":
      return "range";
    case "mremap":
      return "mremap";
    case "pin":
      return op.kind === "get" ? "gup" : op.kind === "longterm" && op.write ? "longterm" : "pin";
    case "pinWrite":
      return "longterm";
    case "unpin":
    case "pinRead":
      return "gup";
    case "collapse":
      return "thp";
    case "ksmScan":
      return "ksm";
    case "thpPolicy":
      return "mthp";
    case "forceRead":
    case "forceWrite":
      return "force";
    case "fileRead":
    case "fileWrite":
      return op.hugetlb ? "hugetlb" : op.disk ? "disk" : "file";
    case "mmap":
      return op.hugetlb ? "hugetlb" : op.file === undefined ? undefined : op.disk ? "disk" : "file";
    case "madvise":
      if (op.advice === "hugepage" || op.advice === "nohugepage") return "thp";
      if (op.advice === "mergeable" || op.advice === "unmergeable") return "ksm";
      if (op.advice === "pageout") return "swap";
      return undefined;
    default:
      return undefined;
  }
}

/**
 * "pin" (every FOLL_PIN kind) implies "longterm" (writable longterm pins: io_uring fixed buffers, and pinWrite),
 * which implies "gup" (FOLL_GET): an engine lists every feature it offers.
 */
export const MM_FEATURES = [
  "gup",
  "pin",
  "longterm",
  "thp",
  "ksm",
  "file",
  "range",
  "mremap",
  "mthp",
  "swap",
  "hugetlb",
  "disk",
  "force",
] as const;
export type MmFeature = (typeof MM_FEATURES)[number];

/**
 * The mmap_lock an op holds from its first step to its last, for interleavings (docs/races.md): faults, GUP (pins,
 * forced accesses) and the madvise advice that only zaps or reclaims take it for reading (madvise_need_mmap_write);
 * VMA changes, fork, exit, exec and collapse (collapse_huge_page) for writing. Ops naming no process take none.
 */
export function mmLocks(op: MmOp): { name: string; shared: boolean }[] {
  // ksmd reads every mm it scans under that mm's mmap_lock (held here for the whole scan, which is stricter)
  if (op.op === "ksmScan") return [{ name: "mmap_lock of pid *", shared: true }];
  if (!("pid" in op)) return [];
  const name = `mmap_lock of pid ${op.pid}`;
  switch (op.op) {
    case "read":
    case "write":
    case "fill":
    case "pin":
    case "forceRead":
    case "forceWrite":
      return [{ name, shared: true }];
    case "madvise":
      return [{ name, shared: op.advice === "dontneed" || op.advice === "pageout" }];
    default:
      return [{ name, shared: false }];
  }
}

/** Errors are errno names as Linux returns them; a fault is what the MMU delivered (SIGSEGV). */
export const mmErrno = z.enum(["ESRCH", "EINVAL", "ENOMEM", "EFAULT", "EPERM", "EBADF", "EIO"]);
export type MmErrno = z.infer<typeof mmErrno>;

export const mmObsSchema = z.union([
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ pid }).strict(),
  z.object({ handle }).strict(),
  z.object({ data: z.array(z.number().int().min(0).max(255)) }).strict(),
  /** A read or pinRead of a range (an op with `pages`, or a pin taken with it): each page's cells. */
  z.object({ pages: z.array(z.array(z.number().int().min(0).max(255))) }).strict(),
  z.object({ fault: z.literal("SEGV") }).strict(),
  z.object({ error: mmErrno }).strict(),
]);
export type MmObs = z.infer<typeof mmObsSchema>;

export const OK: MmObs = Object.freeze({ ok: true as const });
export const SEGV: MmObs = Object.freeze({ fault: "SEGV" as const });
export const err = (error: MmErrno): MmObs => ({ error });

/**
 * The layer's naming convention for pids and pin handles: the lowest free number from 1 (spawn, fork and pin take
 * it; exit and unpin give it back), in O(log n) however many are taken. Past `max` at once, bad input (exit 2).
 */
export class LowestFree {
  /** Every number from `top` on is free. */
  private top = 1;
  /** The free numbers below `top`: a binary min-heap. */
  private readonly free: number[] = [];
  constructor(
    private readonly max: number,
    private readonly what: string,
  ) {}

  take(): number {
    const heap = this.free;
    if (!heap.length) {
      if (this.top > this.max)
        throw new InputError(`more than ${this.max} ${this.what} at once (the mm layer's bound)`);
      return this.top++;
    }
    const least = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const c = l + 1 < heap.length && heap[l + 1]! < heap[l]! ? l + 1 : l;
        if (heap[c]! >= last) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return least;
  }

  /** `n` (taken before, not given back since) is free again. */
  give(n: number): void {
    const heap = this.free;
    let i = heap.length;
    heap.push(n);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= n) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = n;
  }
}

// ---- Inspected state: what invariants read. The model hands out its live structures; an external engine's
// JSON is decoded into the same shape (see state.ts).

/** A (pid, virtual page) pair packed in one number, so page-table sets stay cheap. */
export const keyOf = (pid: number, vpage: number): number => pid * 0x1_0000_0000 + vpage;
export const pidOf = (key: number): number => Math.floor(key / 0x1_0000_0000);
export const vpageOf = (key: number): number => key % 0x1_0000_0000;

/**
 * A folio: one base page, or 2^hugeOrder pages at an aligned pfn (a THP). Every frame map is keyed by the head
 * pfn; a PTE may name any page of the folio (head + i), see folioOf().
 */
export interface MmFrameView {
  readonly pfn: number;
  /** Pages in the folio: 1, or a power of two up to the huge-page size (an mTHP below it). */
  readonly nr: number;
  /** One count for the whole folio: every mapping (PTE or PMD), the page cache, each GET, each pin (+1024 on a small folio, +1 on a large one). */
  readonly refcount: number;
  /** Large folios only: FOLL_PIN pins (small folios count pins in refcount, GUP_PIN_COUNTING_BIAS). */
  readonly pincount: number;
  /** Every mapping: the per-page PTE mapcounts plus the entire (PMD) mapcount (folio_mapcount). */
  readonly mapcount: number;
  /** PMD mappings of the whole folio. */
  readonly entireMapcount: number;
  /** Per page: how many PTEs map it (page->_mapcount + 1). */
  readonly pageMapcount: readonly number[];
  /** Per page: PageAnonExclusive. A PMD mapping reads the head's. */
  readonly pageExclusive: readonly boolean[];
  /** The head's (or the small folio's) PageAnonExclusive. */
  readonly anonExclusive: boolean;
  readonly anon: boolean;
  readonly ksm: boolean;
  /** A KSM page with its stable tree node. One without is left from a failed merge (break_cow) and never merges again. */
  readonly ksmStable: boolean;
  /** The shared zero page (small) or the huge zero page: mapped read-only, never counted. */
  readonly zero: boolean;
  /** Held by a page cache: "shmem" (shared anonymous memory, freed with its last mapping) or "file" (kept). */
  readonly cache: "shmem" | "file" | null;
  /** Reverse map: keys of every PTE that maps a page of this folio. */
  readonly rmap: ReadonlySet<number>;
  /** Keys (pid, first vpage) of every PMD that maps this folio. */
  readonly pmds: ReadonlySet<number>;
  /** The contents, nr × cellsPerPage cells (KSM merges by them). */
  readonly data: ArrayLike<number>;
  /** In the swap cache: the first of its nr swap slots (folio->swap), which hold nr references; absent: not. */
  readonly swap?: number | null;
  /** A hugetlb folio (a huge page from the pool, mapped whole by one PMD-level entry, never split); absent: not. */
  readonly hugetlb?: boolean;
  /**
   * Read back by the last op's swap-in fault, which skipped the swap cache: its size is alloc_swap_folio's choice
   * from the slots the swap allocator had given (feature "swap"); absent: not.
   */
  readonly swapin?: boolean;
}

/** A swap PTE (feature "swap"): the slot the page's contents are in, and the PageAnonExclusive it remembers. */
export interface MmSwapPteView {
  readonly slot: number;
  /** pte_swp_exclusive: the page was exclusive when unmapped, and no fork has shared the entry since. */
  readonly exclusive: boolean;
}

/** A swap slot in use (a swap_map entry): the swap PTEs naming it, and its swap-cache folio if any. */
export interface MmSlotView {
  readonly slot: number;
  /** The swap count: swap PTEs (and shmem swap entries) naming the slot. */
  readonly count: number;
  /** The head pfn of the folio in the swap cache for this slot, or null (the contents are on the device only). */
  readonly cache: number | null;
}

export interface MmPteView {
  readonly pfn: number;
  readonly writable: boolean;
  readonly dirty: boolean;
  readonly young: boolean;
}

/** A PMD maps a whole huge folio (or the huge zero page) at a huge-aligned vpage: `pfn` is the head. */
export type MmPmdView = MmPteView;

export interface MmTlbView {
  readonly pfn: number;
  readonly writable: boolean;
  readonly dirty: boolean;
}

export interface MmVmaView {
  /** [start, end) in pages. */
  readonly start: number;
  readonly end: number;
  readonly prot: Prot;
  readonly shared: boolean;
  readonly dontfork: boolean;
  readonly wipeonfork: boolean;
  readonly hugepage: boolean;
  readonly nohugepage: boolean;
  readonly mergeable: boolean;
  /** The file mapped (from its page 0), if any (a hugetlb memfd's number when `hugetlb`). */
  readonly file: number | null;
  /** VM_HUGETLB: huge pages from the pool, at huge-aligned boundaries only (feature "hugetlb"; absent: not). */
  readonly hugetlb?: boolean;
  /** The file mapped is a disk file (feature "disk"; absent: not). */
  readonly disk?: boolean;
}

export interface MmProcView {
  readonly pid: number;
  /** Sorted by start, disjoint. */
  readonly vmas: readonly MmVmaView[];
  readonly ptes: ReadonlyMap<number, MmPteView>;
  /** Keyed by the huge-aligned first vpage. */
  readonly pmds: ReadonlyMap<number, MmPmdView>;
  readonly tlb: ReadonlyMap<number, MmTlbView>;
  /** MMF_HAS_PINNED: the process ever took a FOLL_PIN pin (never cleared). */
  readonly hasPinned: boolean;
  /** Swap PTEs by vpage (feature "swap"; absent: none). */
  readonly swaps?: ReadonlyMap<number, MmSwapPteView>;
}

export interface MmPinView {
  readonly handle: number;
  /** The process that took it; its exit drops it. */
  readonly pid: number;
  /** The first page of the range pinned. */
  readonly vpage: number;
  /** The pages (not the heads) the device refers to, one per page of the range. */
  readonly pfns: readonly number[];
  readonly kind: PinKind;
  readonly write: boolean;
  /** Taken by an op with `pages` (pinRead then answers `{pages}`). */
  readonly range?: boolean;
  /** Taken by GUP-fast (true), the slow path (false), or as the engine does (absent). */
  readonly fast?: boolean;
}

export interface MmTouched {
  /** Keys whose PTE, PMD (its first vpage) or TLB entry the last op changed. */
  readonly keys: ReadonlySet<number>;
  /** Frames whose counts, flags or rmap the last op changed (live or freed). */
  readonly frames: ReadonlySet<number>;
  /** Frames the last op freed, as they were when freed. */
  readonly freed: readonly MmFrameView[];
}

export interface MmState {
  readonly geometry: MmGeometry;
  readonly procs: ReadonlyMap<number, MmProcView>;
  /** Every live folio by head pfn, the zero pages included. */
  readonly frames: ReadonlyMap<number, MmFrameView>;
  readonly pins: ReadonlyMap<number, MmPinView>;
  /** Folios allocated since boot (monotonic). */
  readonly allocations: number;
  /** Base pages allocated since boot (a THP counts 2^hugeOrder). */
  readonly allocatedPages: number;
  /** Base pages whose contents were copied from another page since boot (CoW, unshare, fork of pinned pages, collapse). */
  readonly copiedPages: number;
  /** Swap PTEs plus page-cache pages out on swap: what later accesses may read back, allocating (absent: none). */
  readonly swapEntries?: number;
  /** Swap slots in use, by slot number (feature "swap"; absent: none). */
  readonly slots?: ReadonlyMap<number, MmSlotView>;
  /** What the last op touched; absent means "check everything". */
  readonly touched?: MmTouched;
}

export const hugeSize = (g: MmGeometry): number => 1 << g.hugeOrder;

/**
 * The folio holding page `pfn`: small folios and heads are keyed directly; a tail finds its head, which is aligned
 * to its size (a power of two up to a huge page).
 */
export function folioOf<F extends MmFrameView>(
  s: { readonly geometry: MmGeometry; readonly frames: ReadonlyMap<number, F> },
  pfn: number,
): F | undefined {
  const direct = s.frames.get(pfn);
  if (direct) return direct;
  for (let order = s.geometry.hugeOrder; order >= 1; order--) {
    // largest first: a PMD THP's tail is found at once, an mTHP's after the orders above it
    const head = s.frames.get(pfn - (pfn % (1 << order)));
    if (head && pfn < head.pfn + head.nr) return head;
  }
  return undefined;
}

/** Whether a page counts as maybe DMA-pinned (folio_maybe_dma_pinned): large folios by pincount, small ones by the bias. */
export const maybeDmaPinned = (f: MmFrameView): boolean =>
  f.nr > 1 ? f.pincount > 0 : f.refcount >= GUP_PIN_COUNTING_BIAS;
export const GUP_PIN_COUNTING_BIAS = 1024;

/** /sys/kernel/mm/ksm/max_page_sharing (its default): a KSM page takes at most this many sharers; then a new one starts. */
export const KSM_MAX_PAGE_SHARING = 256;

/** The page a process maps at vpage, through its PTE or its PMD, with the entry that maps it. */
export function mappedAt(
  p: MmProcView,
  vpage: number,
  huge: number,
): { pfn: number; entry: MmPteView; pmd: boolean } | undefined {
  const pte = p.ptes.get(vpage);
  if (pte) return { pfn: pte.pfn, entry: pte, pmd: false };
  const base = vpage - (vpage % huge);
  const pmd = p.pmds.get(base);
  return pmd ? { pfn: pmd.pfn + (vpage - base), entry: pmd, pmd: true } : undefined;
}

export function findVma<V extends MmVmaView>(vmas: readonly V[], vpage: number): V | undefined {
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid];
    if (vpage < v.start) hi = mid - 1;
    else if (vpage >= v.end) lo = mid + 1;
    else return v;
  }
  return undefined;
}
