// Reference model of Linux 6.x process memory: VMAs, page tables with PMD-mapped THPs, an MMU with a TLB,
// folios with refcount/mapcount/pincount, the reverse map, PageAnonExclusive, fork (dup_mmap), the fault paths
// (do_anonymous_page, do_wp_page, do_huge_pmd_wp_page, do_cow_fault), GUP references and pins, khugepaged
// collapse, shmem and regular files with their page cache. KSM is its own unit (ksm.ts, as mm/ksm.c), reaching
// the model through the few mm operations it calls (KsmHost).
//
// The model's live structures are its inspected state (MmState): inspect() hands them out without copying,
// together with what the last op touched, so invariants can be checked incrementally.
import type { Engine } from "../../core/index.ts";
import { Ksm, type KsmHost } from "./ksm.ts";
import {
  err,
  findVma,
  folioOf,
  GUP_PIN_COUNTING_BIAS,
  hugeSize,
  keyOf,
  LowestFree,
  type MadviseAdvice,
  MIN_ANON_THP_ORDER,
  MM_FEATURES,
  MM_MAX_HANDLES,
  MM_MAX_PIDS,
  type MmFrameView,
  type MmGeometry,
  type MmObs,
  type MmOp,
  type MmPinView,
  type MmPteView,
  type MmSlotView,
  type MmState,
  type MmSwapPteView,
  type MmTlbView,
  type MmTouched,
  type MmVmaView,
  maybeDmaPinned,
  OK,
  type PinKind,
  type Prot,
  pidOf,
  SEGV,
  type ThpMode,
  vpageOf,
} from "./types.ts";

/** An address_space: a shmem object (freed with its last VMA) or a regular file (kept). */
export interface PageCache {
  readonly kind: "shmem" | "file";
  readonly pages: Map<number, Folio>;
  /** shmem only: VMAs mapping it (the file reference each VMA holds). */
  users: number;
  /** Pages in the file (i_size): a fault past it is SIGBUS (a shared anonymous mapping grown by mremap). */
  readonly size: number;
  /** Pages reclaimed out of the cache (shmem_writeout to swap, or written back), by index: their contents. */
  readonly swapped: Map<number, Uint8Array>;
  /** A hugetlb memfd: its pages are huge folios, keyed by their first index, never reclaimed. */
  readonly hugetlb?: boolean;
  /** A file on a disk filesystem: its shared writable mappings need dirty tracking (vma_needs_dirty_tracking). */
  readonly disk?: boolean;
}

export class Folio implements MmFrameView {
  refcount = 1;
  pincount = 0;
  mapcount = 0;
  entireMapcount = 0;
  readonly pageMapcount: number[];
  readonly pageExclusive: boolean[];
  ksm = false;
  /** A KSM page with its stable tree node (folio_stable_node); a KSM page without one is left from a failed merge. */
  ksmStable = false;
  readonly rmap = new Set<number>();
  readonly pmds = new Set<number>();
  /**
   * CONFIG_MM_ID, large folios only: two mm slots (a pid, 0 for none), the mappings each slot's mm holds, and the
   * sticky "maybe mapped shared" bit (FOLIO_MM_IDS_SHARED_BITNUM), set when a second mm maps the folio and cleared
   * only when one slot is seen to hold every mapping.
   */
  readonly mmIds = [0, 0];
  readonly mmIdMaps = [0, 0];
  mmShared = false;
  /** In the swap cache: its first slot (folio->swap); the cache holds nr references. */
  swap: number | null = null;
  /** A huge page from the hugetlb pool. */
  hugetlb = false;
  /** Read back by the last op's swap-in, skipping the swap cache (its size alloc_swap_folio's choice). */
  swapin = false;
  readonly data: Uint8Array;
  constructor(
    readonly pfn: number,
    readonly nr: number,
    readonly anon: boolean,
    readonly zero: boolean,
    /** The page cache holding it; null once truncated out of it (a pin may keep it alive). */
    public owner: PageCache | null,
    cellsPerPage: number,
  ) {
    this.pageMapcount = new Array<number>(nr).fill(0);
    this.pageExclusive = new Array<boolean>(nr).fill(false);
    this.data = new Uint8Array(nr * cellsPerPage);
  }
  get anonExclusive(): boolean {
    return this.pageExclusive[0];
  }
  get cache(): "shmem" | "file" | null {
    return this.owner?.kind ?? null;
  }
}

export interface Vma extends MmVmaView {
  start: number;
  end: number;
  prot: Prot;
  dontfork: boolean;
  wipeonfork: boolean;
  hugepage: boolean;
  nohugepage: boolean;
  mergeable: boolean;
  /** The shmem object or the file's page cache this VMA maps, if any. */
  readonly cache: PageCache | null;
  /** Page offset into the cache of `start`. */
  pgoff: number;
  /** The anon_vma's identity, 0 if none was prepared (no private page ever allocated); fork copies PTEs only then. */
  anonVma: number;
  /** The anon_vma came from anon_vma_fork: its chain also links the parent's (vma_had_uncowed_parents). */
  forkedAnon: boolean;
  /** VM_ACCOUNT: the mapping is charged as private writable memory (accountable_mapping, mprotect_fixup). */
  account: boolean;
  /** VM_HUGETLB: split only at huge boundaries (hugetlb_vm_op_split), never merged (VM_DONTEXPAND is VM_SPECIAL). */
  readonly hugetlb: boolean;
}

export interface Pte extends MmPteView {
  pfn: number;
  writable: boolean;
  dirty: boolean;
  young: boolean;
}

export interface Proc {
  readonly pid: number;
  vmas: Vma[];
  readonly ptes: Map<number, Pte>;
  readonly pmds: Map<number, Pte>;
  readonly tlb: Map<number, MmTlbView>;
  hasPinned: boolean;
  /** Swap PTEs, by vpage. */
  readonly swaps: Map<number, SwapPte>;
  /**
   * The huge-aligned ranges (by base) that have a page table of PTEs, empty or not. A fault maps a THP only where
   * there is none (pmd_none), and MADV_COLLAPSE turns one, even an empty one, into a THP.
   */
  readonly tables: Set<number>;
}

export type Pin = MmPinView;

export interface SwapPte extends MmSwapPteView {
  slot: number;
  exclusive: boolean;
}

/** A swap slot in use (swap_map): its count, its swap-cache folio, or (none) the contents on the device. */
export class Slot implements MmSlotView {
  count = 0;
  folio: Folio | null = null;
  /** What was written (the folio's page) once the folio left the swap cache. */
  data: Uint8Array | null = null;
  /** The zeromap bit: the folio written was all zeros (swap_writeout writes nothing then). */
  zero = false;
  constructor(readonly slot: number) {}
  get cache(): number | null {
    return this.folio?.pfn ?? null;
  }
}

export const ZERO_PFN = 0;

/** The FOLL_ flags a GUP walk carries: FOLL_WRITE, FOLL_FORCE, and FOLL_COW (2016–2022 only: the mutants'). */
export interface GupFlags {
  readonly write: boolean;
  readonly force: boolean;
  readonly cow: boolean;
}

export class MmModel implements Engine<MmOp, MmObs, MmState>, MmState {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect", ...MM_FEATURES]);

  readonly procs = new Map<number, Proc>();
  readonly frames = new Map<number, Folio>();
  readonly pins = new Map<number, Pin>();
  /** Swap slots in use (one swap device, SWP_SYNCHRONOUS_IO as zram is), by number. */
  readonly slots = new Map<number, Slot>();
  /** The next slot number: slots of a large folio are aligned to its size (the cluster allocator's). */
  private nextSlot = 0;
  /** Page-cache pages out on swap (or written back and dropped), and swap PTEs. */
  private cacheSwapped = 0;
  /** Folios the current op's swap-ins read (Folio.swapin holds for that op's view only). */
  private swappedIn: Folio[] = [];
  private swapPtes = 0;
  allocations = 0;
  allocatedPages = 0;
  copiedPages = 0;
  /** Pages per huge page. */
  readonly huge: number;
  /** The huge zero page's head pfn (huge-aligned, right after the small zero page). */
  readonly hugeZeroPfn: number;
  private nextPfn: number;
  private readonly files: PageCache[];
  /** hugetlb memfds (their own numbering: ops name them with `hugetlb`). */
  private readonly hugetlbFiles: PageCache[];
  private readonly diskFiles: PageCache[];
  /** anon_vma identities handed out so far. */
  private anonVmas = 0;
  /**
   * Each anonymous THP order's policy (hugepages-<size>kB/enabled), by order: "inherit" follows the top-level
   * setting, which the model takes to be "madvise" (the engine checks it is).
   */
  readonly thpModes: ThpMode[];
  /** The lowest free pid and pin handle (the layer's naming convention). */
  private readonly pids = new LowestFree(MM_MAX_PIDS, "processes");
  private readonly handles = new LowestFree(MM_MAX_HANDLES, "pins");
  /** KSM: ksmd's mm list, rmap_items and the stable tree. */
  protected readonly ksm: Ksm;
  /** Folios ksmd holds locked between its steps (interleavings only: a step in a row never leaves one locked). */
  private readonly lockedFolios = new Set<number>();
  readonly touched: MmTouched & { keys: Set<number>; frames: Set<number>; freed: Folio[] } = {
    keys: new Set(),
    frames: new Set(),
    freed: [],
  };

  constructor(readonly geometry: MmGeometry) {
    this.huge = hugeSize(geometry);
    this.thpModes = Array.from({ length: geometry.hugeOrder + 1 }, (_, o) =>
      o === geometry.hugeOrder ? "inherit" : "never",
    );
    this.hugeZeroPfn = this.huge;
    this.nextPfn = 2 * this.huge;
    // The shared zero page and the huge zero page: reserved, never freed, never counted by mappings.
    this.frames.set(ZERO_PFN, new Folio(ZERO_PFN, 1, false, true, null, geometry.cellsPerPage));
    this.frames.set(this.hugeZeroPfn, new Folio(this.hugeZeroPfn, this.huge, false, true, null, geometry.cellsPerPage));
    this.files = Array.from({ length: geometry.files }, () => ({
      kind: "file" as const,
      pages: new Map(),
      users: 0,
      size: geometry.pages,
      swapped: new Map(),
    }));
    this.hugetlbFiles = Array.from({ length: geometry.hugetlbFiles ?? 0 }, () => ({
      kind: "file" as const,
      pages: new Map(),
      users: 0,
      size: geometry.pages - (geometry.pages % this.huge), // whole huge pages
      swapped: new Map(),
      hugetlb: true,
    }));
    this.diskFiles = Array.from({ length: geometry.diskFiles ?? 0 }, () => ({
      kind: "file" as const,
      pages: new Map(),
      users: 0,
      size: geometry.pages,
      swapped: new Map(),
      disk: true,
    }));
    this.ksm = this.newKsm({
      procs: this.procs,
      frames: this.frames,
      huge: this.huge,
      folioOf: (pfn) => this.folioOf(pfn),
      pageData: (pfn) => this.pageData(pfn),
      mappedPfn: (pid, vpage) => this.mappedPfn(this.procs.get(pid)!, vpage),
      splitHugePage: (pfn) => this.splitHugePage(this.folioOf(pfn)),
      wrprotectPte: (pid, vpage) => this.wrprotectPte(this.procs.get(pid)!, vpage),
      setStableNode: (pfn, stable) => this.setStableNode(this.folioOf(pfn), stable),
      replacePage: (pid, vpage, kpfn) => this.replacePage(this.procs.get(pid)!, vpage, this.folioOf(kpfn)),
      breakCow: (pid, vpage) => this.breakCow(this.procs.get(pid)!, vpage),
      lockFolio: (pfn, locked) => {
        if (locked) this.lockedFolios.add(pfn);
        else this.lockedFolios.delete(pfn);
      },
    });
  }

  /** KSM's state and logic (a mutant may bring its own). */
  protected newKsm(mm: KsmHost): Ksm {
    return new Ksm(mm);
  }

  inspect(): MmState {
    return this;
  }

  /** Swap PTEs and page-cache pages reclaimed (to swap, or a disk file's written back): what later accesses may read back in. */
  get swapEntries(): number {
    return this.cacheSwapped + this.swapPtes;
  }

