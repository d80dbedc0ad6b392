// The mm mutant zoo: the reference model with one deliberate, documented bug each. The properties must kill
// every one of them; `cowcheck mutants --layer mm` shows how fast.
import { type Mutant, mutantOf } from "../../../core/index.ts";
import { Ksm, type KsmHost } from "../ksm.ts";
import { type Folio, type GupFlags, MmModel, type Proc, type Pte, type SwapPte, type Vma, ZERO_PFN } from "../model.ts";
import {
  keyOf,
  type MmGeometry,
  type MmObs,
  type MmOp,
  type MmProcView,
  type MmState,
  mthpGeometry,
} from "../types.ts";

type MmMutant = Mutant<MmOp, MmObs, MmState, MmGeometry>;

const mutant = (
  name: string,
  mimics: string,
  Model: new (g: MmGeometry) => MmModel,
  killedBy?: "economy" | "invariant",
  prefers?: Partial<MmGeometry>,
): MmMutant => mutantOf<MmOp, MmObs, MmState, MmGeometry>(name, mimics, Model, killedBy, undefined, prefers);

/**
 * __wp_can_reuse_large_anon_folio without the FOLIO_MM_IDS_SHARED test: a large folio whose references are all
 * mappings is reused though another process maps part of it (CVE-2020-29374's class, for mTHP).
 */
class MthpReuseShared extends MmModel {
  protected override wpCanReuseAnonFolio(proc: Proc, folio: Folio): boolean {
    if (folio.nr === 1 || folio.entireMapcount > 0) return super.wpCanReuseAnonFolio(proc, folio);
    return !folio.ksm && folio.mapcount > 1 && folio.refcount === folio.mapcount; // BUG: the shared bit not asked
  }
}

/**
 * folio_add_new_anon_rmap as before "mm: non-pmd-mappable, large folios for folio_add_new_anon_rmap()" (6.8): a new
 * mTHP gets PageAnonExclusive on its head page only, as a PMD-mappable folio does, yet all its pages are mapped
 * writable.
 */
class MthpHeadOnlyExclusive extends MmModel {
  protected override mapNewAnonFolio(proc: Proc, start: number, folio: Folio, writable: boolean): void {
    super.mapNewAnonFolio(proc, start, folio, writable);
    folio.pageExclusive.fill(false, 1); // BUG: only the head marked
  }
}

/**
 * alloc_anon_folio without pte_range_none: an order is chosen although pages of its range are already mapped, and
 * set_ptes maps the new folio over them.
 */
class MthpFaultOverPresent extends MmModel {
  protected override pteRangeNone(_proc: Proc, _start: number, _nr: number): boolean {
    return true; // BUG: the range is not looked at
  }
}

/** copy_present_pte forgets ptep_set_wrprotect on the parent: the parent writes straight into the shared page. */
class ForkParentWritable extends MmModel {
  protected override copyPresentPte(parent: Proc, child: Proc, vma: Vma, vpage: number, pte: Pte): void {
    const writable = pte.writable;
    super.copyPresentPte(parent, child, vma, vpage, pte);
    pte.writable = writable; // BUG: the parent's PTE stays writable
  }
}

/** dup_mmap without flush_tlb_mm: the parent's PTEs are read-only but its TLB still grants write. */
class ForkNoTlbFlush extends MmModel {
  protected override flushTlbMm(_proc: Proc): void {
    // BUG: no flush
  }
}

/** PageAnonExclusive survives fork: the next write by either side "reuses" a page the other still maps. */
class ForkKeepsExclusive extends MmModel {
  protected override copyPresentPte(parent: Proc, child: Proc, vma: Vma, vpage: number, pte: Pte): void {
    const folio = pte.pfn === ZERO_PFN ? undefined : this.folioOf(pte.pfn);
    const i = folio ? pte.pfn - folio.pfn : 0;
    const exclusive = folio?.pageExclusive[i] ?? false;
    super.copyPresentPte(parent, child, vma, vpage, pte);
    if (folio) folio.pageExclusive[i] = exclusive; // BUG: folio_try_dup_anon_rmap_pte did not clear it
  }
}

