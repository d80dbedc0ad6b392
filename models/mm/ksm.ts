// KSM, as mm/ksm.c runs it: ksmd's mm list, rmap_items with the checksum each page had when last scanned, the
// unstable tree of one full scan (a red-black tree by contents, whose search gives up at a node whose page is gone),
// the stable tree as chains of KSM pages (stable_node_dup, max_page_sharing), and cmp_and_merge_page with
// try_to_merge_two_pages and break_cow; MADV_UNMERGEABLE, ksm_fork and ksm_exit.
//
// KSM owns its state and reaches the rest of the model only through KsmHost: it reads processes and folios, and
// changes them by the few mm operations mm/ksm.c calls (a page-table walk, split_huge_page, the page-table edits
// of write_protect_page and replace_page, marking a KSM page, and break_ksm's unshare fault).
import { type RbNode, RbTree } from "./rbtree.ts";
import { findVma, KSM_MAX_PAGE_SHARING, keyOf, type MmFrameView, type MmProcView, pidOf, vpageOf } from "./types.ts";

/** What KSM needs of the model. Reads are the live structures; every change goes through one of the calls. */
export interface KsmHost {
  /** The processes: VMAs (VM_MERGEABLE), PTEs and PMDs. */
  readonly procs: ReadonlyMap<number, MmProcView>;
  /** Every live folio by head pfn: a KSM page missing here was freed (ksm_get_folio finds it stale). */
  readonly frames: ReadonlyMap<number, MmFrameView>;
  /** Pages per huge page. */
  readonly huge: number;
  /** The folio holding page `pfn`. */
  folioOf(pfn: number): MmFrameView;
  /** The cells of page `pfn` (calc_checksum and memcmp_pages read them). */
  pageData(pfn: number): Uint8Array;
  /** folio_walk_start: the page `pid` maps at `vpage` through a PTE or a PMD; none for a hole or a zero page. */
  mappedPfn(pid: number, vpage: number): number | undefined;
  /** mm/huge_memory.c split_huge_page on the THP holding `pfn`: false when refused (it holds more than its mappings). */
  splitHugePage(pfn: number): boolean;
  /** write_protect_page's edit of the PTE at `vpage`: PageAnonExclusive cleared, clean and read-only, TLB flushed. */
  wrprotectPte(pid: number, vpage: number): void;
  /** folio_set_stable_node: the small folio at `pfn` is a KSM page, with its stable tree node or (`stable` false) none yet. */
  setStableNode(pfn: number, stable: boolean): void;
  /** replace_page's edit: the PTE at `vpage` maps the KSM page `kpfn`, read-only and clean; the old page loses the mapping. */
  replacePage(pid: number, vpage: number, kpfn: number): void;
  /** break_ksm's unshare fault on the KSM page mapped at `vpage`: wp_page_copy gives the mapping a private, read-only copy. */
  breakCow(pid: number, vpage: number): void;
  /** folio_trylock / folio_unlock by the scanner: a locked folio is never reused by a write fault (it copies). */
  lockFolio(pfn: number, locked: boolean): void;
}

export class Ksm {
  /** ksmd's mm list (ksm_mm_head), in scan order. */
  private readonly mms: number[] = [];
  /** rmap_items by (pid, vpage): the checksum (here the contents) the page had when last scanned. */
  private readonly items = new Map<number, string>();
  /** The stable tree: by contents, the KSM pages holding them (a chain of dups, the one tried first at the head). */
  private readonly chains = new Map<string, MmFrameView[]>();
  /** The KSM page each rmap_item hangs on (stable_tree_append), and how many hang on each (rmap_hlist_len). */
  private readonly node = new Map<number, MmFrameView>();
  private readonly sharing = new Map<MmFrameView, number>();
  /** Whether the current full scan made a merge or split that stuck. */
  private progress = false;
  /** The folio the last try_to_merge_one_page without a kpage made a KSM page. */
  private merged: MmFrameView | undefined;

  constructor(private readonly mm: KsmHost) {}

