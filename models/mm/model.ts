// Reference model of Linux 6.x anonymous memory: VMAs, page tables, an MMU with a TLB, struct page counts,
// the reverse map, PageAnonExclusive, fork (dup_mmap) and the write-fault path (do_wp_page).
// Shared anonymous memory is shmem: one page-cache object per mmap, whose pages hold a reference of their own.
//
// The model's live structures are its inspected state (MmState): inspect() hands them out without copying,
// together with what the last op touched, so invariants can be checked incrementally.
import type { Engine } from "../../engines/types.ts";
import {
  err,
  findVma,
  keyOf,
  OK,
  SEGV,
  type MadviseAdvice,
  type MmFrameView,
  type MmGeometry,
  type MmObs,
  type MmOp,
  type MmPteView,
  type MmState,
  type MmTlbView,
  type MmTouched,
  type MmVmaView,
  type Prot,
} from "./types.ts";

export interface Frame extends MmFrameView {
  refcount: number;
  mapcount: number;
  anonExclusive: boolean;
  readonly rmap: Set<number>;
  readonly data: Uint8Array;
  /** The shmem object whose page cache holds this page, if any. */
  readonly shmem: Shmem | null;
}

export interface Shmem {
  readonly pages: Map<number, Frame>;
  /** VMAs mapping it (the file reference each VMA holds). */
  users: number;
}

export interface Vma extends MmVmaView {
  start: number;
  end: number;
  prot: Prot;
  dontfork: boolean;
  wipeonfork: boolean;
  readonly shmem: Shmem | null;
  /** Page offset into shmem of `start`. */
  pgoff: number;
  /** Whether an anon_vma was prepared (a private page was ever allocated); fork copies PTEs only then. */
  anonVma: boolean;
}

export interface Pte extends MmPteView {
  pfn: number;
  writable: boolean;
  dirty: boolean;
  young: boolean;
}

export interface TlbEntry extends MmTlbView {
  readonly pfn: number;
  readonly writable: boolean;
  readonly dirty: boolean;
}

export interface Proc {
  readonly pid: number;
  vmas: Vma[];
  readonly ptes: Map<number, Pte>;
  readonly tlb: Map<number, TlbEntry>;
}

export const ZERO_PFN = 0;

export class MmModel implements Engine<MmOp, MmObs, MmState>, MmState {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect"]);

  readonly procs = new Map<number, Proc>();
  readonly frames = new Map<number, Frame>();
  allocations = 0;
  private nextPfn = ZERO_PFN + 1;
  readonly touched: MmTouched & { keys: Set<number>; frames: Set<number>; freed: Frame[] } = {
    keys: new Set(),
    frames: new Set(),
    freed: [],
  };

  constructor(readonly geometry: MmGeometry) {
    // The shared zero page: one reserved frame, never freed, never counted by mappings.
    this.frames.set(ZERO_PFN, {
      pfn: ZERO_PFN, refcount: 1, mapcount: 0, anonExclusive: false, zero: true, cached: false,
      rmap: new Set(), data: new Uint8Array(geometry.cellsPerPage), shmem: null,
    });
  }

  inspect(): MmState {
    return this;
  }

  apply(op: MmOp): MmObs {
    const t = this.touched;
    t.keys.clear();
    t.frames.clear();
    t.freed.length = 0;
    if (op.op === "spawn") return { pid: this.newProc([]).pid };
    const proc = this.procs.get(op.pid);
    if (!proc) return err("ESRCH");
    switch (op.op) {
      case "fork":
        return { pid: this.fork(proc).pid };
      case "exit":
        this.exitMmap(proc);
        this.procs.delete(proc.pid);
        return OK;
      case "exec":
        this.exitMmap(proc);
        return OK;
      case "read": {
        if (!this.inWindow(op.page, 1)) return err("EINVAL");
        const pfn = this.access(proc, op.page, false);
        return pfn === undefined ? SEGV : { data: Array.from(this.frames.get(pfn)!.data) };
      }
      case "write": {
        if (!this.inWindow(op.page, 1) || op.cell >= this.geometry.cellsPerPage) return err("EINVAL");
        const pfn = this.access(proc, op.page, true);
        if (pfn === undefined) return SEGV;
        this.frames.get(pfn)!.data[op.cell] = op.value;
        return OK;
      }
    }
    if (op.pages === 0) return op.op === "mprotect" || op.op === "madvise" ? OK : err("EINVAL"); // a zero length is fine only there
    if (!this.inWindow(op.page, op.pages)) return err("EINVAL");
    const end = op.page + op.pages;
    switch (op.op) {
      case "mmap":
        this.mmap(proc, op.page, end, op.prot, op.shared);
        return OK;
      case "munmap":
        this.munmap(proc, op.page, end);
        return OK;
      case "mprotect":
        return this.mprotect(proc, op.page, end, op.prot);
      case "madvise":
        return this.madvise(proc, op.page, end, op.advice);
    }
  }