/** do_wp_page reuses a page other processes still map (the pre-COW bug that Dirty COW's write path resembles). */
class WpReuseShared extends MmModel {
  protected override wpCanReuseAnonFolio(_proc: Proc, _folio: Folio): boolean {
    return true; // BUG: no refcount check
  }
}

/** wp_page_copy forgets folio_put on the old page: it is never freed (a refcount leak). */
class WpCopyLeak extends MmModel {
  protected override releaseOldPage(old: Folio, pfn: number, key: number): void {
    this.removeRmap(old, pfn, key); // BUG: no putFolio(old)
  }
}

/** wp_page_copy forgets folio_remove_rmap_pte: the old page's rmap and mapcount still name the copied PTE. */
class WpCopyStaleRmap extends MmModel {
  protected override releaseOldPage(old: Folio, _pfn: number, _key: number): void {
    this.putFolio(old); // BUG: no removeRmap(old, pfn, key)
  }
}

/** MADV_DONTNEED zaps PTEs without flushing the TLB (the stale-TLB class of CVE-2018-18281). */
class DontneedNoTlbFlush extends MmModel {
  protected override madviseDontneed(proc: Proc, start: number, end: number): void {
    this.zapRange(proc, start, end, false); // BUG: flush = false
  }
}

/** VM_WIPEONFORK ignored: the child inherits the parent's secrets (what MADV_WIPEONFORK exists to prevent). */
class WipeonforkIgnored extends MmModel {
  protected override vmaNeedsCopy(vma: Vma): boolean {
    return vma.anonVma !== 0; // BUG: wipeonfork VMAs copied too
  }
}

/** A write fault on the zero page writes the zero page itself: every untouched page now reads the value. */
class ZeroPageWrittenInPlace extends MmModel {
  protected override wpZeroPage(proc: Proc, vma: Vma, vpage: number, pte: Pte, unshare: boolean): void {
    if (unshare) {
      super.wpZeroPage(proc, vma, vpage, pte, unshare); // the bug is in the write path
      return;
    }
    pte.writable = true; // BUG: reuse instead of allocating a zeroed page
    pte.dirty = true;
  }
}

/** An eager engine: fork copies every private page up front. Right data, no copy-on-write: only economy fails. */
class EagerFork extends MmModel {
  protected override copyPresentPte(parent: Proc, child: Proc, vma: Vma, vpage: number, pte: Pte): void {
    // the zero page is everyone's; a private file page not yet written is the file's
    if (pte.pfn === ZERO_PFN || !this.folioOf(pte.pfn).anon) {
      super.copyPresentPte(parent, child, vma, vpage, pte);
      return;
    }
    // BUG (economically): copy_present_page for every page, as if every page were pinned.
    const copy = this.newAnonPage(keyOf(child.pid, vpage), this.pageData(pte.pfn));
    this.copiedPages++;
    child.ptes.set(vpage, { pfn: copy.pfn, writable: pte.writable, dirty: true, young: false });
    this.touched.keys.add(keyOf(child.pid, vpage));
  }
}

// ---- pins, THP, KSM, files

/** do_wp_page decides reuse by mapcount (pre-5.8 "page_mapcount == 1"): a GUP reference no longer forces a copy (CVE-2020-29374). */
class WpReuseByMapcount extends MmModel {
  protected override wpCanReuseAnonFolio(_proc: Proc, folio: Folio): boolean {
    return !folio.ksm && folio.mapcount === 1; // BUG: mapcount, not refcount
  }
}

/** fork shares a maybe-pinned page instead of copying it for the child (no folio_needs_cow_for_dma). */
class ForkSharesPinned extends MmModel {
  protected override needsCowForDma(): boolean {
    return false; // BUG
  }
}

/**
 * hugetlb_wp without its folio_test_anon test: a page-cache huge page mapped once by a MAP_PRIVATE mapping is
 * reused, so the private write lands in the file (Dirty COW's effect, CVE-2016-5195, on hugetlbfs).
 */
class HugetlbPrivateFileReused extends MmModel {
  protected override hugetlbCanReuse(folio: Folio): boolean {
    return folio.mapcount === 1; // BUG: a page-cache page too
  }
}

