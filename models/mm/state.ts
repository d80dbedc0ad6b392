// The mm state as JSON: what an external engine answers to `inspect`, and what reports show.
import { z } from "zod";
import { keyOf, type MmGeometry, type MmState, pidOf, pinKind, vpageOf } from "./types.ts";

const n = z.number().int().min(0);
const at = z.object({ pid: n, vpage: n });
const entry = z.object({ vpage: n, pfn: n, writable: z.boolean(), dirty: z.boolean(), young: z.boolean() });
export const mmStateJsonSchema = z.object({
  allocations: n,
  allocatedPages: n,
  copiedPages: n,
  /** Swap PTEs plus page-cache pages out on swap (feature "swap"). */
  swapEntries: n.optional(),
  /** Swap slots in use: each one's count and its swap-cache folio (head pfn) if any. */
  slots: z.array(z.object({ slot: n, count: n, cache: n.nullable() })).optional(),
  frames: z.array(
    z.object({
      pfn: n,
      nr: z.number().int().min(1),
      refcount: z.number().int(),
      pincount: z.number().int(),
      mapcount: z.number().int(),
      entireMapcount: z.number().int(),
      pageMapcount: z.array(z.number().int()),
      pageExclusive: z.array(z.boolean()),
      anon: z.boolean(),
      ksm: z.boolean(),
      ksmStable: z.boolean().optional(),
      zero: z.boolean(),
      cache: z.enum(["shmem", "file"]).nullable(),
      /** In the swap cache: its first slot. */
      swap: n.nullable().optional(),
      /** A hugetlb folio (feature "hugetlb"). */
      hugetlb: z.boolean().optional(),
      /** Read back by a swap-in that skipped the swap cache (feature "swap"). */
      swapin: z.boolean().optional(),
      rmap: z.array(at),
      pmds: z.array(at),
      data: z.array(z.number().int().min(0).max(255)),
    }),
  ),
  procs: z.array(
    z.object({
      pid: n,
      hasPinned: z.boolean(),
      vmas: z.array(
        z.object({
          start: n,
          end: n,
          prot: z.enum(["r", "rw"]),
          shared: z.boolean(),
          dontfork: z.boolean(),
          wipeonfork: z.boolean(),
          hugepage: z.boolean(),
          nohugepage: z.boolean(),
          mergeable: z.boolean(),
          file: n.nullable(),
          hugetlb: z.boolean().optional(),
          disk: z.boolean().optional(),
        }),
      ),
      ptes: z.array(entry),
      pmds: z.array(entry),
      swaps: z.array(z.object({ vpage: n, slot: n, exclusive: z.boolean() })).optional(),
      tlb: z.array(z.object({ vpage: n, pfn: n, writable: z.boolean(), dirty: z.boolean() })),
    }),
  ),
  // one page's reference (`pfn`) or a range's (`pfns`, one per page)
  pins: z.array(
    z.object({
      handle: z.number().int().min(1),
      pid: n,
      vpage: n,
      pfn: n.optional(),
      pfns: z.array(n).optional(),
      kind: pinKind,
      write: z.boolean(),
      fast: z.boolean().optional(),
    }),
  ),
});
export type MmStateJson = z.infer<typeof mmStateJsonSchema>;

const keys = (s: ReadonlySet<number>) => [...s].map((k) => ({ pid: pidOf(k), vpage: vpageOf(k) }));
const entries = (m: ReadonlyMap<number, { pfn: number; writable: boolean; dirty: boolean; young: boolean }>) =>
  [...m].map(([vpage, { pfn, writable, dirty, young }]) => ({ vpage, pfn, writable, dirty, young }));