  private inWindow(page: number, pages: number): boolean {
    return pages >= 1 && page + pages <= this.geometry.pages;
  }

  // ---- processes

  /** cowcheck pids are names, not Linux pids: spawn and fork take the lowest free one, so the generator can reach them. */
  private newProc(vmas: Vma[]): Proc {
    let pid = 1;
    while (this.procs.has(pid)) pid++;
    const proc: Proc = { pid, vmas, ptes: new Map(), tlb: new Map() };
    this.procs.set(proc.pid, proc);
    return proc;
  }

  /** kernel/fork.c dup_mmap: copy the VMAs, then the page tables of those that need it, then flush the parent's TLB. */
  private fork(parent: Proc): Proc {
    const child = this.newProc([]);
    for (const vma of parent.vmas) {
      if (vma.dontfork) continue; // VM_DONTCOPY
      if (vma.shmem) vma.shmem.users++;
      child.vmas.push({ ...vma, anonVma: vma.wipeonfork ? false : vma.anonVma });
    }
    for (const [vpage, pte] of parent.ptes) {
      const vma = findVma(parent.vmas, vpage)!;
      if (vma.dontfork || !this.vmaNeedsCopy(vma)) continue;
      this.copyPresentPte(parent, child, vpage, pte);
    }
    this.flushTlbMm(parent);
    return child;
  }

  /** mm/memory.c vma_needs_copy (plus dup_mmap's VM_WIPEONFORK test): only VMAs with an anon_vma have PTEs worth copying. */
  protected vmaNeedsCopy(vma: Vma): boolean {
    return vma.anonVma && !vma.wipeonfork;
  }

  /** mm/memory.c copy_present_pte: share the page, clear PageAnonExclusive, write-protect both sides of a COW mapping. */
  protected copyPresentPte(parent: Proc, child: Proc, vpage: number, pte: Pte): void {
    const childKey = keyOf(child.pid, vpage);
    if (pte.pfn !== ZERO_PFN) {
      const frame = this.frames.get(pte.pfn)!;
      frame.refcount++;
      frame.mapcount++;
      frame.anonExclusive = false; // folio_try_dup_anon_rmap_pte
      frame.rmap.add(childKey);
      this.touched.frames.add(frame.pfn);
    }
    if (pte.writable) {
      pte.writable = false; // ptep_set_wrprotect on the parent
      this.touched.keys.add(keyOf(parent.pid, vpage));
    }
    child.ptes.set(vpage, { pfn: pte.pfn, writable: false, dirty: pte.dirty, young: false }); // pte_mkold
    this.touched.keys.add(childKey);
  }

  /** kernel/fork.c dup_mmap ends with flush_tlb_mm(oldmm): the parent lost write permission on its PTEs. */
  protected flushTlbMm(proc: Proc): void {
    proc.tlb.clear();
  }

  /** kernel/fork.c mmput → mm/mmap.c exit_mmap: zap every PTE, drop every VMA (exit and exec alike). */
  private exitMmap(proc: Proc): void {
    for (const [vpage, pte] of proc.ptes) this.zapPte(proc, vpage, pte);
    proc.ptes.clear();
    proc.tlb.clear();
    for (const vma of proc.vmas) this.releaseVma(vma);
    proc.vmas = [];
  }

  // ---- VMAs

  /** mm/mmap.c do_mmap with MAP_FIXED: whatever was mapped in the range is unmapped first. */
  private mmap(proc: Proc, start: number, end: number, prot: Prot, shared: boolean): void {
    this.munmap(proc, start, end);
    const vma: Vma = {
      start, end, prot, shared, dontfork: false, wipeonfork: false, pgoff: 0, anonVma: false,
      shmem: shared ? { pages: new Map(), users: 1 } : null, // shmem_zero_setup
    };
    const i = proc.vmas.findIndex((v) => v.start >= end);
    proc.vmas.splice(i < 0 ? proc.vmas.length : i, 0, vma);
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
  }

