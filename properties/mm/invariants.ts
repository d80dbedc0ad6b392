// Structural invariants of the mm layer. Each is written once, per frame and/or per (pid, vpage) key, and
// checked over what the last op touched — or over everything on a full check.

import type { Named, Property } from "../../core/index.ts";
import {
  findVma,
  folioOf,
  GUP_PIN_COUNTING_BIAS,
  hugeSize,
  type MmFrameView,
  type MmObs,
  type MmOp,
  type MmProcView,
  type MmPteView,
  type MmState,
  type MmTlbView,
  type MmVmaView,
  pidOf,
  vpageOf,
} from "../../models/mm/types.ts";

/** What a key-level invariant sees: the (pid, vpage) and whatever maps it, looked up once for all invariants. */
interface At {
  key: number;
  proc: MmProcView | undefined;
  pte: MmPteView | undefined;
  /** The PMD covering the page, if any, and its key (pid, first vpage). */
  pmd: MmPteView | undefined;
  pmdKey: number;
  /** What the page table maps at the key: through the PTE or the PMD. */
  mapped: { pfn: number; entry: MmPteView } | undefined;
  tlb: MmTlbView | undefined;
  /** Filled only when a PTE is present. */
  vma: MmVmaView | undefined;
}

interface Scoped {
  name: string;
  description: string;
  /** A live frame (the zero page included). */
  frame?(s: MmState, f: MmFrameView): string | undefined;
  /** A frame the last op freed, as it was when freed. */
  freed?(s: MmState, f: MmFrameView): string | undefined;
  /** A (pid, vpage) key: its PTE and TLB entry, if any. */
  key?(s: MmState, at: At): string | undefined;
  /** Once per op, over the whole state; must be cheap. */
  global?(s: MmState): string | undefined;
}

const where = (key: number): string => `pid ${pidOf(key)} page ${vpageOf(key)}`;

function* allKeys(s: MmState): Iterable<number> {
  for (const p of s.procs.values()) {
    const base = p.pid * 0x1_0000_0000;
    for (const vpage of p.ptes.keys()) yield base + vpage;
    for (const vpage of p.pmds.keys()) if (!p.ptes.has(vpage)) yield base + vpage;
    for (const vpage of p.tlb.keys()) if (!p.ptes.has(vpage) && !p.pmds.has(vpage)) yield base + vpage;
    for (const vpage of p.swaps?.keys() ?? []) yield base + vpage;
  }
}

/**
 * The scoped invariants as one property: one traversal of what the last op touched (or of everything, on a
 * full check), each item looked up once and shown to every invariant; a failure names its own invariant.
 */
export function scopedInvariants(name: string, invariants: readonly Scoped[]): Property<MmOp, MmObs, MmState> {
  const onFrame = invariants.filter((i) => i.frame);
  const onFreed = invariants.filter((i) => i.freed);
  const onKey = invariants.filter((i) => i.key);
  const onGlobal = invariants.filter((i) => i.global);
  const at: At = {
    key: 0,
    proc: undefined,
    pte: undefined,
    pmd: undefined,
    pmdKey: -1,
    mapped: undefined,
    tlb: undefined,
    vma: undefined,
  };
  const check = (s: MmState, full: boolean): Named | undefined => {
    const t = full ? undefined : s.touched;
    for (const f of t ? t.frames : s.frames.keys()) {
      const frame = s.frames.get(f);
      if (!frame) continue;
      for (const inv of onFrame) {
        const m = inv.frame!(s, frame);
        if (m) return { property: inv.name, message: m };
      }
    }
    if (s.touched) {
      for (const frame of s.touched.freed) {
        for (const inv of onFreed) {
          const m = inv.freed!(s, frame);
          if (m) return { property: inv.name, message: m };
        }
      }
    }
    for (const key of t ? t.keys : allKeys(s)) {
      const vpage = vpageOf(key);
      at.key = key;
      at.proc = s.procs.get(pidOf(key));
      at.pte = at.proc?.ptes.get(vpage);
      const huge = hugeSize(s.geometry);
      const base = vpage - (vpage % huge);
      at.pmd = at.proc?.pmds.get(base);
      at.pmdKey = at.pmd ? key - (vpage - base) : -1;
      at.mapped = at.pte
        ? { pfn: at.pte.pfn, entry: at.pte }
        : at.pmd
          ? { pfn: at.pmd.pfn + (vpage - base), entry: at.pmd }
          : undefined;
      at.tlb = at.proc?.tlb.get(vpage);
      at.vma = at.pte || at.pmd ? findVma(at.proc!.vmas, vpage) : undefined;
      for (const inv of onKey) {
        const m = inv.key!(s, at);
        if (m) return { property: inv.name, message: m };
      }
    }
    for (const inv of onGlobal) {
      const m = inv.global!(s);
      if (m) return { property: inv.name, message: m };
    }
    return undefined;
  };
  return {
    name,
    kind: "invariant",
    description: invariants.map((i) => i.name).join(", "),
    members: invariants.map(({ name: n, description }) => ({ name: n, description })),
    start: () => ({ after: (_op, _obs, s, full) => check(s, full) }),
  };
}