  apply(op: MmOp): MmObs {
    if (op.op === "forceRead" || op.op === "forceWrite") {
      const run = this.steps(op);
      for (;;) {
        const r = run.next();
        if (r.done) return r.value;
      }
    }
    this.begin();
    const cpp = this.geometry.cellsPerPage;
    switch (op.op) {
      case "spawn":
        return { pid: this.newProc([]).pid };
      case "ksmScan":
        this.ksm.scan();
        return OK;
      case "thpPolicy":
        // hugepages-<size>kB exists for the anonymous THP orders only
        if (op.order < MIN_ANON_THP_ORDER || op.order > this.geometry.hugeOrder) return err("EINVAL");
        this.thpModes[op.order] = op.enabled;
        return OK;
      case "unpin": {
        const pin = this.pins.get(op.handle);
        if (!pin) return err("EBADF");
        this.releasePin(pin);
        return OK;
      }
      case "pinRead": {
        const pin = this.pins.get(op.handle);
        if (!pin) return err("EBADF");
        const pages = pin.pfns.map((pfn) => Array.from(this.pageData(pfn)));
        return pin.range ? { pages } : { data: pages[0] };
      }
      case "pinWrite": {
        const pin = this.pins.get(op.handle);
        if (!pin) return err("EBADF");
        if (pin.kind === "get" || !pin.write) return err("EPERM");
        if (op.cell >= cpp * pin.pfns.length) return err("EINVAL"); // cells number the pinned range
        this.pageData(pin.pfns[Math.floor(op.cell / cpp)])[op.cell % cpp] = op.value;
        return OK;
      }
      case "fileRead":
      case "fileWrite": {
        const file = this.fileOf(op.file, op);
        if (!file) return err("EBADF");
        if (op.op === "fileWrite" && file.hugetlb) return err("EINVAL"); // hugetlbfs has no write_iter (vfs_write)
        if (!this.inWindow(op.page, 1)) return err("EINVAL");
        if (op.op === "fileRead" && file.hugetlb) {
          // hugetlbfs_read_iter: a hole reads as zeros, allocating nothing
          const folio = file.pages.get(this.base(op.page));
          return {
            data: folio ? Array.from(this.pageData(folio.pfn + (op.page % this.huge))) : new Array<number>(cpp).fill(0),
          };
        }
        if (op.op === "fileRead") {
          const folio = file.pages.get(op.page); // shmem_file_read_iter: a hole reads as zeros, allocating nothing
          const swapped = folio ? undefined : file.swapped.get(op.page);
          if (swapped) return { data: Array.from(this.cachePage(file, op.page).data) }; // shmem_swapin_folio
          return { data: folio ? Array.from(folio.data) : new Array<number>(cpp).fill(0) };
        }
        if (op.cell >= cpp) return err("EINVAL");
        this.cachePage(file, op.page).data[op.cell] = op.value; // generic_perform_write into the page cache
        return OK;
      }
    }
    const proc = this.procs.get(op.pid);
    if (!proc) return err("ESRCH");
    switch (op.op) {
      case "fork":
        return { pid: this.fork(proc).pid };
      case "exit":
        for (const pin of [...this.pins.values()]) if (pin.pid === proc.pid) this.releasePin(pin);
        this.exitMmap(proc);
        this.ksm.exit(proc.pid);
        this.procs.delete(proc.pid);
        this.pids.give(proc.pid);
        return OK;
      case "exec":
        this.exitMmap(proc);
        this.ksm.exit(proc.pid);
        proc.hasPinned = false; // a new mm
        return OK;
      case "read": {
        // page by page, as a loop of loads does: the first page that faults ends it
        if (!this.inWindow(op.page, op.pages ?? 1)) return err("EINVAL");
        const pages: number[][] = [];
        for (let vpage = op.page; vpage < op.page + (op.pages ?? 1); vpage++) {
          const pfn = this.access(proc, vpage, false);
          if (pfn === undefined) return SEGV;
          pages.push(Array.from(this.pageData(pfn)));
        }
        return op.pages === undefined ? { data: pages[0] } : { pages };
      }
      case "write": {
        // one step in a row of writeSteps' (without a generator per write: the hot path)
        if (!this.inWindow(op.page, 1) || op.cell >= cpp) return err("EINVAL");
        const pfn = this.access(proc, op.page, true);
        if (pfn === undefined) return SEGV;
        this.pageData(pfn)[op.cell] = op.value;
        return OK;
      }
      case "fill": {
        // memset, page by page: the pages before a faulting one keep what was written
        if (!this.inWindow(op.page, op.pages)) return err("EINVAL");
        for (let vpage = op.page; vpage < op.page + op.pages; vpage++) {
          const pfn = this.access(proc, vpage, true);
          if (pfn === undefined) return SEGV;
          this.pageData(pfn).fill(op.value);
        }
        return OK;
      }
      case "pin":
        return this.pin(proc, op.page, op.pages, op.kind, op.write, op.fast);
      case "collapse":
        if (!this.inWindow(op.page, 1)) return err("EINVAL");
        this.collapse(proc, op.page - (op.page % this.huge));
        return OK;
    }
    if (op.op === "mremap") return this.mremap(proc, op.page, op.pages, op.newPages, op.to);
    if (op.op === "mmap" && op.file !== undefined && !this.fileOf(op.file, op)) return err("EBADF"); // fget before any length check
    if (op.pages === 0) return op.op === "mprotect" || op.op === "madvise" ? OK : err("EINVAL"); // a zero length is fine only there
    if (!this.inWindow(op.page, op.pages)) return err("EINVAL");
    const end = op.page + op.pages;
    switch (op.op) {
      case "mmap": {
        // ksys_mmap_pgoff rounds a hugetlb length up to whole huge pages; a MAP_FIXED address must be aligned
        const hugetlb = op.hugetlb === true;
        const to = hugetlb ? this.base(end + this.huge - 1) : end;
        if (hugetlb && (op.page % this.huge !== 0 || to > this.geometry.pages)) return err("EINVAL");
        if (!this.mayUnmap(proc, op.page, to)) return err("EINVAL"); // __mmap_region unmaps the range first
        this.mmap(proc, op.page, to, op.prot, op.shared, op.file, { hugetlb, disk: op.disk === true });
        return OK;
      }
      case "munmap":
        return this.unmapWhole(proc, op.page, end) ? OK : err("EINVAL");
      case "mprotect":
        return this.mprotect(proc, op.page, end, op.prot);
      case "madvise":
        return this.madvise(proc, op.page, end, op.advice);
    }
  }

  /** What each op starts afresh: the last op's record of what it touched, and of what swap-in read back. */
  private begin(): void {
    if (this.swappedIn.length) {
      for (const f of this.swappedIn) f.swapin = false;
      this.swappedIn.length = 0;
    }
    const t = this.touched;
    t.keys.clear();
    t.frames.clear();
    t.freed.length = 0;
  }

  /**
   * Interleavings (docs/races.md): a forced access runs as GUP's steps (forcedSteps), a KSM scan as ksmd's
   * (Ksm.scanSteps); every other op is one step.
   * A step ends where the kernel holds no page-table lock.
   */
  *steps(op: MmOp): Generator<string, MmObs> {
    if (op.op === "ksmScan") {
      this.begin();
      yield* this.ksm.scanSteps(); // a step ends after each write_protect_page
      return OK;
    }
    if (op.op !== "forceRead" && op.op !== "forceWrite" && op.op !== "write") return this.apply(op);
    this.begin();
    const proc = this.procs.get(op.pid);
    if (!proc) return err("ESRCH");
    return yield* op.op === "write" ? this.writeSteps(proc, op) : this.forcedSteps(proc, op);
  }

  /**
   * A store as the CPU makes it, step by step: the TLB or the page-table walk lets it through, or the write fault
   * (handle_mm_fault: do_wp_page, do_anonymous_page…) runs and a step ends; the store is then retried, faulting
   * again if another thread's step took the page away meanwhile (a zap).
   */
  private *writeSteps(proc: Proc, op: Extract<MmOp, { op: "write" }>): Generator<string, MmObs> {
    if (!this.inWindow(op.page, 1) || op.cell >= this.geometry.cellsPerPage) return err("EINVAL");
    for (let attempt = 0; attempt < 1000; attempt++) {
      const pfn = this.walk(proc, op.page, true);
      if (pfn !== undefined) {
        this.pageData(pfn)[op.cell] = op.value;
        return OK;
      }
      if (!this.handleMmFault(proc, op.page, true, false)) return SEGV;
      yield "handle_mm_fault: write fault";
    }
    throw new Error(`mm model: a write at pid ${proc.pid} page ${op.page} did not settle`);
  }

  /**
   * mem_rw → access_remote_vm → __get_user_pages on one page with FOLL_FORCE (and FOLL_WRITE), step by step:
   * follow_page_mask (check_vma_flags first); where it finds no page this access may use, faultin_page, then
   * follow again. The page is copied to or from as soon as it is followed: GUP's reference keeps it until then,
   * which the model does not hold, so following and copying are one step. The whole op holds the mmap_lock for
   * reading (the layer's locks), as __access_remote_vm does; a page it cannot get is EIO.
   */
  protected *forcedSteps(proc: Proc, op: Extract<MmOp, { op: "forceRead" | "forceWrite" }>): Generator<string, MmObs> {
    const write = op.op === "forceWrite";
    if (!this.inWindow(op.page, 1) || (write && op.cell >= this.geometry.cellsPerPage)) return err("EINVAL");
    const vma = findVma(proc.vmas, op.page);
    if (!vma || !this.checkVmaFlags(vma, write, true)) return err("EIO");
    let flags: GupFlags = { write, force: true, cow: false };
    // Each retry follows a fault; a fault leaves a page the next follow takes unless another thread's step took it
    // away in between, which a bounded program does boundedly often.
    for (let attempt = 0; attempt < 1000; attempt++) {
      const pfn = this.followPage(proc, vma, op.page, flags);
      if (pfn !== undefined) {
        if (!write) return { data: Array.from(this.pageData(pfn)) };
        this.pageData(pfn)[op.cell] = op.value;
        return OK;
      }
      yield `follow_page_mask (${flags.write ? "write" : "read"}): no page it may use`;
      if (!this.handleMmFault(proc, op.page, flags.write, false, true)) return err("EIO");
      const fault = `faultin_page: ${flags.write ? "write" : "read"} fault`;
      flags = this.afterGupFault(vma, flags);
      yield fault;
    }
    throw new Error(`mm model: a forced access at pid ${proc.pid} page ${op.page} did not settle`);
  }

  /** What faultin_page leaves of the GUP flags for the retry: all of them (the kernel since 2016). */
  protected afterGupFault(_vma: Vma, flags: GupFlags): GupFlags {
    return flags;
  }

  /**
   * mm/gup.c follow_page_mask for one page: the page mapped at `vpage` if its entry lets this access through (for a
   * write: can_follow_write_pte or can_follow_write_pmd), touching a PMD it follows (FOLL_TOUCH: touch_pmd).
   */
  protected followPage(proc: Proc, vma: Vma, vpage: number, flags: GupFlags): number | undefined {
    const base = this.base(vpage);
    const pmd = proc.pmds.get(base);
    const entry = pmd ?? proc.ptes.get(vpage);
    if (!entry) return undefined;
    const pfn = pmd ? pmd.pfn + (vpage - base) : entry.pfn;
    if (flags.write && !this.canFollowWrite(vma, entry, pfn, pmd !== undefined, flags)) return undefined;
    if (pmd && !vma.hugetlb) this.touchPmd(proc, base, pmd, flags.write);
    return pfn;
  }

  private inWindow(page: number, pages: number): boolean {
    return pages >= 1 && page + pages <= this.geometry.pages;
  }

  /** File `n` of the regular files, or (`hugetlb`) of the hugetlb memfds, or (`disk`) of the disk files. */
  private fileOf(n: number, kind: { hugetlb?: boolean; disk?: boolean }): PageCache | undefined {
    return (kind.hugetlb ? this.hugetlbFiles : kind.disk ? this.diskFiles : this.files)[n];
  }

  /** A VMA boundary at `vpage` would split a hugetlb VMA off a huge boundary: hugetlb_vm_op_split refuses (EINVAL). */
  private cutsHugetlb(proc: Proc, vpage: number): boolean {
    return vpage % this.huge !== 0 && findVma(proc.vmas, vpage)?.hugetlb === true;
  }

  /** The cells of page `pfn` (a view into its folio). */
  pageData(pfn: number): Uint8Array {
    const folio = this.folioOf(pfn);
    const cpp = this.geometry.cellsPerPage;
    const i = pfn - folio.pfn;
    return folio.data.subarray(i * cpp, (i + 1) * cpp);
  }

  folioOf(pfn: number): Folio {
    const f = folioOf(this, pfn);
    if (!f) throw new Error(`mm model: no folio holds pfn ${pfn}`);
    return f;
  }

  private base(vpage: number): number {
    return vpage - (vpage % this.huge);
  }

  // ---- processes

  /** cowcheck pids are names, not Linux pids: spawn and fork take the lowest free one, so the generator can reach them. */
  private newProc(vmas: Vma[]): Proc {
    const pid = this.pids.take();
    const proc: Proc = {
      pid,
      vmas,
      ptes: new Map(),
      pmds: new Map(),
      tlb: new Map(),
      hasPinned: false,
      swaps: new Map(),
      tables: new Set(),
    };
    this.procs.set(proc.pid, proc);
    return proc;
  }

  /** kernel/fork.c dup_mmap: copy the VMAs, then the page tables of those that need it, then flush the parent's TLB. */
  private fork(parent: Proc): Proc {
    const child = this.newProc([]); // MMF_HAS_PINNED is not inherited
    for (const vma of parent.vmas) {
      if (vma.dontfork) continue; // VM_DONTCOPY
      if (vma.cache?.kind === "shmem") vma.cache.users++;
      // anon_vma_fork: a new anon_vma chained to the parent's (none under VM_WIPEONFORK)
      const anonVma = vma.wipeonfork || !vma.anonVma ? 0 : ++this.anonVmas;
      child.vmas.push({ ...vma, anonVma, forkedAnon: anonVma !== 0 });
    }
    const copies = (vpage: number): Vma | undefined => {
      const vma = findVma(parent.vmas, vpage)!;
      return vma.dontfork || !this.vmaNeedsCopy(vma) ? undefined : vma;
    };
    for (const [base, pmd] of [...parent.pmds]) {
      const vma = copies(base);
      if (vma?.hugetlb) this.copyHugetlbPmd(parent, child, vma, base, pmd);
      else if (vma) this.copyHugePmd(parent, child, base, pmd);
    }
    // copy_pte_range allocates the child's table wherever the parent has one in a VMA it copies, empty or not
    for (const base of parent.tables) {
      if (
        child.vmas.some(
          (v) =>
            v.start < base + this.huge &&
            v.end > base &&
            this.vmaNeedsCopy(findVma(parent.vmas, Math.max(v.start, base))!),
        )
      )
        child.tables.add(base);
    }
    for (const [vpage, pte] of parent.ptes) {
      const vma = copies(vpage);
      if (vma) this.copyPresentPte(parent, child, vma, vpage, pte);
    }
    for (const [vpage, swp] of parent.swaps) if (copies(vpage)) this.copySwapPte(parent, child, vpage, swp);
    this.flushTlbMm(parent);
    this.ksm.fork(parent.pid, child.pid); // ksm_fork
    return child;
  }

  /** mm/memory.c vma_needs_copy (plus dup_mmap's VM_WIPEONFORK test): only VMAs with an anon_vma have PTEs worth copying. */
  protected vmaNeedsCopy(vma: Vma): boolean {
    return vma.anonVma !== 0 && !vma.wipeonfork;
  }

  /** mm/memory.c folio_needs_cow_for_dma: a maybe-pinned exclusive page of an mm that ever pinned is copied at fork. */
  protected needsCowForDma(parent: Proc, folio: Folio, i: number): boolean {
    return folio.anon && folio.pageExclusive[i] && parent.hasPinned && maybeDmaPinned(folio);
  }

  /**
   * mm/memory.c copy_present_pte: share the page, clear PageAnonExclusive, write-protect both sides of a COW
   * mapping; a maybe-pinned exclusive page goes to copy_present_page instead.
   */
  protected copyPresentPte(parent: Proc, child: Proc, vma: Vma, vpage: number, pte: Pte): void {
    const childKey = keyOf(child.pid, vpage);
    this.touched.keys.add(childKey);
    if (pte.pfn !== ZERO_PFN) {
      const folio = this.folioOf(pte.pfn);
      const i = pte.pfn - folio.pfn;
      if (this.needsCowForDma(parent, folio, i)) {
        // copy_present_page: the child gets its own copy now; the parent keeps its writable, exclusive page.
        const copy = this.newAnonPage(childKey, this.pageData(pte.pfn));
        this.copiedPages++;
        this.setPte(child, vpage, { pfn: copy.pfn, writable: vma.prot === "rw", dirty: true, young: false });
        return;
      }
      folio.refcount++;
      this.addRmap(folio, pte.pfn, childKey);
      if (folio.anon) folio.pageExclusive[i] = false; // folio_try_dup_anon_rmap_pte
    }
    if (pte.writable) {
      pte.writable = false; // ptep_set_wrprotect on the parent
      this.touched.keys.add(keyOf(parent.pid, vpage));
    }
    this.setPte(child, vpage, { pfn: pte.pfn, writable: false, dirty: pte.dirty, young: false }); // pte_mkold
  }