/**
 * GUP before Linux 6.5 ("mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings"): a writable
 * longterm pin of a shared mapping of a disk file is taken, so a device may write a page the filesystem has cleaned
 * and written back (the ext4 crashes on pages dirtied behind its back that led to the check).
 */
class DiskFileLongtermPinAllowed extends MmModel {
  protected override writableFileMappingAllowed(): boolean {
    return true; // BUG: no vma_needs_dirty_tracking test
  }
}

/** A read-only FOLL_PIN of a shared anonymous page without the unshare fault: the pin loses coherency with the process. */
class RoPinNoUnshare extends MmModel {
  protected override gupMustUnshare(): boolean {
    return false; // BUG: no gup_must_unshare
  }
}

/** A CoW fault on a shared THP copies the whole huge page into a new THP instead of splitting and copying one page. */
class ThpCowCopiesHuge extends MmModel {
  protected override splitAndRetry(proc: Proc, vma: Vma, base: number, vpage: number, unshare: boolean): void {
    const pmd = proc.pmds.get(base)!;
    if (pmd.pfn === this.hugeZeroPfn) {
      super.splitAndRetry(proc, vma, base, vpage, unshare);
      return;
    }
    // BUG (economically): every page is copied into a fresh exclusive THP.
    const key = keyOf(proc.pid, base);
    const folio = this.newHugeFolio(key);
    folio.data.set(this.folioOf(pmd.pfn).data);
    this.copiedPages += this.huge;
    this.zapPmd(proc, base, pmd);
    for (let i = 0; i < this.huge; i++) proc.tlb.delete(base + i);
    proc.pmds.set(base, { pfn: folio.pfn, writable: !unshare && vma.prot === "rw", dirty: !unshare, young: true });
  }
}

/** After splitting a shared THP, the CoW copy takes the contents of the wrong subpage (the head's). */
class ThpCowWrongSubpage extends MmModel {
  protected override splitAndRetry(proc: Proc, vma: Vma, base: number, vpage: number, unshare: boolean): void {
    const head = proc.pmds.get(base)!.pfn;
    super.splitAndRetry(proc, vma, base, vpage, unshare);
    const now = proc.ptes.get(vpage)!.pfn;
    if (now !== head + (vpage - base)) this.pageData(now).set(this.pageData(head)); // BUG: copied from subpage 0
  }
}

/** wp_can_reuse_anon_folio without its KSM test ("KSM doesn't necessarily raise the refcount"): a KSM page is reused on write. */
class KsmReuse extends MmModel {
  protected override wpCanReuseAnonFolio(_proc: Proc, folio: Folio): boolean {
    return folio.nr === 1 && folio.refcount === 1; // BUG: no folio_test_ksm
  }
}

/** KSM merges a page that holds GUP references or pins (no mapcount + 1 == refcount test in write_protect_page). */
class KsmMergesPinned extends Ksm {
  protected override mayMerge(): boolean {
    return true; // BUG
  }
}

/**
 * replace_page without its pte_same test (mm/ksm.c has had it since 2.6.32): ksmd maps the KSM page though the PTE
 * changed after write_protect_page. A write fault in between found the page locked, copied it and wrote the copy;
 * the KSM page then takes the copy's place, and the write is lost. Only an interleaving shows it.
 */
class KsmNoPteSame extends Ksm {
  protected override pteSame(proc: MmProcView, vpage: number): boolean {
    return proc.ptes.has(vpage); // BUG: the PTE is not compared with orig_pte
  }
}

class WithKsmNoPteSame extends MmModel {
  protected override newKsm(mm: KsmHost): Ksm {
    return new KsmNoPteSame(mm);
  }
}

class WithKsmMergesPinned extends MmModel {
  protected override newKsm(mm: KsmHost): Ksm {
    return new KsmMergesPinned(mm);
  }
}

/** A write fault on a MAP_PRIVATE file page writes the page cache itself: what Dirty COW (CVE-2016-5195) achieved. */
class PrivateWriteReachesFile extends MmModel {
  protected override doPrivateFileFault(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    if (!write) {
      super.doPrivateFileFault(proc, vma, vpage, write);
      return;
    }
    super.doPrivateFileFault(proc, vma, vpage, false); // BUG: map the page-cache page itself ...
    const pte = proc.ptes.get(vpage)!;
    pte.writable = true; // ... and let the write through
    pte.dirty = true;
  }
}