  /**
   * ksmScan: full scans of ksmd until one changes nothing (the agent lets ksmd run at least three, in practice
   * dozens). A page first seen in this op only records its checksum in the first; the unstable tree merges from
   * the second on; a page scanned before the KSM page of its contents existed finds it in the next scan's stable
   * tree. Every merge or split that sticks moves a mapping to a KSM page or splits a THP, so this ends.
   */
  scan(): void {
    const run = this.scanSteps();
    while (!run.next().done);
  }

  /**
   * The scan as steps, for interleavings (docs/races.md): a step ends after each write_protect_page, where ksmd
   * holds the page lock but not the page-table lock; replace_page (or folio_set_stable_node) is the next step.
   */
  *scanSteps(): Generator<string, void> {
    for (let scan = 1; this.mms.length; scan++) {
      if (!(yield* this.fullScan()) && scan >= 2) break;
    }
  }

  /** mm/ksm.c __ksm_enter: the mm joins ksmd's list at its end (ksm_madvise, and ksm_fork for a child). */
  enter(pid: number): void {
    if (!this.mms.includes(pid)) this.mms.push(pid);
  }

  /** mm/ksm.c ksm_fork: the child of an mm on ksmd's list joins it too. */
  fork(parent: number, child: number): void {
    if (this.mms.includes(parent)) this.enter(child);
  }

  /** mm/ksm.c __ksm_exit: the mm leaves the list with its rmap_items (exit, and exec's new mm). */
  exit(pid: number): void {
    const i = this.mms.indexOf(pid);
    if (i >= 0) this.mms.splice(i, 1);
    for (const key of this.keys()) if (pidOf(key) === pid) this.forget(key);
  }

  /**
   * mm/ksm.c unmerge_ksm_pages → break_ksm over a range, page by page in address order; only a page with a PTE can
   * be a KSM page, so the range is walked through the PTEs it holds (walk_page_range skips empty tables too).
   */
  unmerge(pid: number, start: number, end: number): void {
    const proc = this.mm.procs.get(pid)!;
    const vpages: number[] = [];
    if (end - start <= proc.ptes.size) {
      for (let vpage = start; vpage < end; vpage++) if (proc.ptes.has(vpage)) vpages.push(vpage);
    } else {
      for (const vpage of proc.ptes.keys()) if (vpage >= start && vpage < end) vpages.push(vpage);
      vpages.sort((a, b) => a - b);
    }
    for (const vpage of vpages) this.breakKsm(proc, vpage);
  }

  /**
   * mm/ksm.c scan_get_next_rmap_item over the mm list, in the order the mms entered it (__ksm_enter appends
   * behind the cursor, which rests at the list head between the agent's scans), each mm by address: every anon
   * page mapped in a VM_MERGEABLE VMA is an rmap_item and goes through cmp_and_merge_page. An mm without any
   * mergeable VMA leaves the list; rmap_items of addresses the scan no longer meets are freed
   * (get_next_rmap_item, remove_trailing_rmap_items). The unstable tree starts empty each time. Whether a merge
   * or split stuck (a failed merge undone by break_cow does not count).
   */
  private *fullScan(): Generator<string, boolean> {
    this.progress = false;
    const unstable = new RbTree<number>(); // root_unstable_tree = RB_ROOT: rmap_items (keys) by their pages' contents
    const seen = new Set<number>();
    for (const pid of [...this.mms]) {
      const proc = this.mm.procs.get(pid)!;
      const vmas = proc.vmas.filter((v) => v.mergeable);
      if (!vmas.length) {
        this.mms.splice(this.mms.indexOf(pid), 1);
        continue;
      }
      const vpages: number[] = [];
      for (const vpage of proc.ptes.keys()) vpages.push(vpage);
      for (const base of proc.pmds.keys()) for (let i = 0; i < this.mm.huge; i++) vpages.push(base + i);
      for (const vpage of vpages.sort((a, b) => a - b)) {
        if (!findVma(vmas, vpage)) continue;
        const pfn = this.mm.mappedPfn(pid, vpage); // an earlier merge or split may have changed it
        if (pfn === undefined || !this.mm.folioOf(pfn).anon) continue; // folio_walk_start: zero pages and page cache are no items
        const key = keyOf(pid, vpage);
        seen.add(key);
        yield* this.cmpAndMergePage(proc, vpage, key, unstable);
      }
    }
    for (const key of this.keys()) if (!seen.has(key)) this.forget(key);
    return this.progress;
  }