  /** Make a VMA boundary at `vpage` (mm/vma.c split_vma); the halves share the anon_vma and the shmem file. */
  private splitAt(proc: Proc, vpage: number): void {
    const i = proc.vmas.findIndex((v) => v.start < vpage && vpage < v.end);
    if (i < 0) return;
    const v = proc.vmas[i];
    const tail: Vma = { ...v, start: vpage, pgoff: v.pgoff + (vpage - v.start) };
    if (v.shmem) v.shmem.users++;
    v.end = vpage;
    proc.vmas.splice(i + 1, 0, tail);
  }

  /** The VMAs covering [start, end) after splitting at both ends, in order; and whether a hole was met. */
  private vmasIn(proc: Proc, start: number, end: number): { vmas: Vma[]; hole: boolean } {
    this.splitAt(proc, start);
    this.splitAt(proc, end);
    const vmas = proc.vmas.filter((v) => v.start >= start && v.end <= end);
    let covered = start;
    let hole = false;
    for (const v of vmas) {
      if (v.start !== covered) hole = true;
      covered = v.end;
    }
    return { vmas, hole: hole || covered !== end };
  }

  private releaseVma(vma: Vma): void {
    const shmem = vma.shmem;
    if (!shmem || --shmem.users > 0) return;
    // Last mapping of a MAP_SHARED|MAP_ANONYMOUS object: the shmem file goes, and with it its page cache.
    for (const frame of shmem.pages.values()) this.putFrame(frame);
    shmem.pages.clear();
  }

  /** mm/mprotect.c do_mprotect_pkey: applies VMA by VMA and stops with ENOMEM at the first hole. */
  private mprotect(proc: Proc, start: number, end: number, prot: Prot): MmObs {
    const { vmas } = this.vmasIn(proc, start, end);
    let at = start;
    for (const vma of vmas) {
      if (vma.start !== at) return err("ENOMEM");
      vma.prot = prot;
      this.changeProtection(proc, vma);
      at = vma.end;
    }
    return at === end ? OK : err("ENOMEM");
  }

  /** mm/mprotect.c change_pte_range: drop write (flushing the TLB) or restore it where the write fault would. */
  private changeProtection(proc: Proc, vma: Vma): void {
    for (let vpage = vma.start; vpage < vma.end; vpage++) {
      const pte = proc.ptes.get(vpage);
      if (!pte) continue;
      const key = keyOf(proc.pid, vpage);
      if (vma.prot === "r") {
        if (pte.writable) {
          pte.writable = false;
          this.tlbFlushPage(proc, vpage);
          this.touched.keys.add(key);
        }
      } else if (!pte.writable && (vma.shared || this.canChangePrivatePteWritable(pte))) {
        pte.writable = true; // shmem's vm_page_prot is writable; private: can_change_pte_writable
        this.touched.keys.add(key);
      }
    }
  }

  /** mm/mprotect.c can_change_pte_writable, private branch: only an exclusive anonymous page may be made writable. */
  private canChangePrivatePteWritable(pte: Pte): boolean {
    return pte.pfn !== ZERO_PFN && this.frames.get(pte.pfn)!.anonExclusive;
  }

  /** mm/madvise.c madvise_walk_vmas: visit each VMA in range; remember a hole as ENOMEM; stop at a real error. */
  private madvise(proc: Proc, start: number, end: number, advice: MadviseAdvice): MmObs {
    const { vmas, hole } = this.vmasIn(proc, start, end);
    for (const vma of vmas) {
      switch (advice) {
        case "dontneed":
          this.madviseDontneed(proc, vma);
          break;
        case "dontfork":
          vma.dontfork = true;
          break;
        case "dofork":
          vma.dontfork = false;
          break;
        case "wipeonfork":
          if (vma.shared) return err("EINVAL"); // madvise_vma_behavior: anonymous private only
          vma.wipeonfork = true;
          break;
        case "keeponfork":
          vma.wipeonfork = false;
          break;
      }
    }
    return hole ? err("ENOMEM") : OK;
  }

  /** mm/madvise.c madvise_dontneed_single_vma → zap_page_range_single: PTEs go, the TLB is flushed; shmem keeps its pages. */
  protected madviseDontneed(proc: Proc, vma: Vma): void {
    this.zapRange(proc, vma.start, vma.end, true);
  }

