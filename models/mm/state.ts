// The mm state as JSON: what an external engine answers to `inspect`, and what reports show.
import { z } from "zod";
import { keyOf, pidOf, vpageOf, type MmGeometry, type MmState } from "./types.ts";

const n = z.number().int().min(0);
export const mmStateJsonSchema = z.object({
  allocations: n,
  frames: z.array(
    z.object({
      pfn: n, refcount: z.number().int(), mapcount: z.number().int(), anonExclusive: z.boolean(),
      zero: z.boolean(), cached: z.boolean(), rmap: z.array(z.object({ pid: n, vpage: n })),
    }),
  ),
  procs: z.array(
    z.object({
      pid: n,
      vmas: z.array(
        z.object({ start: n, end: n, prot: z.enum(["r", "rw"]), shared: z.boolean(), dontfork: z.boolean(), wipeonfork: z.boolean() }),
      ),
      ptes: z.array(z.object({ vpage: n, pfn: n, writable: z.boolean(), dirty: z.boolean(), young: z.boolean() })),
      tlb: z.array(z.object({ vpage: n, pfn: n, writable: z.boolean(), dirty: z.boolean() })),
    }),
  ),
});
export type MmStateJson = z.infer<typeof mmStateJsonSchema>;

export function encodeMmState(s: MmState): MmStateJson {
  return {
    allocations: s.allocations,
    frames: [...s.frames.values()].map((f) => ({
      pfn: f.pfn, refcount: f.refcount, mapcount: f.mapcount, anonExclusive: f.anonExclusive, zero: f.zero,
      cached: f.cached, rmap: [...f.rmap].map((k) => ({ pid: pidOf(k), vpage: vpageOf(k) })),
    })),
    procs: [...s.procs.values()].map((p) => ({
      pid: p.pid,
      vmas: p.vmas.map(({ start, end, prot, shared, dontfork, wipeonfork }) => ({ start, end, prot, shared, dontfork, wipeonfork })),
      ptes: [...p.ptes].map(([vpage, { pfn, writable, dirty, young }]) => ({ vpage, pfn, writable, dirty, young })),
      tlb: [...p.tlb].map(([vpage, { pfn, writable, dirty }]) => ({ vpage, pfn, writable, dirty })),
    })),
  };
}

/** Decoded state carries no record of what was touched, so the properties check all of it. */
export function decodeMmState(json: unknown, geometry: MmGeometry): MmState {
  const s = mmStateJsonSchema.parse(json);
  return {
    geometry,
    allocations: s.allocations,
    frames: new Map(s.frames.map((f) => [f.pfn, { ...f, rmap: new Set(f.rmap.map((r) => keyOf(r.pid, r.vpage))) }])),
    procs: new Map(
      s.procs.map((p) => [
        p.pid,
        {
          pid: p.pid,
          vmas: [...p.vmas].sort((a, b) => a.start - b.start),
          ptes: new Map(p.ptes.map(({ vpage, ...pte }) => [vpage, pte])),
          tlb: new Map(p.tlb.map(({ vpage, ...t }) => [vpage, t])),
        },
      ]),
    ),
  };
}

/**
 * A compact picture of the state for failure reports:
 *   pid 1  [0,4) rw private         page 0 → frame 3 w-dy  (TLB frame 3 w)
 *   frame 3  ref 2  map 2  exclusive  rmap 1:0 2:0
 */
export function renderMmState(s: MmState): string {
  const lines: string[] = [];
  for (const p of s.procs.values()) {
    const vmas = p.vmas.map((v) => `[${v.start},${v.end}) ${v.prot} ${v.shared ? "shared" : "private"}${v.dontfork ? " dontfork" : ""}${v.wipeonfork ? " wipeonfork" : ""}`);
    lines.push(`pid ${p.pid}  ${vmas.join(", ") || "(no mappings)"}`);
    const pages = new Set([...p.ptes.keys(), ...p.tlb.keys()]);
    for (const vpage of [...pages].sort((a, b) => a - b)) {
      const pte = p.ptes.get(vpage);
      const tlb = p.tlb.get(vpage);
      const bits = pte ? `${pte.writable ? "w" : "-"}${pte.dirty ? "d" : "-"}${pte.young ? "y" : "-"}` : "";
      const walk = pte ? `frame ${pte.pfn} ${bits}` : "no PTE";
      const cached = tlb ? `  (TLB frame ${tlb.pfn} ${tlb.writable ? "w" : "-"}${tlb.dirty ? "d" : "-"})` : "";
      lines.push(`    page ${vpage} → ${walk}${cached}`);
    }
  }
  for (const f of s.frames.values()) {
    if (f.zero) continue;
    const rmap = [...f.rmap].map((k) => `${pidOf(k)}:${vpageOf(k)}`).join(" ");
    lines.push(`frame ${f.pfn}  ref ${f.refcount}  map ${f.mapcount}${f.anonExclusive ? "  exclusive" : ""}${f.cached ? "  page-cache" : ""}  rmap ${rmap || "-"}`);
  }
  return lines.join("\n");
}
