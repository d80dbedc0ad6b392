// Economy bounds: copy-on-write must defer the copy. An eager engine gives the right data and fails these.

import type { Property } from "../../core/index.ts";
import {
  findVma,
  folioOf,
  hugeSize,
  KSM_MAX_PAGE_SHARING,
  type MmObs,
  type MmOp,
  type MmState,
  mappedAt,
  maybeDmaPinned,
  pidOf,
  vpageOf,
} from "../../models/mm/types.ts";

interface Counters {
  folios: number;
  pages: number;
  copies: number;
  /** Swap entries (swap PTEs, page-cache pages on swap): an op that reads some back may allocate a folio for each. */
  swapped: number;
}

const counters = (s: MmState): Counters => ({
  folios: s.allocations,
  pages: s.allocatedPages,
  copies: s.copiedPages,
  swapped: s.swapEntries ?? 0,
});

/** A property that sees, per op, what the op allocated and copied. Fork has its own bound. */
function perOp(
  name: string,
  description: string,
  check: (op: MmOp, used: Counters, s: MmState) => string | undefined,
): Property<MmOp, MmObs, MmState> {
  return {
    name,
    kind: "economy",
    description,
    start(initial) {
      let before = counters(initial);
      return {
        after(op, _obs, s) {
          const now = counters(s);
          const used = {
            folios: now.folios - before.folios,
            pages: now.pages - before.pages,
            copies: now.copies - before.copies,
            swapped: now.swapped - before.swapped,
          };
          before = now;
          return op.op === "fork" ? undefined : check(op, used, s);
        },
      };
    },
  };
}

/** Pages an access op touches: a read, write, fill or pin of a range, one page by default. */
const span = (op: MmOp): number =>
  op.op === "fill" ? op.pages : op.op === "read" || op.op === "pin" ? (op.pages ?? 1) : 1;

/**
 * The huge pages of an access op's range that lie in hugetlb VMAs (feature "hugetlb"): each one is faulted in,
 * and copied on write, whole.
 */
function hugetlbPages(op: MmOp, s: MmState): number {
  if (!("pid" in op) || !["read", "write", "fill", "pin", "forceRead", "forceWrite"].includes(op.op)) return 0;
  const vmas = s.procs.get(op.pid)?.vmas ?? [];
  const huge = hugeSize(s.geometry);
  const page = (op as { page: number }).page;
  let n = 0;
  for (let base = page - (page % huge); base < page + span(op); base += huge) if (findVma(vmas, base)?.hugetlb) n++;
  return n;
}

/**
 * Base pages an op may copy: a write (a forced one too) or a pin breaks COW on one page (a fill or a pin of a range on each of its
 * pages); collapse copies a huge page; unmerging copies each KSM page (mremap unmerges what it moves); a KSM scan
 * copies only where a merge failed on a page held by a reference (break_cow).
 */
function copyBudget(op: MmOp, s: MmState): number {
  switch (op.op) {
    case "write":
    case "forceWrite":
    case "fill":
    case "pin":
      return span(op) + hugetlbPages(op, s) * hugeSize(s.geometry); // hugetlb_wp copies the whole huge page
    case "mremap":
      return op.pages;
    case "collapse":
      return hugeSize(s.geometry);
    case "madvise":
      return op.advice === "unmergeable" ? op.pages : 0;
    case "ksmScan":
      return ksmBreakBudget(s);
    default:
      return 0;
  }
}

export const copiesOnlyOnWrite = perOp(
  "copies-only-on-write",
  "only a write or a pin copies, and one base page at most (a CoW fault on a THP copies one page, not the huge page); a read — of a private file page too — copies nothing",
  (op, used, s) => {
    const budget = copyBudget(op, s);
    return used.copies > budget ? `${op.op} copied ${used.copies} page(s); the bound is ${budget}` : undefined;
  },
);