  /** mm/ksm.c cmp_and_merge_page. */
  private *cmpAndMergePage(
    proc: MmProcView,
    vpage: number,
    key: number,
    unstable: RbTree<number>,
  ): Generator<string, void> {
    const pfn = this.mm.mappedPfn(proc.pid, vpage);
    if (pfn === undefined || !this.mm.folioOf(pfn).anon) return; // changed by another thread since the walk
    const folio = this.mm.folioOf(pfn);
    if (folio.ksm && folio.ksmStable) {
      if (this.node.get(key) !== folio) this.append(key, folio); // a forked mapping of it: appended past the limit
      return;
    }
    this.unlink(key); // remove_rmap_item_from_tree
    const sum = this.contents(pfn);
    if (this.items.get(key) !== sum) {
      this.items.set(key, sum); // a checksum that changed since the last scan: not a candidate yet
      return;
    }
    const kpage = this.stableTreeSearch(sum);
    if (kpage) {
      if (yield* this.tryToMergeOnePage(proc, vpage, kpage, 0)) {
        // try_to_merge_with_ksm_page
        this.append(key, kpage);
        this.progress = true;
      }
      return;
    }
    const twin = this.unstableTreeSearchInsert(key, pfn, unstable);
    if (!twin) return;
    const treeKey = twin.node.value;
    const tproc = this.mm.procs.get(pidOf(treeKey))!;
    const tvpage = vpageOf(treeKey);
    const tfolio = this.mm.folioOf(twin.pfn);
    const sameFolio = tfolio === folio; // two pages of one THP: each side holds a reference, so split_huge_page fails
    // try_to_merge_two_pages: the scanned page becomes the KSM page in place, then the tree page merges into it;
    // if the second half fails, break_cow undoes the first (a KSM page mapped by one PTE is no use)
    if (yield* this.tryToMergeOnePage(proc, vpage, null, sameFolio ? 1 : 0)) {
      // the page made a KSM page is the tree page's kpage, even if a write has since mapped a copy in its place
      const kfolio = this.merged!;
      if (yield* this.tryToMergeOnePage(tproc, tvpage, kfolio, 0)) {
        this.mm.setStableNode(kfolio.pfn, true); // stable_tree_insert: a new dup at the head of its chain
        this.chains.set(sum, [kfolio, ...(this.chains.get(sum) ?? [])]);
        this.append(treeKey, kfolio);
        this.append(key, kfolio);
        this.progress = true;
        unstable.erase(twin.node); // try_to_merge_with_ksm_page → remove_rmap_item_from_tree: off the tree once merged
      } else {
        this.breakKsm(proc, vpage);
      }
    } else if (sameFolio) {
      // cmp_and_merge_page's second try, with the tree page's reference dropped (made whatever this scan did before)
      if (this.mm.splitHugePage(folio.pfn)) this.progress = true;
    }
  }

