// Eager-copy oracle for the mm layer: every process owns a private copy of every private page, fork copies
// them all, a shared mapping is one shared object, a file is one object whose pages private mappings read
// until they write them. Attributes live per page, so there are no VMAs to split. THP and KSM change no
// observation, so the oracle has neither.
//
// A pin is a reference to the storage the pinning process had mapped when it pinned:
// - a coherent pin (FOLL_PIN with write, or FOLL_LONGTERM) must read exactly what that storage holds now;
//   a private page is made the process's own first (the COW break or unshare GUP does);
// - any other reference (FOLL_GET, a short-term read-only FOLL_PIN) is not coherent in Linux: it may keep
//   showing an older version of the page. It may read any version its storage has held since it was taken,
//   and nothing else: never another process's write.
import type { Engine } from "../core/index.ts";
import {
  err,
  MM_FEATURES,
  type MmGeometry,
  type MmObs,
  type MmOp,
  OK,
  type PinKind,
  type Prot,
  SEGV,
} from "../models/mm/types.ts";

/** One page of storage, with the references that watch it. */
class Store {
  readonly watchers = new Set<Ref>();
  constructor(readonly data: Uint8Array) {}
  write(cell: number, value: number): void {
    this.data[cell] = value;
    for (const ref of this.watchers) ref.versions.add(this.data.join(","));
  }
}

interface Ref {
  readonly pid: number;
  readonly store: Store;
  readonly coherent: boolean;
  readonly write: boolean;
  readonly kind: PinKind;
  /** Every version the store has held since the reference was taken (history references only). */
  readonly versions: Set<string>;
}

interface PageObject {
  readonly pages: Map<number, Store>;
}

interface Slot {
  prot: Prot;
  dontfork: boolean;
  wipeonfork: boolean;
  /** Shared mappings: the object (shmem or file) and the page within it. */
  readonly shared: PageObject | null;
  /** Private file mappings: the file read until the process writes the page. */
  readonly file: PageObject | null;
  readonly objPage: number;
  /** Private mappings: this process's own page (null = never written: zeros, or the file's page). */
  data: Store | null;
}

type AddressSpace = Map<number, Slot>;

/** The allowed observations where Linux may legitimately differ (see Layer.oracle). */
export type Allowed = MmObs | { oneOf: MmObs[] };

export class MmOracle implements Engine<MmOp, Allowed> {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string> = new Set(MM_FEATURES);
  private readonly procs = new Map<number, AddressSpace>();
  private readonly refs = new Map<number, Ref>();
  private readonly files: PageObject[];

  constructor(private readonly geometry: MmGeometry) {
    this.files = Array.from({ length: geometry.files }, () => ({ pages: new Map() }));
  }

  /** The lowest free pid (the layer's naming convention). */
  private addProc(as: AddressSpace): number {
    let pid = 1;
    while (this.procs.has(pid)) pid++;
    this.procs.set(pid, as);
    return pid;
  }

  private zeros(): Uint8Array {
    return new Uint8Array(this.geometry.cellsPerPage);
  }

  private objectPage(obj: PageObject, page: number): Store {
    let s = obj.pages.get(page);
    if (!s) {
      s = new Store(this.zeros());
      obj.pages.set(page, s);
    }
    return s;
  }

  /** What the process sees at a slot, without creating anything. */
  private view(s: Slot): Uint8Array {
    if (s.shared) return s.shared.pages.get(s.objPage)?.data ?? this.zeros();
    if (s.data) return s.data.data;
    return s.file?.pages.get(s.objPage)?.data ?? this.zeros();
  }

  /** The storage a write (or a coherent pin) of the slot goes to: a private page becomes the process's own. */
  private own(s: Slot): Store {
    if (s.shared) return this.objectPage(s.shared, s.objPage);
    s.data ??= new Store(s.file ? this.view(s).slice() : this.zeros());
    return s.data;
  }

  private release(handle: number): boolean {
    const ref = this.refs.get(handle);
    ref?.store.watchers.delete(ref);
    return this.refs.delete(handle);
  }