  // ---- page tables

  /** mm/memory.c zap_pte_range over [start, end), with the TLB flush of tlb_finish_mmu when `flush`. */
  protected zapRange(proc: Proc, start: number, end: number, flush: boolean): void {
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
  }

  /** One PTE's share of zap_pte_range: remove the rmap entry and drop the mapping's reference. */
  private zapPte(proc: Proc, vpage: number, pte: Pte): void {
    const key = keyOf(proc.pid, vpage);
    this.touched.keys.add(key);
    if (pte.pfn === ZERO_PFN) return;
    const frame = this.frames.get(pte.pfn)!;
    this.removeRmap(frame, key);
    this.putFrame(frame);
  }

  private tlbFlushPage(proc: Proc, vpage: number): void {
    proc.tlb.delete(vpage);
  }

  // ---- frames

  private allocFrame(shmem: Shmem | null, from?: Uint8Array): Frame {
    const frame: Frame = {
      pfn: this.nextPfn++, refcount: 1, mapcount: 0, anonExclusive: false, zero: false, cached: shmem !== null,
      rmap: new Set(), data: from ? from.slice() : new Uint8Array(this.geometry.cellsPerPage), shmem,
    };
    this.frames.set(frame.pfn, frame);
    this.allocations++;
    this.touched.frames.add(frame.pfn);
    return frame;
  }

  /** A new exclusive anonymous page (folio_add_new_anon_rmap), zeroed or a copy of `from`, mapped at `key`. */
  protected newAnonPage(key: number, from?: Uint8Array): Frame {
    const frame = this.allocFrame(null, from);
    frame.anonExclusive = true;
    this.addRmap(frame, key);
    return frame;
  }

  /** mm/rmap.c folio_add_*_rmap_pte: one more PTE maps the frame (the caller holds the reference it hands over). */
  private addRmap(frame: Frame, key: number): void {
    frame.mapcount++;
    frame.rmap.add(key);
    this.touched.frames.add(frame.pfn);
  }

  /** mm/rmap.c folio_remove_rmap_pte. */
  protected removeRmap(frame: Frame, key: number): void {
    frame.mapcount--;
    frame.rmap.delete(key);
    this.touched.frames.add(frame.pfn);
  }

  /** folio_put: drop one reference; the last one frees the frame. */
  protected putFrame(frame: Frame): void {
    this.touched.frames.add(frame.pfn);
    if (--frame.refcount > 0) return;
    this.frames.delete(frame.pfn);
    this.touched.freed.push(frame);
  }

  private setPte(proc: Proc, vpage: number, pte: Pte): void {
    const old = proc.ptes.get(vpage);
    proc.ptes.set(vpage, pte);
    if (old && old.pfn !== pte.pfn) this.tlbFlushPage(proc, vpage); // ptep_clear_flush
    this.touched.keys.add(keyOf(proc.pid, vpage));
  }

  // ---- the MMU and the fault handler

  /**
   * One access as the hardware does it: TLB, then the page-table walk (setting young, and dirty on write),
   * then a page fault (handle_mm_fault) and a retry. Returns the frame accessed, or undefined for SIGSEGV.
   */
  private access(proc: Proc, vpage: number, write: boolean): number | undefined {
    const hit = proc.tlb.get(vpage);
    // A write through a clean TLB entry re-walks to set the dirty bit (x86 behaviour).
    if (hit && (!write || (hit.writable && hit.dirty))) return hit.pfn;
    for (let attempt = 0; attempt < 2; attempt++) {
      const pte = proc.ptes.get(vpage);
      if (pte && (!write || pte.writable)) {
        pte.young = true;
        if (write) pte.dirty = true;
        proc.tlb.set(vpage, { pfn: pte.pfn, writable: pte.writable, dirty: pte.dirty });
        this.touched.keys.add(keyOf(proc.pid, vpage));
        return pte.pfn;
      }
      if (attempt === 0 && !this.handleMmFault(proc, vpage, write)) return undefined;
    }
    throw new Error(`mm model: fault at pid ${proc.pid} page ${vpage} did not resolve`);
  }

