// SERIALIZABLE's bookkeeping as an invariant: the rw-conflicts the state records (predicate.c's inConflicts and
// outConflicts of each SERIALIZABLEXACT) are exactly those the history implies, and the transactions kept, with
// their SIREAD locks, are those the history implies. The derivation restates predicate.c from the history alone: the
// ops, their observations, and each state's heap, commit log and sessions (the pre-op heap is kept from the state
// before). From the SSI state it takes only which transactions registered (a READ ONLY one may opt out) and which
// are doomed: verdicts of the dangerous-structure checks, which it does not re-derive (the oracle judges what they
// lead to). Relation-level SIREAD locks, as the model keeps them (docs/mvcc.md).

import type { Named, Property } from "../../core/index.ts";
import type { MvccObs, MvccOp, MvccState, Snapshot, Version } from "../../models/mvcc/types.ts";

type Fates = MvccState["clog"];

/** What the history says of one serializable transaction (a SERIALIZABLEXACT). */
interface Sx {
  readonly id: number;
  readonly tx: number;
  /** Its transaction snapshot (GetTransactionSnapshot). */
  readonly snapshot: Snapshot;
  /** SXACT_FLAG_READ_ONLY: declared (a BEGIN … READ ONLY before its first statement), or committed without writing. */
  readOnly: boolean;
  /** LastSxactCommitSeqNo when it took its snapshot. */
  readonly lastCommitBeforeSnapshot: number;
  xid?: number;
  committed: boolean;
  prepareSeqNo: number;
  commitSeqNo: number;
  /** The next xid when it committed. */
  finishedBefore: number;
  /** SXACT_FLAG_CONFLICT_OUT: committed with a conflict out to a transaction that committed before it. */
  conflictOut: boolean;
  earliestOutConflictCommit: number;
  /** Holds the relation SIREAD lock: it ran a statement that scans. */
  locked: boolean;
  /** MyXactDidWrite */
  didWrite: boolean;
  /** The state's verdict: doom is not re-derived. */
  doomed: boolean;
  /** Tuple versions carrying its xid as xmin or as xmax: more after an op than before means it wrote in the op. */
  marks: number;
  /**
   * Declared READ ONLY: the read-write transactions active at its registration that have not ended yet (its
   * possibleUnsafeConflicts), and whether its snapshot became safe (all of them ended, none unsafely).
   */
  readonly possible: Set<Sx>;
  safe: boolean;
}

interface Edge {
  readonly reader: Sx;
  readonly writer: Sx;
  readonly why: string;
}

const INVALID = Number.MAX_SAFE_INTEGER;
const name = (x: { id: number; tx: number }) => `T${x.id} (client ${x.tx})`;
const key = (reader: number, writer: number) => `${reader}>${writer}`;
const running = (s: Snapshot, x: number) => x >= s.xmax || s.xip.includes(x);

/** HeapTupleSatisfiesMVCC, restated. */
function visible(v: Version, s: Snapshot, own: number | undefined, fates: Fates): boolean {
  if (v.xmin === own) return v.xmax !== own;
  if (fates[v.xmin] !== "committed" || running(s, v.xmin)) return false;
  if (v.xmax === 0 || fates[v.xmax] === "aborted") return true;
  if (v.xmax === own) return false;
  return fates[v.xmax] !== "committed" || running(s, v.xmax);
}

/** HeapTupleSatisfiesVacuum against `horizon`. */
function vacuumVerdict(v: Version, horizon: number, fates: Fates) {
  const inserter = fates[v.xmin];
  if (inserter === "aborted") return "dead";
  // inserted and then deleted by the same transaction: DELETE_IN_PROGRESS
  if (inserter === undefined) return v.xmax === v.xmin ? "deleteInProgress" : "insertInProgress";
  if (v.xmax === 0 || fates[v.xmax] === "aborted") return "live";
  if (fates[v.xmax] === undefined) return "deleteInProgress";
  return v.xmax < horizon ? "dead" : "recentlyDead";
}

/**
 * HeapCheckForSerializableConflictOut: the xid a scan with snapshot `s` (TransactionXmin its xmin) has a possible
 * conflict out to at version `v`: its inserter if it cannot see it, its deleter if it sees it deleted; none if the
 * xid is its own or older than its snapshot.
 */
function conflictXid(v: Version, s: Snapshot, own: number | undefined, fates: Fates): number | undefined {
  const seen = visible(v, s, own, fates);
  let xid: number;
  switch (vacuumVerdict(v, s.xmin, fates)) {
    case "live":
      if (seen) return undefined;
      xid = v.xmin;
      break;
    case "recentlyDead":
    case "deleteInProgress":
      xid = seen ? v.xmax : v.xmin;
      break;
    case "insertInProgress":
      xid = v.xmin;
      break;
    case "dead":
      return undefined;
  }
  return xid === own || xid < s.xmin ? undefined : xid;
}

