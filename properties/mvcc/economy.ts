// Economy bounds: MVCC must not copy. A statement writes one version per row it changes, reads write nothing, and
// vacuum reclaims every version no one can see any more.

import { type Property, stateless } from "../../core/index.ts";
import type { MvccObs, MvccOp, MvccState } from "../../models/mvcc/types.ts";

/** Versions an op may add: an insert or update of one row, one each; what it woke may add one each too. */
function budget(op: MvccOp, obs: MvccObs): number {
  const own = op.op === "insert" || op.op === "update" ? 1 : 0;
  return own + ("unblocked" in obs && obs.unblocked ? obs.unblocked.length : 0);
}

export const mvccEconomy: Property<MvccOp, MvccObs, MvccState>[] = [
  {
    name: "one-version-per-write",
    kind: "economy",
    description: "an insert or update adds one tuple version, nothing else adds any (no copy of unchanged rows)",
    start(initial) {
      let before = initial.versions.length;
      return {
        after(op, obs, s) {
          const added = s.versions.length + s.removed.length - before;
          before = s.versions.length;
          const most = budget(op, obs);
          return added > most ? `${op.op} added ${added} tuple versions (at most ${most} expected)` : undefined;
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
