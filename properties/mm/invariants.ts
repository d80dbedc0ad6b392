// Structural invariants of the mm layer. Each is written once, per frame and/or per (pid, vpage) key, and
// checked over what the last op touched — or over everything on a full check.
import {
  findVma,
  pidOf,
  vpageOf,
  type MmFrameView,
  type MmObs,
  type MmOp,
  type MmProcView,
  type MmPteView,
  type MmState,
  type MmTlbView,
  type MmVmaView,
} from "../../models/mm/types.ts";
import type { Named, Property } from "../types.ts";

/** What a key-level invariant sees: the (pid, vpage) and whatever maps it, looked up once for all invariants. */
interface At {
  key: number;
  proc: MmProcView | undefined;
  pte: MmPteView | undefined;
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
    for (const vpage of p.tlb.keys()) if (!p.ptes.has(vpage)) yield base + vpage;
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
  const at: At = { key: 0, proc: undefined, pte: undefined, tlb: undefined, vma: undefined };
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
      at.tlb = at.proc?.tlb.get(vpage);
      at.vma = at.pte ? findVma(at.proc!.vmas, vpage) : undefined;
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

export const refcountConservation: Scoped = {
  name: "refcount-conservation",
  description: "refcount == mapcount + the page cache's reference; the zero page is never counted",
  frame(_s, f) {
    if (f.zero) return f.mapcount !== 0 || f.rmap.size !== 0 ? `zero page has mapcount ${f.mapcount}` : undefined;
    const expected = f.mapcount + (f.cached ? 1 : 0);
    if (f.refcount !== expected) {
      return `frame ${f.pfn}: refcount ${f.refcount} but mapcount ${f.mapcount}${f.cached ? " + page cache" : ""} = ${expected}`;
    }
    if (f.refcount <= 0) return `frame ${f.pfn} is live with refcount ${f.refcount}`;
    return undefined;
  },
  freed(_s, f) {
    return f.refcount !== 0 || f.mapcount !== 0 ? `frame ${f.pfn} freed with refcount ${f.refcount}, mapcount ${f.mapcount}` : undefined;
  },
};

export const rmapConsistency: Scoped = {
  name: "rmap-consistency",
  description: "mapcount == size of the rmap entry == number of PTEs mapping the frame; rmap and page tables agree both ways",
  frame(s, f) {
    if (f.zero) return undefined;
    if (f.mapcount !== f.rmap.size) return `frame ${f.pfn}: mapcount ${f.mapcount} but ${f.rmap.size} rmap entries`;
    for (const key of f.rmap) {
      const pte = s.procs.get(pidOf(key))?.ptes.get(vpageOf(key));
      if (!pte) return `frame ${f.pfn}: rmap names ${where(key)}, which has no PTE`;
      if (pte.pfn !== f.pfn) return `frame ${f.pfn}: rmap names ${where(key)}, whose PTE maps frame ${pte.pfn}`;
    }
    return undefined;
  },
  key(s, { key, pte }) {
    if (!pte) return undefined;
    const f = s.frames.get(pte.pfn);
    if (f && !f.zero && !f.rmap.has(key)) return `${where(key)} maps frame ${pte.pfn}, whose rmap does not name it`;
    return undefined;
  },
};

export const noFreeFrameReferenced: Scoped = {
  name: "no-free-frame-referenced",
  description: "every PTE and TLB entry points at a live frame; a freed frame has no rmap entries left",
  key(s, { key, pte, tlb }) {
    if (pte && !s.frames.has(pte.pfn)) return `${where(key)}: PTE maps freed frame ${pte.pfn}`;
    if (tlb && !s.frames.has(tlb.pfn)) return `${where(key)}: TLB entry maps freed frame ${tlb.pfn}`;
    return undefined;
  },
  freed(_s, f) {
    if (f.rmap.size === 0) return undefined;
    return `frame ${f.pfn} freed while the rmap still names ${[...f.rmap].map(where).join(", ")}`;
  },
};

export const pteWithinVma: Scoped = {
  name: "pte-within-vma",
  description: "every PTE lies in a VMA, and is writable only if the VMA is",
  key(_s, { key, pte, vma }) {
    if (!pte) return undefined;
    if (!vma) return `${where(key)} has a PTE outside every VMA`;
    if (pte.writable && vma.prot !== "rw") return `${where(key)} has a writable PTE in a read-only VMA`;
    return undefined;
  },
};

export const privateWritableExclusive: Scoped = {
  name: "private-writable-exclusive",
  description: "a writable PTE in a private mapping maps an AnonExclusive frame mapped exactly once (never the zero page)",
  key(s, { key, pte, vma }) {
    if (!pte?.writable || !vma || vma.shared) return undefined;
    const f = s.frames.get(pte.pfn);
    if (!f) return undefined;
    if (f.zero) return `${where(key)}: writable PTE maps the zero page`;
    if (!f.anonExclusive) return `${where(key)}: writable private PTE maps frame ${f.pfn}, which is not AnonExclusive`;
    if (f.mapcount !== 1) return `${where(key)}: writable private PTE maps frame ${f.pfn}, which is mapped ${f.mapcount} times`;
    return undefined;
  },
};

export const tlbCoherence: Scoped = {
  name: "tlb-coherence",
  description: "no TLB entry grants more than its PTE: same frame, no write (or dirty) the PTE lacks",
  key(_s, { key, pte, tlb }) {
    if (!tlb) return undefined;
    if (!pte) return `${where(key)}: TLB entry for frame ${tlb.pfn} outlived its PTE`;
    if (pte.pfn !== tlb.pfn) return `${where(key)}: TLB maps frame ${tlb.pfn}, the PTE maps ${pte.pfn}`;
    if (tlb.writable && !pte.writable) return `${where(key)}: TLB grants write, the PTE is read-only`;
    if (tlb.dirty && !pte.dirty) return `${where(key)}: TLB entry dirty, the PTE clean`;
    return undefined;
  },
};

export const noLeakAfterExit: Scoped = {
  name: "no-leak-after-exit",
  description: "when every process has exited, no frame but the zero page is in use",
  global(s) {
    if (s.procs.size > 0) return undefined;
    const inUse = [...s.frames.values()].filter((f) => !f.zero);
    return inUse.length ? `no process left, but ${inUse.length} frame(s) in use: ${inUse.map((f) => f.pfn).join(", ")}` : undefined;
  },
};

export const mmInvariants: readonly Scoped[] = [
  refcountConservation,
  rmapConsistency,
  noFreeFrameReferenced,
  pteWithinVma,
  privateWritableExclusive,
  tlbCoherence,
  noLeakAfterExit,
];

export const mmStructure = scopedInvariants("mm-structure", mmInvariants);