  /** mm/memory.c copy_nonpresent_pte for a swap entry: swap_duplicate, and the entry is shared now on both sides. */
  protected copySwapPte(parent: Proc, child: Proc, vpage: number, swp: SwapPte): void {
    this.slots.get(swp.slot)!.count++;
    if (swp.exclusive) {
      swp.exclusive = false; // pte_swp_clear_exclusive on the parent's entry
      this.touched.keys.add(keyOf(parent.pid, vpage));
    }
    this.setSwapPte(child, vpage, { slot: swp.slot, exclusive: false });
  }

  /** mm/huge_memory.c copy_huge_pmd: share the THP (or the huge zero page); a maybe-pinned one is split and copied per page. */
  protected copyHugePmd(parent: Proc, child: Proc, base: number, pmd: Pte): void {
    const childKey = keyOf(child.pid, base);
    if (pmd.pfn !== this.hugeZeroPfn) {
      const folio = this.folioOf(pmd.pfn);
      if (this.needsCowForDma(parent, folio, 0)) {
        this.splitPmd(parent, base); // -EAGAIN: copy_pte_range then copies its pages one by one
        return;
      }
      folio.refcount++;
      folio.entireMapcount++;
      folio.mapcount++;
      this.mmIdAdd(folio, child.pid);
      folio.pmds.add(childKey);
      folio.pageExclusive[0] = false; // folio_try_dup_anon_rmap_pmd
      this.touched.frames.add(folio.pfn);
    }
    if (pmd.writable) {
      pmd.writable = false; // pmdp_set_wrprotect
      this.touched.keys.add(keyOf(parent.pid, base));
    }
    child.pmds.set(base, { pfn: pmd.pfn, writable: false, dirty: pmd.dirty, young: false });
    this.touched.keys.add(childKey);
  }

  /** kernel/fork.c dup_mmap ends with flush_tlb_mm(oldmm): the parent lost write permission on its PTEs. */
  protected flushTlbMm(proc: Proc): void {
    proc.tlb.clear();
  }

  /** kernel/fork.c mmput → mm/mmap.c exit_mmap: zap every PTE and PMD, drop every VMA (exit and exec alike). */
  private exitMmap(proc: Proc): void {
    for (const [base, pmd] of proc.pmds) this.zapPmd(proc, base, pmd);
    proc.pmds.clear();
    for (const [vpage, pte] of proc.ptes) this.zapPte(proc, vpage, pte);
    proc.ptes.clear();
    for (const [vpage, swp] of proc.swaps) this.zapSwapPte(proc, vpage, swp);
    this.swapPtes -= proc.swaps.size;
    proc.swaps.clear();
    proc.tables.clear(); // free_pgtables
    proc.tlb.clear();
    for (const vma of proc.vmas) this.releaseVma(vma);
    proc.vmas = [];
  }

  // ---- VMAs

  /** mm/mmap.c do_mmap with MAP_FIXED: whatever was mapped in the range is unmapped first. */
  private mmap(
    proc: Proc,
    start: number,
    end: number,
    prot: Prot,
    shared: boolean,
    file: number | undefined,
    { hugetlb, disk }: { hugetlb: boolean; disk: boolean },
  ): void {
    this.munmap(proc, start, end);
    // shmem_zero_setup, or for MAP_HUGETLB hugetlb_file_setup (a private one's faults fill anonymous pages only)
    const cache: PageCache | null =
      file !== undefined
        ? this.fileOf(file, { hugetlb, disk })!
        : shared
          ? { kind: "shmem" as const, pages: new Map(), users: 1, size: end - start, swapped: new Map(), hugetlb }
          : null;
    const vma: Vma = {
      start,
      end,
      prot,
      shared,
      dontfork: false,
      wipeonfork: false,
      hugepage: false,
      nohugepage: false,
      mergeable: false,
      file: file ?? null,
      cache,
      pgoff: cache ? 0 : start, // do_mmap: a private anonymous mapping's vm_pgoff is its address (copy_vma keeps it once faulted)
      anonVma: 0,
      forkedAnon: false,
      account: !shared && prot === "rw" && !hugetlb, // accountable_mapping: private and writable, not hugetlbfs
      hugetlb,
      ...(cache?.disk ? { disk: true } : {}),
    };
    const i = proc.vmas.findIndex((v) => v.start >= end);
    proc.vmas.splice(i < 0 ? proc.vmas.length : i, 0, vma);
    this.mergeAround(proc, vma); // __mmap_region → vma_merge_new_range
  }

  /** The VM flags that must be equal for two VMAs to merge (is_mergeable_vma; pgoff and anon_vma apart). */
  private static sameFlags(a: Vma, b: Vma, withProt: boolean): boolean {
    return (
      (!withProt || a.prot === b.prot) &&
      a.shared === b.shared &&
      a.dontfork === b.dontfork &&
      a.wipeonfork === b.wipeonfork &&
      a.hugepage === b.hugepage &&
      a.nohugepage === b.nohugepage &&
      a.mergeable === b.mergeable &&
      a.account === b.account &&
      a.hugetlb === b.hugetlb
    );
  }

  /**
   * `b` starts where `a` ends, mapping the same file (or none) from where `a` leaves off: anonymous memory too, whose
   * vm_pgoff is the address it was mapped at, so a VMA moved by mremap next to another does not merge with it.
   */
  private static continues(a: Vma, b: Vma): boolean {
    return a.end === b.start && a.cache === b.cache && b.pgoff === a.pgoff + (a.end - a.start);
  }

  /** mm/vma.c: whether `b`, which starts where `a` ends, may be merged into one VMA with it. */
  private static canMerge(a: Vma, b: Vma): boolean {
    if (a.hugetlb || !MmModel.continues(a, b) || !MmModel.sameFlags(a, b, true)) return false;
    // is_mergeable_anon_vma: one anon_vma (or none) for both; a forked one's chain cannot be taken over
    if (a.anonVma && b.anonVma) return a.anonVma === b.anonVma;
    if (a.anonVma) return !a.forkedAnon;
    if (b.anonVma) return !b.forkedAnon;
    return true;
  }

  /** vma_merge_existing_range / vma_merge_new_range: join `vma` with the neighbours it may merge with. */
  private mergeAround(proc: Proc, vma: Vma): void {
    let i = proc.vmas.indexOf(vma);
    const prev = proc.vmas[i - 1];
    if (prev && MmModel.canMerge(prev, vma)) {
      this.joinVmas(proc, i - 1);
      i--;
    }
    const next = proc.vmas[i + 1];
    if (next && MmModel.canMerge(proc.vmas[i], next)) this.joinVmas(proc, i);
  }

  /** Extend vmas[i] over vmas[i + 1], which goes (its anon_vma, if the first had none, is taken over). */
  private joinVmas(proc: Proc, i: number): void {
    const [a, b] = [proc.vmas[i], proc.vmas[i + 1]];
    a.end = b.end;
    if (!a.anonVma) a.anonVma = b.anonVma;
    proc.vmas.splice(i + 1, 1);
    this.releaseVma(b);
  }

  /**
   * mm/vma.c vma_modify_flags: give the part [start, end) of `vma` new flags: split it out, change it, merge it
   * with its neighbours where they now agree. Nothing happens when the flags do not change (mprotect_fixup,
   * madvise_update_vma return early): no split, no merge. A hugetlb VMA cut off a huge boundary is not changed:
   * false (hugetlb_vm_op_split's EINVAL), though a split already made at the start stays.
   */
  private modifyVma(
    proc: Proc,
    vma: Vma,
    start: number,
    end: number,
    change: (v: Vma) => void,
  ): Vma | undefined | false {
    const probe = { ...vma };
    change(probe);
    if (MmModel.sameFlags(probe, vma, true)) return undefined;
    // vma_modify splits at the start, then at the end: a refused end keeps the start's split
    if (this.cutsHugetlb(proc, start)) return false;
    this.splitAt(proc, start);
    if (this.cutsHugetlb(proc, end)) return false;
    this.splitAt(proc, end);
    const part = findVma(proc.vmas, start)!;
    change(part);
    this.mergeAround(proc, part);
    return findVma(proc.vmas, start)!;
  }

  /** mm/rmap.c __anon_vma_prepare → find_mergeable_anon_vma: reuse a compatible neighbour's anon_vma, else a new one. */
  private anonVmaPrepare(proc: Proc, vma: Vma): void {
    if (vma.anonVma) return;
    const i = proc.vmas.indexOf(vma);
    // anon_vma_compatible: adjacent, same flags but the access bits, same file continuing; reusable_anon_vma: not forked
    const reusable = (a: Vma, b: Vma, owner: Vma): boolean =>
      MmModel.continues(a, b) && MmModel.sameFlags(a, b, false) && owner.anonVma !== 0 && !owner.forkedAnon;
    const prev = proc.vmas[i - 1];
    const next = proc.vmas[i + 1];
    if (next && reusable(vma, next, next))
      vma.anonVma = next.anonVma; // next first, as find_mergeable_anon_vma
    else if (prev && reusable(prev, vma, prev)) vma.anonVma = prev.anonVma;
    else vma.anonVma = ++this.anonVmas;
  }

  /** mm/vma.c do_vmi_munmap: zap the range's PTEs, then split and drop the VMAs inside it. Holes are fine. */
  private munmap(proc: Proc, start: number, end: number): void {
    this.zapRange(proc, start, end, true);
    this.splitAt(proc, start);
    this.splitAt(proc, end);
    proc.vmas = proc.vmas.filter((v) => {
      const inside = v.start >= start && v.end <= end;
      if (inside) this.releaseVma(v);
      return !inside;
    });
    // free_pgtables between the neighbouring VMAs (floor, ceiling): a table no VMA overlaps any more goes
    for (const base of this.tablesIn(proc, this.base(start), end)) {
      if (!proc.vmas.some((v) => v.start < base + this.huge && v.end > base)) proc.tables.delete(base);
    }
  }

  /**
   * The page tables (by huge-aligned base) in [from, to), ascending: found through the tables that exist, not by
   * walking the range, so an op on a huge range costs what is mapped there (free_pgtables walks the tables too).
   */
  private tablesIn(proc: Proc, from: number, to: number): number[] {
    const out: number[] = [];
    if ((to - from) / this.huge <= proc.tables.size) {
      for (let base = from; base < to; base += this.huge) if (proc.tables.has(base)) out.push(base);
      return out;
    }
    for (const base of proc.tables) if (base >= from && base < to) out.push(base);
    return out.sort((a, b) => a - b);
  }

  /** The vpages in [start, end) that have a PTE, ascending (by the range or by the PTEs, whichever is fewer). */
  private ptesIn(proc: Proc, start: number, end: number): number[] {
    const out: number[] = [];
    if (end - start <= proc.ptes.size) {
      for (let vpage = start; vpage < end; vpage++) if (proc.ptes.has(vpage)) out.push(vpage);
      return out;
    }
    for (const vpage of proc.ptes.keys()) if (vpage >= start && vpage < end) out.push(vpage);
    return out.sort((a, b) => a - b);
  }

  /** Make a VMA boundary at `vpage` (mm/vma.c split_vma, with vma_adjust_trans_huge splitting a PMD it cuts). */
  private splitAt(proc: Proc, vpage: number): void {
    const base = this.base(vpage);
    if (base !== vpage && proc.pmds.has(base)) this.splitPmd(proc, base);
    const i = proc.vmas.findIndex((v) => v.start < vpage && vpage < v.end);
    if (i < 0) return;
    const v = proc.vmas[i];
    const tail: Vma = { ...v, start: vpage, pgoff: v.pgoff + (vpage - v.start) };
    if (v.cache?.kind === "shmem") v.cache.users++;
    v.end = vpage;
    proc.vmas.splice(i + 1, 0, tail);
  }

  private releaseVma(vma: Vma): void {
    const shmem = vma.cache;
    if (shmem?.kind !== "shmem" || --shmem.users > 0) return;
    // Last mapping of a MAP_SHARED|MAP_ANONYMOUS object: the shmem file goes, and with it its page cache.
    for (const folio of shmem.pages.values()) {
      folio.owner = null; // filemap_remove_folio
      this.putFolio(folio);
    }
    shmem.pages.clear();
    this.cacheSwapped -= shmem.swapped.size;
    shmem.swapped.clear(); // shmem_evict_inode frees its swap entries
  }

  /** The first VMA meeting [at, end), as the VMAs are now (an op changing VMAs re-finds its place after each). */
  private nextVma(proc: Proc, at: number, end: number): Vma | undefined {
    return at < end ? proc.vmas.find((v) => v.end > at && v.start < end) : undefined;
  }

  /**
   * mm/mremap.c do_mremap. A move of the same size (MREMAP_FIXED, remap_move) goes VMA by VMA over the range,
   * gaps kept, the first page mapped; anything else works on the one VMA holding `page` (check_prep_vma: a
   * range that grows or moves may not cross its end), moved by mremap_to (the destination unmapped, a shrink
   * unmapped, then move_vma) or resized in place (mremap_at: a shrink unmaps the tail; a growth needs the range
   * to end at the VMA's end and free space after it, ENOMEM otherwise: there is no MREMAP_MAYMOVE without `to`).
   */
  private mremap(proc: Proc, page: number, pages: number, newPages: number, to: number | undefined): MmObs {
    if (pages === 0 || newPages === 0) return err("EINVAL"); // the layer's rule: no zero length (check_mremap_params)
    if (!this.inWindow(page, pages) || !this.inWindow(to ?? page, newPages)) return err("EINVAL");
    if (to !== undefined && to < page + pages && page < to + newPages) return err("EINVAL"); // vrm_overlaps
    if (to !== undefined && newPages === pages) return this.remapMove(proc, page, pages, to);
    const vma = findVma(proc.vmas, page);
    if (!vma) return err("EFAULT");
    if (vma.hugetlb) {
      // align_hugetlb: lengths rounded up to huge pages, addresses aligned, never growing
      [pages, newPages] = [this.base(pages + this.huge - 1), this.base(newPages + this.huge - 1)];
      if (page % this.huge || (to ?? 0) % this.huge || newPages > pages) return err("EINVAL");
      if (!this.inWindow(page, pages) || !this.inWindow(to ?? page, newPages)) return err("EINVAL");
    }
    const grows = newPages > pages;
    if ((to !== undefined || grows) && Math.min(pages, newPages) > vma.end - page) return err("EFAULT");
    if (to !== undefined) {
      if (!this.unmapWhole(proc, to, to + newPages)) return err("EINVAL"); // mremap_to: the destination first
      if (!grows && !this.unmapWhole(proc, page + newPages, page + pages)) return err("EINVAL"); // shrink_vma
      this.moveVma(proc, page, Math.min(pages, newPages), to, newPages);
      return OK;
    }
    if (!grows) {
      if (newPages < pages && !this.unmapWhole(proc, page + newPages, page + pages)) return err("EINVAL"); // shrink_vma
      return OK;
    }
    // vrm_can_expand_in_place: the range reaches the VMA's end and nothing is mapped where it would grow
    if (page + pages !== vma.end || this.nextVma(proc, vma.end, page + newPages)) return err("ENOMEM");
    vma.end = page + newPages; // vma_merge_extend
    this.mergeAround(proc, vma);
    return OK;
  }

