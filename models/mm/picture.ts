// The mm state as a graph: processes → VMAs → page table entries (PTEs, PMDs) → frames, with pins and counts.
import type { Graph, GraphEdge, GraphGroup, GraphNode } from "../../core/picture.ts";
import {
  findVma,
  folioOf,
  hugeSize,
  type MmFrameView,
  type MmGeometry,
  type MmProcView,
  type MmPteView,
  type MmState,
  type MmVmaView,
  mappedAt,
  maybeDmaPinned,
} from "./types.ts";

/** Ids, all from real identity (pid, VMA start, virtual page, head pfn, pin handle), so they hold across a trace. */
export const mmIds = {
  proc: (pid: number) => `pid:${pid}`,
  vma: (pid: number, start: number) => `pid:${pid}:vma:${start}`,
  pte: (pid: number, vpage: number) => `pid:${pid}:pte:${vpage}`,
  pmd: (pid: number, base: number) => `pid:${pid}:pmd:${base}`,
  /** A TLB entry with no page table entry under it (a stale translation). */
  tlb: (pid: number, vpage: number) => `pid:${pid}:tlb:${vpage}`,
  frame: (head: number) => `frame:${head}`,
  pin: (handle: number) => `pin:${handle}`,
  frames: "frames",
} as const;

const bits = (e: { writable: boolean; dirty: boolean; young?: boolean }): string =>
  [e.writable ? "writable" : "write-protected", e.dirty ? "dirty" : "", e.young ? "young" : ""]
    .filter(Boolean)
    .join(" ");

function vmaLabel(v: MmVmaView): string {
  const file = `${v.hugetlb ? "hugetlb " : v.disk ? "disk " : ""}file ${v.file}`;
  const kind = v.file !== null ? `${v.shared ? "shared" : "private"} ${file}` : v.shared ? "shared" : "private";
  const flags = (["dontfork", "wipeonfork", "hugepage", "nohugepage", "mergeable"] as const).filter((f) => v[f]);
  return [`[${v.start},${v.end}) ${v.prot} ${kind}`, ...(flags.length ? [flags.join(" ")] : [])].join("\n");
}

export function mmPicture(s: MmState, g: MmGeometry): Graph {
  const huge = hugeSize(g);
  const groups: GraphGroup[] = [];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  /** Per folio (head pfn): how many page table entries map each of its pages, a PMD counting for every page. */
  const mappings = new Map<number, number[]>();
  const pinsOf = new Map<number, number>();
  const drawn = new Set<number>();

  const count = (pfn: number, pmd: boolean): MmFrameView | undefined => {
    const f = folioOf(s, pfn);
    if (!f) return undefined;
    const per = mappings.get(f.pfn) ?? new Array<number>(f.nr).fill(0);
    mappings.set(f.pfn, per);
    if (pmd) for (let i = 0; i < f.nr; i++) per[i]!++;
    else per[pfn - f.pfn]!++;
    drawn.add(f.pfn);
    return f;
  };

  /** An arrow from an entry to the folio it maps; a page of a THP says which. */
  const toFrame = (from: string, pfn: number, pmd: boolean, e: { writable: boolean }, extra: string[] = []) => {
    const f = count(pfn, pmd);
    const head = f?.pfn ?? pfn;
    if (!f) drawn.add(pfn); // a dangling entry: its frame is drawn as missing
    const label = !pmd && f && f.nr > 1 ? `+${pfn - f.pfn}` : undefined;
    const marks = [...extra, ...(pmd ? ["huge"] : []), ...(e.writable ? [] : ["readonly"])];
    edges.push({ from, to: mmIds.frame(head), ...(label ? { label } : {}), ...(marks.length ? { marks } : {}) });
  };

  const procs = [...s.procs.values()].sort((a, b) => a.pid - b.pid);
  for (const p of procs) drawProc(p);

  function drawProc(p: MmProcView): void {
    const pg = mmIds.proc(p.pid);
    groups.push({ id: pg, label: `pid ${p.pid}${p.hasPinned ? "\nhas pinned" : ""}` });
    for (const v of p.vmas) groups.push({ id: mmIds.vma(p.pid, v.start), label: vmaLabel(v), parent: pg });
    const groupAt = (vpage: number) => {
      const v = findVma(p.vmas, vpage);
      return v ? mmIds.vma(p.pid, v.start) : pg;
    };
    const tlbLine = (vpage: number, walk: { pfn: number; writable: boolean } | undefined): string[] => {
      const t = p.tlb.get(vpage);
      if (!t || (walk && t.pfn === walk.pfn && t.writable === walk.writable)) return [];
      return [`TLB → frame ${t.pfn} ${t.writable ? "w" : "r"}${t.dirty ? "d" : ""} (stale)`];
    };

    for (const [base, pmd] of [...p.pmds].sort((a, b) => a[0] - b[0])) {
      const id = mmIds.pmd(p.pid, base);
      const stale = Array.from({ length: huge }, (_, i) => tlbLine(base + i, { ...pmd, pfn: pmd.pfn + i })).flat();
      nodes.push({
        id,
        label: [`pages ${base}–${base + huge - 1} (PMD)`, bits(pmd), ...stale].join("\n"),
        group: groupAt(base),
        marks: ["huge", ...(pmd.writable ? [] : ["readonly"])],
      });
      toFrame(id, pmd.pfn, true, pmd);
    }

    for (const [vpage, pte] of [...p.ptes].sort((a, b) => a[0] - b[0])) drawPte(vpage, pte);

    function drawPte(vpage: number, pte: MmPteView): void {
      const id = mmIds.pte(p.pid, vpage);
      nodes.push({
        id,
        label: [`page ${vpage}`, bits(pte), ...tlbLine(vpage, pte)].join("\n"),
        group: groupAt(vpage),
        ...(pte.writable ? {} : { marks: ["readonly"] }),
      });
      toFrame(id, pte.pfn, false, pte);
    }

    // TLB entries that no page table entry backs any more (a missed flush): drawn on their own, dashed to the frame
    for (const [vpage, t] of [...p.tlb].sort((a, b) => a[0] - b[0])) {
      if (mappedAt(p, vpage, huge)) continue;
      const id = mmIds.tlb(p.pid, vpage);
      nodes.push({ id, label: `page ${vpage} (TLB only)\n${bits(t)}`, group: groupAt(vpage), marks: ["stale"] });
      const f = folioOf(s, t.pfn);
      drawn.add(f?.pfn ?? t.pfn);
      edges.push({ from: id, to: mmIds.frame(f?.pfn ?? t.pfn), label: "TLB", marks: ["stale"] });
    }
  }

  for (const pin of [...s.pins.values()].sort((a, b) => a.handle - b.handle)) {
    const id = mmIds.pin(pin.handle);
    const inProc = s.procs.has(pin.pid);
    const pages = pin.pfns.length > 1 ? `pages ${pin.vpage}–${pin.vpage + pin.pfns.length - 1}` : `page ${pin.vpage}`;
    nodes.push({
      id,
      label: `pin ${pin.handle}\n${pin.kind}${pin.write ? " write" : ""}, ${pages}`,
      ...(inProc ? { group: mmIds.proc(pin.pid) } : {}),
      marks: ["pinned"],
    });
    // one edge per folio the range holds, labelled with the pages of it held when it is large
    const byHead = new Map<number, number[]>();
    for (const pfn of pin.pfns) {
      const f = folioOf(s, pfn);
      const head = f?.pfn ?? pfn;
      byHead.set(head, [...(byHead.get(head) ?? []), f && f.nr > 1 ? pfn - f.pfn : -1]);
    }
    for (const [head, offsets] of byHead) {
      drawn.add(head);
      pinsOf.set(head, (pinsOf.get(head) ?? 0) + 1);
      const large = offsets.filter((o) => o >= 0);
      const label = large.length ? large.map((o) => `+${o}`).join(" ") : undefined;
      edges.push({ from: id, to: mmIds.frame(head), ...(label ? { label } : {}), marks: ["pinned"] });
    }
  }

  // every folio that holds something (the zero pages only when mapped): by head pfn
  for (const f of s.frames.values()) if (!f.zero) drawn.add(f.pfn);
  groups.push({ id: mmIds.frames, label: "frames" });
  for (const head of [...drawn].sort((a, b) => a - b)) {
    const f = s.frames.get(head);
    if (!f) {
      nodes.push({
        id: mmIds.frame(head),
        label: `frame ${head}\n(not allocated)`,
        group: mmIds.frames,
        marks: ["dead"],
      });
      continue;
    }
    nodes.push(frameNode(f, mappings.get(head) ?? [], pinsOf.get(head) ?? 0));
  }

  return {
    kind: "graph",
    direction: "LR",
    groups,
    nodes,
    edges,
    caption: `present entries only; ref = refcount, map = mapcount; ${s.allocations} folios allocated, ${s.copiedPages} pages copied since boot`,
  };
}