/** XidIsConcurrent: the xid ran at the snapshot, or began after it. */
const concurrent = (s: Snapshot, xid: number) => xid >= s.xmin && running(s, xid);

const members = [
  {
    name: "ssi-rw-conflicts",
    description:
      "the rw-conflicts SSI records (in and out, each the other's mirror) are those the history implies between concurrent serializable transactions, no more, no fewer",
  },
  {
    name: "ssi-siread-locks",
    description:
      "SSI keeps the serializable transactions the history implies (a rolled-back one goes at once, a committed one when ClearOldPredicateLocks forgets it), with their SIREAD locks and commit sequence numbers",
  },
] as const;

export const mvccSsi: Property<MvccOp, MvccObs, MvccState> = {
  name: "ssi-conflicts",
  kind: "invariant",
  description:
    "SERIALIZABLE's rw-conflicts, transactions and SIREAD locks are those the history implies (predicate.c restated)",
  members,
  start() {
    const kept = new Map<number, Sx>();
    const edges = new Map<string, Edge>();
    /** Why each transaction no longer kept went. */
    const released = new Map<number, string>();
    /** The highest id registered so far. */
    let lastId = 0;
    /** LastSxactCommitSeqNo */
    let seq = 0;
    /** Clients whose open transaction a BEGIN … READ ONLY made read only. */
    const readOnlyBegun = new Set<number>();
    /** The heap and commit log before the op (what its scan passes): see `remember`. */
    let heap: Version[] = [];
    let fates: Fates = {};

    const active = () => [...kept.values()].filter((x) => !x.committed);
    /** SxactGlobalXmin: the oldest snapshot xmin among active serializable transactions (SetNewSxactGlobalXmin). */
    const globalXmin = () => {
      const xs = active().map((x) => x.snapshot.xmin);
      return xs.length ? Math.min(...xs) : undefined;
    };
    const activeOf = (tx: number) => active().find((x) => x.tx === tx);

    const flag = (reader: Sx, writer: Sx, why: string) => {
      const k = key(reader.id, writer.id);
      if (!edges.has(k)) edges.set(k, { reader, writer, why });
    };
    /** ReleaseOneSerializableXact: its locks and every conflict in and out go with it. */
    const forget = (x: Sx, why: string) => {
      ended(x, false);
      kept.delete(x.id);
      released.set(x.id, why);
      for (const [k, e] of edges) if (e.reader === x || e.writer === x) edges.delete(k);
    };

    /** A scan by `me` of the heap as it was before the op: CheckForSerializableConflictOut at each version. */
    const conflictsOut = (me: Sx, what: string) => {
      const byXid = new Map<number, Sx>();
      for (const x of kept.values()) if (x.xid !== undefined) byXid.set(x.xid, x);
      for (const v of heap) {
        const xid = conflictXid(v, me.snapshot, me.xid, fates);
        if (xid === undefined) continue;
        const writer = byXid.get(xid);
        // not serializable (or no longer kept), ourselves, or a transaction that will roll back
        if (!writer || writer === me || writer.doomed) continue;
        // a READ ONLY reader appears to run before a committed writer with no conflict out to an earlier committer
        if (
          me.readOnly &&
          writer.committed &&
          (!writer.conflictOut || me.lastCommitBeforeSnapshot < writer.earliestOutConflictCommit)
        )
          continue;
        if (!concurrent(me.snapshot, xid)) continue; // the write was in our snapshot
        flag(
          me,
          writer,
          `conflict out: its ${what} passed version ${v.key}=${v.value} (xmin ${v.xmin}, xmax ${v.xmax}), which concurrent ${name(writer)} ${v.xmin === xid ? "wrote" : "deleted"}`,
        );
      }
    };

    /** CheckTargetForConflictsIn at relation level: every holder of the SIREAD lock that overlaps the writer. */
    const conflictsIn = (writer: Sx) => {
      for (const holder of kept.values()) {
        if (holder === writer || !holder.locked || holder.doomed) continue;
        // a committed holder still counts while the writer's snapshot began before it finished
        if (holder.committed && !(writer.snapshot.xmin < holder.finishedBefore)) continue;
        flag(holder, writer, `conflict in: ${name(writer)} wrote while ${name(holder)} held the SIREAD lock on t`);
      }
    };

    /**
     * A read-write transaction ends: each READ ONLY one it could make unsafe becomes unsafe if it wrote and commits
     * with a conflict out to one that committed before that one's snapshot, else loses the link, and is safe when no
     * link is left (ReleasePredicateLocks, FlagSxactUnsafe, SXACT_FLAG_RO_SAFE).
     */
    const ended = (me: Sx, committed: boolean) => {
      for (const ro of kept.values()) {
        if (!ro.possible.has(me)) continue;
        const unsafe =
          committed && me.didWrite && me.conflictOut && me.earliestOutConflictCommit <= ro.lastCommitBeforeSnapshot;
        if (unsafe) ro.possible.clear();
        else {
          ro.possible.delete(me);
          if (!ro.possible.size) ro.safe = true;
        }
      }
    };

    /** ReleasePredicateLocks(isCommit = true) */
    const commit = (me: Sx, nextXid: number) => {
      me.prepareSeqNo = ++seq; // PreCommit_CheckForSerializationFailure
      me.commitSeqNo = ++seq;
      me.committed = true;
      me.finishedBefore = nextXid;
      if (!me.didWrite) me.readOnly = true; // an implicit read-only transaction
      for (const [k, e] of edges) {
        if (e.reader === me) {
          if (!me.readOnly && e.writer.committed) {
            me.conflictOut = true;
            me.earliestOutConflictCommit = Math.min(me.earliestOutConflictCommit, e.writer.prepareSeqNo);
          }
          // conflicts out to committed transactions go (predicate.c's second clause, a writer whose snapshot is
          // newer than this commit, cannot hold here: kept as written)
          if (e.writer.committed || e.writer.lastCommitBeforeSnapshot >= seq) edges.delete(k);
        }
        // conflicts in from committed and read-only transactions go
        else if (e.writer === me && (e.reader.committed || e.reader.readOnly)) edges.delete(k);
      }
      ended(me, true);
    };

    /**
     * The heap and commit log as the next op's scan will pass them (versions change in place), copied only when that
     * scan could find a conflict out: a kept transaction has an xid, and a serializable client could scan.
     */
    const remember = (s: MvccState) => {
      heap = [];
      if (![...kept.values()].some((x) => x.xid !== undefined)) return;
      if (!s.txs.some((t) => t.level === "ser" && !t.failed && !t.waiting)) return;
      heap = s.versions.map((v) => ({ ...v }));
      fates = { ...s.clog };
    };

    return {
      after(op, obs, s): Named | undefined {
        const ssi = s.ssi;
        if (!ssi) return undefined; // the engine keeps no SSI state to check
        if (op.op === "begin" && op.readOnly && "ok" in obs) readOnlyBegun.add(op.tx);
        if (!kept.size && !ssi.sxacts.length) {
          // nothing registered, nothing kept: only READ ONLY BEGINs to follow
          for (const t of readOnlyBegun) if (!s.txs.some((c) => c.tx === t)) readOnlyBegun.delete(t);
          return undefined;
        }
        const clients = new Map(s.txs.map((t) => [t.tx, t]));

        // GetSerializableTransactionSnapshotInt: a transaction registers at its first statement
        for (const x of ssi.sxacts) {
          if (x.id <= lastId) continue;
          const snapshot = clients.get(x.tx)?.snapshot;
          if (!snapshot)
            return {
              property: "ssi-siread-locks",
              message: `${name(x)} registered, but client ${x.tx} holds no snapshot`,
            };
          const readOnly = readOnlyBegun.has(x.tx);
          // SetPossibleUnsafeConflict: each read-write one active now, not doomed
          const possible = new Set(readOnly ? active().filter((w) => !w.doomed && !readOnlyBegun.has(w.tx)) : []);
          kept.set(x.id, {
            possible,
            safe: false,
            id: x.id,
            tx: x.tx,
            snapshot,
            readOnly,
            lastCommitBeforeSnapshot: seq,
            committed: false,
            prepareSeqNo: INVALID,
            commitSeqNo: INVALID,
            finishedBefore: INVALID,
            conflictOut: false,
            earliestOutConflictCommit: INVALID,
            locked: false,
            didWrite: false,
            doomed: false,
            marks: 0,
          });
        }
        lastId = Math.max(lastId, ...ssi.sxacts.map((x) => x.id));
        const xminBefore = globalXmin();

        // the op's own statement scans first (heap_beginscan → PredicateLockRelation, then each tuple it passes)
        const scans = ["read", "scan", "update", "delete", "updateWhere", "deleteWhere"].includes(op.op);
        if (scans && "tx" in op && !("skipped" in obs)) {
          const me = activeOf(op.tx);
          // SerializationNeededForRead: a snapshot found safe releases everything first (ReleasePredicateLocks(false, true))
          if (me?.safe) forget(me, "released everything when its READ ONLY snapshot was found safe (RO_SAFE)");
          else if (me) {
            me.locked = true;
            conflictsOut(me, op.op);
          }
        }
        if (op.op === "commit" && "ok" in obs) {
          const me = activeOf(op.tx);
          if (me) commit(me, s.nextXid);
        }
        // dooms: the op's scan and PreCommit come before any write of the op, so the writes meet these verdicts
        for (const x of ssi.sxacts) {
          const k = kept.get(x.id);
          if (k) k.doomed = x.doomed;
        }

        // the writes of the op (its own, and those of statements it woke): CheckForSerializableConflictIn
        const writers = active().filter((x) => {
          const t = clients.get(x.tx);
          return t?.xid !== undefined && !t.failed;
        });
        if (writers.length) {
          const marks = new Map<number, number>();
          for (const v of s.versions) {
            marks.set(v.xmin, (marks.get(v.xmin) ?? 0) + 1);
            if (v.xmax) marks.set(v.xmax, (marks.get(v.xmax) ?? 0) + 1);
          }
          for (const w of writers) {
            w.xid = clients.get(w.tx)!.xid;
            const now = marks.get(w.xid!) ?? 0;
            if (now > w.marks) {
              w.didWrite = true;
              conflictsIn(w);
            }
            w.marks = now;
          }
        }

        // ReleasePredicateLocks(isCommit = false): a transaction that ended without committing is released at once
        for (const x of active()) {
          const t = clients.get(x.tx);
          if (!t || t.failed) forget(x, "rolled back");
        }
        // ClearOldPredicateLocks, when the oldest active snapshot xmin moves on (SxactGlobalXminCount reached 0)
        const xminAfter = globalXmin();
        if (xminAfter !== xminBefore)
          for (const x of [...kept.values()])
            if (x.committed && (xminAfter === undefined || x.finishedBefore <= xminAfter))
              forget(
                x,
                `forgotten by ClearOldPredicateLocks (it finished before xid ${x.finishedBefore}, the oldest active snapshot's xmin is ${xminAfter ?? "none"})`,
              );

        for (const t of readOnlyBegun) if (!clients.has(t)) readOnlyBegun.delete(t);
        remember(s);
        return compare(ssi.sxacts, kept, edges, released);
      },
    };
  },
};