  /** mm/mremap.c remap_move: each VMA meeting the range moves to the same offset from `to`; a gap at the start is EFAULT. */
  private remapMove(proc: Proc, page: number, pages: number, to: number): MmObs {
    if (!findVma(proc.vmas, page)) return err("EFAULT");
    const end = page + pages;
    for (let at = page, vma = this.nextVma(proc, at, end); vma; vma = this.nextVma(proc, at, end)) {
      const s = Math.max(at, vma.start);
      const dest = to + (s - page);
      let n = Math.min(end, vma.end) - s;
      if (vma.hugetlb) {
        // check_prep_vma → align_hugetlb on this piece
        n = this.base(n + this.huge - 1);
        if (s % this.huge || dest % this.huge || !this.inWindow(dest, n)) return err("EINVAL");
      }
      if (!this.unmapWhole(proc, dest, dest + n)) return err("EINVAL"); // mremap_to on this piece: its destination first
      this.moveVma(proc, s, n, dest, n);
      at = s + n;
    }
    return OK;
  }

  /**
   * mm/vma.c vms_gather_munmap_vmas splits the VMAs at the range's start, then at its end: false (EINVAL) where a
   * split would cut a hugetlb VMA off a huge boundary (hugetlb_vm_op_split); a split made at the start stays.
   */
  private mayUnmap(proc: Proc, start: number, end: number): boolean {
    if (this.cutsHugetlb(proc, start)) return false;
    if (!this.cutsHugetlb(proc, end)) return true;
    this.splitAt(proc, start);
    return false;
  }

  /** do_munmap: refused (false, EINVAL) where it would cut a hugetlb VMA off a huge boundary. */
  private unmapWhole(proc: Proc, start: number, end: number): boolean {
    if (!this.mayUnmap(proc, start, end)) return false;
    this.munmap(proc, start, end);
    return true;
  }

  /**
   * mm/mremap.c move_vma: KSM pages in the range are broken first (prep_move_vma), the VMA is copied to `to` as
   * `newPages` pages (copy_vma, which may merge it with a neighbour), the page tables are moved, and the source
   * range is unmapped.
   */
  private moveVma(proc: Proc, page: number, pages: number, to: number, newPages: number): void {
    const vma = findVma(proc.vmas, page)!;
    if (vma.mergeable) this.ksm.unmerge(proc.pid, page, page + pages); // ksm_madvise(MADV_UNMERGEABLE)
    // copy_vma: an anonymous VMA never faulted (no anon_vma) takes its new address as pgoff, the better to merge
    const pgoff = !vma.cache && !vma.anonVma ? to : vma.pgoff + (page - vma.start);
    const copy: Vma = { ...vma, start: to, end: to + newPages, pgoff };
    if (copy.cache?.kind === "shmem") copy.cache.users++;
    const i = proc.vmas.findIndex((v) => v.start >= copy.end);
    proc.vmas.splice(i < 0 ? proc.vmas.length : i, 0, copy);
    this.mergeAround(proc, copy);
    this.movePageTables(proc, page, to, pages);
    this.munmap(proc, page, page + pages); // unmap_source_vma: no entries are left there
  }

  /**
   * mm/mremap.c move_page_tables: extent by extent, each up to the next huge boundary on either side. A PMD moves
   * whole where the extent is a whole aligned huge page on both sides (move_huge_pmd), else it is split and its
   * PTEs move (move_ptes, flushing the old TLB entries); a page table moves whole likewise (move_normal_pmd), else
   * the destination gets one (alloc_new_pmd) wherever the source has one.
   */
  private movePageTables(proc: Proc, from: number, to: number, pages: number): void {
    const huge = this.huge;
    for (let off = 0; off < pages; ) {
      const old = from + off;
      const neu = to + off;
      const extent = Math.min(pages - off, huge - (old % huge), huge - (neu % huge));
      off += extent;
      const oldBase = this.base(old);
      const whole = extent === huge && !proc.tables.has(neu) && !proc.pmds.has(neu);
      const pmd = proc.pmds.get(oldBase);
      // move_hugetlb_page_tables moves a hugetlb entry as it is (its range is whole huge pages)
      if (pmd && (whole || (pmd.pfn !== this.hugeZeroPfn && this.folioOf(pmd.pfn).hugetlb))) {
        proc.pmds.delete(oldBase);
        proc.pmds.set(neu, pmd);
        if (pmd.pfn !== this.hugeZeroPfn) {
          const folio = this.folioOf(pmd.pfn);
          folio.pmds.delete(keyOf(proc.pid, oldBase));
          folio.pmds.add(keyOf(proc.pid, neu));
          this.touched.frames.add(folio.pfn);
        }
        for (let i = 0; i < huge; i++) this.tlbFlushPage(proc, old + i);
        this.touched.keys.add(keyOf(proc.pid, oldBase)).add(keyOf(proc.pid, neu));
        continue;
      }
      if (pmd) this.splitPmd(proc, oldBase);
      if (!proc.tables.has(oldBase)) continue; // get_old_pmd: nothing mapped there
      if (whole) proc.tables.delete(oldBase);
      proc.tables.add(this.base(neu));
      for (const vpage of this.ptesIn(proc, old, old + extent)) {
        const pte = proc.ptes.get(vpage)!;
        const dest = neu + (vpage - old);
        proc.ptes.delete(vpage);
        this.tlbFlushPage(proc, vpage);
        this.touched.keys.add(keyOf(proc.pid, vpage));
        if (pte.pfn !== ZERO_PFN) {
          const folio = this.folioOf(pte.pfn);
          folio.rmap.delete(keyOf(proc.pid, vpage));
          folio.rmap.add(keyOf(proc.pid, dest));
          this.touched.frames.add(folio.pfn);
        }
        this.setPte(proc, dest, pte);
      }
      for (const vpage of this.swapsIn(proc, old, old + extent)) {
        const swp = proc.swaps.get(vpage)!;
        this.dropSwapPte(proc, vpage);
        this.touched.keys.add(keyOf(proc.pid, vpage));
        this.setSwapPte(proc, neu + (vpage - old), swp);
      }
    }
  }

  /** mm/mprotect.c do_mprotect_pkey: applies VMA by VMA and stops with ENOMEM at the first hole. */
  private mprotect(proc: Proc, start: number, end: number, prot: Prot): MmObs {
    let at = start;
    for (let old = this.nextVma(proc, at, end); old; old = this.nextVma(proc, at, end)) {
      if (old.start > at) return err("ENOMEM");
      const s = Math.max(at, old.start);
      const e = Math.min(end, old.end);
      // mprotect_fixup: making a private mapping writable charges it (VM_ACCOUNT); read-only anonymous memory
      // that never had an anon_vma is uncharged again — only where the protection changes (newflags == oldflags
      // returns before either)
      const account = (v: Vma): boolean =>
        v.prot === prot
          ? v.account
          : prot === "rw"
            ? v.account || (!v.shared && !v.hugetlb)
            : v.account && !(v.cache === null && !v.shared && !v.anonVma);
      const vma = this.modifyVma(proc, old, s, e, (v) => {
        v.account = account(v);
        v.prot = prot;
      });
      if (vma === false) return err("EINVAL");
      if (vma) this.changeProtection(proc, vma, s, e);
      at = e;
    }
    return at >= end ? OK : err("ENOMEM");
  }

  /** mm/mprotect.c change_pte_range / change_huge_pmd: drop write (flushing the TLB) or restore it where the write fault would. */
  private changeProtection(proc: Proc, vma: Vma, start: number, end: number): void {
    const change = (key: number, entry: Pte, pages: number, pfn: number, vpage: number): void => {
      if (vma.prot === "r") {
        if (!entry.writable) return;
        entry.writable = false;
        for (let i = 0; i < pages; i++) this.tlbFlushPage(proc, vpage + i);
      } else if (!entry.writable && (vma.shared || (!vma.hugetlb && this.canChangePrivateWritable(pfn)))) {
        // shmem's vm_page_prot is writable; private: can_change_pte_writable (hugetlb_change_protection never tries)
        entry.writable = true;
      } else return;
      this.touched.keys.add(key);
    };
    for (const [base, pmd] of proc.pmds) {
      if (base >= start && base < end) change(keyOf(proc.pid, base), pmd, this.huge, pmd.pfn, base);
    }
    for (const vpage of this.ptesIn(proc, start, end)) {
      const pte = proc.ptes.get(vpage)!;
      change(keyOf(proc.pid, vpage), pte, 1, pte.pfn, vpage);
    }
  }

  /** mm/mprotect.c can_change_pte_writable, private branch: only an exclusive anonymous page may be made writable. */
  private canChangePrivateWritable(pfn: number): boolean {
    const folio = this.folioOf(pfn);
    return folio.anon && !folio.ksm && folio.pageExclusive[pfn - folio.pfn];
  }

  /** mm/madvise.c madvise_walk_vmas: visit each VMA in range; remember a hole as ENOMEM; stop at a real error. */
  private madvise(proc: Proc, start: number, end: number, advice: MadviseAdvice): MmObs {
    let at = start;
    let hole = false;
    for (let old = this.nextVma(proc, at, end); old; old = this.nextVma(proc, at, end)) {
      if (old.start > at) hole = true;
      const s = Math.max(at, old.start);
      const e = Math.min(end, old.end);
      at = e;
      const vma = old;
      let refused = false;
      const flags = (change: (v: Vma) => void): void => {
        refused = this.modifyVma(proc, vma, s, e, change) === false; // madvise_update_vma
      };
      switch (advice) {
        case "dontneed": // no VMA change: only the page tables of the range
          if (vma.hugetlb) {
            // madvise_dontneed_free_valid_vma: a hugetlb range starts at a huge page; its end is rounded down
            if (s % this.huge !== 0) return err("EINVAL");
            if (this.base(e) > s) this.madviseDontneed(proc, s, this.base(e));
            break;
          }
          this.madviseDontneed(proc, s, e);
          break;
        case "dontfork":
          flags((v) => (v.dontfork = true));
          break;
        case "dofork":
          flags((v) => (v.dontfork = false));
          break;
        case "wipeonfork":
          // madvise_vma_behavior: anonymous private only (MAP_HUGETLB memory has a hugetlbfs file)
          if (vma.shared || vma.file !== null || vma.hugetlb) return err("EINVAL");
          flags((v) => (v.wipeonfork = true));
          break;
        case "keeponfork":
          flags((v) => (v.wipeonfork = false));
          break;
        case "hugepage": // hugepage_madvise
          flags((v) => {
            v.hugepage = true;
            v.nohugepage = false;
          });
          break;
        case "nohugepage":
          flags((v) => {
            v.hugepage = false;
            v.nohugepage = true;
          });
          break;
        case "mergeable": // ksm_madvise: VM_SHARED and VM_HUGETLB mappings are silently left alone (vma_ksm_compatible)
          if (vma.shared || vma.hugetlb || vma.mergeable) break;
          this.ksm.enter(proc.pid);
          flags((v) => (v.mergeable = true));
          break;
        case "unmergeable":
          if (vma.mergeable) this.ksm.unmerge(proc.pid, s, e);
          flags((v) => (v.mergeable = false));
          break;
        case "pageout":
          if (vma.hugetlb) return err("EINVAL"); // madvise_pageout: !can_madv_lru_vma
          this.pageout(proc, s, e);
          break;
      }
      if (refused) return err("EINVAL");
    }
    return hole || at < end ? err("ENOMEM") : OK;
  }

  /** mm/madvise.c madvise_dontneed_single_vma → zap_page_range_single: PTEs go, the TLB is flushed; page caches keep their pages. */
  protected madviseDontneed(proc: Proc, start: number, end: number): void {
    this.zapRange(proc, start, end, true);
    // CONFIG_PT_RECLAIM (zap_pte_range, reclaim_pt_is_enabled): a table the zap covers whole is freed
    const first = this.base(start + this.huge - 1);
    for (const base of this.tablesIn(proc, first, end)) if (base + this.huge <= end) proc.tables.delete(base);
  }

  // ---- page tables

  /** mm/memory.c unmap_page_range over [start, end): whole PMDs are zapped, cut ones split first; TLB flushed when `flush`. */
  protected zapRange(proc: Proc, start: number, end: number, flush: boolean): void {
    for (const [base, pmd] of [...proc.pmds]) {
      if (base + this.huge <= start || base >= end) continue;
      if (base >= start && base + this.huge <= end) {
        this.zapPmd(proc, base, pmd);
        proc.pmds.delete(base);
        if (flush) for (let i = 0; i < this.huge; i++) this.tlbFlushPage(proc, base + i);
      } else {
        this.splitPmd(proc, base); // __split_huge_pmd from zap_pmd_range
      }
    }
    const visit = (vpage: number, pte: Pte): void => {
      this.zapPte(proc, vpage, pte);
      proc.ptes.delete(vpage);
      if (flush) this.tlbFlushPage(proc, vpage);
    };
    if (end - start <= proc.ptes.size) {
      for (let vpage = start; vpage < end; vpage++) {
        const pte = proc.ptes.get(vpage);
        if (pte) visit(vpage, pte);
      }
    } else {
      for (const [vpage, pte] of proc.ptes) if (vpage >= start && vpage < end) visit(vpage, pte);
    }
    for (const vpage of this.swapsIn(proc, start, end)) {
      this.zapSwapPte(proc, vpage, proc.swaps.get(vpage)!);
      this.dropSwapPte(proc, vpage);
    }
  }

  /** The vpages in [start, end) that have a swap PTE, ascending. */
  private swapsIn(proc: Proc, start: number, end: number): number[] {
    if (!proc.swaps.size) return [];
    const out: number[] = [];
    for (const vpage of proc.swaps.keys()) if (vpage >= start && vpage < end) out.push(vpage);
    return out.sort((a, b) => a - b);
  }

  /**
   * zap_nonpresent_ptes → free_swap_and_cache_nr: the slot loses this entry; at count 0 its swap-cache folio leaves
   * the cache if nothing maps it (__try_to_reclaim_swap, TTRS_UNMAPPED), and a slot without one is free.
   */
  private zapSwapPte(proc: Proc, vpage: number, swp: SwapPte): void {
    this.touched.keys.add(keyOf(proc.pid, vpage));
    const slot = this.slots.get(swp.slot)!;
    slot.count--;
    if (slot.count > 0) return;
    if (slot.folio) {
      if (slot.folio.mapcount === 0) this.folioFreeSwap(slot.folio);
    } else this.slots.delete(slot.slot);
  }