/** The references the pin table says a folio holds: each GET 1; each pin 1024 on a small folio, 1 on a large one. */
function pinRefs(s: MmState, f: MmFrameView): { refs: number; pins: number } {
  let refs = 0;
  let pins = 0;
  for (const pin of s.pins.values()) {
    for (const pfn of pin.pfns) {
      if (pfn < f.pfn || pfn >= f.pfn + f.nr) continue;
      if (pin.kind === "get") refs++;
      else {
        pins++;
        refs += f.nr > 1 ? 1 : GUP_PIN_COUNTING_BIAS;
      }
    }
  }
  return { refs, pins };
}

export const refcountConservation: Scoped = {
  name: "refcount-conservation",
  description:
    "refcount == mappings (PTE and PMD) + the page cache's reference + the swap cache's (one per page) + GUP references + pins (×1024 on a small folio); pincount == pins on a large folio; the zero pages are never counted",
  frame(s, f) {
    if (f.zero)
      return f.mapcount !== 0 || f.rmap.size !== 0 || f.pmds.size !== 0
        ? `zero page ${f.pfn} has mapcount ${f.mapcount}`
        : undefined;
    const sum = f.pageMapcount.reduce((a, b) => a + b, 0) + f.entireMapcount;
    if (f.mapcount !== sum)
      return `frame ${f.pfn}: mapcount ${f.mapcount} but its pages' mapcounts and the entire mapcount add up to ${sum}`;
    const { refs, pins } = pinRefs(s, f);
    const swapCache = f.swap == null ? 0 : f.nr;
    const expected = f.mapcount + (f.cache ? 1 : 0) + swapCache + refs;
    if (f.refcount !== expected) {
      return `frame ${f.pfn}: refcount ${f.refcount} but mapcount ${f.mapcount}${f.cache ? " + page cache" : ""}${swapCache ? ` + ${swapCache} from the swap cache` : ""}${refs ? ` + ${refs} from pins` : ""} = ${expected}`;
    }
    if (f.nr > 1 ? f.pincount !== pins : f.pincount !== 0)
      return `frame ${f.pfn}: pincount ${f.pincount} with ${pins} pin(s)${f.nr > 1 ? "" : " on a small folio (pins count in refcount)"}`;
    if (f.refcount <= 0) return `frame ${f.pfn} is live with refcount ${f.refcount}`;
    return undefined;
  },
  freed(_s, f) {
    return f.refcount !== 0 || f.mapcount !== 0
      ? `frame ${f.pfn} freed with refcount ${f.refcount}, mapcount ${f.mapcount}`
      : undefined;
  },
};