  /**
   * mm/ksm.c unstable_tree_search_insert: down the tree from its root, comparing the page with each node's page as
   * it is now (memcmp_pages); the node of equal contents is the twin. The search gives up, inserting nothing, at a
   * node whose page is gone (get_mergeable_page: unmapped, no longer anonymous, a page of zeros now the zero page)
   * or is this very page (a forked page); so a stale node near the root keeps every later page of this full scan
   * out of the tree. Otherwise the page is linked where the search ended. The twin comes with its page.
   */
  private unstableTreeSearchInsert(
    key: number,
    pfn: number,
    unstable: RbTree<number>,
  ): { node: RbNode<number>; pfn: number } | undefined {
    const mine = this.mm.pageData(pfn);
    let parent: RbNode<number> | null = null;
    let left = false;
    for (let at = unstable.root; at; ) {
      const tpid = pidOf(at.value);
      const tpfn = this.mm.procs.has(tpid) ? this.mm.mappedPfn(tpid, vpageOf(at.value)) : undefined;
      if (tpfn === undefined || !this.mm.folioOf(tpfn).anon) return undefined;
      if (tpfn === pfn) return undefined; // "Don't substitute a ksm page for a forked page"
      const c = memcmp(mine, this.mm.pageData(tpfn));
      if (c === 0) return { node: at, pfn: tpfn };
      parent = at;
      left = c < 0;
      at = left ? at.left : at.right;
    }
    unstable.insert(key, parent, left);
    return undefined;
  }

  /**
   * mm/ksm.c stable_tree_search → stable_node_dup: the first KSM page of these contents (dups newest first) that
   * can take one more sharer (ksm_max_page_sharing); one that can take two more moves to the head. None when
   * all are full: the page then looks for a twin in the unstable tree, to start a new dup.
   */
  private stableTreeSearch(sum: string): MmFrameView | undefined {
    const chain = (this.chains.get(sum) ?? []).filter((k) => this.mm.frames.get(k.pfn) === k && k.ksm && k.ksmStable);
    if (chain.length) this.chains.set(sum, chain);
    else this.chains.delete(sum); // stale nodes are pruned (ksm_get_folio)
    const sharing = (k: MmFrameView): number => this.sharing.get(k) ?? 0;
    const i = chain.findIndex((k) => sharing(k) > 0 && sharing(k) < KSM_MAX_PAGE_SHARING);
    if (i < 0) return undefined;
    const found = chain[i];
    if (i > 0 && sharing(found) + 1 < KSM_MAX_PAGE_SHARING) chain.unshift(...chain.splice(i, 1));
    return found;
  }

  /** mm/ksm.c stable_tree_append: the rmap_item hangs on `kpage`. */
  private append(key: number, kpage: MmFrameView): void {
    this.unlink(key);
    this.node.set(key, kpage);
    this.sharing.set(kpage, (this.sharing.get(kpage) ?? 0) + 1);
  }

  private unlink(key: number): void {
    const k = this.node.get(key);
    if (!k) return;
    this.node.delete(key);
    const n = this.sharing.get(k)! - 1;
    if (n) this.sharing.set(k, n);
    else this.sharing.delete(k);
  }

  /** Every rmap_item: those with a checksum, and those appended to a KSM page without one (forked mappings). */
  private keys(): number[] {
    return [...new Set([...this.items.keys(), ...this.node.keys()])];
  }

  /** An rmap_item freed: its address is no longer met by the scan, or its mm is gone. */
  private forget(key: number): void {
    this.unlink(key);
    this.items.delete(key);
  }

