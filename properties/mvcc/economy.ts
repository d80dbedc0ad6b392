// Economy bounds: MVCC must not copy. A statement writes one version per row it changes, reads write nothing, and
// vacuum reclaims every version no one can see any more.

import { type Property, stateless } from "../../core/index.ts";
import type { MvccObs, MvccOp, MvccState } from "../../models/mvcc/types.ts";

/**
 * Versions a statement may add: an insert or an update of one row, one; an update by predicate, one per version of
 * its range it replaced, each of which has an xmax after the op (counted only where such a statement ran, on the
 * state after it: the fuzz loop pays for no heap pass otherwise).
 */
function most(op: MvccOp, s: MvccState): number {
  if (op.op === "insert" || op.op === "update") return 1;
  if (op.op !== "updateWhere") return 0;
  const replaced = (v: MvccState["versions"][number]) => v.key >= op.lo && v.key <= op.hi && v.xmax !== 0;
  return s.versions.filter(replaced).length + s.removed.filter(replaced).length;
}

export const mvccEconomy: Property<MvccOp, MvccObs, MvccState>[] = [
  {
    name: "one-version-per-write",
    kind: "economy",
    description:
      "an insert or update adds one tuple version, an update by predicate one per row it changes, nothing else adds any (no copy of unchanged rows)",
    start(initial) {
      let count = initial.versions.length;
      /** Statements waiting: each may go on (and add versions) at any later op. */
      const waiting = new Map<number, MvccOp>();
      return {
        after(op, obs, s) {
          const added = s.versions.length + s.removed.length - count;
          count = s.versions.length;
          // what this op's statement and every statement waiting before it may add
          let budget = 0;
          if (added > 0) {
            budget = most(op, s);
            for (const w of waiting.values()) budget += most(w, s);
          }
          for (const u of ("unblocked" in obs && obs.unblocked) || []) waiting.delete(u.tx);
          if ("tx" in op && "blocked" in obs) waiting.set(op.tx, op);
          return added > budget ? `${op.op} added ${added} tuple versions (at most ${budget} expected)` : undefined;
        },
      };
    },
  },
  stateless(
    "vacuum-reclaims",
    "economy",
    "after vacuum, no version remains that is dead to every transaction (aborted inserter, or deleter committed before the horizon), unless a waiting UPDATE or DELETE pins the page",
    (op, _obs, s) => {
      if (op.op !== "vacuum") return undefined;
      if (s.txs.some((t) => t.waiting === "update" || t.waiting === "delete")) return undefined; // the page is pinned: vacuum may not prune
      let horizon = s.nextXid;
      for (const t of s.txs) {
        if (t.failed) continue;
        if (t.xid !== undefined && s.clog[t.xid] === undefined) horizon = Math.min(horizon, t.xid);
        if (t.snapshot) horizon = Math.min(horizon, t.snapshot.xmin);
      }
      const dead = s.versions.find(
        (v) => s.clog[v.xmin] === "aborted" || (v.xmax !== 0 && s.clog[v.xmax] === "committed" && v.xmax < horizon),
      );
      return dead
        ? `vacuum left version ${dead.key}=${dead.value} (xmin ${dead.xmin}, xmax ${dead.xmax}), dead below horizon ${horizon}`
        : undefined;
    },
  ),
];
