// The pagemap view: what /proc shows root of a process's pages (pagemap, kpageflags, smaps), and its comparison
// with the reference model's state for `cowcheck run --against model`. Linux cannot report the model's whole
// state (refcounts, rmaps, PageAnonExclusive), but it can report this much, and the model must agree with it:
// which (pid, vpage) pairs are present, which of them share a frame (compared as a partition: frames are matched
// by who maps them, never by number), which are mapped exactly once (pagemap bit 56), which frames are anonymous,
// KSM, THP or the zero page, and how much of each VMA is PMD-mapped. Where Linux may legitimately differ from the
// model's one deterministic choice, the difference is an entry of ALLOWANCES, with the kernel's reason.
import { z } from "zod";
import type { LayerView, ViewVerdict } from "../../core/index.ts";
import {
  findVma,
  folioOf,
  hugeSize,
  KSM_MAX_PAGE_SHARING,
  keyOf,
  type MmGeometry,
  type MmState,
  type MmVmaView,
  pidOf,
  vpageOf,
} from "../../models/mm/types.ts";

/** Page flag bits as the agent sends them (engines/linux/agent.c, enum V_*). */
export const PAGE = { exclusive: 1, file: 2, anon: 4, ksm: 8, thp: 16, zero: 32, hugetlb: 64 } as const;
const FLAG_NAMES = Object.keys(PAGE) as (keyof typeof PAGE)[];

const n = z.number().int().min(0);
export const pagemapSchema = z
  .object({
    procs: z.array(
      z
        .object({
          pid: z.number().int().min(1),
          /** Runs of present pages: [vpage, pfn, flags, count] is `count` pages from vpage on, at pfn, pfn + 1, … */
          pages: z.array(z.tuple([n, n, n.max(127), z.number().int().min(1)])),
          /** Each VMA in the window, in pages: [start, end, PMD-mapped anonymous pages (smaps AnonHugePages)]. */
          vmas: z.array(z.tuple([n, n, n])),
          /** Runs of swap PTEs (feature "swap"): [vpage, slot, count] is `count` pages from vpage in slot, slot + 1, … */
          swapped: z.array(z.tuple([n, n, z.number().int().min(1)])).optional(),
        })
        .strict(),
    ),
    /** ksmd scanned pages since the last view other than in this engine's ksmScan (absent: not known). */
    ksmdRan: z.boolean().optional(),
    /** A KSM page the engine's processes map is mapped by another process too (absent: not known). */
    ksmForeign: z.boolean().optional(),
    /** khugepaged collapsed pages since the last view (absent: not known). */
    khugepagedRan: z.boolean().optional(),
  })
  .strict();

export interface PagemapPage {
  readonly pfn: number;
  readonly flags: number;
}
export interface PagemapView {
  /** By (pid, vpage) key (keyOf): every present page. */
  readonly pages: ReadonlyMap<number, PagemapPage>;
  /** By pid: its VMAs as smaps lists them. */
  readonly vmas: ReadonlyMap<number, readonly (readonly [number, number, number])[]>;
  /** By (pid, vpage) key: the swap slot of every swap PTE (undefined: the engine does not report swap). */
  readonly swapped?: ReadonlyMap<number, number>;
  /** ksmd worked outside the engine's ksmScan since the last view. */
  readonly ksmdRan: boolean;
  /** A KSM page the engine's processes map is mapped outside them too (ksmd merges across the machine). */
  readonly ksmForeign: boolean;
  /** khugepaged collapsed pages (of any process) since the last view. */
  readonly khugepagedRan: boolean;
}

export function decodePagemap(json: unknown): PagemapView {
  const v = pagemapSchema.parse(json);
  const pages = new Map<number, PagemapPage>();
  const vmas = new Map<number, (readonly [number, number, number])[]>();
  const swapped = v.procs.some((p) => p.swapped) ? new Map<number, number>() : undefined;
  for (const p of v.procs) {
    for (const [vpage, pfn, flags, count] of p.pages)
      for (let i = 0; i < count; i++) pages.set(keyOf(p.pid, vpage + i), { pfn: pfn + i, flags });
    vmas.set(p.pid, p.vmas);
    for (const [vpage, slot, count] of p.swapped ?? [])
      for (let i = 0; i < count; i++) swapped!.set(keyOf(p.pid, vpage + i), slot + i);
  }
  return {
    pages,
    vmas,
    ...(swapped ? { swapped } : {}),
    ksmdRan: v.ksmdRan ?? false,
    ksmForeign: v.ksmForeign ?? false,
    khugepagedRan: v.khugepagedRan ?? false,
  };
}