  /**
   * mm/ksm.c try_to_merge_one_page: split a THP first; write_protect_page (a PTE that is writable, dirty or maps
   * an AnonExclusive page is made clean and read-only, but only when nothing but the mappings and the scanner
   * hold the page); then the page becomes a KSM page in place (`kpage` null) or is replaced by `kpage`.
   * `extraRefs`: references to the folio held besides the mappings and the scanner's own.
   */
  private *tryToMergeOnePage(
    proc: MmProcView,
    vpage: number,
    kpage: MmFrameView | null,
    extraRefs: number,
  ): Generator<string, boolean> {
    const at = this.mm.procs.has(proc.pid) ? this.mm.mappedPfn(proc.pid, vpage) : undefined;
    if (at === undefined) return false; // gone since (another thread's step)
    let folio = this.mm.folioOf(at);
    if (folio === kpage) return true; // "ksm page forked"
    // page_address_in_vma finds no anon_vma behind a KSM folio: write_protect_page and replace_page give up, so a
    // KSM page left outside the stable tree by a failed merge stays as it is until written or unmerged
    if (!folio.anon || folio.ksm) return false;
    if (folio.nr > 1) {
      if (extraRefs || !this.mm.splitHugePage(folio.pfn)) return false;
      this.progress = true; // the split stays, whatever the merge does
      const pfn = this.mm.mappedPfn(proc.pid, vpage);
      if (pfn === undefined) return false; // a page of zeros, now the zero page: write_protect_page finds it unmapped
      folio = this.mm.folioOf(pfn);
    }
    // folio_trylock: held until the merge is done, so a write fault meanwhile copies instead of reusing the page
    this.mm.lockFolio(folio.pfn, true);
    try {
      if (!this.writeProtectPage(proc, vpage, folio)) return false;
      // pages_identical, now that no write can reach the page: it may have changed since it was compared
      if (kpage && memcmp(this.mm.pageData(this.mm.mappedPfn(proc.pid, vpage)!), this.mm.pageData(kpage.pfn)) !== 0)
        return false;
      const pte = proc.ptes.get(vpage)!;
      const orig = { pfn: pte.pfn, writable: pte.writable, dirty: pte.dirty }; // write_protect_page's orig_pte
      yield `write_protect_page: pid ${proc.pid} page ${vpage}`;
      // ksmd's references keep both pages, which the model does not count: a page another thread's step freed (a
      // zap of its last mapping, a write's copy) gives the merge up, as pte_same would for the page left unmapped
      if (this.mm.frames.get(kpage ? kpage.pfn : folio.pfn) !== (kpage ?? folio)) return false;
      if (!kpage) {
        this.mm.setStableNode(folio.pfn, false); // folio_set_stable_node(folio, NULL): KSM now, in the stable tree once its twin follows
        this.merged = folio;
        return true;
      }
      // mm/ksm.c replace_page: under the page-table lock again, the PTE must be the one write-protected (pte_same)
      if (!this.pteSame(proc, vpage, orig)) return false;
      this.mm.replacePage(proc.pid, vpage, kpage.pfn);
      return true;
    } finally {
      this.mm.lockFolio(folio.pfn, false);
    }
  }

  /** replace_page's pte_same: the PTE at `vpage` is still the one write_protect_page left. */
  protected pteSame(
    proc: MmProcView,
    vpage: number,
    orig: { pfn: number; writable: boolean; dirty: boolean },
  ): boolean {
    const pte = this.mm.procs.has(proc.pid) ? proc.ptes.get(vpage) : undefined;
    return pte !== undefined && pte.pfn === orig.pfn && pte.writable === orig.writable && pte.dirty === orig.dirty;
  }

  /** mm/ksm.c write_protect_page: the refcount test (mayMerge) applies only to a PTE that needs protecting. */
  private writeProtectPage(proc: MmProcView, vpage: number, folio: MmFrameView): boolean {
    const pte = proc.ptes.get(vpage)!;
    if (!pte.writable && !pte.dirty && !folio.pageExclusive[0]) return true;
    if (!this.mayMerge(folio)) return false;
    this.mm.wrprotectPte(proc.pid, vpage);
    return true;
  }

  /** mm/ksm.c write_protect_page's test: mapcount + 1 (the scanner's) + the swap cache's == refcount: no GUP reference, no pin. */
  protected mayMerge(folio: MmFrameView): boolean {
    return folio.refcount === folio.mapcount + (folio.swap == null ? 0 : folio.nr);
  }

  /** mm/ksm.c break_cow → break_ksm: a KSM page (in the stable tree or not) gets an unshare fault: a private copy. */
  private breakKsm(proc: MmProcView, vpage: number): void {
    const pte = proc.ptes.get(vpage);
    if (pte && this.mm.folioOf(pte.pfn).ksm) this.mm.breakCow(proc.pid, vpage);
  }

  /** calc_checksum, and memcmp_pages: pages compare by their contents. */
  private contents(pfn: number): string {
    return this.mm.pageData(pfn).join(",");
  }
}

/** memcmp_pages: a page's bytes in order; a cell is one byte at its offset, every other byte zero. */
function memcmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