  /** One PTE's share of zap_pte_range: remove the rmap entry and drop the mapping's reference. */
  private zapPte(proc: Proc, vpage: number, pte: Pte): void {
    const key = keyOf(proc.pid, vpage);
    this.touched.keys.add(key);
    if (pte.pfn === ZERO_PFN) return;
    const folio = this.folioOf(pte.pfn);
    this.removeRmap(folio, pte.pfn, key);
    if (folio.swap !== null && folio.mapcount === 0) this.folioFreeSwap(folio); // free_swap_cache
    this.putFolio(folio);
  }

  /** mm/huge_memory.c zap_huge_pmd (the caller removes the PMD). */
  protected zapPmd(proc: Proc, base: number, pmd: Pte): void {
    const key = keyOf(proc.pid, base);
    this.touched.keys.add(key);
    if (pmd.pfn === this.hugeZeroPfn) return;
    const folio = this.folioOf(pmd.pfn);
    this.removePmdRmap(folio, key); // (hugetlb: __unmap_hugepage_range)
    this.putFolio(folio);
  }

  /**
   * mm/huge_memory.c __split_huge_pmd_locked: the PMD becomes a table of PTEs over the same pages, with its bits;
   * the folio itself stays whole. The head's PageAnonExclusive passes to every page.
   */
  protected splitPmd(proc: Proc, base: number): void {
    const pmd = proc.pmds.get(base)!;
    proc.pmds.delete(base);
    proc.tables.add(base); // the deposited table (pgtable_trans_huge_withdraw)
    const key = keyOf(proc.pid, base);
    this.touched.keys.add(key);
    for (let i = 0; i < this.huge; i++) this.tlbFlushPage(proc, base + i);
    if (pmd.pfn === this.hugeZeroPfn) {
      // __split_huge_zero_page_pmd: every PTE maps the small zero page
      for (let i = 0; i < this.huge; i++)
        this.setPte(proc, base + i, { pfn: ZERO_PFN, writable: false, dirty: false, young: pmd.young });
      return;
    }
    const folio = this.folioOf(pmd.pfn);
    const exclusive = folio.pageExclusive[0];
    folio.refcount += this.huge - 1; // one reference per PTE instead of one for the PMD
    for (let i = 0; i < this.huge; i++) {
      if (exclusive) folio.pageExclusive[i] = true;
      this.addRmap(folio, folio.pfn + i, keyOf(proc.pid, base + i));
      this.setPte(proc, base + i, { pfn: folio.pfn + i, writable: pmd.writable, dirty: pmd.dirty, young: pmd.young });
    }
    this.removePmdRmap(folio, key); // after the PTEs' rmap (folio_add_anon_rmap_ptes)
  }

  /**
   * mm/rmap.c folio_remove_rmap_pmd, or hugetlb_remove_rmap: one mapping of the whole folio less (a hugetlb folio
   * keeps no MM_ID slots: folio_maybe_mapped_shared is mapcount > 1 for it).
   */
  private removePmdRmap(folio: Folio, key: number): void {
    folio.entireMapcount--;
    folio.mapcount--;
    if (!folio.hugetlb) this.mmIdSub(folio, pidOf(key));
    folio.pmds.delete(key);
    this.touched.frames.add(folio.pfn);
  }

  private tlbFlushPage(proc: Proc, vpage: number): void {
    if (proc.tlb.delete(vpage)) this.touched.keys.add(keyOf(proc.pid, vpage));
  }

  // ---- folios

  private allocFolio(nr: number, anon: boolean, owner: PageCache | null, from?: Uint8Array): Folio {
    const pfn = Math.ceil(this.nextPfn / nr) * nr; // a THP sits at a huge-aligned pfn
    this.nextPfn = pfn + nr;
    const folio = new Folio(pfn, nr, anon, false, owner, this.geometry.cellsPerPage);
    if (from) folio.data.set(from);
    this.frames.set(pfn, folio);
    this.allocations++;
    this.allocatedPages += nr;
    this.touched.frames.add(pfn);
    return folio;
  }

  /** A new exclusive anonymous page (folio_add_new_anon_rmap), zeroed or a copy of `from`, mapped at `key`. */
  protected newAnonPage(key: number, from?: Uint8Array): Folio {
    const folio = this.allocFolio(1, true, null, from);
    folio.pageExclusive[0] = true;
    this.addRmap(folio, folio.pfn, key);
    return folio;
  }

  /** The page-cache page at `index`, read in (allocated) if absent: it holds one reference of its own. */
  private cachePage(cache: PageCache, index: number): Folio {
    let folio = cache.pages.get(index);
    if (!folio) {
      // a page reclaimed before comes back with its contents (shmem_swapin_folio, or a read from the disk)
      const swapped = cache.swapped.get(index);
      folio = this.allocFolio(1, false, cache, swapped);
      if (cache.swapped.delete(index)) this.cacheSwapped--;
      cache.pages.set(index, folio);
    }
    return folio;
  }

  /** mm/rmap.c folio_add_*_rmap_pte: one more PTE maps page `pfn` (the caller holds the reference it hands over). */
  private addRmap(folio: Folio, pfn: number, key: number): void {
    folio.pageMapcount[pfn - folio.pfn]++;
    folio.mapcount++;
    this.mmIdAdd(folio, pidOf(key));
    folio.rmap.add(key);
    this.touched.frames.add(folio.pfn);
  }

  /** mm/rmap.c folio_remove_rmap_pte. */
  protected removeRmap(folio: Folio, pfn: number, key: number): void {
    folio.pageMapcount[pfn - folio.pfn]--;
    folio.mapcount--;
    this.mmIdSub(folio, pidOf(key));
    folio.rmap.delete(key);
    this.touched.frames.add(folio.pfn);
  }

  /**
   * include/linux/mm.h folio_add_return_large_mapcount, its MM_ID part: one more mapping by `pid` (mapcount
   * already counts it) goes to its slot, or takes a free one; a second mm's slot marks the folio shared.
   */
  private mmIdAdd(folio: Folio, pid: number): void {
    if (folio.nr === 1) return;
    const [ids, maps] = [folio.mmIds, folio.mmIdMaps];
    if (ids[0] === pid) maps[0]++;
    else if (ids[1] === pid) maps[1]++;
    else if (ids[0] === 0) {
      [ids[0], maps[0]] = [pid, 1];
      if (folio.mapcount !== 1) folio.mmShared = true; // other mappings already
    } else if (ids[1] === 0) {
      [ids[1], maps[1]] = [pid, 1];
      folio.mmShared = true;
    }
  }

  /**
   * folio_sub_return_large_mapcount, its MM_ID part: a slot whose mm has mappings left changes nothing else; one
   * emptied (or a mapping of an mm without a slot) frees it and clears the shared bit if one slot now holds all.
   */
  private mmIdSub(folio: Folio, pid: number): void {
    if (folio.nr === 1) return;
    const [ids, maps] = [folio.mmIds, folio.mmIdMaps];
    const i = ids[0] === pid ? 0 : ids[1] === pid ? 1 : -1;
    if (i >= 0) {
      if (--maps[i] > 0) return;
      [ids[i], maps[i]] = [0, 0]; // a slot that underflowed (mappings added while none was free) is freed too
    }
    if (maps[0] === folio.mapcount || maps[1] === folio.mapcount) folio.mmShared = false;
  }

  /** folio_put_refs: drop references; the last one frees the folio. */
  protected putFolio(folio: Folio, refs = 1): void {
    this.touched.frames.add(folio.pfn);
    folio.refcount -= refs;
    if (folio.refcount > 0) return;
    this.frames.delete(folio.pfn);
    this.touched.freed.push(folio);
  }

  private setPte(proc: Proc, vpage: number, pte: Pte): void {
    const old = proc.ptes.get(vpage);
    proc.ptes.set(vpage, pte);
    proc.tables.add(this.base(vpage)); // pte_alloc
    if (old && old.pfn !== pte.pfn) {
      this.tlbFlushPage(proc, vpage); // ptep_clear_flush
      const was = old.pfn === ZERO_PFN ? undefined : folioOf(this, old.pfn);
      if (was) this.touched.frames.add(was.pfn); // what was mapped here is checked again too
    }
    this.touched.keys.add(keyOf(proc.pid, vpage));
  }

  // ---- the MMU and the fault handler