/** A read fault on a MAP_PRIVATE file copies the page: the mapping stops seeing file updates before it was written. */
class PrivateFileStale extends MmModel {
  protected override doPrivateFileFault(proc: Proc, vma: Vma, vpage: number, write: boolean): void {
    super.doPrivateFileFault(proc, vma, vpage, true); // BUG: do_cow_fault for a read
    if (write) return;
    const pte = proc.ptes.get(vpage)!;
    pte.writable = false;
    pte.dirty = false;
  }
}

/**
 * Dirty COW (CVE-2016-5195), __get_user_pages before 19be0eaffa3a: once faultin_page had broken COW in a VMA that is
 * not writable, GUP dropped FOLL_WRITE so that the retry would take the read-only copy. A MADV_DONTNEED between the
 * fault and the retry zaps the copy; the retry, a read now, faults in the page cache's page read-only and takes it,
 * and the write lands in the file. Run in a row, the retry finds the copy: only an interleaving shows it.
 */
class DirtyCow extends MmModel {
  protected override afterGupFault(vma: Vma, flags: GupFlags): GupFlags {
    return flags.write && vma.prot !== "rw" ? { ...flags, write: false } : flags; // BUG: foll_flags &= ~FOLL_WRITE
  }
}

/**
 * Huge Dirty COW (CVE-2017-1000405), the kernels between 19be0eaffa3a and a8f97366452e: after a COW fault in a VMA
 * that is not writable, a forced write's retry (FOLL_COW) takes a read-only entry if it is dirty
 * (can_follow_write_pte/pmd), and touch_pmd marks a PMD dirty on any FOLL_TOUCH follow, a read's too. Zapped between
 * that fault and the retry and read back in, the range maps the huge zero page; a forced read dirties its PMD, and
 * the retry writes into the huge zero page, which every untouched huge range reads. In a row, the retry finds the
 * copy its fault made: only an interleaving shows it.
 */
class HugeDirtyCow extends MmModel {
  protected override afterGupFault(vma: Vma, flags: GupFlags): GupFlags {
    return flags.write && vma.prot !== "rw" ? { ...flags, cow: true } : flags; // FOLL_COW
  }
  protected override canFollowWrite(_vma: Vma, entry: Pte, _pfn: number, _viaPmd: boolean, flags: GupFlags): boolean {
    return entry.writable || (flags.force && flags.cow && entry.dirty); // 19be0eaffa3a's FOLL_COW test
  }
  protected override touchPmd(proc: Proc, base: number, pmd: Pte): void {
    super.touchPmd(proc, base, pmd, true); // BUG: pmd_mkdirty for a read too
  }
}

/** A write fault on the huge zero page makes its PMD writable: every untouched huge range now reads the value. */
class HugeZeroWritten extends MmModel {
  protected override doHugePmdWpPage(
    proc: Proc,
    vma: Vma,
    base: number,
    pmd: Pte,
    vpage: number,
    unshare: boolean,
  ): void {
    if (pmd.pfn !== this.hugeZeroPfn || unshare) {
      super.doHugePmdWpPage(proc, vma, base, pmd, vpage, unshare);
      return;
    }
    pmd.writable = true; // BUG
    pmd.dirty = true;
  }
}

/** do_huge_pmd_wp_page reuses a shared THP mapped once, ignoring GUP references: CVE-2020-29374 at PMD level. */
class ThpReuseByMapcount extends MmModel {
  protected override hugePmdCanReuse(folio: Folio): boolean {
    return !folio.ksm && folio.mapcount === 1; // BUG: mapcount, not refcount
  }
}

/** khugepaged collapses pages that hold pins (no is_refcount_suitable test): the device keeps the old page. */
class CollapsePinned extends MmModel {
  protected override collapseRefcountSuitable(): boolean {
    return true; // BUG
  }
}

/**
 * copy_nonpresent_pte without "Mark the swap entry as shared" (the PG_anon_exclusive-in-swap-PTE series, 5.19): the
 * parent's swap entry stays exclusive after fork, so its swap-in maps the page shared with the child writable.
 */
