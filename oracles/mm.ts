// Eager-copy oracle for the mm layer: every process owns a private copy of every private page it wrote, fork
// copies them all, a shared mapping is one shared object, a file is one object whose pages private mappings read
// until they write them. Attributes live in runs of pages that are split wherever an op changes them at its
// range's ends (as the kernel splits VMAs), never merged (no VMA merge rules); pages nobody wrote are not stored
// at all, so nothing costs the size of the window. THP and KSM change no observation, so the oracle has neither
// (only their VMA flags, which split VMAs too).
//
// A pin is a reference to the storage the pinning process had mapped when it pinned:
// - a coherent pin (FOLL_PIN with write, or FOLL_LONGTERM) must read exactly what that storage holds now;
//   a private page is made the process's own first (the COW break or unshare GUP does);
// - any other reference (FOLL_GET, a short-term read-only FOLL_PIN) is not coherent in Linux: it may keep
//   showing an older version of the page. It may read any version its storage has held since it was taken,
//   and nothing else: never another process's write.
import { deepEqual, type Engine } from "../core/index.ts";
import {
  err,
  LowestFree,
  MIN_ANON_THP_ORDER,
  MM_FEATURES,
  MM_MAX_HANDLES,
  MM_MAX_PIDS,
  type MmGeometry,
  type MmObs,
  type MmOp,
  OK,
  type PinKind,
  type Prot,
  SEGV,
} from "../models/mm/types.ts";

/** The version sets of FOLL_GET references (the ones a hugetlb page's family shares). */
const getRefs = new WeakSet<Set<string>>();

/** One page of storage, with the version sets of the references that watch it. */
class Store {
  readonly watchers = new Set<Set<string>>();
  /**
   * A private hugetlb page's copies made by fork, this one among them: hugetlb_wp reuses a page mapped once
   * whatever else references it, so a GUP reference (FOLL_GET) on one may see the writes of another (cow.c's
   * expected vmsplice leaks). Such a reference watches every store of the family, and the copies made later (a
   * FOLL_PIN unshares first: its page is exclusive, and fork copies it).
   */
  family?: Set<Store>;
  constructor(readonly data: Uint8Array) {}
  write(cell: number, value: number): void {
    this.data[cell] = value;
    for (const versions of this.watchers) versions.add(this.data.join(","));
  }
  /** memset of the page: one new version (a copy made by the fault before it holds the old one). */
  fill(value: number): void {
    this.data.fill(value);
    for (const versions of this.watchers) versions.add(this.data.join(","));
  }
}

interface Ref {
  readonly pid: number;
  /** One store per page of the range. */
  readonly stores: readonly Store[];
  readonly coherent: boolean;
  readonly write: boolean;
  readonly kind: PinKind;
  /** Taken with `pages`: pinRead answers `{pages}`. */
  readonly range: boolean;
  /** Per page, every version its store has held since the reference was taken (history references only). */
  readonly versions: readonly Set<string>[];
}

/** What a process maps: its extents and the private pages it wrote (see AddressSpace). */
interface Mappings {
  extents: Extent[];
  own: Map<number, Store>;
}

/** A piece of a remap_move: pages [start, end) of the extents it runs over, `last` the last of them. */
interface Piece {
  start: number;
  end: number;
  last: Extent;
}

interface PageObject {
  readonly pages: Map<number, Store>;
  /** Pages in the object: past them a shared mapping faults (a shared anonymous mapping grown by mremap). */
  readonly size: number;
  /** hugetlb memory: its pages come in whole huge pages, and a hugetlb memfd has no write(2). */
  readonly hugetlb?: boolean;
  /** A disk file: a writable longterm pin of a shared writable mapping of it is refused (dirty tracking). */
  readonly disk?: boolean;
}

/** What a run of mapped pages shares: its attributes, and what it maps. */
interface Extent {
  /** [start, end) in pages. */
  start: number;
  end: number;
  prot: Prot;
  dontfork: boolean;
  wipeonfork: boolean;
  /** hugetlb memory (feature "hugetlb"): split only at huge boundaries, and its THP advice, which splits it too. */
  readonly hugetlb: boolean;
  thpAdvice: "hugepage" | "nohugepage" | null;
  /** VM_MERGEABLE (never on shared or hugetlb memory): a flag that splits VMAs too. */
  mergeable: boolean;
  /** Shared mappings: the object (shmem or file), page `objStart` of it at `start`. */
  readonly shared: PageObject | null;
  /** Private file mappings: the file read until the process writes the page. */
  readonly file: PageObject | null;
  objStart: number;
}

