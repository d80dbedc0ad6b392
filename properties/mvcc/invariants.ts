// Structural invariants of an MVCC heap: one live version per key, and what open snapshots see never changes under
// them: neither by others' commits (old readers see old state) nor by vacuum.

import type { Named, Property } from "../../core/index.ts";
import type { MvccObs, MvccOp, MvccState, Snapshot, Version } from "../../models/mvcc/types.ts";

type Clog = MvccState["clog"];
const committed = (clog: Clog, x: number) => clog[x] === "committed";
const aborted = (clog: Clog, x: number) => clog[x] === "aborted";
const running = (s: Snapshot, x: number) => x >= s.xmax || s.xip.includes(x);

/** What a snapshot sees of the committed heap (its own writes apart): the HeapTupleSatisfiesMVCC rules, restated. */
export function seenBy(state: MvccState, s: Snapshot, own: number | undefined): string {
  const rows = state.versions.filter((v) => {
    if (v.xmin === own) return false; // own writes are the transaction's, not the snapshot's
    if (!committed(state.clog, v.xmin) || running(s, v.xmin)) return false;
    return v.xmax === 0 || v.xmax === own || !committed(state.clog, v.xmax) || running(s, v.xmax);
  });
  return rows
    .map((v) => `${v.key}=${v.value}`)
    .sort()
    .join(",");
}

/**
 * Keys with more than one version that is live or may become so (inserter not aborted, no committed or pending
 * deleter), among those in the index (an insert still waiting in its unique check is not yet).
 */
function doubleLive(state: MvccState): Version[] | undefined {
  const live = new Map<number, Version[]>();
  for (const v of state.versions) {
    if (aborted(state.clog, v.xmin) || v.pending) continue;
    if (v.xmax !== 0 && !aborted(state.clog, v.xmax)) continue;
    live.set(v.key, [...(live.get(v.key) ?? []), v]);
  }
  return [...live.values()].find((vs) => vs.length > 1);
}

const members = [
  {
    name: "one-live-version",
    description:
      "each key has at most one version no transaction has deleted or replaced (the update chain is a chain)",
  },
  {
    name: "old-readers-see-old-state",
    description: "a REPEATABLE READ snapshot sees the same committed rows for as long as it lives",
  },
  { name: "vacuum-keeps-visible", description: "vacuum removes no version an open snapshot can see" },
] as const;

export const mvccStructure: Property<MvccOp, MvccObs, MvccState> = {
  name: "mvcc-structure",
  kind: "invariant",
  description:
    "one live version per key; snapshots see the same rows all their life, through others' commits and vacuum",
  members,
  start() {
    const held = new Map<number, { snapshot: string; rows: string }>();
    return {
      after(op, _obs, s): Named | undefined {
        const twice = doubleLive(s);
        if (twice)
          return {
            property: "one-live-version",
            message: `key ${twice[0]!.key} has ${twice.length} live versions: ${twice.map((v) => `${v.value} (xmin ${v.xmin})`).join(", ")}`,
          };
        for (const t of s.txs) {
          if (t.level !== "rr" || !t.snapshot || t.failed) continue;
          const key = JSON.stringify(t.snapshot);
          const rows = seenBy(s, t.snapshot, t.xid);
          const was = held.get(t.tx);
          if (!was || was.snapshot !== key) held.set(t.tx, { snapshot: key, rows });
          else if (was.rows !== rows) {
            const property = op.op === "vacuum" ? "vacuum-keeps-visible" : "old-readers-see-old-state";
            return {
              property,
              message: `client ${t.tx}'s snapshot saw {${was.rows}} and now sees {${rows}} after ${op.op}`,
            };
          }
        }
        for (const tx of [...held.keys()]) if (!s.txs.some((t) => t.tx === tx)) held.delete(tx);
        return undefined;
      },
    };
  },
};