class SwapForkKeepsExclusive extends MmModel {
  protected override copySwapPte(parent: Proc, child: Proc, vpage: number, swp: SwapPte): void {
    const exclusive = swp.exclusive;
    super.copySwapPte(parent, child, vpage, swp);
    swp.exclusive = exclusive; // BUG: the parent's entry keeps its exclusive bit
  }
}

/**
 * do_swap_page's reuse before 5.19 (reuse_swap_page): a swap-cache page no one maps and no other swap entry names
 * is taken over, whatever else holds it, so a page a vmsplice pipe references gets the writer's data (CVE-2020-29374's
 * class, through swap).
 */
class SwapInReuseByMapcount extends MmModel {
  protected override swapInReuses(folio: Folio, exclusive: boolean): boolean {
    if (folio.ksm || exclusive) return super.swapInReuses(folio, exclusive);
    const first = folio.swap;
    const swapped =
      first !== null && [...Array(folio.nr).keys()].some((i) => (this.slots.get(first + i)?.count ?? 0) > 0);
    return folio.mapcount === 0 && !swapped; // BUG: mapcount and swap count, not refcount
  }
}

/**
 * Reclaim before "mm: don't put pinned pages into the swap cache" (feb889fb40fa, 5.13): a pinned page is unmapped
 * into the swap cache; a fork then shares its swap entry, and the parent's write copies away from what the device
 * sees.
 */
class PageoutPinned extends MmModel {
  protected override mayReclaim(_folio: Folio): boolean {
    return true; // BUG: folio_maybe_dma_pinned not asked
  }
}