/**
 * A process's pages: runs of pages with the same attributes (sorted, disjoint), and the private pages it has written
 * (absent: never written, so zeros or the file's page). Only what exists is stored: a range op costs the runs and
 * written pages in its range, never a walk of the window.
 */
interface AddressSpace {
  extents: Extent[];
  readonly own: Map<number, Store>;
}

/**
 * The allowed observations where Linux may legitimately differ (see Layer.oracle); in a range's pages, a page may
 * be `oneOf` several contents (core's allows matches a `oneOf` at any depth).
 */
export type Allowed = MmObs | { oneOf: MmObs[] } | { pages: (number[] | { oneOf: number[][] })[] };

export class MmOracle implements Engine<MmOp, Allowed> {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string> = new Set(MM_FEATURES);
  private readonly procs = new Map<number, AddressSpace>();
  private readonly refs = new Map<number, Ref>();
  private readonly files: PageObject[];
  private readonly hugetlbFiles: PageObject[];
  private readonly diskFiles: PageObject[];
  /** Pages per huge page. */
  private readonly huge: number;
  /** The lowest free pid and handle (the layer's naming convention). */
  private readonly pids = new LowestFree(MM_MAX_PIDS, "processes");
  private readonly handles = new LowestFree(MM_MAX_HANDLES, "pins");

  constructor(private readonly geometry: MmGeometry) {
    this.files = Array.from({ length: geometry.files }, () => ({ pages: new Map(), size: geometry.pages }));
    this.huge = 1 << geometry.hugeOrder;
    this.hugetlbFiles = Array.from({ length: geometry.hugetlbFiles ?? 0 }, () => ({
      pages: new Map(),
      size: geometry.pages - (geometry.pages % this.huge), // whole huge pages
      hugetlb: true,
    }));
    this.diskFiles = Array.from({ length: geometry.diskFiles ?? 0 }, () => ({
      pages: new Map(),
      size: geometry.pages,
      disk: true,
    }));
  }

  /** The files an op names: the regular ones, the hugetlb memfds or the disk files. */
  private filesOf(kind: { hugetlb?: boolean; disk?: boolean }): PageObject[] {
    return kind.hugetlb ? this.hugetlbFiles : kind.disk ? this.diskFiles : this.files;
  }

  /** A split at `page` would cut a hugetlb mapping off a huge boundary (EINVAL). */
  private cuts(as: AddressSpace, page: number): boolean {
    return page % this.huge !== 0 && MmOracle.extentAt(as, page)?.hugetlb === true;
  }

  /**
   * Whether [start, end) may be unmapped: not where it cuts a hugetlb mapping (EINVAL), and then a split made at
   * the start first stays (vms_gather_munmap_vmas).
   */
  private mayUnmap(as: AddressSpace, start: number, end: number): boolean {
    if (this.cuts(as, start)) return false;
    if (!this.cuts(as, end)) return true;
    MmOracle.split(as, start);
    return false;
  }

  /** `n` pages rounded up to whole huge pages. */
  private roundUp(n: number): number {
    return Math.ceil(n / this.huge) * this.huge;
  }

  /** The lowest free pid (the layer's naming convention). */
  private addProc(as: AddressSpace): number {
    const pid = this.pids.take();
    this.procs.set(pid, as);
    return pid;
  }

  private zeros(): Uint8Array {
    return new Uint8Array(this.geometry.cellsPerPage);
  }

  private objectPage(obj: PageObject, page: number): Store {
    const base = obj.hugetlb ? page - (page % this.huge) : page;
    for (let p = base; p < (obj.hugetlb ? base + this.huge : page + 1); p++)
      if (!obj.pages.has(p)) obj.pages.set(p, new Store(this.zeros()));
    return obj.pages.get(page)!;
  }