  /** mm/memory.c handle_mm_fault (after arch access_error): returns false for SIGSEGV. */
  private handleMmFault(proc: Proc, vpage: number, write: boolean): boolean {
    const vma = findVma(proc.vmas, vpage);
    if (!vma || (write && vma.prot !== "rw")) return false; // bad_area / access_error
    const pte = proc.ptes.get(vpage);
    if (!pte) {
      if (vma.shmem) this.doSharedFault(proc, vma, vpage, write);
      else this.doAnonymousPage(proc, vma, vpage, write);
    } else if (write && !pte.writable) {
      this.doWpPage(proc, vma, vpage, pte);
    }
    return true;
  }

  /** mm/memory.c do_anonymous_page: a read maps the zero page read-only; a write allocates an exclusive page. */
  private doAnonymousPage(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    if (!write) {
      this.setPte(proc, vpage, { pfn: ZERO_PFN, writable: false, dirty: false, young: true });
      return;
    }
    vma.anonVma = true; // anon_vma_prepare
    const frame = this.newAnonPage(keyOf(proc.pid, vpage));
    this.setPte(proc, vpage, { pfn: frame.pfn, writable: true, dirty: true, young: true });
  }

  /** mm/memory.c do_read_fault / do_shared_fault via shmem_fault: find or allocate the page-cache page and map it. */
  private doSharedFault(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    const shmem = vma.shmem!;
    const index = vma.pgoff + (vpage - vma.start);
    let frame = shmem.pages.get(index);
    if (!frame) {
      frame = this.allocFrame(shmem); // the page cache's own reference
      shmem.pages.set(index, frame);
    }
    frame.refcount++; // the mapping's reference
    this.addRmap(frame, keyOf(proc.pid, vpage));
    // A writable shared shmem mapping has a writable vm_page_prot (no writenotify), so even a read maps it writable.
    this.setPte(proc, vpage, { pfn: frame.pfn, writable: vma.prot === "rw", dirty: write, young: true });
  }

  /** mm/memory.c do_wp_page: write to a present, write-protected PTE in a writable VMA. */
  private doWpPage(proc: Proc, vma: Vma, vpage: number, pte: Pte): void {
    if (vma.shared) {
      this.wpPageReuse(proc, vpage, pte); // wp_page_shared: never copies
      return;
    }
    if (pte.pfn === ZERO_PFN) {
      this.wpZeroPage(proc, vma, vpage, pte);
      return;
    }
    const frame = this.frames.get(pte.pfn)!;
    if (frame.anonExclusive || this.wpCanReuseAnonFolio(frame)) {
      frame.anonExclusive = true; // folio_move_anon_rmap + SetPageAnonExclusive
      this.touched.frames.add(frame.pfn);
      this.wpPageReuse(proc, vpage, pte);
      return;
    }
    this.wpPageCopy(proc, vma, vpage, frame);
  }

  /** mm/memory.c wp_can_reuse_anon_folio: reuse only when ours is the only reference (refcount, not mapcount). */
  protected wpCanReuseAnonFolio(frame: Frame): boolean {
    return frame.refcount === 1;
  }

  /** mm/memory.c wp_page_reuse. */
  private wpPageReuse(proc: Proc, vpage: number, pte: Pte): void {
    pte.writable = true;
    pte.dirty = true;
    pte.young = true;
    this.touched.keys.add(keyOf(proc.pid, vpage));
  }

  /** wp_page_copy on the zero page: allocate a zeroed page (is_zero_pfn → vma_alloc_zeroed_movable_folio). */
  protected wpZeroPage(proc: Proc, vma: Vma, vpage: number, _pte: Pte): void {
    this.wpPageCopy(proc, vma, vpage, undefined);
  }

  /** mm/memory.c wp_page_copy: one new exclusive page, mapped writable; the old one loses this mapping. */
  protected wpPageCopy(proc: Proc, vma: Vma, vpage: number, old: Frame | undefined): void {
    vma.anonVma = true; // vmf_anon_prepare
    const key = keyOf(proc.pid, vpage);
    const frame = this.newAnonPage(key, old?.data);
    this.setPte(proc, vpage, { pfn: frame.pfn, writable: true, dirty: true, young: true });
    if (old) this.releaseOldPage(old, key);
  }

  /** The tail of wp_page_copy: folio_remove_rmap_pte and folio_put on the page that was copied. */
  protected releaseOldPage(old: Frame, key: number): void {
    this.removeRmap(old, key);
    this.putFrame(old);
  }
}