function frameNode(f: MmFrameView, mapped: readonly number[], pins: number): GraphNode {
  const name = f.zero
    ? f.nr > 1
      ? `huge zero page ${f.pfn}–${f.pfn + f.nr - 1}`
      : `zero page ${f.pfn}`
    : f.nr > 1
      ? `frame ${f.pfn}–${f.pfn + f.nr - 1} (THP)`
      : `frame ${f.pfn}`;
  const lines = [name];
  if (!f.zero) {
    const counts = [`ref ${f.refcount}`, `map ${f.mapcount}`];
    if (f.nr > 1) counts.push(`entire ${f.entireMapcount}`);
    if (f.nr > 1 ? f.pincount > 0 : maybeDmaPinned(f)) counts.push(`pin ${f.nr > 1 ? f.pincount : "≥1"}`);
    lines.push(counts.join(" "));
    if (f.nr > 1)
      lines.push(`pages map [${f.pageMapcount.join(" ")}] excl [${f.pageExclusive.map((e) => (e ? 1 : 0)).join("")}]`);
    const kind = [
      f.anon ? "anon" : "",
      f.anonExclusive ? "exclusive" : "",
      f.ksm ? (f.ksmStable ? "KSM" : "KSM (no stable node)") : "",
      f.cache ? `${f.cache} cache` : "",
    ].filter(Boolean);
    if (kind.length) lines.push(kind.join(" "));
    const data = Array.from(f.data);
    if (data.length <= 16) lines.push(`data ${data.join(" ")}`);
    else lines.push(`data ${data.slice(0, 12).join(" ")} …`);
  }
  const marks: string[] = [];
  if (mapped.some((n) => n > 1)) marks.push("shared");
  if (f.anonExclusive || f.pageExclusive.some(Boolean)) marks.push("exclusive");
  if (pins > 0 || (f.nr > 1 ? f.pincount > 0 : maybeDmaPinned(f))) marks.push("pinned");
  if (f.nr > 1) marks.push("huge");
  if (f.ksm) marks.push("ksm");
  if (f.zero) marks.push("zero");
  if (f.cache) marks.push("cache");
  return { id: mmIds.frame(f.pfn), label: lines.join("\n"), group: mmIds.frames, ...(marks.length ? { marks } : {}) };
}