  /**
   * One access as the hardware does it: TLB, then the page-table walk (PMD, then PTE; setting young, and dirty
   * on write), then a page fault (handle_mm_fault) and a retry. Returns the page accessed, or undefined for SIGSEGV.
   */
  private access(proc: Proc, vpage: number, write: boolean): number | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      const pfn = this.walk(proc, vpage, write);
      if (pfn !== undefined) return pfn;
      if (attempt === 0 && !this.handleMmFault(proc, vpage, write, false)) return undefined;
    }
    throw new Error(`mm model: fault at pid ${proc.pid} page ${vpage} did not resolve`);
  }

  /** The TLB, then the page-table walk (setting young, and dirty on write): the page, or undefined for a fault. */
  private walk(proc: Proc, vpage: number, write: boolean): number | undefined {
    const hit = proc.tlb.get(vpage);
    // A write through a clean TLB entry re-walks to set the dirty bit (x86 behaviour).
    if (hit && (!write || (hit.writable && hit.dirty))) return hit.pfn;
    const base = this.base(vpage);
    const pmd = proc.pmds.get(base);
    const entry = pmd ?? proc.ptes.get(vpage);
    if (!entry || (write && !entry.writable)) return undefined;
    entry.young = true;
    if (write) entry.dirty = true;
    const pfn = pmd ? pmd.pfn + (vpage - base) : entry.pfn;
    proc.tlb.set(vpage, { pfn, writable: entry.writable, dirty: entry.dirty });
    this.touched.keys.add(keyOf(proc.pid, pmd ? base : vpage));
    this.touched.keys.add(keyOf(proc.pid, vpage));
    return pfn;
  }

  /**
   * mm/memory.c handle_mm_fault (after arch access_error, which a GUP with FOLL_FORCE does not ask: `force`):
   * returns false for SIGSEGV. `unshare` is FAULT_FLAG_UNSHARE. A write fault in a read-only VMA (a forced one)
   * leaves the entry read-only, as maybe_mkwrite does.
   */
  private handleMmFault(proc: Proc, vpage: number, write: boolean, unshare: boolean, force = false): boolean {
    const vma = findVma(proc.vmas, vpage);
    if (!vma || (write && !force && vma.prot !== "rw")) return false; // bad_area / access_error
    const base = this.base(vpage);
    if (vma.hugetlb) {
      this.hugetlbFault(proc, vma, base, write, unshare);
      return true;
    }
    const pmd = proc.pmds.get(base);
    if (pmd) {
      if ((write && !pmd.writable) || unshare) this.doHugePmdWpPage(proc, vma, base, pmd, vpage, unshare);
      return true;
    }
    const pte = proc.ptes.get(vpage);
    if (!pte && proc.swaps.has(vpage)) this.doSwapPage(proc, vma, vpage, write);
    else if (!pte) {
      if (vma.cache && vma.pgoff + (vpage - vma.start) >= vma.cache.size) return false; // shmem_fault past i_size: SIGBUS
      if (vma.cache && vma.shared) this.doSharedFault(proc, vma, vpage, write);
      else if (vma.cache) this.doPrivateFileFault(proc, vma, vpage, write);
      else if (this.thpSuitable(proc, vma, base)) this.doHugePmdAnonymousPage(proc, vma, base, write);
      else this.doAnonymousPage(proc, vma, vpage, write);
    } else if ((write && !pte.writable) || unshare) {
      this.doWpPage(proc, vma, vpage, pte, unshare);
    }
    return true;
  }

  /**
   * mm/huge_memory.c __thp_vma_allowable_orders at a fault: a private anonymous VMA not advised nohugepage, where
   * the order's policy is "always", or "madvise" (or "inherit" of the top level's "madvise") and the VMA is advised
   * hugepage.
   */
  protected thpAllowed(vma: Vma, order: number): boolean {
    if (vma.shared || vma.cache || vma.nohugepage) return false;
    const mode = this.thpModes[order] === "inherit" ? "madvise" : this.thpModes[order];
    return mode === "always" || (mode === "madvise" && vma.hugepage);
  }

  /** thp_vma_allowable_order + thp_vma_suitable_order for the PMD order: the VMA covers the aligned range, no page table yet (pmd_none). */
  private thpSuitable(proc: Proc, vma: Vma, base: number): boolean {
    if (!this.thpAllowed(vma, this.geometry.hugeOrder)) return false;
    return base >= vma.start && base + this.huge <= vma.end && !proc.tables.has(base);
  }

  /**
   * mm/memory.c do_anonymous_page: a read maps the zero page read-only; a write allocates an exclusive folio
   * (alloc_anon_folio: the largest allowed mTHP order whose aligned range lies in the VMA with every PTE none, else
   * a base page) and maps all of it writable (set_ptes), every page AnonExclusive.
   */
  private doAnonymousPage(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    if (!write) {
      this.setPte(proc, vpage, { pfn: ZERO_PFN, writable: false, dirty: false, young: true });
      return;
    }
    this.anonVmaPrepare(proc, vma); // anon_vma_prepare
    const nr = this.anonFolioPages(proc, vma, vpage);
    const writable = vma.prot === "rw"; // pte_mkwrite(pte_mkdirty()) only where VM_WRITE
    if (nr === 1) {
      const folio = this.newAnonPage(keyOf(proc.pid, vpage));
      this.setPte(proc, vpage, { pfn: folio.pfn, writable, dirty: writable, young: true });
      return;
    }
    this.mapNewAnonFolio(proc, vpage - (vpage % nr), this.allocFolio(nr, true, null), writable);
  }

  /** The rest of do_anonymous_page for a large folio: folio_add_new_anon_rmap and set_ptes over its range. */
  protected mapNewAnonFolio(proc: Proc, start: number, folio: Folio, writable: boolean): void {
    folio.refcount = folio.nr; // folio_ref_add(folio, nr - 1): a reference per mapping
    for (let i = 0; i < folio.nr; i++) {
      folio.pageExclusive[i] = true; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE) marks every page of a non-PMD folio
      this.addRmap(folio, folio.pfn + i, keyOf(proc.pid, start + i));
      this.setPte(proc, start + i, { pfn: folio.pfn + i, writable, dirty: writable, young: true });
    }
  }

  /** mm/memory.c alloc_anon_folio: the pages of the folio a write fault at `vpage` allocates. */
  private anonFolioPages(proc: Proc, vma: Vma, vpage: number): number {
    for (let order = this.geometry.hugeOrder - 1; order >= MIN_ANON_THP_ORDER; order--) {
      if (!this.thpAllowed(vma, order)) continue;
      const nr = 1 << order;
      const start = vpage - (vpage % nr);
      if (start >= vma.start && start + nr <= vma.end && this.pteRangeNone(proc, start, nr)) return nr; // thp_vma_suitable_order
    }
    return 1;
  }

  /** mm/memory.c pte_range_none: no PTE in [start, start + nr), present or swap. */
  protected pteRangeNone(proc: Proc, start: number, nr: number): boolean {
    for (let i = 0; i < nr; i++) if (proc.ptes.has(start + i) || proc.swaps.has(start + i)) return false;
    return true;
  }

  /** mm/huge_memory.c do_huge_pmd_anonymous_page: a read maps the huge zero page; a write maps a new exclusive THP. */
  private doHugePmdAnonymousPage(proc: Proc, vma: Vma, base: number, write: boolean): void {
    this.anonVmaPrepare(proc, vma); // vmf_anon_prepare, even for the huge zero page
    const key = keyOf(proc.pid, base);
    this.touched.keys.add(key);
    if (!write) {
      proc.pmds.set(base, { pfn: this.hugeZeroPfn, writable: false, dirty: false, young: true });
      return;
    }
    // map_anon_folio_pmd: maybe_pmd_mkwrite(pmd_mkdirty())
    proc.pmds.set(base, { pfn: this.newHugeFolio(key).pfn, writable: vma.prot === "rw", dirty: true, young: true });
  }

  /** A new exclusive THP mapped by the PMD `key` (folio_add_new_anon_rmap at PMD level: only the head is marked). */
  protected newHugeFolio(key: number): Folio {
    const folio = this.allocFolio(this.huge, true, null);
    folio.pageExclusive[0] = true;
    folio.entireMapcount = 1;
    folio.mapcount = 1;
    [folio.mmIds[0], folio.mmIdMaps[0]] = [pidOf(key), 1]; // folio_set_large_mapcount
    folio.pmds.add(key);
    return folio;
  }

  /** mm/memory.c do_read_fault / do_shared_fault via shmem_fault: find or allocate the page-cache page and map it. */
  private doSharedFault(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    const folio = this.cachePage(vma.cache!, vma.pgoff + (vpage - vma.start));
    folio.refcount++; // the mapping's reference
    this.addRmap(folio, folio.pfn, keyOf(proc.pid, vpage));
    // A writable shared shmem mapping has a writable vm_page_prot (no writenotify), so even a read maps it writable.
    this.setPte(proc, vpage, { pfn: folio.pfn, writable: vma.prot === "rw", dirty: write, young: true });
  }

  /** mm/memory.c do_read_fault (map the page-cache page read-only) or do_cow_fault (a private copy) on a MAP_PRIVATE file. */
  protected doPrivateFileFault(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    const page = this.cachePage(vma.cache!, vma.pgoff + (vpage - vma.start));
    const key = keyOf(proc.pid, vpage);
    if (!write) {
      page.refcount++;
      this.addRmap(page, page.pfn, key);
      this.setPte(proc, vpage, { pfn: page.pfn, writable: false, dirty: false, young: true });
      return;
    }
    this.anonVmaPrepare(proc, vma);
    const copy = this.newAnonPage(key, page.data);
    this.copiedPages++;
    // set_pte_range: maybe_mkwrite(pte_mkdirty())
    this.setPte(proc, vpage, { pfn: copy.pfn, writable: vma.prot === "rw", dirty: true, young: true });
  }

  /** mm/memory.c do_wp_page: write (or unshare) fault on a present, write-protected PTE in a writable VMA. */
  private doWpPage(proc: Proc, vma: Vma, vpage: number, pte: Pte, unshare: boolean): void {
    if (vma.shared) {
      if (!unshare) this.wpPageReuse(proc, vma, vpage, pte); // wp_page_shared: never copies
      return;
    }
    if (pte.pfn === ZERO_PFN) {
      this.wpZeroPage(proc, vma, vpage, pte, unshare);
      return;
    }
    const folio = this.folioOf(pte.pfn);
    const i = pte.pfn - folio.pfn;
    if (folio.anon && (folio.pageExclusive[i] || this.wpCanReuseAnonFolio(proc, folio))) {
      folio.pageExclusive[i] = true; // folio_move_anon_rmap + SetPageAnonExclusive
      this.touched.frames.add(folio.pfn);
      if (!unshare) this.wpPageReuse(proc, vma, vpage, pte);
      return;
    }
    this.wpPageCopy(proc, vma, vpage, pte.pfn, unshare); // file pages of a private mapping and KSM pages always copy
  }

  /**
   * mm/memory.c wp_can_reuse_anon_folio: never a KSM page; a small folio only when ours is its only reference
   * (refcount, not mapcount); a large one (__wp_can_reuse_large_anon_folio) when more than one page is mapped
   * ("just free up a large folio if only a single page is mapped"), it is not maybe mapped shared (the MM_ID
   * bit: one mm holds every mapping, so ours) and every reference is a mapping.
   */
  protected wpCanReuseAnonFolio(_proc: Proc, folio: Folio): boolean {
    if (folio.ksm || this.lockedFolios.has(folio.pfn)) return false; // folio_trylock fails on a folio ksmd holds
    if (folio.nr === 1) {
      // a folio in the swap cache leaves it if no swap PTE names its slot any more (folio_free_swap)
      if (folio.swap !== null && folio.refcount <= 2) this.folioFreeSwap(folio);
      return folio.refcount === 1;
    }
    if (folio.mapcount <= 1 || folio.mmShared) return false;
    if (folio.swap !== null) this.folioFreeSwap(folio);
    return folio.refcount === folio.mapcount && folio.entireMapcount === 0;
  }

  /** mm/memory.c wp_page_reuse: maybe_mkwrite(pte_mkdirty()). */
  private wpPageReuse(proc: Proc, vma: Vma, vpage: number, pte: Pte): void {
    pte.writable = vma.prot === "rw";
    pte.dirty = true;
    pte.young = true;
    this.touched.keys.add(keyOf(proc.pid, vpage));
  }

  /** wp_page_copy on the zero page: allocate a zeroed page (is_zero_pfn → vma_alloc_zeroed_movable_folio). */
  protected wpZeroPage(proc: Proc, vma: Vma, vpage: number, _pte: Pte, unshare: boolean): void {
    this.wpPageCopy(proc, vma, vpage, undefined, unshare);
  }

  /** mm/memory.c wp_page_copy: one new exclusive page (writable, or read-only for an unshare); the old page loses this mapping. */
  protected wpPageCopy(proc: Proc, vma: Vma, vpage: number, oldPfn: number | undefined, unshare: boolean): void {
    this.anonVmaPrepare(proc, vma); // vmf_anon_prepare
    const key = keyOf(proc.pid, vpage);
    const folio = this.newAnonPage(key, oldPfn === undefined ? undefined : this.pageData(oldPfn));
    if (oldPfn !== undefined) this.copiedPages++;
    const writable = !unshare && vma.prot === "rw"; // maybe_mkwrite(pte_mkdirty()), or read-only for an unshare
    this.setPte(proc, vpage, { pfn: folio.pfn, writable, dirty: !unshare, young: true });
    if (oldPfn !== undefined) this.releaseOldPage(this.folioOf(oldPfn), oldPfn, key);
  }

  /** The tail of wp_page_copy: folio_remove_rmap_pte and folio_put on the page that was copied. */
  protected releaseOldPage(old: Folio, pfn: number, key: number): void {
    this.removeRmap(old, pfn, key);
    if (old.swap !== null && old.mapcount === 0) this.folioFreeSwap(old); // free_swap_cache
    this.putFolio(old);
  }

  /**
   * mm/huge_memory.c do_huge_pmd_wp_page: the huge zero page is replaced by a new THP, for a write or an unshare
   * alike (do_huge_zero_wp_pmd → map_anon_folio_pmd, writable if the VMA is); an exclusive THP, or one whose only
   * reference is ours, is reused whole; otherwise the PMD is split and the fault retried at PTE level, which
   * copies one base page.
   */
  protected doHugePmdWpPage(proc: Proc, vma: Vma, base: number, pmd: Pte, vpage: number, unshare: boolean): void {
    const key = keyOf(proc.pid, base);
    if (pmd.pfn === this.hugeZeroPfn) {
      for (let i = 0; i < this.huge; i++) this.tlbFlushPage(proc, base + i);
      const writable = vma.prot === "rw"; // map_anon_folio_pmd: maybe_pmd_mkwrite(pmd_mkdirty(entry))
      proc.pmds.set(base, { pfn: this.newHugeFolio(key).pfn, writable, dirty: true, young: true });
      this.touched.keys.add(key);
      return;
    }
    const folio = this.folioOf(pmd.pfn);
    if (folio.pageExclusive[0] || this.hugePmdCanReuse(folio)) {
      folio.pageExclusive[0] = true;
      this.touched.frames.add(folio.pfn);
      if (!unshare) {
        pmd.writable = vma.prot === "rw"; // maybe_pmd_mkwrite(pmd_mkdirty())
        pmd.dirty = true;
        pmd.young = true;
        this.touched.keys.add(key);
      }
      return;
    }
    this.splitAndRetry(proc, vma, base, vpage, unshare);
  }

  /** do_huge_pmd_wp_page's reuse test for a THP that is not AnonExclusive: ours is the only reference (refcount). */
  protected hugePmdCanReuse(folio: Folio): boolean {
    return !folio.ksm && folio.refcount === 1;
  }

  /** The fallback of do_huge_pmd_wp_page: __split_huge_pmd, then the PTE-level fault on the one page. */
  protected splitAndRetry(proc: Proc, vma: Vma, base: number, vpage: number, unshare: boolean): void {
    this.splitPmd(proc, base);
    this.doWpPage(proc, vma, vpage, proc.ptes.get(vpage)!, unshare);
  }

  // ---- hugetlb (feature "hugetlb"): huge pages from the pool, each mapped whole by one PMD-level entry, never
  // split; no zero page; copy-on-write copies the huge page, and reuse asks the mapcount, not the refcount

  /** mm/hugetlb.c hugetlb_fault: the huge page at `base` is faulted in, or written to or unshared. */
  private hugetlbFault(proc: Proc, vma: Vma, base: number, write: boolean, unshare: boolean): void {
    const pmd = proc.pmds.get(base);
    if (!pmd) this.hugetlbNoPage(proc, vma, base, write);
    else if ((write && !pmd.writable) || unshare) this.hugetlbWp(proc, vma, base, pmd, unshare);
  }

  /**
   * mm/hugetlb.c hugetlb_no_page: the page cache's huge page if it has one; else a new zeroed one, added to the page
   * cache of a shared mapping, or (a private mapping) anonymous and exclusive. Mapped writable only in a shared
   * writable VMA (make_huge_pte); a write in a private one goes on to hugetlb_wp at once.
   */
  private hugetlbNoPage(proc: Proc, vma: Vma, base: number, write: boolean): void {
    const key = keyOf(proc.pid, base);
    const cache = vma.cache;
    const index = vma.pgoff + (base - vma.start);
    let folio = cache?.pages.get(index);
    if (!folio && cache && vma.shared) {
      folio = this.newHugetlbFolio(false, cache); // hugetlb_add_to_page_cache: the cache's reference
      cache.pages.set(index, folio);
      folio.refcount++;
    } else if (!folio) {
      this.anonVmaPrepare(proc, vma); // vmf_anon_prepare
      folio = this.newHugetlbFolio(true, null); // hugetlb_add_new_anon_rmap
      folio.pageExclusive[0] = true;
    } else folio.refcount++;
    this.addHugetlbRmap(folio, key);
    const writable = vma.shared && vma.prot === "rw";
    const pmd: Pte = { pfn: folio.pfn, writable, dirty: writable, young: true };
    proc.pmds.set(base, pmd);
    this.touched.keys.add(key);
    if (write && !vma.shared) this.hugetlbWp(proc, vma, base, pmd, false);
  }

  /**
   * mm/hugetlb.c hugetlb_wp: a shared mapping is made writable; an anonymous huge page mapped once is reused
   * (folio_mapcount == 1: a GUP reference elsewhere does not stop it, cow.c's expected vmsplice leaks); otherwise a
   * copy of the whole huge page replaces it, writable, or read-only for an unshare.
   */
  private hugetlbWp(proc: Proc, vma: Vma, base: number, pmd: Pte, unshare: boolean): void {
    const key = keyOf(proc.pid, base);
    const old = this.folioOf(pmd.pfn);
    if (vma.shared || this.hugetlbCanReuse(old)) {
      if (old.anon) old.pageExclusive[0] = true; // folio_move_anon_rmap + SetPageAnonExclusive
      this.touched.frames.add(old.pfn);
      // set_huge_ptep_maybe_writable: writable only where the VMA is (a forced write leaves it read-only)
      if (!unshare) [pmd.writable, pmd.dirty, pmd.young] = [vma.prot === "rw", true, true];
      this.touched.keys.add(key);
      return;
    }
    this.anonVmaPrepare(proc, vma); // vmf_anon_prepare
    const copy = this.newHugetlbFolio(true, null, old.data); // copy_user_large_folio
    this.copiedPages += this.huge;
    copy.pageExclusive[0] = true;
    for (let i = 0; i < this.huge; i++) this.tlbFlushPage(proc, base + i); // huge_ptep_clear_flush
    this.removePmdRmap(old, key);
    this.putFolio(old);
    this.addHugetlbRmap(copy, key);
    const writable = !unshare && vma.prot === "rw"; // make_huge_pte(vma, folio, !unshare)
    proc.pmds.set(base, { pfn: copy.pfn, writable, dirty: writable, young: true });
    this.touched.keys.add(key);
  }

  /** hugetlb_wp's reuse test: an anonymous page mapped once (folio_mapcount, not the refcount). */
  protected hugetlbCanReuse(folio: Folio): boolean {
    return folio.anon && folio.mapcount === 1;
  }

  /**
   * mm/hugetlb.c copy_hugetlb_page_range, one entry of a COW mapping: shared, write-protected on both sides; but an
   * exclusive anonymous page that may be pinned (hugetlb_try_dup_anon_rmap fails) is copied for the child now,
   * writable, and the parent keeps its own as it was.
   */
  protected copyHugetlbPmd(parent: Proc, child: Proc, vma: Vma, base: number, pmd: Pte): void {
    const childKey = keyOf(child.pid, base);
    const folio = this.folioOf(pmd.pfn);
    this.touched.keys.add(childKey);
    if (this.needsCowForDma(parent, folio, 0)) {
      const copy = this.newHugetlbFolio(true, null, folio.data); // hugetlb_install_folio
      this.copiedPages += this.huge;
      copy.pageExclusive[0] = true;
      this.addHugetlbRmap(copy, childKey);
      child.pmds.set(base, { pfn: copy.pfn, writable: vma.prot === "rw", dirty: true, young: true });
      return;
    }
    folio.refcount++;
    this.addHugetlbRmap(folio, childKey);
    if (folio.anon) folio.pageExclusive[0] = false; // hugetlb_try_dup_anon_rmap
    if (pmd.writable) {
      pmd.writable = false; // huge_ptep_set_wrprotect
      this.touched.keys.add(keyOf(parent.pid, base));
    }
    child.pmds.set(base, { pfn: pmd.pfn, writable: false, dirty: pmd.dirty, young: pmd.young });
  }

  /** A huge page from the pool (alloc_hugetlb_folio), zeroed or a copy of `from`: one reference, the caller's. */
  private newHugetlbFolio(anon: boolean, cache: PageCache | null, from?: Uint8Array): Folio {
    const folio = this.allocFolio(this.huge, anon, cache, from);
    folio.hugetlb = true;
    return folio;
  }

  /**
   * hugetlb_add_anon_rmap / hugetlb_add_file_rmap: one more mapping of the whole folio (the caller holds its
   * reference); no MM_ID slots (folio_maybe_mapped_shared is mapcount > 1 for hugetlb).
   */
  private addHugetlbRmap(folio: Folio, key: number): void {
    folio.entireMapcount++;
    folio.mapcount++;
    folio.pmds.add(key);
    this.touched.frames.add(folio.pfn);
  }

  // ---- swap (one device, SWP_SYNCHRONOUS_IO as zram; vm.page-cluster 0: no readahead)

  private setSwapPte(proc: Proc, vpage: number, swp: SwapPte): void {
    if (!proc.swaps.has(vpage)) this.swapPtes++;
    proc.swaps.set(vpage, swp);
    proc.tables.add(this.base(vpage));
    this.touched.keys.add(keyOf(proc.pid, vpage));
  }

  private dropSwapPte(proc: Proc, vpage: number): void {
    if (proc.swaps.delete(vpage)) this.swapPtes--;
  }

  /**
   * mm/madvise.c madvise_pageout → madvise_cold_or_pageout_pte_range, one PMD range at a time, each ending in
   * reclaim_pages. A PMD-mapped THP not maybe mapped shared is reclaimed whole if the range covers it, else split
   * first (split_folio; on failure left alone); a PTE-mapped large folio the range does not cover whole is split
   * likewise (not if maybe mapped shared) and its pages looked at again; a folio is taken only if every mapping
   * is one of these PTEs (folio_mapcount == folio_nr_pages). The zero pages are no normal pages: skipped.
   * can_do_file_pageout: the engine runs as root, so page-cache pages are taken too.
   */
  private pageout(proc: Proc, start: number, end: number): void {
    for (let base = this.base(start); base < end; base += this.huge) {
      const s = Math.max(start, base);
      const e = Math.min(end, base + this.huge);
      const list = new Set<Folio>(); // isolated for reclaim_pages, in order
      const pmd = proc.pmds.get(base);
      if (pmd) {
        if (pmd.pfn === this.hugeZeroPfn) continue;
        const folio = this.folioOf(pmd.pfn);
        if (folio.mmShared) continue; // folio_maybe_mapped_shared
        if (e - s === this.huge) {
          this.reclaim(folio);
          continue;
        }
        if (!this.splitHugePage(folio)) continue;
      }
      for (let v = s; v < e; ) {
        const pte = proc.ptes.get(v);
        if (!pte || pte.pfn === ZERO_PFN) {
          v++;
          continue;
        }
        const folio = this.folioOf(pte.pfn);
        let nr = 1; // madvise_folio_pte_batch: PTEs mapping the folio's next pages, within the range and the folio
        const folioEnd = folio.pfn + folio.nr;
        while (pte.pfn + nr < folioEnd && v + nr < e && proc.ptes.get(v + nr)?.pfn === pte.pfn + nr) nr++;
        if (folio.nr > 1 && nr < folio.nr) {
          if (!folio.mmShared && this.splitHugePage(folio)) continue; // its pages are looked at again
          v += nr;
          continue;
        }
        if (folio.mapcount === folio.nr) list.add(folio);
        v += nr;
      }
      for (const folio of list) if (this.frames.get(folio.pfn) === folio) this.reclaim(folio);
    }
  }

  /**
   * mm/vmscan.c shrink_folio_list for one folio (ignore_references). Anonymous: a maybe-pinned folio is kept,
   * a large one with references beyond its mappings too (can_split_folio); it gets nr aligned slots and joins
   * the swap cache (folio_alloc_swap), try_to_unmap turns each mapping into a swap PTE (a PMD is split first;
   * the entry remembers PageAnonExclusive, which the page loses), and pageout writes it and frees it only if
   * nothing but the swap cache holds it (is_page_cache_freeable): else it stays there, mapped by nobody.
   * Page-cache pages are unmapped and leave the cache on the same terms (shmem_writeout to swap).
   */
  protected reclaim(folio: Folio): void {
    if (folio.anon && folio.swap === null) {
      if (!this.mayReclaim(folio)) return; // keep_locked
      if (folio.nr > 1 && folio.refcount !== folio.mapcount) return; // !can_split_folio: activate_locked
      this.addToSwapCache(folio);
    }
    for (const key of [...folio.pmds]) this.splitPmd(this.procs.get(pidOf(key))!, vpageOf(key)); // TTU_SPLIT_HUGE_PMD
    for (const key of [...folio.rmap]) {
      const proc = this.procs.get(pidOf(key))!;
      const vpage = vpageOf(key);
      const pfn = proc.ptes.get(vpage)!.pfn;
      const i = pfn - folio.pfn;
      if (folio.anon && folio.pageExclusive[i] && !this.mayReclaim(folio)) return; // try_to_unmap_one: walk_abort
      proc.ptes.delete(vpage);
      this.tlbFlushPage(proc, vpage);
      this.removeRmap(folio, pfn, key);
      this.putFolio(folio);
      if (folio.anon) {
        const slot = this.slots.get(folio.swap! + i)!;
        slot.count++; // swap_duplicate
        this.setSwapPte(proc, vpage, { slot: slot.slot, exclusive: folio.pageExclusive[i] });
        folio.pageExclusive[i] = false; // folio_try_share_anon_rmap_pte
      } else this.touched.keys.add(key);
    }
    if (!this.mayReclaim(folio)) return; // activate_locked
    if (folio.anon) {
      if (folio.refcount !== folio.nr) return; // pageout: PAGE_KEEP, still in the swap cache
      const cpp = this.geometry.cellsPerPage;
      const zero = folio.data.every((c) => c === 0); // is_folio_zero_filled: the zeromap, no I/O
      for (let i = 0; i < folio.nr; i++) {
        const slot = this.slots.get(folio.swap! + i)!;
        slot.data = folio.data.slice(i * cpp, (i + 1) * cpp);
        slot.zero = zero;
        slot.folio = null;
      }
      folio.swap = null;
      this.putFolio(folio, folio.nr); // __remove_mapping: out of the swap cache, freed
      return;
    }
    const cache = folio.owner;
    if (!cache || folio.refcount !== 1) return;
    for (const [index, f] of cache.pages)
      if (f === folio) {
        cache.pages.delete(index);
        cache.swapped.set(index, folio.data.slice()); // shmem_writeout to swap; a disk file's page is written back
        this.cacheSwapped++;
      }
    folio.owner = null;
    this.putFolio(folio);
  }

  /** shrink_folio_list's and try_to_unmap_one's test: a maybe-DMA-pinned folio is never reclaimed. */
  protected mayReclaim(folio: Folio): boolean {
    return !maybeDmaPinned(folio);
  }

  /** do_swap_page's test for mapping the page AnonExclusive (and writable): not KSM, and exclusive or ours alone. */
  protected swapInReuses(folio: Folio, exclusive: boolean): boolean {
    return !folio.ksm && (exclusive || folio.refcount === 1);
  }

  /** mm/swap_state.c folio_alloc_swap + swap_cache_add_folio: nr slots, aligned to nr, each naming the folio. */
  private addToSwapCache(folio: Folio): void {
    const first = Math.ceil(this.nextSlot / folio.nr) * folio.nr;
    this.nextSlot = first + folio.nr;
    for (let i = 0; i < folio.nr; i++) {
      const slot = new Slot(first + i);
      slot.folio = folio;
      this.slots.set(slot.slot, slot);
    }
    folio.swap = first;
    folio.refcount += folio.nr;
    this.touched.frames.add(folio.pfn);
  }

  /** mm/swapfile.c folio_free_swap: out of the swap cache if no slot of it has a swap count; the slots are free. */
  private folioFreeSwap(folio: Folio): boolean {
    const first = folio.swap!;
    for (let i = 0; i < folio.nr; i++) if (this.slots.get(first + i)!.count > 0) return false;
    for (let i = 0; i < folio.nr; i++) this.slots.delete(first + i);
    folio.swap = null;
    this.putFolio(folio, folio.nr);
    return true;
  }

  /**
   * mm/memory.c do_swap_page. A folio still in the swap cache is mapped again (the same page); else a slot only
   * this entry names is read into a fresh folio that skips the swap cache (SWP_SYNCHRONOUS_IO, __swap_count 1:
   * alloc_swap_folio may take a large one), and any other into a new small folio in the swap cache. The page is
   * exclusive if fresh or if the entry says so; then (not KSM, and exclusive or ours the only reference) it is
   * mapped AnonExclusive and, in a writable VMA, writable even for a read. A write fault that did not get a
   * writable PTE goes on to do_wp_page.
   */
  protected doSwapPage(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    const swp = proc.swaps.get(vpage)!;
    const slot = this.slots.get(swp.slot)!;
    let folio = slot.folio;
    const fresh = !folio && slot.count === 1;
    let nr = 1;
    let start = vpage;
    if (!folio) {
      nr = fresh ? this.swapFolioPages(proc, vma, vpage, swp) : 1;
      start = vpage - (vpage % nr);
      const first = swp.slot - (vpage - start);
      const cpp = this.geometry.cellsPerPage;
      const data = new Uint8Array(nr * cpp);
      for (let i = 0; i < nr; i++) {
        const s = this.slots.get(first + i)!;
        if (s.data) data.set(s.data, i * cpp); // swap_read_folio (a zeromap slot reads zeros)
      }
      folio = this.allocFolio(nr, true, null, data); // its one reference is the fault's
      if (fresh) {
        folio.swapin = true;
        this.swappedIn.push(folio);
      }
      if (!fresh) {
        folio.swap = first; // swapin_readahead: into the swap cache
        folio.refcount += nr;
        slot.folio = folio;
        slot.data = null;
      }
    } else {
      folio.refcount++; // swap_cache_get_folio: the fault's reference
      this.touched.frames.add(folio.pfn);
    }
    if (!fresh && folio.nr > 1) {
      // a large folio from the swap cache is mapped whole only where every entry of it is still here as it was
      start = vpage - (swp.slot - folio.swap!);
      const whole =
        start >= vma.start &&
        start + folio.nr <= vma.end &&
        this.base(start) === this.base(start + folio.nr - 1) &&
        Array.from({ length: folio.nr }, (_, i) => proc.swaps.get(start + i)).every(
          (o, i) => o?.slot === folio!.swap! + i && o.exclusive === swp.exclusive,
        );
      if (whole) nr = folio.nr;
      else start = vpage;
    }
    const exclusive = !folio.ksm && (fresh || swp.exclusive);
    const firstSlot = swp.slot - (vpage - start);
    const index = folio.swap === null ? 0 : firstSlot - folio.swap; // the folio's page mapped at `start`
    // swap_free_nr: the entries go; a slot no entry names and no folio caches is free
    for (let i = 0; i < nr; i++) {
      const s = this.slots.get(firstSlot + i)!;
      s.count--;
      if (s.count === 0 && !s.folio) this.slots.delete(s.slot);
      this.dropSwapPte(proc, start + i);
      this.touched.keys.add(keyOf(proc.pid, start + i));
    }
    // should_try_to_free_swap: a write fault where nothing else holds the folio (the swap cache's references aside)
    if (folio.swap !== null && write && !folio.ksm && folio.refcount === 1 + folio.nr) this.folioFreeSwap(folio);
    const reuse = this.swapInReuses(folio, exclusive);
    const writable = reuse && vma.prot === "rw"; // pte_mkwrite, and dirty for a write
    for (let i = 0; i < nr; i++) {
      const pfn = folio.pfn + index + i;
      if (i > 0) folio.refcount++; // folio_ref_add(folio, nr_pages - 1)
      if (reuse) folio.pageExclusive[index + i] = true; // RMAP_EXCLUSIVE
      this.addRmap(folio, pfn, keyOf(proc.pid, start + i));
      this.setPte(proc, start + i, { pfn, writable, dirty: writable && write, young: true });
    }
    const pte = proc.ptes.get(vpage)!;
    if (write && !pte.writable) this.doWpPage(proc, vma, vpage, pte, false);
  }

  /**
   * mm/memory.c alloc_swap_folio: the largest mTHP order the VMA's policy allows (below the PMD order) whose
   * aligned range lies in the VMA, sits at the same offset in its slots as in memory (thp_swap_suitable_orders),
   * and is all swap PTEs of consecutive slots with this entry's bits, none in the swap cache, all zero-filled or
   * none (can_swapin_thp); else a base page.
   */
  private swapFolioPages(proc: Proc, vma: Vma, vpage: number, swp: SwapPte): number {
    const zero = this.slots.get(swp.slot)!.zero;
    for (let order = this.geometry.hugeOrder - 1; order >= MIN_ANON_THP_ORDER; order--) {
      if (!this.thpAllowed(vma, order)) continue;
      const nr = 1 << order;
      const start = vpage - (vpage % nr);
      if (start < vma.start || start + nr > vma.end || vpage % nr !== swp.slot % nr) continue;
      const first = swp.slot - (vpage - start);
      let ok = true;
      for (let i = 0; ok && i < nr; i++) {
        const o = proc.swaps.get(start + i);
        const s = o && this.slots.get(o.slot);
        ok = !!s && o!.slot === first + i && o!.exclusive === swp.exclusive && !s.folio && s.zero === zero;
      }
      if (ok) return nr;
    }
    return 1;
  }

  // ---- GUP: references and pins

  /**
   * mm/gup.c __get_user_pages, page by page: fault the page in (for write: break COW), unshare a page a read-only
   * pin must not share (gup_must_unshare), then take the reference: FOLL_GET +1; FOLL_PIN +1024 on a small folio
   * or +1 and pincount +1 on a large one (try_grab_folio); the zero pages are never pinned. GUP-fast
   * (gup_fast_pte_range) takes what needs no fault and leaves the rest to this slow path, with the same result. A
   * range is all or nothing, as io_uring and gup_test take it: a page that cannot be had drops the references
   * taken (the faults stay done).
   */
  private pin(
    proc: Proc,
    vpage: number,
    pages: number | undefined,
    kind: PinKind,
    write: boolean,
    fast: boolean | undefined,
  ): MmObs {
    if (!this.inWindow(vpage, pages ?? 1) || (kind === "get" && write)) return err("EINVAL");
    if (kind !== "get") proc.hasPinned = true; // mm_set_has_pinned_flag, before any VMA is looked at
    const pfns: number[] = [];
    for (let v = vpage; v < vpage + (pages ?? 1); v++) {
      const pfn = this.gupPage(proc, v, kind, write);
      if (pfn === undefined) {
        for (const taken of pfns) this.ungrab(this.folioOf(taken), kind);
        return err("EFAULT");
      }
      pfns.push(pfn);
    }
    const handle = this.handles.take();
    this.pins.set(handle, { handle, pid: proc.pid, vpage, pfns, kind, write, range: pages !== undefined, fast });
    return { handle };
  }

  /**
   * mm/gup.c writable_file_mapping_allowed, for a writable FOLL_PIN | FOLL_LONGTERM: refused (EFAULT) where the VMA
   * needs dirty tracking (vma_needs_dirty_tracking: a shared writable mapping of a file whose filesystem writes
   * back, so a disk file, never shmem or hugetlbfs). GUP-fast refuses such folios too (gup_fast_folio_allowed).
   */
  protected writableFileMappingAllowed(vma: Vma): boolean {
    return !(vma.shared && vma.prot === "rw" && vma.disk);
  }

  /** One page of __get_user_pages (follow_page_mask, faultin_page, retry): the page grabbed, or undefined (EFAULT). */
  private gupPage(proc: Proc, vpage: number, kind: PinKind, write: boolean): number | undefined {
    const vma = findVma(proc.vmas, vpage);
    if (!vma || !this.checkVmaFlags(vma, write, false)) return undefined;
    if (write && kind === "longterm" && !this.writableFileMappingAllowed(vma)) return undefined;
    const flags: GupFlags = { write, force: false, cow: false };
    for (let attempt = 0; attempt < 4; attempt++) {
      const base = this.base(vpage);
      const pmd = proc.pmds.get(base);
      const entry = pmd ?? proc.ptes.get(vpage);
      const pfn = entry && (pmd ? pmd.pfn + (vpage - base) : entry.pfn);
      if (!entry || (write && !this.canFollowWrite(vma, entry, pfn!, pmd !== undefined, flags))) {
        if (!this.handleMmFault(proc, vpage, write, false)) return undefined;
        continue;
      }
      const folio = this.folioOf(pfn!);
      if (kind !== "get" && !write && this.gupMustUnshare(vma, folio, pfn!, kind === "longterm", !!pmd)) {
        this.handleMmFault(proc, vpage, false, true);
        continue;
      }
      this.grab(folio, kind);
      if (pmd && !vma.hugetlb) this.touchPmd(proc, base, pmd, write);
      return pfn;
    }
    throw new Error(`mm model: GUP at pid ${proc.pid} page ${vpage} did not settle`);
  }

  /**
   * mm/gup.c check_vma_flags: a write needs a writable VMA, or FOLL_FORCE in a private (COW) mapping, hugetlb
   * included (measured on 6.18; kernels before the hugetlb GUP rework refused it); every VMA here is readable.
   */
  protected checkVmaFlags(vma: Vma, write: boolean, force: boolean): boolean {
    return !write || vma.prot === "rw" || (force && !vma.shared);
  }

  /**
   * mm/gup.c can_follow_write_pte and mm/huge_memory.c can_follow_write_pmd: a writable entry, or (FOLL_FORCE in a
   * private read-only VMA) one mapping an exclusive anonymous page, which a write fault has made ours.
   */
  protected canFollowWrite(vma: Vma, entry: Pte, pfn: number, viaPmd: boolean, flags: GupFlags): boolean {
    if (entry.writable) return true;
    if (!flags.force || vma.shared || vma.prot === "rw" || pfn === ZERO_PFN) return false;
    const folio = this.folioOf(pfn);
    return folio.anon && !folio.zero && folio.pageExclusive[viaPmd ? 0 : pfn - folio.pfn] === true;
  }

  /** mm/huge_memory.c touch_pmd, for FOLL_TOUCH: the PMD young, and dirty for a write. */
  protected touchPmd(proc: Proc, base: number, pmd: Pte, write: boolean): void {
    pmd.young = true;
    if (write) pmd.dirty = true;
    this.touched.keys.add(keyOf(proc.pid, base));
  }

  /**
   * mm/internal.h gup_must_unshare, for FOLL_PIN without FOLL_WRITE: an anonymous page must be exclusive (a PMD
   * mapping reads the head's flag); a page-cache or zero page only for a longterm pin in a COW mapping.
   */
  protected gupMustUnshare(vma: Vma, folio: Folio, pfn: number, longterm: boolean, viaPmd: boolean): boolean {
    if (!folio.anon) return longterm && !vma.shared;
    return !folio.pageExclusive[viaPmd ? 0 : pfn - folio.pfn];
  }

  /** mm/gup.c try_grab_folio. */
  protected grab(folio: Folio, kind: PinKind): void {
    if (folio.zero) return;
    this.touched.frames.add(folio.pfn);
    if (kind === "get") folio.refcount++;
    else if (folio.nr > 1) {
      folio.refcount++;
      folio.pincount++;
    } else folio.refcount += GUP_PIN_COUNTING_BIAS;
  }

  /** mm/gup.c unpin_user_pages / put_page: every page of the reference let go of. */
  private releasePin(pin: Pin): void {
    this.pins.delete(pin.handle);
    this.handles.give(pin.handle);
    for (const pfn of pin.pfns) this.ungrab(this.folioOf(pfn), pin.kind);
  }

  /** mm/gup.c gup_put_folio: the reverse of grab. */
  private ungrab(folio: Folio, kind: PinKind): void {
    if (folio.zero) return;
    if (kind === "get") this.putFolio(folio);
    else if (folio.nr > 1) {
      folio.pincount--;
      this.putFolio(folio);
    } else this.putFolio(folio, GUP_PIN_COUNTING_BIAS);
  }

  // ---- khugepaged / MADV_COLLAPSE

  /**
   * mm/khugepaged.c collapse_huge_page: copy the aligned range into a new exclusive THP and map it by PMD. Only
   * in a private anonymous VMA with an anon_vma that covers the range and is not VM_NOHUGEPAGE, where a page table exists (empty,
   * or of zero pages: the THP is then zeros; 6.18 has no SCAN_PAGE_RO any more) and every mapped page is anonymous
   * (KSM pages are) and referenced only by its mappings (is_refcount_suitable); otherwise nothing happens
   * (khugepaged gives up silently).
   */
  protected collapse(proc: Proc, base: number): void {
    if (proc.pmds.has(base) || base + this.huge > this.geometry.pages) return;
    const vma = findVma(proc.vmas, base);
    if (!vma || vma.hugetlb || vma.shared || vma.cache || vma.nohugepage || vma.end < base + this.huge) return;
    if (!vma.anonVma || !proc.tables.has(base)) return; // hugepage_vma_revalidate needs an anon_vma; find_pmd_or_thp_or_none: SCAN_PMD_NULL
    const suitable = (isolate: boolean): boolean => {
      const small = new Set<Folio>();
      for (let i = 0; i < this.huge; i++) {
        const pte = proc.ptes.get(base + i);
        if (!pte || pte.pfn === ZERO_PFN) continue; // none_or_zero: no limit for MADV_COLLAPSE
        const folio = this.folioOf(pte.pfn);
        if (!folio.anon || !this.collapseRefcountSuitable(folio)) return false; // SCAN_PAGE_ANON, SCAN_PAGE_COUNT (a KSM page is anon)
        // __collapse_huge_page_isolate locks and isolates each small folio: a second PTE of the same one (a KSM page
        // merged twice in the range) finds it locked and off the LRU, and the collapse fails; the scan before it
        // locks nothing, so that collapse has swapped its pages in first
        if (isolate && folio.nr === 1 && small.has(folio)) return false;
        small.add(folio);
      }
      return true;
    };
    if (!suitable(false)) return; // hpage_collapse_scan_pmd (swap PTEs: no limit for MADV_COLLAPSE)
    // __collapse_huge_page_swapin: a read fault on each swap PTE, then __collapse_huge_page_isolate
    for (const vpage of this.swapsIn(proc, base, base + this.huge))
      if (proc.swaps.has(vpage)) this.doSwapPage(proc, vma, vpage, false);
    if (!suitable(true)) return;
    const key = keyOf(proc.pid, base);
    const folio = this.newHugeFolio(key);
    const cpp = this.geometry.cellsPerPage;
    for (let i = 0; i < this.huge; i++) {
      const pte = proc.ptes.get(base + i);
      if (!pte || pte.pfn === ZERO_PFN) continue;
      folio.data.set(this.pageData(pte.pfn), i * cpp); // __collapse_huge_page_copy
      this.copiedPages++;
    }
    this.zapRange(proc, base, base + this.huge, true);
    proc.tables.delete(base); // the table is deposited with the PMD that replaces it
    proc.pmds.set(base, { pfn: folio.pfn, writable: vma.prot === "rw", dirty: true, young: true });
    this.touched.keys.add(key);
  }

  /** mm/khugepaged.c is_refcount_suitable: no reference but the mappings and the swap cache's. */
  protected collapseRefcountSuitable(folio: Folio): boolean {
    return folio.refcount === folio.mapcount + (folio.swap !== null ? folio.nr : 0);
  }

  // ---- the mm operations KSM calls (KsmHost)

  /**
   * mm/huge_memory.c split_huge_page on an anonymous THP: refused while anything but the mappings holds it
   * (can_split_folio); else every mapping is unmapped (unmap_folio: PMDs split, TLBs flushed) and each page
   * becomes a folio of its own at the same pfn, mapped again where it was with its PageAnonExclusive
   * (remap_page) — but a page of zeros is mapped as the shared zero page instead (try_to_map_unused_to_zeropage,
   * RMP_USE_SHARED_ZEROPAGE). A page nobody maps any more is freed.
   */
  private splitHugePage(folio: Folio): boolean {
    if (folio.refcount !== folio.mapcount) return false;
    for (const key of [...folio.pmds]) this.splitPmd(this.procs.get(pidOf(key))!, vpageOf(key));
    this.frames.delete(folio.pfn);
    this.touched.frames.add(folio.pfn);
    const cpp = this.geometry.cellsPerPage;
    const pages = Array.from({ length: folio.nr }, (_, i) => {
      const page = new Folio(folio.pfn + i, 1, true, false, null, cpp);
      page.data.set(folio.data.subarray(i * cpp, (i + 1) * cpp));
      page.pageExclusive[0] = folio.pageExclusive[i];
      page.refcount = 0;
      this.frames.set(page.pfn, page);
      return page;
    });
    for (const key of folio.rmap) {
      const proc = this.procs.get(pidOf(key))!;
      const vpage = vpageOf(key);
      const pte = proc.ptes.get(vpage)!;
      const page = pages[pte.pfn - folio.pfn];
      this.tlbFlushPage(proc, vpage);
      if (page.data.every((c) => c === 0)) {
        this.setPte(proc, vpage, { pfn: ZERO_PFN, writable: false, dirty: false, young: pte.young });
        continue;
      }
      page.refcount++;
      this.addRmap(page, page.pfn, key);
    }
    for (const page of pages) {
      if (page.refcount) continue;
      this.frames.delete(page.pfn);
      this.touched.freed.push(page);
    }
    return true;
  }

  /** The page a process maps at `vpage`, through a PTE or a PMD. */
  private mappedPfn(proc: Proc, vpage: number): number | undefined {
    const pte = proc.ptes.get(vpage);
    if (pte) return pte.pfn === ZERO_PFN ? undefined : pte.pfn;
    const pmd = proc.pmds.get(this.base(vpage));
    return pmd && pmd.pfn !== this.hugeZeroPfn ? pmd.pfn + (vpage - this.base(vpage)) : undefined;
  }

  /** The PTE edit of mm/ksm.c write_protect_page (its refcount test is KSM's): a clean, read-only PTE of a shared page. */
  private wrprotectPte(proc: Proc, vpage: number): void {
    const pte = proc.ptes.get(vpage)!;
    const folio = this.folioOf(pte.pfn);
    folio.pageExclusive[0] = false; // folio_try_share_anon_rmap_pte
    pte.writable = false;
    pte.dirty = false;
    this.tlbFlushPage(proc, vpage); // ptep_clear_flush
    this.touched.keys.add(keyOf(proc.pid, vpage));
    this.touched.frames.add(folio.pfn);
  }

  /** mm/ksm.c folio_set_stable_node: a KSM page now, with its stable tree node or (`stable` false) none yet. */
  private setStableNode(folio: Folio, stable: boolean): void {
    folio.ksm = true;
    folio.ksmStable = stable;
    this.touched.frames.add(folio.pfn);
  }

  /** mm/ksm.c replace_page: the PTE now maps the KSM page, read-only and clean; the old page loses this mapping. */
  private replacePage(proc: Proc, vpage: number, kpage: Folio): void {
    const key = keyOf(proc.pid, vpage);
    const pte = proc.ptes.get(vpage)!;
    const old = this.folioOf(pte.pfn);
    kpage.refcount++;
    this.addRmap(kpage, kpage.pfn, key);
    this.setPte(proc, vpage, { pfn: kpage.pfn, writable: false, dirty: false, young: pte.young });
    this.removeRmap(old, old.pfn, key);
    if (old.swap !== null && old.mapcount === 0) this.folioFreeSwap(old); // if (!folio_mapped(folio)) folio_free_swap
    this.putFolio(old);
  }

  /**
   * mm/ksm.c break_ksm's unshare fault (FAULT_FLAG_UNSHARE) on a KSM page: wp_page_copy, a private read-only copy,
   * whose PTE 6.18 leaves dirty. Measured (one MADV_UNMERGEABLE of a merged page, cow_ksm +1): the copy's folio is
   * clean in /proc/kpageflags while smaps counts the mapping dirty, and a write to it faults once and keeps the page;
   * so a later write_protect_page of it runs its reference test.
   */
  private breakCow(proc: Proc, vpage: number): void {
    this.wpPageCopy(proc, findVma(proc.vmas, vpage)!, vpage, proc.ptes.get(vpage)!.pfn, true);
    proc.ptes.get(vpage)!.dirty = true;
  }
}