export const rmapConsistency: Scoped = {
  name: "rmap-consistency",
  description:
    "each page's mapcount == the PTEs mapping it == its rmap entries; entire mapcount == PMDs mapping the folio; rmap and page tables agree both ways",
  frame(s, f) {
    if (f.zero) return undefined;
    if (f.entireMapcount !== f.pmds.size)
      return `frame ${f.pfn}: entire mapcount ${f.entireMapcount} but ${f.pmds.size} PMD rmap entries`;
    const perPage = new Array<number>(f.nr).fill(0);
    for (const key of f.rmap) {
      const pte = s.procs.get(pidOf(key))?.ptes.get(vpageOf(key));
      if (!pte) return `frame ${f.pfn}: rmap names ${where(key)}, which has no PTE`;
      if (pte.pfn < f.pfn || pte.pfn >= f.pfn + f.nr)
        return `frame ${f.pfn}: rmap names ${where(key)}, whose PTE maps frame ${pte.pfn}`;
      perPage[pte.pfn - f.pfn]++;
    }
    for (let i = 0; i < f.nr; i++) {
      if (perPage[i] !== f.pageMapcount[i])
        return `frame ${f.pfn}${f.nr > 1 ? ` page ${i}` : ""}: mapcount ${f.pageMapcount[i]} but ${perPage[i]} rmap entries`;
    }
    for (const key of f.pmds) {
      const pmd = s.procs.get(pidOf(key))?.pmds.get(vpageOf(key));
      if (pmd?.pfn !== f.pfn)
        return `frame ${f.pfn}: PMD rmap names ${where(key)}, which ${pmd ? `maps frame ${pmd.pfn}` : "has no PMD"}`;
    }
    return undefined;
  },
  key(s, { key, pte, pmd, pmdKey }) {
    if (pte) {
      const f = folioOf(s, pte.pfn);
      if (f && !f.zero && !f.rmap.has(key)) return `${where(key)} maps frame ${pte.pfn}, whose rmap does not name it`;
    }
    if (pmd && pmdKey === key) {
      const f = s.frames.get(pmd.pfn);
      if (f && !f.zero && !f.pmds.has(key))
        return `${where(key)}: PMD maps frame ${pmd.pfn}, whose rmap does not name it`;
    }
    return undefined;
  },
};

export const noFreeFrameReferenced: Scoped = {
  name: "no-free-frame-referenced",
  description: "every PTE, PMD, TLB entry and pin points at a live frame; a freed frame has no rmap entries left",
  key(s, { key, pte, pmd, tlb }) {
    if (pte && !folioOf(s, pte.pfn)) return `${where(key)}: PTE maps freed frame ${pte.pfn}`;
    if (pmd && !s.frames.has(pmd.pfn)) return `${where(key)}: PMD maps freed frame ${pmd.pfn}`;
    if (tlb && !folioOf(s, tlb.pfn)) return `${where(key)}: TLB entry maps freed frame ${tlb.pfn}`;
    return undefined;
  },
  freed(s, f) {
    if (f.rmap.size || f.pmds.size)
      return `frame ${f.pfn} freed while the rmap still names ${[...f.rmap, ...f.pmds].map(where).join(", ")}`;
    for (const pin of s.pins.values())
      if (pin.pfns.some((pfn) => pfn >= f.pfn && pfn < f.pfn + f.nr))
        return `frame ${f.pfn} freed while pin ${pin.handle} holds it`;
    return undefined;
  },
};

export const pteWithinVma: Scoped = {
  name: "pte-within-vma",
  description:
    "every PTE lies in a VMA, writable only if the VMA is, never mapping a hugetlb page; a PMD lies wholly in one VMA, private anonymous or hugetlb, and maps a hugetlb page exactly when its VMA is hugetlb",
  key(s, { key, pte, vma, pmd, pmdKey }) {
    if (pte) {
      if (!vma) return `${where(key)} has a PTE outside every VMA`;
      if (pte.writable && vma.prot !== "rw") return `${where(key)} has a writable PTE in a read-only VMA`;
      if (folioOf(s, pte.pfn)?.hugetlb)
        return `${where(key)}: PTE maps a page of hugetlb frame ${folioOf(s, pte.pfn)!.pfn}`;
    }
    if (pmd && pmdKey === key) {
      const base = vpageOf(key);
      const v = findVma(s.procs.get(pidOf(key))!.vmas, base);
      if (!v || v.end < base + hugeSize(s.geometry)) return `${where(key)}: PMD not wholly inside one VMA`;
      const hugetlb = s.frames.get(pmd.pfn)?.hugetlb === true;
      if (hugetlb !== (v.hugetlb === true))
        return `${where(key)}: PMD maps ${hugetlb ? "a hugetlb" : "a non-hugetlb"} frame ${pmd.pfn} in a ${v.hugetlb ? "hugetlb" : "non-hugetlb"} VMA`;
      if (!v.hugetlb && (v.shared || v.file !== null)) return `${where(key)}: PMD in a shared or file mapping`;
      if (pmd.writable && v.prot !== "rw") return `${where(key)}: writable PMD in a read-only VMA`;
    }
    return undefined;
  },
};