/** What the model's state shows through pagemap: its present pages, from its page tables and folios. */
export function projectPagemap(s: MmState): Map<number, PagemapPage> {
  const huge = hugeSize(s.geometry);
  const pages = new Map<number, PagemapPage>();
  /** `asked` is the page whose mapcount decides the exclusive bit: the page itself under a PTE, the head under a PMD. */
  const flagsOf = (pfn: number, asked = pfn): number => {
    const f = folioOf(s, pfn)!;
    const i = asked - f.pfn;
    // The zero page is no normal page (vm_normal_page): neither file nor exclusive. pagemap_pmd_range takes the huge
    // zero page for a page all the same, one that is not anonymous: "file" (observed on 6.18).
    if (f.zero) return PAGE.zero | (f.nr > 1 ? PAGE.thp | PAGE.file : 0);
    let flags = f.anon ? PAGE.anon : PAGE.file; // shmem and page cache pages are "file-page or shared-anon"
    // pagemap_hugetlb_range: exclusive unless folio_maybe_mapped_shared, which for hugetlb is mapcount > 1;
    // kpageflags says KPF_HUGE, not KPF_THP
    if (f.hugetlb) return flags | PAGE.hugetlb | (f.mapcount <= 1 ? PAGE.exclusive : 0);
    if (f.ksm) flags |= PAGE.ksm;
    if (f.nr > 1) flags |= PAGE.thp;
    if (f.pageMapcount[i] + f.entireMapcount === 1) flags |= PAGE.exclusive; // folio_precise_page_mapcount == 1
    return flags;
  };
  for (const p of s.procs.values()) {
    for (const [vpage, pte] of p.ptes) pages.set(keyOf(p.pid, vpage), { pfn: pte.pfn, flags: flagsOf(pte.pfn) });
    // pagemap_pmd_range_thp (6.18) asks __folio_page_mapped_exclusively(folio, page) with the PMD's head page for
    // every page it maps: a page the PMD maps that another process also maps by PTE still reads exclusive when the
    // head is mapped once. A kernel finding (docs/linux.md); the view shows what Linux reports.
    for (const [base, pmd] of p.pmds)
      for (let i = 0; i < huge; i++)
        pages.set(keyOf(p.pid, base + i), { pfn: pmd.pfn + i, flags: flagsOf(pmd.pfn + i, pmd.pfn) });
  }
  return pages;
}

/**
 * smaps_pmd_entry: PMD-mapped anonymous folios in [start, end) count in AnonHugePages (the huge zero page does not,
 * nor hugetlb pages: smaps_hugetlb_range counts them apart).
 */
function anonHugePages(s: MmState, pid: number, start: number, end: number): number {
  let total = 0;
  for (const [base, pmd] of s.procs.get(pid)!.pmds) {
    const f = folioOf(s, pmd.pfn)!;
    if (base >= start && base < end && f.anon && !f.hugetlb) total += hugeSize(s.geometry);
  }
  return total;
}

const describe = (flags: number): string => FLAG_NAMES.filter((f) => flags & PAGE[f]).join("+") || "none";
const at = (key: number): string => `pid ${pidOf(key)} page ${vpageOf(key)}`;

/**
 * Where Linux may differ from the model, and why. A local allowance excuses one difference and the comparison
 * goes on; a desynchronizing one means Linux took another legitimate path, after which the two states are no
 * longer comparable: the rest of the sequence is checked against the oracle only.
 */