export function encodeMmState(s: MmState): MmStateJson {
  return {
    allocations: s.allocations,
    allocatedPages: s.allocatedPages,
    copiedPages: s.copiedPages,
    ...(s.slots
      ? {
          swapEntries: s.swapEntries ?? 0,
          slots: [...s.slots.values()].map(({ slot, count, cache }) => ({ slot, count, cache })),
        }
      : {}),
    frames: [...s.frames.values()].map((f) => ({
      pfn: f.pfn,
      nr: f.nr,
      refcount: f.refcount,
      pincount: f.pincount,
      mapcount: f.mapcount,
      entireMapcount: f.entireMapcount,
      pageMapcount: [...f.pageMapcount],
      pageExclusive: [...f.pageExclusive],
      anon: f.anon,
      ksm: f.ksm,
      ksmStable: f.ksmStable,
      zero: f.zero,
      cache: f.cache,
      ...(f.swap == null ? {} : { swap: f.swap }),
      ...(f.hugetlb ? { hugetlb: true } : {}),
      ...(f.swapin ? { swapin: true } : {}),
      rmap: keys(f.rmap),
      pmds: keys(f.pmds),
      data: Array.from(f.data),
    })),
    procs: [...s.procs.values()].map((p) => ({
      pid: p.pid,
      hasPinned: p.hasPinned,
      vmas: p.vmas.map((v) => ({
        start: v.start,
        end: v.end,
        prot: v.prot,
        shared: v.shared,
        dontfork: v.dontfork,
        wipeonfork: v.wipeonfork,
        hugepage: v.hugepage,
        nohugepage: v.nohugepage,
        mergeable: v.mergeable,
        file: v.file,
        ...(v.hugetlb ? { hugetlb: true } : {}),
        ...(v.disk ? { disk: true } : {}),
      })),
      ptes: entries(p.ptes),
      pmds: entries(p.pmds),
      ...(p.swaps?.size
        ? { swaps: [...p.swaps].map(([vpage, { slot, exclusive }]) => ({ vpage, slot, exclusive })) }
        : {}),
      tlb: [...p.tlb].map(([vpage, { pfn, writable, dirty }]) => ({ vpage, pfn, writable, dirty })),
    })),
    pins: [...s.pins.values()].map(({ handle, pid, vpage, pfns, kind, write, fast }) => ({
      handle,
      pid,
      vpage,
      ...(pfns.length === 1 ? { pfn: pfns[0] } : { pfns: [...pfns] }),
      ...(fast === undefined ? {} : { fast }),
      kind,
      write,
    })),
  };
}

/** Decoded state carries no record of what was touched, so the properties check all of it. */
export function decodeMmState(json: unknown, geometry: MmGeometry): MmState {
  const s = mmStateJsonSchema.parse(json);
  const keySet = (l: { pid: number; vpage: number }[]) => new Set(l.map((r) => keyOf(r.pid, r.vpage)));
  const entryMap = (l: z.infer<typeof entry>[]) => new Map(l.map(({ vpage, ...e }) => [vpage, e]));
  return {
    geometry,
    allocations: s.allocations,
    allocatedPages: s.allocatedPages,
    copiedPages: s.copiedPages,
    ...(s.swapEntries === undefined ? {} : { swapEntries: s.swapEntries }),
    ...(s.slots ? { slots: new Map(s.slots.map((slot) => [slot.slot, slot])) } : {}),
    frames: new Map(
      s.frames.map((f) => [
        f.pfn,
        {
          ...f,
          ksmStable: f.ksmStable ?? f.ksm,
          anonExclusive: f.pageExclusive[0] ?? false,
          rmap: keySet(f.rmap),
          pmds: keySet(f.pmds),
        },
      ]),
    ),
    procs: new Map(
      s.procs.map((p) => [
        p.pid,
        {
          pid: p.pid,
          hasPinned: p.hasPinned,
          vmas: [...p.vmas].sort((a, b) => a.start - b.start),
          ptes: entryMap(p.ptes),
          pmds: entryMap(p.pmds),
          swaps: new Map((p.swaps ?? []).map(({ vpage, ...swp }) => [vpage, swp])),
          tlb: new Map(p.tlb.map(({ vpage, ...t }) => [vpage, t])),
        },
      ]),
    ),
    pins: new Map(
      s.pins.map(({ pfn, pfns, ...p }) => [p.handle, { ...p, pfns: pfns ?? (pfn === undefined ? [] : [pfn]) }]),
    ),
  };
}