export const mmMutants: readonly MmMutant[] = [
  mutant(
    "fork-parent-writable",
    "copy_present_pte leaves the parent's PTE writable: the parent's writes leak into the child",
    ForkParentWritable,
  ),
  mutant(
    "fork-no-tlb-flush",
    "dup_mmap without flush_tlb_mm: a stale writable TLB entry defeats write protection",
    ForkNoTlbFlush,
  ),
  mutant(
    "fork-keeps-exclusive",
    "PageAnonExclusive not cleared on a duplicated anon page: a shared page is reused on write",
    ForkKeepsExclusive,
  ),
  mutant(
    "wp-reuse-shared",
    "do_wp_page reuses a page whose refcount is above one (no wp_can_reuse_anon_folio check)",
    WpReuseShared,
  ),
  mutant(
    "wp-copy-leak",
    "wp_page_copy never puts the old page: refcount leak, the frame outlives every mapping",
    WpCopyLeak,
  ),
  mutant(
    "wp-copy-stale-rmap",
    "wp_page_copy skips folio_remove_rmap_pte: rmap and mapcount still name the copied PTE",
    WpCopyStaleRmap,
  ),
  mutant(
    "dontneed-no-tlb-flush",
    "MADV_DONTNEED without a TLB flush: stale-TLB reads of discarded memory (CVE-2018-18281 class)",
    DontneedNoTlbFlush,
  ),
  mutant(
    "wipeonfork-ignored",
    "VM_WIPEONFORK ignored at fork: the child inherits memory it must see as zeros",
    WipeonforkIgnored,
  ),
  mutant(
    "zero-page-written",
    "a write fault on the shared zero page writes it in place: untouched memory stops reading zero",
    ZeroPageWrittenInPlace,
  ),
  mutant(
    "eager-fork",
    "an eager engine: fork copies every page (correct data, no copy-on-write)",
    EagerFork,
    "economy",
  ),
  mutant(
    "wp-reuse-by-mapcount",
    "do_wp_page reuses by mapcount, ignoring GUP references: a vmsplice'd page shows the parent's later write (CVE-2020-29374)",
    WpReuseByMapcount,
  ),
  mutant(
    "fork-shares-pinned",
    "fork shares a maybe-DMA-pinned page instead of copying it for the child (no copy_present_page)",
    ForkSharesPinned,
  ),
  mutant(
    "hugetlb-private-file-reused",
    "hugetlb_wp reuses a page-cache huge page mapped once by a private mapping: the write reaches the file (CVE-2016-5195's effect)",
    HugetlbPrivateFileReused,
  ),
  mutant(
    "disk-file-longterm-pin-allowed",
    "a writable longterm pin of a shared disk-file mapping is taken, as before Linux 6.5's writable_file_mapping_allowed",
    DiskFileLongtermPinAllowed,
  ),
  mutant(
    "ro-pin-no-unshare",
    "a read-only pin of a shared anonymous page skips gup_must_unshare: the pin loses coherency",
    RoPinNoUnshare,
  ),
  mutant(
    "thp-reuse-by-mapcount",
    "do_huge_pmd_wp_page reuses a THP by mapcount, ignoring a GUP reference (CVE-2020-29374 on a PMD)",
    ThpReuseByMapcount,
  ),
  mutant(
    "thp-cow-copies-huge",
    "a CoW fault on a shared THP copies the whole huge page (correct data, no economy)",
    ThpCowCopiesHuge,
    "economy",
  ),
  mutant(
    "thp-cow-wrong-subpage",
    "after splitting a shared THP, the CoW copy takes the head page's contents",
    ThpCowWrongSubpage,
  ),
  mutant("ksm-reuse", "wp_can_reuse_anon_folio without the KSM test: a KSM page is reused on write", KsmReuse),
  mutant(
    "ksm-merges-pinned",
    "KSM merges a page that holds a GUP reference or pin (no refcount test in write_protect_page)",
    WithKsmMergesPinned,
  ),
  mutant(
    "private-write-reaches-file",
    "a MAP_PRIVATE write lands in the page cache: the effect of Dirty COW (CVE-2016-5195)",
    PrivateWriteReachesFile,
  ),
  mutant(
    "private-file-stale",
    "a MAP_PRIVATE read fault copies the file page: the mapping misses file updates before its first write",
    PrivateFileStale,
  ),
  mutant("huge-zero-written", "a write fault on the huge zero page writes it in place", HugeZeroWritten),
  mutant(
    "collapse-pinned",
    "khugepaged collapses a pinned page: the device keeps writing a page the process no longer maps",
    CollapsePinned,
  ),
  // mTHP needs an order between a base page and the PMD: the "mthp" flavour's geometry unless the user gives one
  mutant(
    "mthp-reuse-shared",
    "a CoW fault reuses an mTHP folio another process still maps part of",
    MthpReuseShared,
    undefined,
    mthpGeometry,
  ),
  mutant(
    "mthp-head-only-exclusive",
    "a new mTHP folio is AnonExclusive on its head page only, all its pages mapped writable",
    MthpHeadOnlyExclusive,
    "invariant",
    mthpGeometry,
  ),
  mutant(
    "mthp-fault-over-present",
    "a write fault maps a new mTHP folio over pages already mapped in its range",
    MthpFaultOverPresent,
    "invariant",
    mthpGeometry,
  ),
  mutant(
    "swap-fork-keeps-exclusive",
    "fork leaves the parent's swap entry exclusive: its swap-in maps a page the child shares writable",
    SwapForkKeepsExclusive,
  ),
  mutant(
    "swapin-reuse-by-mapcount",
    "swap-in takes over a swap-cache page by mapcount and swap count, ignoring a GUP reference",
    SwapInReuseByMapcount,
  ),
  mutant(
    "pageout-pinned",
    "reclaim puts a pinned page in the swap cache; after fork a write copies away from the pin",
    PageoutPinned,
  ),
  // only an interleaving kills these (docs/races.md): the zoo runs the interleaving explorer for them
  {
    ...mutant(
      "dirty-cow",
      "Dirty COW (CVE-2016-5195): a forced write drops FOLL_WRITE after breaking COW, so a MADV_DONTNEED racing its retry sends the write into the file",
      DirtyCow,
    ),
    interleaved: true,
  },
  {
    ...mutant(
      "ksm-replace-no-pte-same",
      "replace_page without pte_same: a write that faulted between write_protect_page and replace_page (copying the locked page) is replaced by the KSM page and lost",
      WithKsmNoPteSame,
    ),
    interleaved: true,
  },
  {
    ...mutant(
      "huge-dirty-cow",
      "Huge Dirty COW (CVE-2017-1000405): touch_pmd dirties the huge zero page's PMD on a read, which a racing forced write's retry (FOLL_COW) takes as its copy",
      HugeDirtyCow,
    ),
    interleaved: true,
  },
];
