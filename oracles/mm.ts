// Eager-copy oracle for the mm layer: every process owns a private copy of every private page, fork copies
// them all, a shared mapping is one shared object. Attributes live per page, so there are no VMAs to split.
import type { Engine } from "../engines/types.ts";
import { err, OK, SEGV, type MmGeometry, type MmObs, type MmOp, type Prot } from "../models/mm/types.ts";

interface SharedObject {
  readonly pages: Map<number, Uint8Array>;
}

interface Slot {
  prot: Prot;
  dontfork: boolean;
  wipeonfork: boolean;
  /** Shared mappings: the object and the page within it. */
  readonly shared: SharedObject | null;
  readonly objPage: number;
  /** Private mappings: this process's own bytes (null = never written = zeros). */
  data: Uint8Array | null;
}

type AddressSpace = Map<number, Slot>;

export class MmOracle implements Engine<MmOp, MmObs> {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string> = new Set();
  private readonly procs = new Map<number, AddressSpace>();

  constructor(private readonly geometry: MmGeometry) {}

  /** The lowest free pid (the layer's naming convention). */
  private addProc(as: AddressSpace): number {
    let pid = 1;
    while (this.procs.has(pid)) pid++;
    this.procs.set(pid, as);
    return pid;
  }

  apply(op: MmOp): MmObs {
    if (op.op === "spawn") return { pid: this.addProc(new Map()) };
    const as = this.procs.get(op.pid);
    if (!as) return err("ESRCH");
    const { cellsPerPage, pages } = this.geometry;
    switch (op.op) {
      case "fork": {
        const child: AddressSpace = new Map();
        for (const [page, s] of as) {
          if (s.dontfork) continue;
          const data = s.shared || s.wipeonfork || !s.data ? null : s.data.slice();
          child.set(page, { ...s, data });
        }
        return { pid: this.addProc(child) };
      }
      case "exit":
        this.procs.delete(op.pid);
        return OK;
      case "exec":
        as.clear();
        return OK;
      case "read": {
        if (op.page >= pages) return err("EINVAL");
        const s = as.get(op.page);
        if (!s) return SEGV;
        const bytes = s.shared ? s.shared.pages.get(s.objPage) : s.data;
        return { data: bytes ? Array.from(bytes) : new Array<number>(cellsPerPage).fill(0) };
      }
      case "write": {
        if (op.page >= pages || op.cell >= cellsPerPage) return err("EINVAL");
        const s = as.get(op.page);
        if (!s || s.prot !== "rw") return SEGV;
        let bytes = s.shared ? s.shared.pages.get(s.objPage) : s.data;
        if (!bytes) {
          bytes = new Uint8Array(cellsPerPage);
          if (s.shared) s.shared.pages.set(s.objPage, bytes);
          else s.data = bytes;
        }
        bytes[op.cell] = op.value;
        return OK;
      }
    }
    if (op.pages === 0) return op.op === "mprotect" || op.op === "madvise" ? OK : err("EINVAL");
    if (op.page + op.pages > pages) return err("EINVAL");
    const end = op.page + op.pages;
    switch (op.op) {
      case "mmap": {
        const shared: SharedObject | null = op.shared ? { pages: new Map() } : null;
        for (let p = op.page; p < end; p++) {
          as.set(p, { prot: op.prot, dontfork: false, wipeonfork: false, shared, objPage: p - op.page, data: null });
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
            if (!s.shared) s.data = null; // private pages read as zeros again; shared ones keep their data
          } else if (op.advice === "dontfork" || op.advice === "dofork") {
            s.dontfork = op.advice === "dontfork";
          } else if (op.advice === "wipeonfork") {
            if (s.shared) return err("EINVAL"); // private anonymous memory only
            s.wipeonfork = true;
          } else {
            s.wipeonfork = false;
          }
        }
        return result;
      }
    }
  }
}