/**
 * A compact picture of the state for failure reports:
 *   pid 1  [0,4) rw private hugepage      page 0 → frame 3 w-dy  (TLB frame 3 w)
 *   frame 3  ref 2  map 2  exclusive  rmap 1:0 2:0
 */
export function renderMmState(s: MmState): string {
  const lines: string[] = [];
  const bits = (e: { writable: boolean; dirty: boolean; young: boolean }) =>
    `${e.writable ? "w" : "-"}${e.dirty ? "d" : "-"}${e.young ? "y" : "-"}`;
  for (const p of s.procs.values()) {
    const vmas = p.vmas.map((v) => {
      const flags = ["hugetlb", "dontfork", "wipeonfork", "hugepage", "nohugepage", "mergeable"].filter(
        (f) => v[f as keyof typeof v],
      );
      const kind = `${v.shared ? "shared" : "private"}${v.file !== null ? ` ${v.disk ? "disk " : ""}file ${v.file}` : ""}`;
      return `[${v.start},${v.end}) ${v.prot} ${kind}${flags.map((f) => ` ${f}`).join("")}`;
    });
    lines.push(`pid ${p.pid}  ${vmas.join(", ") || "(no mappings)"}${p.hasPinned ? "  (has pinned)" : ""}`);
    for (const [base, pmd] of [...p.pmds].sort((a, b) => a[0] - b[0]))
      lines.push(`    pages ${base}+ → PMD frame ${pmd.pfn} ${bits(pmd)}`);
    for (const [vpage, swp] of [...(p.swaps ?? [])].sort((a, b) => a[0] - b[0]))
      lines.push(`    page ${vpage} → swap slot ${swp.slot}${swp.exclusive ? " exclusive" : ""}`);
    const pages = new Set([...p.ptes.keys(), ...p.tlb.keys()]);
    for (const vpage of [...pages].sort((a, b) => a - b)) {
      const pte = p.ptes.get(vpage);
      const tlb = p.tlb.get(vpage);
      const walk = pte
        ? `frame ${pte.pfn} ${bits(pte)}`
        : p.pmds.has(vpage - (vpage % (1 << s.geometry.hugeOrder)))
          ? "(PMD)"
          : "no PTE";
      const cached = tlb ? `  (TLB frame ${tlb.pfn} ${tlb.writable ? "w" : "-"}${tlb.dirty ? "d" : "-"})` : "";
      lines.push(`    page ${vpage} → ${walk}${cached}`);
    }
  }
  for (const f of s.frames.values()) {
    if (f.zero) continue;
    const rmap = [...f.rmap].map((k) => `${pidOf(k)}:${vpageOf(k)}`).join(" ");
    const pmds = [...f.pmds].map((k) => `${pidOf(k)}:${vpageOf(k)}`).join(" ");
    const large =
      f.nr > 1
        ? `  THP ×${f.nr} entire ${f.entireMapcount} pin ${f.pincount}  pages map [${f.pageMapcount}] excl [${f.pageExclusive.map((e) => (e ? 1 : 0))}]`
        : "";
    const flags = `${f.anonExclusive ? "  exclusive" : ""}${f.ksm ? (f.ksmStable ? "  ksm" : "  ksm (no stable node)") : ""}${f.cache ? `  ${f.cache}-cache` : ""}${f.swap == null ? "" : `  swap-cache slot ${f.swap}`}${f.hugetlb ? "  hugetlb" : ""}`;
    lines.push(
      `frame ${f.pfn}  ref ${f.refcount}  map ${f.mapcount}${flags}${large}  rmap ${rmap || "-"}${pmds ? `  pmd ${pmds}` : ""}`,
    );
  }
  for (const slot of s.slots?.values() ?? [])
    lines.push(`slot ${slot.slot}  count ${slot.count}${slot.cache === null ? "" : `  cached in frame ${slot.cache}`}`);
  for (const pin of s.pins.values()) {
    lines.push(
      `pin ${pin.handle}  ${pin.kind}${pin.write ? " write" : ""}  pid ${pin.pid} page ${pin.vpage} → frame ${pin.pfns.join(", ")}`,
    );
  }
  return lines.join("\n");
}