export const privateWritableExclusive: Scoped = {
  name: "private-writable-exclusive",
  description:
    "a writable PTE or PMD in a private mapping maps an AnonExclusive page mapped exactly once (never a zero page, never a page-cache page)",
  key(s, { key, pte, vma, pmd, pmdKey }) {
    if (pte?.writable && vma && !vma.shared) {
      const f = folioOf(s, pte.pfn);
      if (!f) return undefined;
      const i = pte.pfn - f.pfn;
      if (f.zero) return `${where(key)}: writable PTE maps the zero page`;
      if (!f.anon) return `${where(key)}: writable private PTE maps page-cache frame ${f.pfn}`;
      if (!f.pageExclusive[i])
        return `${where(key)}: writable private PTE maps frame ${pte.pfn}, which is not AnonExclusive`;
      if (f.pageMapcount[i] + f.entireMapcount !== 1)
        return `${where(key)}: writable private PTE maps frame ${pte.pfn}, which is mapped ${f.pageMapcount[i] + f.entireMapcount} times`;
    }
    if (pmd?.writable && pmdKey === key && !vma?.shared) {
      const f = s.frames.get(pmd.pfn);
      if (!f) return undefined;
      if (f.zero) return `${where(key)}: writable PMD maps the huge zero page`;
      if (!f.anonExclusive) return `${where(key)}: writable PMD maps THP ${f.pfn}, which is not AnonExclusive`;
      if (f.mapcount !== 1) return `${where(key)}: writable PMD maps THP ${f.pfn}, which is mapped ${f.mapcount} times`;
    }
    return undefined;
  },
};

export const exclusiveMappedOnce: Scoped = {
  name: "anon-exclusive-mapped-once",
  description: "an AnonExclusive page is mapped at most once (by one PTE, or by the one PMD of its THP)",
  frame(_s, f) {
    if (!f.anon || f.zero) return undefined;
    for (let i = 0; i < f.nr; i++) {
      if (!f.pageExclusive[i]) continue;
      const maps = f.pageMapcount[i] + f.entireMapcount;
      if (maps > 1) return `frame ${f.pfn + i} is AnonExclusive but mapped ${maps} times`;
    }
    return undefined;
  },
};

export const tlbCoherence: Scoped = {
  name: "tlb-coherence",
  description: "no TLB entry grants more than its page-table entry: same frame, no write (or dirty) the entry lacks",
  key(_s, { key, mapped, tlb }) {
    if (!tlb) return undefined;
    if (!mapped) return `${where(key)}: TLB entry for frame ${tlb.pfn} outlived its PTE`;
    if (mapped.pfn !== tlb.pfn) return `${where(key)}: TLB maps frame ${tlb.pfn}, the page table maps ${mapped.pfn}`;
    if (tlb.writable && !mapped.entry.writable) return `${where(key)}: TLB grants write, the page table is read-only`;
    if (tlb.dirty && !mapped.entry.dirty) return `${where(key)}: TLB entry dirty, the page table clean`;
    return undefined;
  },
};

export const pinnedAnonExclusive: Scoped = {
  name: "pinned-anon-exclusive",
  description:
    "an anonymous page under a FOLL_PIN pin is AnonExclusive wherever it is mapped: its own flag under a PTE, the head's under a PMD (so no one shares what the device sees)",
  frame(s, f) {
    if (!f.anon || f.zero || (f.nr > 1 ? f.pincount === 0 : f.refcount < GUP_PIN_COUNTING_BIAS)) return undefined;
    for (const pin of s.pins.values()) {
      if (pin.kind === "get") continue;
      for (const pfn of pin.pfns) {
        if (pfn < f.pfn || pfn >= f.pfn + f.nr) continue;
        const i = pfn - f.pfn;
        if (f.pageMapcount[i] > 0 && !f.pageExclusive[i])
          return `pin ${pin.handle} holds frame ${pfn}, mapped by a PTE but not AnonExclusive`;
        if (f.entireMapcount > 0 && !f.pageExclusive[0])
          return `pin ${pin.handle} holds frame ${pfn}, mapped by a PMD whose THP is not AnonExclusive`;
      }
    }
    return undefined;
  },
};

export const ksmNeverExclusive: Scoped = {
  name: "ksm-never-exclusive",
  description: "a KSM page is never AnonExclusive, never writable, and never large",
  frame(s, f) {
    if (!f.ksm) return undefined;
    if (f.nr > 1) return `KSM frame ${f.pfn} is a large folio`;
    if (f.anonExclusive) return `KSM frame ${f.pfn} is AnonExclusive`;
    for (const key of f.rmap)
      if (s.procs.get(pidOf(key))?.ptes.get(vpageOf(key))?.writable)
        return `${where(key)}: writable PTE maps KSM frame ${f.pfn}`;
    return undefined;
  },
};