  /**
   * The fault of hugetlb memory, before any access: a shared mapping's page cache gets the whole huge page; a
   * private mapping maps the file's huge page if the file has it, and otherwise gets a zeroed huge page of its own
   * (hugetlb_no_page fills a page cache from shared mappings only: the file's later writes never show there).
   */
  private hugetlbFault(as: AddressSpace, e: Extent, page: number): void {
    if (!e.hugetlb) return;
    if (e.shared) {
      this.objectPage(e.shared, MmOracle.objPage(e, page));
      return;
    }
    const base = page - (page % this.huge);
    if (as.own.has(page) || e.file?.pages.has(MmOracle.objPage(e, base))) return;
    for (let p = base; p < base + this.huge; p++) if (!as.own.has(p)) as.own.set(p, new Store(this.zeros()));
  }

  /** The index of the first extent ending after `page` (the one holding it, or the next one). */
  private static after(as: AddressSpace, page: number): number {
    let lo = 0;
    let hi = as.extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (as.extents[mid]!.end <= page) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The extent holding `page`, if it is mapped. */
  private static extentAt(as: AddressSpace, page: number): Extent | undefined {
    const e = as.extents[MmOracle.after(as, page)];
    return e && e.start <= page ? e : undefined;
  }

  /** Make `page` the start of an extent if it is inside one (the two halves keep the attributes). */
  private static split(as: AddressSpace, page: number): void {
    const i = MmOracle.after(as, page);
    const e = as.extents[i];
    if (!e || e.start >= page) return;
    as.extents.splice(i + 1, 0, { ...e, start: page, objStart: e.objStart + (page - e.start) });
    e.end = page;
  }

  /** The private pages written in [start, end) are forgotten (by the range or by the written pages, whichever is fewer). */
  private static dropOwn(as: AddressSpace, start: number, end: number): void {
    if (end - start <= as.own.size) for (let p = start; p < end; p++) as.own.delete(p);
    else for (const p of as.own.keys()) if (p >= start && p < end) as.own.delete(p);
  }

  /** Unmap [start, end): its extents and its written pages go. */
  private static unmap(as: AddressSpace, start: number, end: number): void {
    MmOracle.split(as, start);
    MmOracle.split(as, end);
    const from = MmOracle.after(as, start);
    let to = from;
    while (to < as.extents.length && as.extents[to]!.start < end) to++;
    as.extents.splice(from, to - from);
    MmOracle.dropOwn(as, start, end);
  }

  /** Page `page` of extent `e` in the object it maps. */
  private static objPage(e: Extent, page: number): number {
    return e.objStart + (page - e.start);
  }

  /** What the process sees at a page, without creating anything. */
  private view(as: AddressSpace, e: Extent, page: number): Uint8Array {
    const at = MmOracle.objPage(e, page);
    if (e.shared) return e.shared.pages.get(at)?.data ?? this.zeros();
    const own = as.own.get(page);
    if (own) return own.data;
    return e.file?.pages.get(at)?.data ?? this.zeros();
  }

  /** The storage a write (or a coherent pin) of the page goes to: a private page becomes the process's own. */
  private own(as: AddressSpace, e: Extent, page: number): Store {
    if (e.shared) return this.objectPage(e.shared, MmOracle.objPage(e, page));
    if (e.hugetlb && !as.own.has(page)) {
      // hugetlb_wp copies the whole huge page
      const base = page - (page % this.huge);
      for (let p = base; p < base + this.huge; p++)
        if (!as.own.has(p)) as.own.set(p, new Store(this.view(as, e, p).slice()));
    }
    let s = as.own.get(page);
    if (!s) {
      s = new Store(e.file ? this.view(as, e, page).slice() : this.zeros());
      as.own.set(page, s);
    }
    return s;
  }

  /** The extent a process may access `page` through (a shared object's page past its end faults), if any. */
  private static reach(as: AddressSpace, page: number): Extent | undefined {
    const e = MmOracle.extentAt(as, page);
    return e && !(e.shared && MmOracle.objPage(e, page) >= e.shared.size) ? e : undefined;
  }

  private release(handle: number): boolean {
    const ref = this.refs.get(handle);
    if (!ref) return false;
    for (const [i, store] of ref.stores.entries())
      for (const member of store.family ?? [store]) member.watchers.delete(ref.versions[i]!);
    this.refs.delete(handle);
    this.handles.give(handle);
    return true;
  }

  /** The other answer the last op allowed (an mremap whose VMA boundaries the oracle cannot know), and its state. */
  private alternative?: { obs: MmObs; as: AddressSpace } & Mappings;

  chose(observed: unknown): void {
    const alt = this.alternative;
    if (alt && deepEqual(observed, alt.obs)) MmOracle.restore(alt.as, alt);
    this.alternative = undefined;
  }

  /** A copy of what a process maps (its extents and its own pages), to go back to. */
  private static snapshot(as: AddressSpace): Mappings {
    return { extents: as.extents.map((e) => ({ ...e })), own: new Map(as.own) };
  }

  private static restore(as: AddressSpace, m: Mappings): void {
    as.extents = m.extents.map((e) => ({ ...e }));
    as.own.clear();
    for (const [page, store] of m.own) as.own.set(page, store);
  }

  /**
   * Whether [start, end) lies in one VMA: "yes" within one extent; "no" across a hole or where attributes the
   * oracle knows differ (prot, fork flags, what is mapped and from where); "maybe" where extents that agree on all
   * of them meet (the kernel may have merged their VMAs or not: anon_vma and accounting decide, which the oracle
   * does not model). Extents split wherever an op may split a VMA, so one extent is never two VMAs.
   */
  private static oneVma(as: AddressSpace, start: number, end: number): "yes" | "no" | "maybe" {
    let answer: "yes" | "maybe" = "yes";
    for (let e = MmOracle.extentAt(as, start)!; e.end < end; ) {
      const next = MmOracle.extentAt(as, e.end);
      if (!next || !MmOracle.mayJoin(e, next)) return "no";
      answer = "maybe";
      e = next;
    }
    return answer;
  }

  /**
   * Whether extent `b`, which starts where `a` ends, may be in one VMA with it: nothing the oracle knows differs
   * (prot, fork flags, THP advice, what is mapped and from where), and neither is hugetlb (those VMAs never merge,
   * and the oracle splits one only where the kernel does).
   */
  private static mayJoin(a: Extent, b: Extent): boolean {
    const continues = (x: PageObject | null, y: PageObject | null): boolean =>
      x === y && (!x || b.objStart === a.objStart + (a.end - a.start));
    return (
      !a.hugetlb &&
      !b.hugetlb &&
      b.prot === a.prot &&
      b.dontfork === a.dontfork &&
      b.wipeonfork === a.wipeonfork &&
      b.thpAdvice === a.thpAdvice &&
      b.mergeable === a.mergeable &&
      continues(a.shared, b.shared) &&
      continues(a.file, b.file)
    );
  }

  /**
   * The pieces remap_move takes over [page, page + pages), one per VMA: the mapped extents there, joined where
   * they may be one VMA (`join`), or each apart.
   */
  private pieces(as: AddressSpace, page: number, pages: number, join: boolean): Piece[] {
    const end = page + pages;
    const runs: Piece[] = [];
    for (let at = page; at < end; ) {
      const e = MmOracle.extentAt(as, at);
      const next = e ? Math.min(e.end, end) : Math.min(as.extents[MmOracle.after(as, at)]?.start ?? end, end);
      if (e) {
        const last = runs[runs.length - 1];
        if (join && last && last.end === at && MmOracle.mayJoin(last.last, e)) [last.end, last.last] = [next, e];
        else runs.push({ start: at, end: next, last: e });
      }
      at = next;
    }
    return runs;
  }

  /**
   * Move the pieces (as pieces() found them before any moved) to the same offsets from `to`, in address order; a
   * hugetlb piece moves whole huge pages from and to huge boundaries, or fails (EINVAL) after the ones before it.
   */
  private movePieces(as: AddressSpace, runs: readonly Piece[], page: number, to: number): MmObs {
    const window = this.geometry.pages;
    for (const run of runs) {
      const dest = to + (run.start - page);
      const hugetlb = run.last.hugetlb;
      const n = hugetlb ? this.roundUp(run.end - run.start) : run.end - run.start;
      if (hugetlb && (run.start % this.huge || dest % this.huge || dest + n > window)) return err("EINVAL");
      if (!this.mayUnmap(as, dest, dest + n)) return err("EINVAL");
      MmOracle.move(as, run.start, n, dest);
    }
    return OK;
  }

  /** Move the mappings of [start, start + n) to `to` (what is mapped there is unmapped first), data and all. */
  private static move(as: AddressSpace, start: number, n: number, to: number): void {
    MmOracle.unmap(as, to, to + n);
    MmOracle.split(as, start);
    MmOracle.split(as, start + n);
    const from = MmOracle.after(as, start);
    let end = from;
    while (end < as.extents.length && as.extents[end]!.start < start + n) end++;
    const moved = as.extents.splice(from, end - from);
    const own = [...as.own].filter(([p]) => p >= start && p < start + n);
    MmOracle.dropOwn(as, start, start + n);
    for (const e of moved) {
      e.start += to - start;
      e.end += to - start;
    }
    as.extents.splice(MmOracle.after(as, to), 0, ...moved);
    for (const [p, store] of own) as.own.set(p + (to - start), store);
  }

  /** The mapping ending at `end` grows to `newEnd` (its object continuing; nothing of its own there yet). */
  private static grow(as: AddressSpace, end: number, newEnd: number): void {
    const e = MmOracle.extentAt(as, end - 1)!;
    const tail: Extent = { ...e, start: end, end: newEnd, objStart: e.objStart + (end - e.start) };
    as.extents.splice(MmOracle.after(as, end), 0, tail);
  }

  /** mremap (see the model for the kernel's rules): data moves with its pages; a grown part reads as new. */
  private mremap(as: AddressSpace, page: number, pages: number, newPages: number, to: number | undefined): Allowed {
    const window = this.geometry.pages;
    if (pages === 0 || newPages === 0) return err("EINVAL");
    if (page + pages > window || (to ?? page) + newPages > window) return err("EINVAL");
    if (to !== undefined && to < page + pages && page < to + newPages) return err("EINVAL");
    const first = MmOracle.extentAt(as, page);
    if (!first) return err("EFAULT");
    if (to !== undefined && newPages === pages) {
      // each mapped piece moves to the same offset from `to`; holes stay holes, and what is mapped across from
      // them stays too. A hugetlb piece moves whole huge pages from and to huge boundaries, or fails (EINVAL).
      // Where the oracle cannot tell whether extents that may join are one VMA, both answers are allowed when
      // they differ (a piece's destination may cut a hugetlb mapping, failing after the pieces before it moved).
      const joinedRuns = this.pieces(as, page, pages, true);
      const apartRuns = this.pieces(as, page, pages, false);
      if (joinedRuns.length === apartRuns.length) return this.movePieces(as, joinedRuns, page, to); // nothing joined
      const before = MmOracle.snapshot(as);
      const apart = this.movePieces(as, apartRuns, page, to);
      const afterApart = MmOracle.snapshot(as);
      MmOracle.restore(as, before);
      const joined = this.movePieces(as, joinedRuns, page, to);
      if (deepEqual(joined, apart)) return joined;
      this.alternative = { obs: apart, as, ...afterApart };
      return { oneOf: [joined, apart] };
    }
    if (first.hugetlb) {
      // lengths rounded up to huge pages, addresses aligned, never growing
      [pages, newPages] = [this.roundUp(pages), this.roundUp(newPages)];
      if (page % this.huge || (to ?? 0) % this.huge || newPages > pages) return err("EINVAL");
      if (page + pages > window || (to ?? page) + newPages > window) return err("EINVAL");
    }
    const grows = newPages > pages;
    const checked = Math.min(pages, newPages);
    const one = to !== undefined || grows ? MmOracle.oneVma(as, page, page + checked) : "yes";
    if (one === "no") return err("EFAULT");
    const before = one === "maybe" ? MmOracle.snapshot(as) : undefined;
    let obs: MmObs = OK;
    // the unmaps it makes (of the destination, of a shrink's tail) may not cut a hugetlb mapping (EINVAL)
    // (mremap_to unmaps the destination, then shrinks, then moves)
    const shrinks = !grows && newPages < pages;
    if (to !== undefined) {
      if (!this.mayUnmap(as, to, to + newPages)) obs = err("EINVAL");
      else {
        MmOracle.unmap(as, to, to + newPages);
        if (shrinks && !this.mayUnmap(as, page + newPages, page + pages)) obs = err("EINVAL");
        else {
          if (shrinks) MmOracle.unmap(as, page + newPages, page + pages);
          MmOracle.move(as, page, checked, to);
          if (grows) MmOracle.grow(as, to + pages, to + newPages);
        }
      }
    } else if (shrinks) {
      if (!this.mayUnmap(as, page + newPages, page + pages)) obs = err("EINVAL");
      else MmOracle.unmap(as, page + newPages, page + pages);
    } else if (grows) {
      const end = page + pages;
      const last = MmOracle.extentAt(as, end - 1)!;
      const free = !as.extents.some((e) => e.start < page + newPages && e.end > end);
      if (last.end !== end || !free) obs = err("ENOMEM");
      else MmOracle.grow(as, end, page + newPages);
    }
    if (!before) return obs;
    this.alternative = { obs: err("EFAULT"), as, ...before };
    return { oneOf: [obs, err("EFAULT")] };
  }

  apply(op: MmOp): Allowed {
    this.alternative = undefined;
    const { cellsPerPage, pages } = this.geometry;
    switch (op.op) {
      case "spawn":
        return { pid: this.addProc({ extents: [], own: new Map() }) };
      case "ksmScan":
        return OK;
      case "thpPolicy": // only where memory comes from, never what it holds; orders outside 2 … hugeOrder have no knob
        return op.order >= MIN_ANON_THP_ORDER && op.order <= this.geometry.hugeOrder ? OK : err("EINVAL");
      case "unpin":
        return this.release(op.handle) ? OK : err("EBADF");
      case "pinRead": {
        const ref = this.refs.get(op.handle);
        if (!ref) return err("EBADF");
        // each page: what its store holds now, or (a history reference) any version it has held since
        const pages = ref.stores.map((store, i): number[] | { oneOf: number[][] } => {
          const now = store.data.join(",");
          const versions = ref.versions[i]!;
          if (ref.coherent || versions.size === 1) return Array.from(store.data);
          return { oneOf: [now, ...[...versions].filter((v) => v !== now)].map((v) => v.split(",").map(Number)) };
        });
        if (ref.range) return { pages } as Allowed;
        const page = pages[0]!;
        return Array.isArray(page) ? { data: page } : { oneOf: page.oneOf.map((data) => ({ data })) };
      }
      case "pinWrite": {
        const ref = this.refs.get(op.handle);
        if (!ref) return err("EBADF");
        if (ref.kind === "get" || !ref.write) return err("EPERM");
        if (op.cell >= cellsPerPage * ref.stores.length) return err("EINVAL"); // cells number the pinned range
        ref.stores[Math.floor(op.cell / cellsPerPage)]!.write(op.cell % cellsPerPage, op.value);
        return OK;
      }
      case "fileRead":
      case "fileWrite": {
        const file = this.filesOf(op)[op.file];
        if (!file) return err("EBADF");
        if (op.op === "fileWrite" && file.hugetlb) return err("EINVAL"); // hugetlbfs has no write
        if (op.page >= pages) return err("EINVAL");
        if (op.op === "fileRead") return { data: Array.from(file.pages.get(op.page)?.data ?? this.zeros()) };
        if (op.cell >= cellsPerPage) return err("EINVAL");
        this.objectPage(file, op.page).write(op.cell, op.value);
        return OK;
      }
    }
    const as = this.procs.get(op.pid);
    if (!as) return err("ESRCH");
    switch (op.op) {
      case "fork": {
        // the child gets every extent but dontfork ones, and a copy of each written private page but wipeonfork ones
        const child: AddressSpace = {
          extents: as.extents.filter((e) => !e.dontfork).map((e) => ({ ...e })),
          own: new Map(),
        };
        for (const [page, store] of as.own) {
          const e = MmOracle.extentAt(as, page)!;
          if (e.dontfork || e.wipeonfork || e.shared) continue;
          const copy = new Store(store.data.slice());
          if (e.hugetlb) {
            copy.family = store.family ??= new Set([store]);
            copy.family.add(copy);
            for (const w of store.watchers) if (getRefs.has(w)) copy.watchers.add(w);
          }
          child.own.set(page, copy);
        }
        return { pid: this.addProc(child) };
      }
      case "exit":
        for (const [h, ref] of this.refs) if (ref.pid === op.pid) this.release(h);
        this.procs.delete(op.pid);
        this.pids.give(op.pid);
        return OK;
      case "exec":
        as.extents = [];
        as.own.clear();
        return OK;
      case "read": {
        const n = op.pages ?? 1;
        if (op.page + n > pages) return err("EINVAL");
        const out: number[][] = [];
        for (let page = op.page; page < op.page + n; page++) {
          const e = MmOracle.reach(as, page);
          if (!e) return SEGV;
          this.hugetlbFault(as, e, page);
          out.push(Array.from(this.view(as, e, page)));
        }
        return op.pages === undefined ? { data: out[0]! } : { pages: out };
      }
      case "write": {
        if (op.page >= pages || op.cell >= cellsPerPage) return err("EINVAL");
        const e = MmOracle.reach(as, op.page);
        if (e?.prot !== "rw") return SEGV;
        this.own(as, e, op.page).write(op.cell, op.value);
        return OK;
      }
      case "forceRead":
      case "forceWrite": {
        // /proc/self/mem: FOLL_FORCE writes a read-only mapping only where it is private (a copy-on-write mapping);
        // the write goes where a write would have (a private page becomes the process's own)
        if (op.page >= pages || (op.op === "forceWrite" && op.cell >= cellsPerPage)) return err("EINVAL");
        const e = MmOracle.reach(as, op.page);
        if (!e) return err("EIO");
        if (op.op === "forceRead") {
          this.hugetlbFault(as, e, op.page);
          return { data: Array.from(this.view(as, e, op.page)) };
        }
        if (e.prot !== "rw" && e.shared) return err("EIO");
        this.own(as, e, op.page).write(op.cell, op.value);
        return OK;
      }
      case "fill": {
        if (op.page + op.pages > pages) return err("EINVAL");
        for (let page = op.page; page < op.page + op.pages; page++) {
          const e = MmOracle.reach(as, page);
          if (e?.prot !== "rw") return SEGV; // the pages before keep the value
          this.own(as, e, page).fill(op.value);
        }
        return OK;
      }
      case "pin": {
        const n = op.pages ?? 1;
        if (op.page + n > pages || (op.kind === "get" && op.write)) return err("EINVAL");
        const coherent = op.kind !== "get" && (op.write || op.kind === "longterm");
        // Page by page, all or nothing: a coherent pin has made each page it got to the process's own (the COW
        // break or unshare GUP does) even when a later page fails. A history reference to a private page nobody
        // wrote watches what the process sees there: the file's page, or (for zeros) a page of its own, whose
        // versions include the zeros it starts with.
        const stores: Store[] = [];
        for (let page = op.page; page < op.page + n; page++) {
          const e = MmOracle.reach(as, page);
          if (!e || (op.write && e.prot !== "rw")) return err("EFAULT");
          // a writable longterm pin of a shared writable disk-file mapping: dirty tracking refuses it
          if (op.write && op.kind === "longterm" && e.shared?.disk) return err("EFAULT");
          this.hugetlbFault(as, e, page);
          stores.push(
            coherent || e.shared || as.own.has(page) || !e.file
              ? this.own(as, e, page)
              : this.objectPage(e.file, MmOracle.objPage(e, page)),
          );
        }
        const versions = stores.map((store) => new Set([store.data.join(",")]));
        if (op.kind === "get") for (const v of versions) getRefs.add(v);
        if (!coherent)
          for (const [i, store] of stores.entries())
            for (const member of op.kind === "get" ? (store.family ?? [store]) : [store])
              member.watchers.add(versions[i]!);
        const handle = this.handles.take();
        this.refs.set(handle, {
          pid: op.pid,
          stores,
          coherent,
          write: op.write,
          kind: op.kind,
          range: op.pages !== undefined,
          versions,
        });
        return { handle };
      }
      case "collapse":
        return op.page >= pages ? err("EINVAL") : OK;
    }
    if (op.op === "mremap") return this.mremap(as, op.page, op.pages, op.newPages, op.to);
    const files = op.op === "mmap" ? this.filesOf(op) : this.files;
    if (op.op === "mmap" && op.file !== undefined && !files[op.file]) return err("EBADF");
    if (op.pages === 0) return op.op === "mprotect" || op.op === "madvise" ? OK : err("EINVAL");
    if (op.page + op.pages > pages) return err("EINVAL");
    const end = op.page + op.pages;
    switch (op.op) {
      case "mmap": {
        // hugetlb: from a huge page, rounded up to whole ones
        const hugetlb = op.hugetlb === true;
        const to = hugetlb ? this.roundUp(end) : end;
        if (hugetlb && (op.page % this.huge !== 0 || to > pages)) return err("EINVAL");
        if (!this.mayUnmap(as, op.page, to)) return err("EINVAL");
        const file = op.file === undefined ? null : files[op.file]!;
        const shared: PageObject | null = op.shared
          ? (file ?? { pages: new Map(), size: to - op.page, hugetlb })
          : null;
        MmOracle.unmap(as, op.page, to);
        const extent: Extent = {
          start: op.page,
          end: to,
          prot: op.prot,
          dontfork: false,
          wipeonfork: false,
          hugetlb,
          thpAdvice: null,
          mergeable: false,
          shared,
          file: shared ? null : file,
          objStart: 0,
        };
        as.extents.splice(MmOracle.after(as, op.page), 0, extent);
        return OK;
      }
      case "munmap":
        if (!this.mayUnmap(as, op.page, end)) return err("EINVAL");
        MmOracle.unmap(as, op.page, end);
        return OK;
      case "mprotect":
        // Applied in address order from the start; the first unmapped page stops it with ENOMEM, a hugetlb
        // mapping whose protection would change off a huge boundary with EINVAL.
        for (let at = op.page; at < end; ) {
          const e = MmOracle.extentAt(as, at);
          if (!e) return err("ENOMEM");
          const stop = Math.min(e.end, end);
          // vma_modify splits at the start, then at the end: a refused end keeps the start's split
          if (e.prot !== op.prot && this.cuts(as, at)) return err("EINVAL");
          if (e.prot !== op.prot && this.cuts(as, stop)) {
            MmOracle.split(as, at);
            return err("EINVAL");
          }
          if (e.prot === op.prot) {
            at = stop; // no change, no split (mprotect_fixup returns early)
            continue;
          }
          MmOracle.split(as, at);
          MmOracle.split(as, stop);
          MmOracle.extentAt(as, at)!.prot = op.prot;
          at = stop;
        }
        return OK;
      case "madvise": {
        // Every mapped page is advised; an unmapped one makes the result ENOMEM; a real error stops at once.
        let result = OK;
        for (let at = op.page; at < end; ) {
          const e = MmOracle.extentAt(as, at);
          if (!e) {
            result = err("ENOMEM");
            at = Math.min(as.extents[MmOracle.after(as, at)]?.start ?? end, end);
            continue;
          }
          const stop = Math.min(e.end, end);
          // a flag that changes splits the mapping: off a huge boundary, a hugetlb one refuses (EINVAL), though a
          // split made at the start stays
          const flag = (changes: boolean, set: (x: Extent) => void): boolean => {
            if (changes && this.cuts(as, at)) return false;
            if (changes && this.cuts(as, stop)) {
              MmOracle.split(as, at);
              return false;
            }
            if (!changes) return true; // no change, no split (madvise_update_vma returns early)
            MmOracle.split(as, at);
            MmOracle.split(as, stop);
            set(MmOracle.extentAt(as, at)!);
            return true;
          };
          let done = true;
          if (op.advice === "dontneed") {
            // private pages read zeros (or the file) again; shared ones keep their data. hugetlb: from a huge
            // page, the end rounded down
            if (e.hugetlb && at % this.huge !== 0) return err("EINVAL");
            MmOracle.dropOwn(as, at, e.hugetlb ? stop - (stop % this.huge) : stop);
          } else if (e.hugetlb && (op.advice === "pageout" || op.advice === "wipeonfork")) {
            return err("EINVAL"); // no LRU pages to reclaim; hugetlb memory has a file
          } else if (op.advice === "hugepage" || op.advice === "nohugepage") {
            // THP advice changes no observation, but the VMA may split here: a place mremap may not cross
            done = flag(e.thpAdvice !== op.advice, (x) => (x.thpAdvice = op.advice as "hugepage" | "nohugepage"));
          } else if (op.advice === "mergeable") {
            if (!e.hugetlb && !e.shared) flag(!e.mergeable, (x) => (x.mergeable = true)); // KSM leaves these alone
          } else if (op.advice === "unmergeable") {
            flag(e.mergeable, (x) => (x.mergeable = false));
          } else if (op.advice === "dontfork" || op.advice === "dofork") {
            const set = op.advice === "dontfork";
            done = flag(e.dontfork !== set, (x) => (x.dontfork = set));
          } else if (op.advice === "wipeonfork") {
            if (e.shared || e.file) return err("EINVAL"); // private anonymous memory only
            flag(!e.wipeonfork, (x) => (x.wipeonfork = true));
          } else if (op.advice === "keeponfork") {
            done = flag(e.wipeonfork, (x) => (x.wipeonfork = false));
          } // pageout (swap is transparent) changes no observation
          if (!done) return err("EINVAL");
          at = stop;
        }
        return result;
      }
    }
  }
}