export const ALLOWANCES = {
  "fault-around":
    "a read fault on a file or shmem mapping also maps neighbouring pages already in the page cache (do_fault_around, fault_around_bytes); the model maps only the faulting page",
  "khugepaged-timing":
    "khugepaged collapsed pages on its own time (it wakes every scan_sleep_millisecs, 10 s by default) while the sequence had memory it may collapse; the model collapses only at a collapse op, so the states part (desynchronizes)",
  "ksm-dup-choice":
    "a page merged into another KSM page of the same contents than the model's: where more than max_page_sharing mappings share contents, ksmd keeps several (a stable_node chain of dups), and which one a page joins depends on the chain's order, which every stable-tree walk through it may change, and on a prune every stable_node_chains_prune_millisecs (stable_node_dup); the model keeps neither the tree's shape nor the time, so the states part (desynchronizes)",
  "ksm-split-busy":
    "ksmd left a large anonymous folio of a mergeable VMA unsplit where the model split it and mapped its zero-filled pages to the shared zero page (try_to_merge_one_page: split_huge_page fails while the folio holds a reference the model does not know, such as a CPU's pending LRU batch), so the states part (desynchronizes)",
  "swap-in-size":
    "a swap-in read a large folio back where the model read one page, or one page where the model read a large folio: alloc_swap_folio needs the entries' slots consecutive and aligned as the pages are, and the slots the swap allocator gives pages swapped out one by one depend on its per-CPU clusters and on the device's other users, which the model does not know (it numbers slots in order), so the states part (desynchronizes)",
  "disk-file-folio":
    "a disk file's page cache holds large folios (ext4 reads ahead into them, and do_set_pmd may map a PMD-sized one whole), where the model caches base pages: Linux flags a disk file's pages THP (their exclusive bit then follows the folio's mappings, the head page's under a PMD), maps pages of such a folio that the model does not, and unmaps a PMD-mapped one whole where the model keeps the page it faulted (a write fault, a split or a partial unmap zaps a file PMD; excused only where VMAs of the file cover the huge range without a gap, as a VMA split by madvise or mprotect leaves them, and Linux maps no file page of it)",
  "ksm-foreign":
    "a KSM page the sequence's processes map is mapped by another process too (/proc/kpagecount counts more mappings than the view shows): ksmd merges identical pages across the machine, so a page of the sequence merged with one of another run's processes (or of an earlier sequence's, still exiting), which the model does not know of, so the states part (desynchronizes)",
  "ksm-timing":
    "ksmd ran outside the sequence's ksmScan ops (another run drove it, or it runs on its own: ksmd is machine-wide) while the sequence had mergeable memory; it may have merged pages the model merges only at a ksmScan, so the states part (desynchronizes)",
} as const;
export type Allowance = keyof typeof ALLOWANCES;

/** Pages of the folio Linux maps at `key` as far as the view shows: the run of its neighbours at consecutive pfns. */
function linuxFolioPages(linux: PagemapView, key: number, pfn: number): number {
  let n = 1;
  for (let d = 1; linux.pages.get(key - d)?.pfn === pfn - d; d++) n++;
  for (let d = 1; linux.pages.get(key + d)?.pfn === pfn + d; d++) n++;
  return n;
}

/** Whether [from, to) lies wholly in VMAs (sorted, disjoint) mapping disk file `file`, without a gap. */
function coveredByFile(vmas: readonly MmVmaView[], file: number | null, from: number, to: number): boolean {
  let at = from;
  for (const v of vmas) {
    if (v.end <= at) continue;
    if (v.start > at || !v.disk || v.file !== file) return false;
    at = v.end;
    if (at >= to) return true;
  }
  return false;
}

