// Structural invariants of the mm layer. Each is written once, per frame and/or per (pid, vpage) key, and
// checked over what the last op touched — or over everything on a full check.
import {
  findVma,
  pidOf,
  vpageOf,
  type MmFrameView,
  type MmObs,
  type MmOp,
  type MmState,
} from "../../models/mm/types.ts";
import type { Property } from "../types.ts";

interface Scoped {
  name: string;
  description: string;
  /** A live frame (the zero page included). */
  frame?(s: MmState, f: MmFrameView): string | undefined;
  /** A frame the last op freed, as it was when freed. */
  freed?(s: MmState, f: MmFrameView): string | undefined;
  /** A (pid, vpage) key: its PTE and TLB entry, if any. */
  key?(s: MmState, key: number): string | undefined;
  /** Once per op, over the whole state; must be cheap. */
  global?(s: MmState): string | undefined;
}

const at = (key: number): string => `pid ${pidOf(key)} page ${vpageOf(key)}`;

function* allKeys(s: MmState): Iterable<number> {
  for (const p of s.procs.values()) {
    const base = p.pid * 0x1_0000_0000;
    for (const vpage of p.ptes.keys()) yield base + vpage;
    for (const vpage of p.tlb.keys()) if (!p.ptes.has(vpage)) yield base + vpage;
  }
}

function scoped(inv: Scoped): Property<MmOp, MmObs, MmState> {
  const check = (s: MmState, full: boolean): string | undefined => {
    const t = full ? undefined : s.touched;
    if (inv.frame) {
      if (t) {
        for (const pfn of t.frames) {
          const f = s.frames.get(pfn);
          const m = f && inv.frame(s, f);
          if (m) return m;
        }
      } else {
        for (const f of s.frames.values()) {
          const m = inv.frame(s, f);
          if (m) return m;
        }
      }
    }
    if (inv.freed && s.touched) {
      for (const f of s.touched.freed) {
        const m = inv.freed(s, f);
        if (m) return m;
      }
    }
    if (inv.key) {
      for (const key of t ? t.keys : allKeys(s)) {
        const m = inv.key(s, key);
        if (m) return m;
      }
    }
    return inv.global?.(s);
  };
  return {
    name: inv.name,
    kind: "invariant",
    description: inv.description,
    start: () => ({ after: (_op, _obs, s, full) => check(s, full) }),
  };
}

export const refcountConservation = scoped({
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
});

export const rmapConsistency = scoped({
  name: "rmap-consistency",
  description: "mapcount == size of the rmap entry == number of PTEs mapping the frame; rmap and page tables agree both ways",
  frame(s, f) {
    if (f.zero) return undefined;
    if (f.mapcount !== f.rmap.size) return `frame ${f.pfn}: mapcount ${f.mapcount} but ${f.rmap.size} rmap entries`;
    for (const key of f.rmap) {
      const pte = s.procs.get(pidOf(key))?.ptes.get(vpageOf(key));
      if (!pte) return `frame ${f.pfn}: rmap names ${at(key)}, which has no PTE`;
      if (pte.pfn !== f.pfn) return `frame ${f.pfn}: rmap names ${at(key)}, whose PTE maps frame ${pte.pfn}`;
    }
    return undefined;
  },
  key(s, key) {
    const pte = s.procs.get(pidOf(key))?.ptes.get(vpageOf(key));
    if (!pte) return undefined;
    const f = s.frames.get(pte.pfn);
    if (f && !f.zero && !f.rmap.has(key)) return `${at(key)} maps frame ${pte.pfn}, whose rmap does not name it`;
    return undefined;
  },
});

export const noFreeFrameReferenced = scoped({
  name: "no-free-frame-referenced",
  description: "every PTE and TLB entry points at a live frame; a freed frame has no rmap entries left",
  key(s, key) {
    const p = s.procs.get(pidOf(key));
    const pte = p?.ptes.get(vpageOf(key));
    if (pte && !s.frames.has(pte.pfn)) return `${at(key)}: PTE maps freed frame ${pte.pfn}`;
    const tlb = p?.tlb.get(vpageOf(key));
    if (tlb && !s.frames.has(tlb.pfn)) return `${at(key)}: TLB entry maps freed frame ${tlb.pfn}`;
    return undefined;
  },
  freed(_s, f) {
    if (f.rmap.size === 0) return undefined;
    return `frame ${f.pfn} freed while the rmap still names ${[...f.rmap].map(at).join(", ")}`;
  },
});

export const pteWithinVma = scoped({
  name: "pte-within-vma",
  description: "every PTE lies in a VMA, and is writable only if the VMA is",
  key(s, key) {
    const p = s.procs.get(pidOf(key));
    const pte = p?.ptes.get(vpageOf(key));
    if (!p || !pte) return undefined;
    const vma = findVma(p.vmas, vpageOf(key));
    if (!vma) return `${at(key)} has a PTE outside every VMA`;
    if (pte.writable && vma.prot !== "rw") return `${at(key)} has a writable PTE in a read-only VMA`;
    return undefined;
  },
});

export const privateWritableExclusive = scoped({
  name: "private-writable-exclusive",
  description: "a writable PTE in a private mapping maps an AnonExclusive frame mapped exactly once (never the zero page)",
  key(s, key) {
    const p = s.procs.get(pidOf(key));
    const pte = p?.ptes.get(vpageOf(key));
    if (!p || !pte?.writable) return undefined;
    const vma = findVma(p.vmas, vpageOf(key));
    if (!vma || vma.shared) return undefined;
    const f = s.frames.get(pte.pfn);
    if (!f) return undefined;
    if (f.zero) return `${at(key)}: writable PTE maps the zero page`;
    if (!f.anonExclusive) return `${at(key)}: writable private PTE maps frame ${f.pfn}, which is not AnonExclusive`;
    if (f.mapcount !== 1) return `${at(key)}: writable private PTE maps frame ${f.pfn}, which is mapped ${f.mapcount} times`;
    return undefined;
  },
});

export const tlbCoherence = scoped({
  name: "tlb-coherence",
  description: "no TLB entry grants more than its PTE: same frame, no write (or dirty) the PTE lacks",
  key(s, key) {
    const p = s.procs.get(pidOf(key));
    const tlb = p?.tlb.get(vpageOf(key));
    if (!p || !tlb) return undefined;
    const pte = p.ptes.get(vpageOf(key));
    if (!pte) return `${at(key)}: TLB entry for frame ${tlb.pfn} outlived its PTE`;
    if (pte.pfn !== tlb.pfn) return `${at(key)}: TLB maps frame ${tlb.pfn}, the PTE maps ${pte.pfn}`;
    if (tlb.writable && !pte.writable) return `${at(key)}: TLB grants write, the PTE is read-only`;
    if (tlb.dirty && !pte.dirty) return `${at(key)}: TLB entry dirty, the PTE clean`;
    return undefined;
  },
});

export const noLeakAfterExit = scoped({
  name: "no-leak-after-exit",
  description: "when every process has exited, no frame but the zero page is in use",
  global(s) {
    if (s.procs.size > 0) return undefined;
    const inUse = [...s.frames.values()].filter((f) => !f.zero);
    return inUse.length ? `no process left, but ${inUse.length} frame(s) in use: ${inUse.map((f) => f.pfn).join(", ")}` : undefined;
  },
});

export const mmInvariants = [
  refcountConservation,
  rmapConsistency,
  noFreeFrameReferenced,
  pteWithinVma,
  privateWritableExclusive,
  tlbCoherence,
  noLeakAfterExit,
];
