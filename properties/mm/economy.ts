// Economy bounds: copy-on-write must defer the copy. An eager engine gives the right data and fails these.
import { findVma, pidOf, vpageOf, type MmObs, type MmOp, type MmState } from "../../models/mm/types.ts";
import type { Property } from "../types.ts";

/** Frames an op may allocate at most: fork none, a fault one page, everything else none. */
function budget(op: MmOp): number {
  return op.op === "read" || op.op === "write" ? 1 : 0;
}

function allocationBound(name: string, description: string, applies: (op: MmOp) => boolean): Property<MmOp, MmObs, MmState> {
  return {
    name,
    kind: "economy",
    description,
    start(initial) {
      let before = initial.allocations;
      return {
        after(op, _obs, s) {
          const used = s.allocations - before;
          before = s.allocations;
          if (!applies(op) || used <= budget(op)) return undefined;
          return `${op.op} allocated ${used} frame(s); the bound is ${budget(op)}`;
        },
      };
    },
  };
}

export const forkCopiesNothing = allocationBound(
  "fork-copies-nothing",
  "fork allocates no data frame: pages are shared, not copied (dup_mmap → copy_present_pte)",
  (op) => op.op === "fork",
);

export const faultAllocatesOne = allocationBound(
  "fault-allocates-one",
  "a read or write allocates at most one frame; no other op allocates any",
  (op) => op.op !== "fork",
);

/**
 * After fork, a private page neither side has written (nor unmapped, nor discarded) still maps the parent's
 * frame in both processes. Expectations are kept per (pid, vpage) and dropped by the ops that may end sharing.
 */
export const unwrittenPagesStayShared: Property<MmOp, MmObs, MmState> = {
  name: "unwritten-pages-stay-shared",
  kind: "economy",
  description: "a private page not written since fork still shares its frame between parent and child",
  start() {
    const expect = new Map<number, Map<number, number>>(); // pid → vpage → pfn
    const forget = (pid: number, start: number, end: number): void => {
      const m = expect.get(pid);
      if (!m) return;
      if (end - start <= m.size) for (let v = start; v < end; v++) m.delete(v);
      else for (const v of m.keys()) if (v >= start && v < end) m.delete(v);
    };
    const verify = (s: MmState, pid: number, vpage: number, pfn: number): string | undefined => {
      const pte = s.procs.get(pid)?.ptes.get(vpage);
      if (pte?.pfn === pfn) return undefined;
      return `pid ${pid} page ${vpage} was shared since fork and never written, but ${pte ? `now maps frame ${pte.pfn}` : "has no PTE"} instead of frame ${pfn}`;
    };
    return {
      after(op, obs, s, full) {
        switch (op.op) {
          case "write":
            forget(op.pid, op.page, op.page + 1);
            break;
          case "mmap":
          case "munmap":
            forget(op.pid, op.page, op.page + op.pages);
            break;
          case "madvise":
            if (op.advice === "dontneed") forget(op.pid, op.page, op.page + op.pages);
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
            for (const [vpage, pte] of child.ptes) {
              if (findVma(child.vmas, vpage)?.shared !== false) continue;
              const ppte = parent.ptes.get(vpage);
              if (ppte && ppte.pfn !== pte.pfn) {
                return `fork gave pid ${obs.pid} page ${vpage} frame ${pte.pfn}, a copy of the parent's frame ${ppte.pfn}`;
              }
              pm.set(vpage, pte.pfn);
              cm.set(vpage, pte.pfn);
            }
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
          const vpage = vpageOf(key);
          const pfn = expect.get(pid)?.get(vpage);
          if (pfn === undefined) continue;
          const msg = verify(s, pid, vpage, pfn);
          if (msg) return msg;
        }
        return undefined;
      },
    };
  },
};

export const mmEconomy = [forkCopiesNothing, faultAllocatesOne, unwrittenPagesStayShared];