/** Folios an op may allocate (fork has its own bound). */
function folioBudget(op: MmOp, s: MmState, hugetlb: number): number {
  switch (op.op) {
    case "read":
    case "forceRead": {
      // Untouched anonymous memory reads the zero page (or the huge zero page): only a page cache may fill in.
      const vmas = s.procs.get(op.pid)?.vmas ?? [];
      let folios = hugetlb; // hugetlb has no zero page: a read faults in each huge page
      for (let vpage = op.page; vpage < op.page + span(op); vpage++) {
        const vma = findVma(vmas, vpage);
        if (!(vma && !vma.shared && vma.file === null)) folios++;
      }
      return folios;
    }
    case "write":
    case "forceWrite":
    case "fill":
    case "pin":
      return 2 * span(op); // a private file page: read into the page cache, then copied
    case "mremap":
      return op.pages; // KSM pages it moves are unmerged
    case "fileWrite":
    case "collapse":
      return 1;
    case "madvise":
      return op.advice === "unmergeable" ? op.pages : 0;
    case "ksmScan":
      return ksmBreakBudget(s);
    default:
      return 0;
  }
}

export const faultAllocatesOne = perOp(
  "fault-allocates-one",
  "a write or pin allocates at most one folio (of a private file page two: the page-cache page and its copy), a read of anonymous memory none (of hugetlb memory one per huge page), besides one per swap entry read back; a huge folio only for a write or pin of untouched memory, a collapse, or hugetlb memory; other ops nothing",
  (op, used, s) => {
    // do_swap_page: each swap entry an op takes back may allocate the folio it reads into, a large one too
    // (alloc_swap_folio), as long as swap entries went
    const access = [
      "read",
      "write",
      "fill",
      "pin",
      "collapse",
      "fileRead",
      "fileWrite",
      "forceRead",
      "forceWrite",
    ].includes(op.op);
    const swappedIn = access ? Math.max(0, -used.swapped) : 0;
    const hugetlb = hugetlbPages(op, s);
    const budget = folioBudget(op, s, hugetlb);
    const folios = budget + swappedIn;
    if (used.folios > folios) return `${op.op} allocated ${used.folios} folio(s); the bound is ${folios}`;
    const huge = used.pages > used.folios;
    if (huge && swappedIn && used.pages > budget * hugeSize(s.geometry) + swappedIn)
      return `${op.op} allocated ${used.pages} page(s) reading back ${swappedIn} swap entries`;
    const write = op.op === "write" || op.op === "forceWrite" || op.op === "fill" || op.op === "pin";
    // a range may copy one page and fault a THP into untouched memory further on; hugetlb memory comes in huge pages
    const allowed = op.op === "collapse" || (write && (used.copies === 0 || span(op) > 1)) || hugetlb > 0;
    if (huge && !swappedIn && !allowed) {
      return `${op.op} allocated a huge folio${used.copies ? " while copying" : ""}`;
    }
    return undefined;
  },
);

/**
 * fork shares every page; only a maybe-DMA-pinned anonymous page of a process that has pinned is copied for the
 * child (copy_present_page), one base page each.
 */
export const forkCopiesOnlyPinned: Property<MmOp, MmObs, MmState> = {
  name: "fork-copies-only-pinned",
  kind: "economy",
  description: "fork allocates nothing but one copy per maybe-pinned anonymous page; every other page is shared",
  start(initial) {
    let before = initial.allocatedPages;
    return {
      after(op, obs, s) {
        const used = s.allocatedPages - before;
        before = s.allocatedPages;
        if (op.op !== "fork" || !("pid" in obs)) return undefined;
        const parent = s.procs.get(op.pid);
        const child = s.procs.get(obs.pid);
        if (!parent || !child) return undefined;
        const huge = hugeSize(s.geometry);
        let copies = 0;
        const check = (vpage: number, pfn: number): string | undefined => {
          const theirs = mappedAt(parent, vpage, huge);
          if (!theirs || theirs.pfn === pfn) return undefined;
          const f = folioOf(s, theirs.pfn);
          copies++;
          if (f?.anon && maybeDmaPinned(f) && parent.hasPinned) return undefined;
          return `fork gave pid ${obs.pid} page ${vpage} frame ${pfn}, a copy of the parent's frame ${theirs.pfn}, which is not pinned`;
        };
        for (const [vpage, pte] of child.ptes) {
          const m = check(vpage, pte.pfn);
          if (m) return m;
        }
        for (const [base, pmd] of child.pmds) {
          for (let i = 0; i < huge; i++) {
            const m = check(base + i, pmd.pfn + i);
            if (m) return m;
          }
        }
        return used > copies ? `fork allocated ${used} page(s) but copied only ${copies} pinned page(s)` : undefined;
      },
    };
  },
};