  apply(op: MmOp): Allowed {
    const { cellsPerPage, pages } = this.geometry;
    switch (op.op) {
      case "spawn":
        return { pid: this.addProc(new Map()) };
      case "ksmScan":
        return OK;
      case "unpin":
        return this.release(op.handle) ? OK : err("EBADF");
      case "pinRead": {
        const ref = this.refs.get(op.handle);
        if (!ref) return err("EBADF");
        const now = ref.store.data.join(",");
        if (ref.coherent || ref.versions.size === 1) return { data: Array.from(ref.store.data) };
        const toObs = (v: string): MmObs => ({ data: v.split(",").map(Number) });
        return { oneOf: [now, ...[...ref.versions].filter((v) => v !== now)].map(toObs) };
      }
      case "pinWrite": {
        const ref = this.refs.get(op.handle);
        if (!ref) return err("EBADF");
        if (ref.kind === "get" || !ref.write) return err("EPERM");
        if (op.cell >= cellsPerPage) return err("EINVAL");
        ref.store.write(op.cell, op.value);
        return OK;
      }
      case "fileRead":
      case "fileWrite": {
        const file = this.files[op.file];
        if (!file) return err("EBADF");
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
        const child: AddressSpace = new Map();
        for (const [page, s] of as) {
          if (s.dontfork) continue;
          const data = s.shared || s.wipeonfork || !s.data ? null : new Store(s.data.data.slice());
          child.set(page, { ...s, data });
        }
        return { pid: this.addProc(child) };
      }
      case "exit":
        for (const [h, ref] of this.refs) if (ref.pid === op.pid) this.release(h);
        this.procs.delete(op.pid);
        return OK;
      case "exec":
        as.clear();
        return OK;
      case "read": {
        if (op.page >= pages) return err("EINVAL");
        const s = as.get(op.page);
        return s ? { data: Array.from(this.view(s)) } : SEGV;
      }
      case "write": {
        if (op.page >= pages || op.cell >= cellsPerPage) return err("EINVAL");
        const s = as.get(op.page);
        if (s?.prot !== "rw") return SEGV;
        this.own(s).write(op.cell, op.value);
        return OK;
      }
      case "pin": {
        if (op.page >= pages || (op.kind === "get" && op.write)) return err("EINVAL");
        const s = as.get(op.page);
        if (!s || (op.write && s.prot !== "rw")) return err("EFAULT");
        const coherent = op.kind !== "get" && (op.write || op.kind === "longterm");
        // A history reference to a private page nobody wrote watches what the process sees there: the file's
        // page, or (for zeros) a page of its own, whose versions include the zeros it starts with.
        const store = coherent || s.shared || s.data || !s.file ? this.own(s) : this.objectPage(s.file, s.objPage);
        let handle = 1;
        while (this.refs.has(handle)) handle++;
        const ref: Ref = {
          pid: op.pid,
          store,
          coherent,
          write: op.write,
          kind: op.kind,
          versions: new Set([store.data.join(",")]),
        };
        if (!coherent) store.watchers.add(ref);
        this.refs.set(handle, ref);
        return { handle };
      }
      case "collapse":
        return op.page >= pages ? err("EINVAL") : OK;
    }
    if (op.op === "mmap" && op.file !== undefined && !this.files[op.file]) return err("EBADF");
    if (op.pages === 0) return op.op === "mprotect" || op.op === "madvise" ? OK : err("EINVAL");
    if (op.page + op.pages > pages) return err("EINVAL");
    const end = op.page + op.pages;
    switch (op.op) {
      case "mmap": {
        const file = op.file === undefined ? null : this.files[op.file];
        const shared: PageObject | null = op.shared ? (file ?? { pages: new Map() }) : null;
        for (let p = op.page; p < end; p++) {
          const objPage = p - op.page;
          as.set(p, {
            prot: op.prot,
            dontfork: false,
            wipeonfork: false,
            shared,
            file: shared ? null : file,
            objPage,
            data: null,
          });
        }
        return OK;
      }
      case "munmap":
        for (let p = op.page; p < end; p++) as.delete(p);
        return OK;
      case "mprotect":
        // Applied page by page from the start; the first unmapped page stops it with ENOMEM.
        for (let p = op.page; p < end; p++) {
          const s = as.get(p);
          if (!s) return err("ENOMEM");
          s.prot = op.prot;
        }
        return OK;
      case "madvise": {
        // Every mapped page is advised; an unmapped one makes the result ENOMEM; a real error stops at once.
        let result = OK;
        for (let p = op.page; p < end; p++) {
          const s = as.get(p);
          if (!s) {
            result = err("ENOMEM");
            continue;
          }
          if (op.advice === "dontneed") {
            s.data = null; // private pages read zeros (or the file) again; shared ones keep their data
          } else if (op.advice === "dontfork" || op.advice === "dofork") {
            s.dontfork = op.advice === "dontfork";
          } else if (op.advice === "wipeonfork") {
            if (s.shared || s.file) return err("EINVAL"); // private anonymous memory only
            s.wipeonfork = true;
          } else if (op.advice === "keeponfork") {
            s.wipeonfork = false;
          } // hugepage, nohugepage, mergeable, unmergeable change no observation
        }
        return result;
      }
    }
  }
}