export const noLeakAfterExit: Scoped = {
  name: "no-leak-after-exit",
  description:
    "when every process has exited, no pin is left and no frame but the zero pages and file page cache is in use (nor any swap-cache page)",
  global(s) {
    if (s.procs.size > 0) return undefined;
    if (s.pins.size) return `no process left, but ${s.pins.size} pin(s) remain`;
    const inUse = [...s.frames.values()].filter((f) => !f.zero && !(f.cache === "file" && f.refcount === 1));
    return inUse.length
      ? `no process left, but ${inUse.length} frame(s) in use: ${inUse.map((f) => f.pfn).join(", ")}`
      : undefined;
  },
};

export const swapAccounting: Scoped = {
  name: "swap-accounting",
  frame(s, f) {
    if (f.swap == null) return undefined;
    if (!f.anon || f.cache) return `frame ${f.pfn} is in the swap cache but not an anonymous page`;
    for (let i = 0; i < f.nr; i++)
      if (s.slots?.get(f.swap + i)?.cache !== f.pfn)
        return `frame ${f.pfn} is in the swap cache at slot ${f.swap + i}, which does not name it`;
    // shrink_folio_list keeps a maybe-DMA-pinned folio out of swap; try_to_unmap_one aborts on a pinned exclusive page
    if ((f.nr > 1 ? f.pincount > 0 : f.refcount >= GUP_PIN_COUNTING_BIAS) && f.mapcount === 0)
      return `frame ${f.pfn} is pinned, yet unmapped into the swap cache`;
    return undefined;
  },
  description:
    "a swap-cache folio is anonymous, named by its slots, and never a pinned page unmapped into swap; a swap PTE lies in a VMA where no PTE is present; each swap slot's count == the swap PTEs naming it; a slot nobody names is held by its swap-cache folio, which names it back; an exclusive swap PTE is its slot's only one",
  key(s, { key, proc, pte }) {
    const swp = proc?.swaps?.get(vpageOf(key));
    if (!swp) return undefined;
    if (!s.slots?.has(swp.slot)) return `${where(key)}: swap PTE names slot ${swp.slot}, not in use`;
    if (pte) return `${where(key)} has a swap PTE and a present one`;
    if (!findVma(proc!.vmas, vpageOf(key))) return `${where(key)} has a swap PTE outside every VMA`;
    return undefined;
  },
  global(s) {
    const slots = s.slots;
    if (!slots?.size) return undefined; // a swap PTE naming no slot is the key check's (no walk over every process)
    const named = new Map<number, number>();
    for (const p of s.procs.values())
      for (const [vpage, swp] of p.swaps ?? []) {
        if (!slots.has(swp.slot)) return `pid ${p.pid} page ${vpage}: swap PTE names slot ${swp.slot}, not in use`;
        named.set(swp.slot, (named.get(swp.slot) ?? 0) + 1);
      }
    for (const p of s.procs.values())
      for (const [vpage, swp] of p.swaps ?? [])
        if (swp.exclusive && named.get(swp.slot) !== 1)
          return `pid ${p.pid} page ${vpage}: exclusive swap PTE, but ${named.get(swp.slot)} PTEs name slot ${swp.slot}`;
    for (const slot of slots.values()) {
      if (slot.count !== (named.get(slot.slot) ?? 0))
        return `slot ${slot.slot}: count ${slot.count} but ${named.get(slot.slot) ?? 0} swap PTE(s) name it`;
      if (slot.cache === null) {
        if (slot.count === 0) return `slot ${slot.slot} is in use with no swap PTE and no swap-cache folio`;
        continue;
      }
      const f = s.frames.get(slot.cache);
      if (f?.swap == null || slot.slot < f.swap || slot.slot >= f.swap + f.nr)
        return `slot ${slot.slot}: its swap-cache folio ${slot.cache} does not name it`;
    }
    return undefined;
  },
};

export const mmInvariants: readonly Scoped[] = [
  refcountConservation,
  rmapConsistency,
  swapAccounting,
  noFreeFrameReferenced,
  pteWithinVma,
  privateWritableExclusive,
  exclusiveMappedOnce,
  tlbCoherence,
  pinnedAnonExclusive,
  ksmNeverExclusive,
  noLeakAfterExit,
];

export const mmStructure = scopedInvariants("mm-structure", mmInvariants);