/**
 * After fork, a private page neither side has written (nor unmapped, discarded, pinned, collapsed or merged)
 * still maps the parent's page in both processes — through a PTE or a PMD. Expectations are kept per
 * (pid, vpage) and dropped by the ops that may end sharing.
 */
export const unwrittenPagesStayShared: Property<MmOp, MmObs, MmState> = {
  name: "unwritten-pages-stay-shared",
  kind: "economy",
  description:
    "a private page not written since fork still shares its page (not a zero page) between parent and child; a THP CoW leaves its other pages shared",
  start() {
    const expect = new Map<number, Map<number, number>>(); // pid → vpage → pfn
    const forget = (pid: number, start: number, end: number): void => {
      const m = expect.get(pid);
      if (!m) return;
      if (end - start <= m.size) for (let v = start; v < end; v++) m.delete(v);
      else for (const v of m.keys()) if (v >= start && v < end) m.delete(v);
    };
    const verify = (s: MmState, pid: number, vpage: number, pfn: number): string | undefined => {
      const p = s.procs.get(pid);
      const now = p && mappedAt(p, vpage, hugeSize(s.geometry));
      if (now?.pfn === pfn) return undefined;
      return `pid ${pid} page ${vpage} was shared since fork and never written, but ${now ? `now maps frame ${now.pfn}` : "is not mapped"} instead of frame ${pfn}`;
    };
    return {
      after(op, obs, s, full) {
        const huge = hugeSize(s.geometry);
        switch (op.op) {
          case "write":
          case "forceWrite":
          case "fill":
          case "pin":
            // a hugetlb CoW copies the whole huge page
            if (hugetlbPages(op, s)) forget(op.pid, op.page - (op.page % huge), op.page + span(op) + huge);
            else forget(op.pid, op.page, op.page + span(op));
            break;
          case "mremap": {
            // what moved (a move of several VMAs keeps each one's offset), and where it went; hugetlb lengths
            // are rounded up to whole huge pages
            const lo = Math.min(op.page, op.to ?? op.page);
            const hi = Math.max(op.page + op.pages, (op.to ?? op.page) + Math.max(op.pages, op.newPages)) + huge;
            const vmas = s.procs.get(op.pid)?.vmas ?? [];
            const more = vmas.some((v) => v.hugetlb && v.start < hi && v.end > lo) ? huge : 0;
            forget(op.pid, op.page, op.page + op.pages + more);
            forget(op.pid, op.to ?? op.page, (op.to ?? op.page) + Math.max(op.pages, op.newPages) + more);
            break;
          }
          case "collapse": {
            const base = op.page - (op.page % huge);
            forget(op.pid, base, base + huge);
            break;
          }
          case "ksmScan":
            expect.clear();
            break;
          case "mmap":
          case "munmap":
            // a hugetlb mmap rounds its length up to whole huge pages
            forget(op.pid, op.page, op.page + op.pages + (op.op === "mmap" && op.hugetlb ? huge : 0));
            break;
          case "madvise":
            if (op.advice === "dontneed" || op.advice === "unmergeable") forget(op.pid, op.page, op.page + op.pages);
            // pageout swaps out pages only this process maps, and may split a large folio it cuts: a split maps the
            // pages of zeros to the zero page, the folio's pages outside the range too (wherever mremap put them)
            if (op.advice === "pageout") expect.delete(op.pid);
            break;
          case "exit":
          case "exec":
            expect.delete(op.pid);
            break;
          case "fork": {
            if (!("pid" in obs)) break;
            const parent = s.procs.get(op.pid);
            const child = s.procs.get(obs.pid);
            if (!parent || !child) break;
            const pm = expect.get(op.pid) ?? new Map<number, number>();
            const cm = new Map<number, number>();
            const note = (vpage: number, pfn: number): void => {
              if (findVma(child.vmas, vpage)?.shared !== false || mappedAt(parent, vpage, huge)?.pfn !== pfn) return;
              if (folioOf(s, pfn)?.zero !== false) return; // a zero page shares nothing worth saving
              pm.set(vpage, pfn);
              cm.set(vpage, pfn);
            };
            for (const [vpage, pte] of child.ptes) note(vpage, pte.pfn);
            for (const [base, pmd] of child.pmds) for (let i = 0; i < huge; i++) note(base + i, pmd.pfn + i);
            expect.set(op.pid, pm);
            expect.set(obs.pid, cm);
            break;
          }
        }
        if (full || !s.touched) {
          for (const [pid, m] of expect) {
            for (const [vpage, pfn] of m) {
              const msg = verify(s, pid, vpage, pfn);
              if (msg) return msg;
            }
          }
          return undefined;
        }
        for (const key of s.touched.keys) {
          const pid = pidOf(key);
          const m = expect.get(pid);
          if (!m) continue;
          const vpage = vpageOf(key);
          // A touched PMD key stands for its whole huge range.
          const span = vpage % huge === 0 ? huge : 1;
          for (let v = vpage; v < vpage + span; v++) {
            const pfn = m.get(v);
            if (pfn === undefined) continue;
            const msg = verify(s, pid, v, pfn);
            if (msg) return msg;
          }
        }
        return undefined;
      },
    };
  },
};