/** The state's SSI against the history's: the transactions kept, their locks and commit order, then the conflicts. */
function compare(
  sxacts: NonNullable<MvccState["ssi"]>["sxacts"],
  kept: ReadonlyMap<number, Sx>,
  edges: ReadonlyMap<string, Edge>,
  released: ReadonlyMap<number, string>,
): Named | undefined {
  const fail = (property: (typeof members)[number]["name"], message: string): Named => ({ property, message });
  const listed = new Set(sxacts.map((x) => x.id));
  for (const x of sxacts) {
    const h = kept.get(x.id);
    if (!h) return fail("ssi-siread-locks", `${name(x)} is still kept, but it ${released.get(x.id) ?? "is unknown"}`);
    if (x.locks.length > 0 !== h.locked)
      return fail(
        "ssi-siread-locks",
        h.locked
          ? `${name(x)} holds no SIREAD lock, but it ran a statement that scans t`
          : `${name(x)} holds a SIREAD lock, but it has run no statement that scans t`,
      );
    const commitSeqNo = h.committed ? h.commitSeqNo : undefined;
    if (x.commitSeqNo !== commitSeqNo)
      return fail(
        "ssi-siread-locks",
        `${name(x)} has commitSeqNo ${x.commitSeqNo ?? "none"}, but the history gives ${commitSeqNo ?? "none (active)"}`,
      );
  }
  for (const h of kept.values())
    if (!listed.has(h.id))
      return fail(
        "ssi-siread-locks",
        `${name(h)} is no longer kept, but it is ${h.committed ? "committed and still overlaps an active serializable transaction" : "active"}`,
      );

  const out = new Set<string>();
  const into = new Set<string>();
  for (const x of sxacts) {
    for (const w of x.outConflicts) out.add(key(x.id, w));
    for (const r of x.inConflicts) into.add(key(r, x.id));
  }
  const unmirrored = [...out].filter((k) => !into.has(k)).concat([...into].filter((k) => !out.has(k)));
  if (unmirrored.length)
    return fail(
      "ssi-rw-conflicts",
      `rw-conflicts recorded on one side only (reader>writer): ${unmirrored.join(", ")} (an out-conflict of the reader is an in-conflict of the writer)`,
    );
  const byId = new Map(sxacts.map((x) => [x.id, x]));
  const label = (k: string) => {
    const [r, w] = k.split(">").map((n) => byId.get(Number(n)) ?? kept.get(Number(n)) ?? { id: Number(n), tx: 0 });
    return `${name(r!)} →rw ${name(w!)}`;
  };
  const missing = [...edges.keys()].filter((k) => !out.has(k));
  const extra = [...out].filter((k) => !edges.has(k));
  if (!missing.length && !extra.length) return undefined;
  const parts = [
    ...missing.map((k) => `missing ${label(k)} (${edges.get(k)!.why})`),
    ...extra.map((k) => `recorded ${label(k)}, which the history does not imply`),
  ];
  return fail("ssi-rw-conflicts", parts.join("; "));
}