/** Compare Linux's pagemap view with the model's state. */
export function comparePagemap(linux: PagemapView, model: MmState): ViewVerdict {
  const g: MmGeometry = model.geometry;
  const mine = projectPagemap(model);
  const allowed = new Set<Allowance>();
  const diverge = (property: string, message: string): ViewVerdict => ({
    divergence: { property: `pagemap-${property}`, message },
  });

  const anyVma = (test: (v: MmVmaView) => boolean): boolean => [...model.procs.values()].some((p) => p.vmas.some(test));
  if (linux.ksmdRan && anyVma((v) => v.mergeable)) return { desync: "ksm-timing" };
  if (linux.ksmForeign) return { desync: "ksm-foreign" };
  // (khugepaged never visits hugetlb VMAs: VM_NO_KHUGEPAGED)
  if (linux.khugepagedRan && anyVma((v) => !v.nohugepage && !v.hugetlb)) return { desync: "khugepaged-timing" };

  // A swap-in of another size than the model's: Linux maps a large folio's page where the model still has the swap
  // PTE, or the other way round.
  if (linux.swapped) {
    // an anonymous large folio below the PMD size (one swap-in reads), in private anonymous memory
    const mthp = (key: number, flags: number, nr: number): boolean => {
      const vma = findVma(model.procs.get(pidOf(key))!.vmas, vpageOf(key));
      return !!(flags & PAGE.anon && flags & PAGE.thp) && nr < hugeSize(g) && !!vma && !vma.shared && vma.file === null;
    };
    // ... where a swap-in happened: the side that read one page has, in that folio's range, pages present beside swap
    // PTEs (a pageout that disagreed would leave the whole range swapped out or present on one side)
    const mixed = (present: (k: number) => boolean, swapped: (k: number) => boolean, start: number, nr: number) => {
      let p = false;
      let w = false;
      for (let k = start; k < start + nr; k++) {
        p ||= present(k);
        w ||= swapped(k);
      }
      return p && w;
    };
    for (const p of model.procs.values())
      for (const vpage of p.swaps?.keys() ?? []) {
        const key = keyOf(p.pid, vpage);
        const l = linux.pages.get(key);
        if (!l) continue;
        const nr = 2 ** Math.floor(Math.log2(linuxFolioPages(linux, key, l.pfn)));
        const start = key - (l.pfn % nr);
        if (
          mthp(key, l.flags, nr) &&
          mixed(
            (k) => mine.has(k),
            (k) => !!p.swaps?.has(vpageOf(k)),
            start,
            nr,
          )
        )
          return { desync: "swap-in-size" };
      }
    for (const key of linux.swapped.keys()) {
      const m = mine.get(key);
      if (!m) continue;
      const f = folioOf(model, m.pfn)!;
      const start = key - (m.pfn - f.pfn);
      if (
        mthp(key, m.flags, f.nr) &&
        mixed(
          (k) => linux.pages.has(k),
          (k) => linux.swapped!.has(k),
          start,
          f.nr,
        )
      )
        return { desync: "swap-in-size" };
    }
    // ... where this op swapped the whole range in: a folio the model's swap-in just read is large where Linux's
    // page is a base page, or the other way round (swap-in reads large folios below the PMD size only)
    for (const [key, m] of mine) {
      const f = folioOf(model, m.pfn)!;
      const l = linux.pages.get(key);
      if (f.swapin && l && l.flags & PAGE.anon && f.nr > 1 !== !!(l.flags & PAGE.thp))
        return { desync: "swap-in-size" };
    }
  }

  // Present sets. Pages Linux maps and the model does not are excused only by fault-around.
  const aroundPfns = new Set<number>(); // frames fault-around also maps: their exclusive bits are not compared
  for (const [key, page] of linux.pages) {
    if (mine.has(key)) continue;
    const proc = model.procs.get(pidOf(key));
    const vma = proc && findVma(proc.vmas, vpageOf(key));
    // (hugetlb has no fault-around)
    if (
      vma &&
      !vma.hugetlb &&
      (vma.file !== null || vma.shared) &&
      page.flags & PAGE.file &&
      !(page.flags & PAGE.anon)
    ) {
      allowed.add(vma.disk && page.flags & PAGE.thp ? "disk-file-folio" : "fault-around");
      aroundPfns.add(page.pfn);
      continue;
    }
    return diverge(
      "present",
      `${at(key)} is present in Linux (pfn ${page.pfn}, ${describe(page.flags)}) but not in the model`,
    );
  }
  for (const [key, page] of mine) {
    if (linux.pages.has(key)) continue;
    // a write fault, split or partial unmap of a PMD-mapped disk-file folio unmaps the whole PMD (__split_huge_pmd
    // zaps a file PMD: the page cache still has the pages; a VMA split by madvise or mprotect splits it too), where
    // the model maps the page it faulted: only where VMAs of that file cover the huge range (do_set_pmd needed one
    // that did, which a split leaves in pieces) and Linux maps no file page of it any more
    const vmas = model.procs.get(pidOf(key))!.vmas;
    const vma = findVma(vmas, vpageOf(key));
    const base = key - (vpageOf(key) % hugeSize(g));
    const zapped = (): boolean => {
      for (let k = base; k < base + hugeSize(g); k++)
        if ((linux.pages.get(k)?.flags ?? PAGE.anon) & PAGE.file) return false;
      return true;
    };
    if (
      !(page.flags & PAGE.anon) &&
      vma?.disk &&
      coveredByFile(vmas, vma.file, vpageOf(base), vpageOf(base) + hugeSize(g)) &&
      zapped()
    ) {
      allowed.add("disk-file-folio");
      continue;
    }
    return diverge(
      "present",
      `${at(key)} is present in the model (pfn ${page.pfn}, ${describe(page.flags)}) but not in Linux`,
    );
  }

  // A large folio ksmd did not split this time: Linux still maps it where the model has the shared zero page.
  for (const [key, m] of mine) {
    const l = linux.pages.get(key);
    if (!l || !(m.flags & PAGE.zero) || l.flags & PAGE.zero || !(l.flags & PAGE.anon && l.flags & PAGE.thp)) continue;
    const vma = findVma(model.procs.get(pidOf(key))!.vmas, vpageOf(key));
    if (vma?.mergeable) return { desync: "ksm-split-busy" };
  }

  // Two KSM pages of the same contents in the model: dups of one stable_node chain.
  const dups = (a: number, b: number): boolean => {
    const fa = folioOf(model, a);
    const fb = folioOf(model, b);
    return !!fa?.ksm && !!fb?.ksm && Array.from(fa.data).every((c, i) => c === fb.data[i]);
  };
  // Contents that may have a chain of dups: mapped more than max_page_sharing times, or by two KSM pages already.
  const chained = (pfn: number): boolean => {
    const f = folioOf(model, pfn);
    if (!f?.ksm) return false;
    let pages = 0;
    let mappings = 0;
    for (const other of model.frames.values())
      if (other.ksm && Array.from(f.data).every((c, i) => c === other.data[i])) {
        pages++;
        mappings += other.mapcount;
      }
    return pages > 1 || mappings > KSM_MAX_PAGE_SHARING;
  };
  // The sharing partition: a bijection between Linux's pfns and the model's, over the pages both map.
  const toModel = new Map<number, number>();
  const toLinux = new Map<number, number>();
  const firstAt = new Map<number, number>(); // model pfn → the first key seen mapping it
  for (const [key, m] of mine) {
    const l = linux.pages.get(key);
    if (!l) continue; // (a disk-file page only the model maps)
    const known = toModel.get(l.pfn);
    if (known !== undefined && known !== m.pfn) {
      if (dups(known, m.pfn)) return { desync: "ksm-dup-choice" };
      return diverge(
        "sharing",
        `${at(key)} shares Linux's frame with ${at(firstAt.get(known)!)}, but in the model they map different frames (${m.pfn} and ${known})`,
      );
    }
    const back = toLinux.get(m.pfn);
    if (back !== undefined && back !== l.pfn) {
      if (l.flags & PAGE.ksm && linux.pages.get(firstAt.get(m.pfn)!)!.flags & PAGE.ksm && chained(m.pfn))
        return { desync: "ksm-dup-choice" };
      return diverge(
        "sharing",
        `${at(key)} shares the model's frame ${m.pfn} with ${at(firstAt.get(m.pfn)!)}, but in Linux they map different frames (${l.pfn} and ${back})`,
      );
    }
    toModel.set(l.pfn, m.pfn);
    toLinux.set(m.pfn, l.pfn);
    if (!firstAt.has(m.pfn)) firstAt.set(m.pfn, key);
    // Flags: the exclusive bit counts every mapping, fault-around's too; a disk file's page may sit in a large folio.
    let mask = aroundPfns.has(l.pfn) ? ~PAGE.exclusive : ~0;
    // Its exclusive bit is not the model's either: a PMD maps such a folio whole in a VMA without MADV_HUGEPAGE too
    // (do_set_pmd asks only that THPs are not disabled), and pagemap_pmd_range_thp then gives every page the head
    // page's bit (traces/mm/linux/disk-file-pmd-folio-head-decides-exclusive).
    if (
      l.flags & PAGE.thp &&
      !(l.flags & PAGE.anon) &&
      findVma(model.procs.get(pidOf(key))!.vmas, vpageOf(key))?.disk
    ) {
      mask &= ~(PAGE.thp | PAGE.exclusive);
      allowed.add("disk-file-folio");
    }
    if ((l.flags & mask) !== (m.flags & mask)) {
      return diverge("flags", `${at(key)} is ${describe(l.flags)} in Linux but ${describe(m.flags)} in the model`);
    }
    // A THP (or a hugetlb page) is naturally aligned: the page's index in its folio is the same on both sides.
    if (m.flags & (PAGE.thp | PAGE.hugetlb)) {
      const f = folioOf(model, m.pfn)!;
      if (l.pfn % f.nr !== m.pfn - f.pfn)
        return diverge(
          "flags",
          `${at(key)} is page ${l.pfn % f.nr} of its ${f.nr}-page folio in Linux but page ${m.pfn - f.pfn} in the model`,
        );
    }
  }

  // Swap PTEs: the same (pid, vpage) pairs, sharing slots alike (a partition, as frames are).
  if (linux.swapped) {
    const mineSwapped = new Map<number, number>();
    for (const p of model.procs.values())
      for (const [vpage, swp] of p.swaps ?? []) mineSwapped.set(keyOf(p.pid, vpage), swp.slot);
    const slotToModel = new Map<number, number>();
    const slotToLinux = new Map<number, number>();
    for (const [key, slot] of linux.swapped) {
      const m = mineSwapped.get(key);
      if (m === undefined)
        return diverge(
          "swap",
          `${at(key)} is swapped out in Linux but ${mine.has(key) ? "present" : "not mapped"} in the model`,
        );
      if ((slotToModel.get(slot) ?? m) !== m || (slotToLinux.get(m) ?? slot) !== slot)
        return diverge("swap", `${at(key)}'s swap slot is shared differently in Linux and in the model`);
      slotToModel.set(slot, m);
      slotToLinux.set(m, slot);
    }
    for (const key of mineSwapped.keys())
      if (!linux.swapped.has(key))
        return diverge(
          "swap",
          `${at(key)} is swapped out in the model but ${linux.pages.has(key) ? "present" : "not mapped"} in Linux`,
        );
  }

  // VMAs (split and merged as Linux does), and their PMD mappings: AnonHugePages against the model's PMDs.
  for (const pid of model.procs.keys())
    if (!linux.vmas.has(pid)) return diverge("present", `the model has pid ${pid}, Linux does not`);
  for (const [pid, vmas] of linux.vmas) {
    const proc = model.procs.get(pid);
    if (!proc) return diverge("present", `Linux has pid ${pid}, the model does not`);
    const shape = (list: readonly { start: number; end: number }[]): string =>
      list.map((v) => `[${v.start}, ${v.end})`).join(" ") || "none";
    const theirs = vmas.map(([start, end]) => ({ start, end }));
    if (shape(theirs) !== shape(proc.vmas))
      return diverge("vmas", `pid ${pid}'s VMAs are ${shape(theirs)} in Linux but ${shape(proc.vmas)} in the model`);
    for (const [start, end, anonHuge] of vmas) {
      const expected = anonHugePages(model, pid, start, end);
      if (anonHuge !== expected) {
        return diverge(
          "thp",
          `pid ${pid}'s VMA of pages [${start}, ${end}) has ${anonHuge / hugeSize(g)} PMD-mapped huge page(s) in Linux (AnonHugePages), ${expected / hugeSize(g)} in the model`,
        );
      }
    }
  }
  return allowed.size ? { allowed: [...allowed] } : {};
}

/** The view as an engine sends it (the agent's JSON), from a model's state: for model-backed engines and tests. */
export function encodePagemap(s: MmState): z.infer<typeof pagemapSchema> {
  const pages = projectPagemap(s);
  return {
    procs: [...s.procs.values()].map((p) => ({
      pid: p.pid,
      pages: [...pages]
        .filter(([key]) => pidOf(key) === p.pid)
        .sort(([a], [b]) => a - b)
        .map(([key, pg]) => [vpageOf(key), pg.pfn, pg.flags, 1] as [number, number, number, number]),
      vmas: p.vmas.map((v) => [v.start, v.end, anonHugePages(s, p.pid, v.start, v.end)] as [number, number, number]),
      swapped: [...(p.swaps ?? [])]
        .sort(([a], [b]) => a - b)
        .map(([vpage, swp]) => [vpage, swp.slot, 1] as [number, number, number]),
    })),
  };
}

export const pagemapView: LayerView<MmState> = {
  name: "pagemap",
  decode: decodePagemap,
  compare: (view, reference) => comparePagemap(view as PagemapView, reference),
};