/**
 * The anonymous pages mapped in mergeable VMAs, by contents: their frames, and whether a page that cannot merge has them (`blocked`): one held by a GUP reference or pin, or
 * a KSM page outside the stable tree (left by a failed merge). Such a page can sit in the unstable tree, where
 * every merge with it fails and is undone (try_to_merge_two_pages → break_cow).
 */
function ksmContents(s: MmState): Map<string, { pfns: Set<number>; blocked: boolean; full: boolean }> {
  const huge = hugeSize(s.geometry);
  const cpp = s.geometry.cellsPerPage;
  const out = new Map<string, { pfns: Set<number>; blocked: boolean; full: boolean }>();
  for (const p of s.procs.values()) {
    const visit = (vpage: number, pfn: number): void => {
      if (!findVma(p.vmas, vpage)?.mergeable) return;
      const f = folioOf(s, pfn);
      if (!f?.anon || f.zero) return;
      const i = pfn - f.pfn;
      // this page's cells alone: a copy of the whole folio's per page would cost a THP's size squared
      const [from, to] = [i * cpp, (i + 1) * cpp];
      const sum = (
        f.data instanceof Uint8Array ? f.data.subarray(from, to) : Array.prototype.slice.call(f.data, from, to)
      ).join(",");
      const c = out.get(sum) ?? { pfns: new Set<number>(), blocked: false, full: false };
      c.pfns.add(pfn);
      c.blocked ||= f.ksm ? !f.ksmStable : f.refcount !== f.mapcount + (f.swap == null ? 0 : f.nr);
      c.full ||= f.ksm && f.mapcount >= KSM_MAX_PAGE_SHARING; // then the next sharers start another KSM page
      out.set(sum, c);
    };
    for (const [vpage, pte] of p.ptes) visit(vpage, pte.pfn);
    for (const [base, pmd] of p.pmds) for (let i = 0; i < huge; i++) visit(base + i, pmd.pfn + i);
  }
  return out;
}

/**
 * What break_cow may copy in a ksmScan: nothing, unless some contents are blocked, or are all zeros (a THP's
 * page of zeros becomes the zero page when ksmd splits the THP to merge it, and the merge fails); then each of
 * their mappings may be merged and undone again on every full scan, and ksmd makes as many as it likes.
 */
function ksmBreakBudget(s: MmState): number {
  for (const [sum, c] of ksmContents(s)) if (c.blocked || /^0(,0)*$/.test(sum)) return Infinity;
  return 0;
}

/** After a KSM scan, no two distinct pages that KSM could merge hold equal contents (mm/ksm.c's whole point). */
export const ksmMergesIdentical: Property<MmOp, MmObs, MmState> = {
  name: "ksm-merges-identical",
  kind: "economy",
  description:
    "after a KSM scan, identical anonymous pages in mergeable VMAs occupy one frame (one per max_page_sharing sharers), unless a page that cannot merge (held by a GUP reference or pin, or a KSM page a failed merge left outside the stable tree) has those contents too",
  start() {
    return {
      after(op, _obs, s) {
        if (op.op !== "ksmScan") return undefined;
        for (const { pfns, blocked, full } of ksmContents(s).values()) {
          if (pfns.size > 1 && !blocked && !full)
            return `frames ${[...pfns].join(", ")} hold the same contents and could be merged, but KSM left them apart`;
        }
        return undefined;
      },
    };
  },
};

export const mmEconomy = [
  forkCopiesOnlyPinned,
  faultAllocatesOne,
  copiesOnlyOnWrite,
  unwrittenPagesStayShared,
  ksmMergesIdentical,
];
