// The mm mutant zoo: the reference model with one deliberate, documented bug each. The properties must kill
// every one of them; `cowcheck mutants --layer mm` shows how fast.
import type { Mutant } from "../../../layers/layer.ts";
import { MmModel, ZERO_PFN, type Frame, type Proc, type Pte, type Vma } from "../model.ts";
import { keyOf, type MmGeometry, type MmObs, type MmOp, type MmState } from "../types.ts";

type MmMutant = Mutant<MmOp, MmObs, MmState, MmGeometry>;

const mutant = (name: string, mimics: string, Model: new (g: MmGeometry) => MmModel, killedBy?: "economy"): MmMutant => ({
  name,
  mimics,
  killedBy,
  create: (g) => new Model(g),
});

/** copy_present_pte forgets ptep_set_wrprotect on the parent: the parent writes straight into the shared page. */
class ForkParentWritable extends MmModel {
  protected override copyPresentPte(parent: Proc, child: Proc, vpage: number, pte: Pte): void {
    const writable = pte.writable;
    super.copyPresentPte(parent, child, vpage, pte);
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
  protected override copyPresentPte(parent: Proc, child: Proc, vpage: number, pte: Pte): void {
    const frame = this.frames.get(pte.pfn);
    const exclusive = frame?.anonExclusive ?? false;
    super.copyPresentPte(parent, child, vpage, pte);
    if (frame) frame.anonExclusive = exclusive; // BUG: folio_try_dup_anon_rmap_pte did not clear it
  }
}

/** do_wp_page reuses a page other processes still map (the pre-COW bug that Dirty COW's write path resembles). */
class WpReuseShared extends MmModel {
  protected override wpCanReuseAnonFolio(_frame: Frame): boolean {
    return true; // BUG: no refcount check
  }
}

/** wp_page_copy forgets folio_put on the old page: it is never freed (a refcount leak). */
class WpCopyLeak extends MmModel {
  protected override releaseOldPage(old: Frame, key: number): void {
    this.removeRmap(old, key); // BUG: no putFrame(old)
  }
}

/** wp_page_copy forgets folio_remove_rmap_pte: the old page's rmap and mapcount still name the copied PTE. */
class WpCopyStaleRmap extends MmModel {
  protected override releaseOldPage(old: Frame, _key: number): void {
    this.putFrame(old); // BUG: no removeRmap(old, key)
  }
}

/** MADV_DONTNEED zaps PTEs without flushing the TLB (the stale-TLB class of CVE-2018-18281). */
class DontneedNoTlbFlush extends MmModel {
  protected override madviseDontneed(proc: Proc, vma: Vma): void {
    this.zapRange(proc, vma.start, vma.end, false); // BUG: flush = false
  }
}

/** VM_WIPEONFORK ignored: the child inherits the parent's secrets (what MADV_WIPEONFORK exists to prevent). */
class WipeonforkIgnored extends MmModel {
  protected override vmaNeedsCopy(vma: Vma): boolean {
    return vma.anonVma; // BUG: wipeonfork VMAs copied too
  }
}

/** A write fault on the zero page writes the zero page itself: every untouched page now reads the value. */
class ZeroPageWrittenInPlace extends MmModel {
  protected override wpZeroPage(_proc: Proc, _vma: Vma, _vpage: number, pte: Pte): void {
    pte.writable = true; // BUG: reuse instead of allocating a zeroed page
    pte.dirty = true;
  }
}

/** An eager engine: fork copies every private page up front. Right data, no copy-on-write: only economy fails. */
class EagerFork extends MmModel {
  protected override copyPresentPte(parent: Proc, child: Proc, vpage: number, pte: Pte): void {
    if (pte.pfn === ZERO_PFN) return super.copyPresentPte(parent, child, vpage, pte); // the zero page is everyone's
    // BUG (economically): copy_present_page for every page, as if every page were pinned.
    const copy = this.newAnonPage(keyOf(child.pid, vpage), this.frames.get(pte.pfn)!.data);
    child.ptes.set(vpage, { pfn: copy.pfn, writable: pte.writable, dirty: true, young: false });
    this.touched.keys.add(keyOf(child.pid, vpage));
  }
}

export const mmMutants: readonly MmMutant[] = [
  mutant("fork-parent-writable", "copy_present_pte leaves the parent's PTE writable: the parent's writes leak into the child", ForkParentWritable),
  mutant("fork-no-tlb-flush", "dup_mmap without flush_tlb_mm: a stale writable TLB entry defeats write protection", ForkNoTlbFlush),
  mutant("fork-keeps-exclusive", "PageAnonExclusive not cleared on a duplicated anon page: a shared page is reused on write", ForkKeepsExclusive),
  mutant("wp-reuse-shared", "do_wp_page reuses a page whose refcount is above one (no wp_can_reuse_anon_folio check)", WpReuseShared),
  mutant("wp-copy-leak", "wp_page_copy never puts the old page: refcount leak, the frame outlives every mapping", WpCopyLeak),
  mutant("wp-copy-stale-rmap", "wp_page_copy skips folio_remove_rmap_pte: rmap and mapcount still name the copied PTE", WpCopyStaleRmap),
  mutant("dontneed-no-tlb-flush", "MADV_DONTNEED without a TLB flush: stale-TLB reads of discarded memory (CVE-2018-18281 class)", DontneedNoTlbFlush),
  mutant("wipeonfork-ignored", "VM_WIPEONFORK ignored at fork: the child inherits memory it must see as zeros", WipeonforkIgnored),
  mutant("zero-page-written", "a write fault on the shared zero page writes it in place: untouched memory stops reading zero", ZeroPageWrittenInPlace),
  mutant("eager-fork", "an eager engine: fork copies every page (correct data, no copy-on-write)", EagerFork, "economy"),
];
