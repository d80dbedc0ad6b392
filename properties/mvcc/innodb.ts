// Properties of the innodb flavour's state (models/mvcc/innodb-state.ts). Invariants: the lock table is consistent
// (no two transactions hold conflicting record locks, a waiting transaction has one waiting request, the maker of a
// record's uncommitted version holds its X lock) and a REPEATABLE READ read view never changes while its transaction
// runs. Economy: a write adds one version per row it changes (one undo record each), a read or an end adds none:
// nothing copies the table.
import type { Named, Property } from "../../core/index.ts";
import type { InnodbState } from "../../models/mvcc/innodb-state.ts";
import type { MvccObs, MvccOp } from "../../models/mvcc/types.ts";

type Lock = InnodbState["locks"][number];
const onRecord = (l: Lock): boolean => l.key !== null && (l.kind === "rec" || l.kind === "next-key");

function locks(s: InnodbState): Named | undefined {
  const fail = (property: string, message: string): Named => ({ property, message });
  const granted = s.locks.filter((l) => !l.waiting);
  for (const [i, a] of granted.entries())
    for (const b of granted.slice(i + 1))
      if (a.tx !== b.tx && a.key === b.key && onRecord(a) && onRecord(b) && (a.mode === "X" || b.mode === "X"))
        return fail(
          "locks-compatible",
          `clients ${a.tx} and ${b.tx} both hold record locks on k=${a.key}: ${a.mode} ${a.kind} and ${b.mode} ${b.kind}`,
        );
  for (const t of s.trxs) {
    const waits = s.locks.filter((l) => l.tx === t.tx && l.waiting).length;
    if (waits !== (t.waiting ? 1 : 0))
      return fail(
        "one-wait-per-waiter",
        `client ${t.tx} ${t.waiting ? "waits" : "does not wait"} and has ${waits} waiting lock request(s)`,
      );
  }
  const owner = new Map(s.trxs.flatMap((t) => (t.id !== undefined ? [[t.id, t.tx] as const] : [])));
  for (const r of s.records) {
    const tx = owner.get(r.versions[0]!.trxId);
    if (tx === undefined) continue;
    if (!s.locks.some((l) => l.tx === tx && l.key === r.key && l.mode === "X" && onRecord(l) && !l.waiting))
      return fail(
        "writer-holds-record",
        `client ${tx}'s uncommitted version of k=${r.key} is not under its X lock: another transaction may change it`,
      );
  }
  return undefined;
}

const members = [
  { name: "locks-compatible", description: "no two transactions hold record locks on one record unless both are S" },
  { name: "one-wait-per-waiter", description: "a waiting transaction has one waiting lock request, others none" },
  {
    name: "writer-holds-record",
    description: "the transaction that made a record's newest, uncommitted version holds an X lock on it",
  },
  {
    name: "read-view-stable",
    description: "a REPEATABLE READ or SERIALIZABLE transaction's read view never changes once made",
  },
] as const;

const viewText = (t: InnodbState["trxs"][number]): string | undefined =>
  t.view && `${t.view.low}/${t.view.up}/${t.view.ids.join(",")}`;

export const innodbStructure: Property<MvccOp, MvccObs, InnodbState> = {
  name: "innodb-structure",
  kind: "invariant",
  description: "the lock table is consistent and read views do not change",
  members,
  start(initial) {
    let before = initial;
    return {
      after(_op, _obs, s): Named | undefined {
        const broken = locks(s);
        const prior = before;
        before = s;
        if (broken) return broken;
        for (const t of s.trxs) {
          // the client's transaction before the op (an op cannot end one and begin another; a first write gives it
          // an id, which must not change its view)
          const was = prior.trxs.find((x) => x.tx === t.tx && x.level === t.level);
          if (!was || t.level === "rc" || !viewText(was)) continue;
          if (viewText(t) !== viewText(was))
            return {
              property: "read-view-stable",
              message: `client ${t.tx}'s read view was ${viewText(was)} and is now ${viewText(t) ?? "gone"}`,
            };
        }
        return undefined;
      },
    };
  },
};

/**
 * Versions a statement may add: a write of one key, one; a write by predicate, one per record of its range (`keys`:
 * the records when the op began).
 */
function most(op: MvccOp, keys: readonly number[]): number {
  if (op.op === "insert" || op.op === "update" || op.op === "delete") return 1;
  if (op.op !== "updateWhere" && op.op !== "deleteWhere") return 0;
  return keys.filter((k) => k >= op.lo && k <= op.hi).length;
}

/** Versions each record gained in the op (a rollback's losses elsewhere do not hide them). */
function added(before: ReadonlyMap<number, number>, after: InnodbState): number {
  return after.records.reduce((n, r) => n + Math.max(0, r.versions.length - (before.get(r.key) ?? 0)), 0);
}

export const innodbEconomy: Property<MvccOp, MvccObs, InnodbState>[] = [
  {
    name: "write-adds-one-version",
    kind: "economy",
    description:
      "a write adds one version per row it changes (the record changed in place, one undo record); reads and ends add none",
    start(initial) {
      let had = new Map(initial.records.map((r) => [r.key, r.versions.length]));
      /** Statements waiting: each may go on (and change rows) at any later op. */
      const waiting = new Map<number, MvccOp>();
      return {
        after(op, obs, s) {
          const keys = [...had.keys()];
          let budget = most(op, keys);
          for (const w of waiting.values()) budget += most(w, keys);
          for (const u of ("unblocked" in obs && obs.unblocked) || []) waiting.delete(u.tx);
          if ("tx" in op && "blocked" in obs) waiting.set(op.tx, op);
          const n = added(had, s);
          had = new Map(s.records.map((r) => [r.key, r.versions.length]));
          return n > budget ? `${n} versions added (at most ${budget} by the statements that ran)` : undefined;
        },
      };
    },
  },
];
