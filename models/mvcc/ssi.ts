// Serializable Snapshot Isolation as PostgreSQL's predicate.c runs it, with relation-level SIREAD locks: the locks a
// sequential scan takes (heap_beginscan → PredicateLockRelation). The postgres engine turns index scans off so the
// server takes the same locks; with index plans PostgreSQL takes finer ones and aborts less (docs/mvcc.md). Kept:
// rw-conflicts in and out, the dangerous-structure checks of OnConflict_CheckForSerializationFailure and
// PreCommit_CheckForSerializationFailure with their commit-order and READ ONLY conditions, doomed transactions,
// the release of conflicts at commit and abort, and the cleanup of committed transactions by SxactGlobalXmin.
// A READ ONLY transaction's snapshot becomes safe (RO_SAFE) once every read-write one that ran beside it has ended
// without an earlier-committed conflict out; at its next statement it releases everything and leaves SSI. Not kept:
// summarization to the SLRU (never needed with a few transactions).
import type { Snapshot, SsiState, Version } from "./types.ts";

/** The error a serialization failure raises (SQLSTATE 40001); the model turns it into the observation. */
export class SerializationFailure extends Error {}

export interface Sxact {
  /** Its number, in registration order (what the inspected state names it by). */
  readonly id: number;
  readonly tx: number;
  xid?: number;
  readonly snapshot: Snapshot;
  /** Declared READ ONLY. */
  readonly declaredReadOnly: boolean;
  /** SXACT_FLAG_READ_ONLY: declared, or committed without writing. */
  readOnly: boolean;
  committed: boolean;
  prepared: boolean;
  doomed: boolean;
  /** SXACT_FLAG_CONFLICT_OUT: committed with a conflict out to a transaction that committed before it. */
  conflictOut: boolean;
  /** Holds the SIREAD lock on the table. */
  locked: boolean;
  didWrite: boolean;
  /** rw-conflicts: readers of what this one wrote (in) and writers of what it read (out). */
  readonly inConflicts: Set<Sxact>;
  readonly outConflicts: Set<Sxact>;
  /**
   * possibleUnsafeConflicts: for a READ ONLY transaction, the read-write ones active when it registered that have not
   * ended yet; for a read-write one, the READ ONLY ones it is such a link of.
   */
  readonly possibleUnsafe: Set<Sxact>;
  /** SXACT_FLAG_RO_SAFE: its snapshot is safe; it releases everything at its next statement. */
  roSafe: boolean;
  readonly lastCommitBeforeSnapshot: number;
  prepareSeqNo: number;
  commitSeqNo: number;
  earliestOutConflictCommit: number;
  finishedBefore: number;
}

/** HeapTupleSatisfiesVacuum's verdicts the conflict-out check reads. */
type Htsv = "live" | "recentlyDead" | "deleteInProgress" | "insertInProgress" | "dead";

export interface SsiHeap {
  readonly versions: readonly Version[];
  fate(xid: number): "committed" | "aborted" | undefined;
  visible(v: Version, s: Snapshot, own: number | undefined): boolean;
  readonly nextXid: number;
}

const INVALID = Number.MAX_SAFE_INTEGER;

export class Ssi {
  /** Active and committed (not yet cleaned up) serializable transactions; rolled-back ones are released at once. */
  private readonly sxacts: Sxact[] = [];
  /** The holders of the table's SIREAD lock, in the order they took it (the target's predicateLocks list). */
  private readonly holders: Sxact[] = [];
  /** LastSxactCommitSeqNo */
  private seq = 0;
  private globalXmin: number | undefined;
  private globalXminCount = 0;
  /** Transactions registered so far (the last one's id). */
  private registered = 0;

  constructor(private readonly heap: SsiHeap) {}

  /** GetSerializableTransactionSnapshotInt: a READ ONLY transaction with no writable one running opts out. */
  register(tx: number, snapshot: Snapshot, declaredReadOnly: boolean): Sxact | undefined {
    const active = this.sxacts.filter((s) => !s.committed);
    if (declaredReadOnly && !active.some((s) => !s.doomed && !s.declaredReadOnly)) return undefined;
    const s: Sxact = {
      id: ++this.registered,
      tx,
      snapshot,
      declaredReadOnly,
      readOnly: declaredReadOnly,
      committed: false,
      prepared: false,
      doomed: false,
      conflictOut: false,
      locked: false,
      didWrite: false,
      inConflicts: new Set(),
      outConflicts: new Set(),
      possibleUnsafe: new Set(),
      roSafe: false,
      lastCommitBeforeSnapshot: this.seq,
      prepareSeqNo: INVALID,
      commitSeqNo: INVALID,
      earliestOutConflictCommit: INVALID,
      finishedBefore: INVALID,
    };
    // SetPossibleUnsafeConflict: a READ ONLY one may be unsafe while a read-write one that runs beside it is active
    if (declaredReadOnly)
      for (const w of active)
        if (!w.doomed && !w.declaredReadOnly) {
          s.possibleUnsafe.add(w);
          w.possibleUnsafe.add(s);
        }
    if (this.globalXmin === undefined) [this.globalXmin, this.globalXminCount] = [snapshot.xmin, 1];
    else if (snapshot.xmin === this.globalXmin) this.globalXminCount++;
    this.sxacts.push(s);
    return s;
  }

  failIfDoomed(me: Sxact): void {
    if (me.doomed) throw new SerializationFailure("canceled on identification as a pivot");
  }

  /** A sequential scan: the relation SIREAD lock, then HeapCheckForSerializableConflictOut on every tuple it passes. */
  scan(me: Sxact): void {
    if (!me.locked) this.holders.push(me); // PredicateLockRelation
    me.locked = true;
    const xmin = me.snapshot.xmin; // TransactionXmin
    for (const v of this.heap.versions) {
      this.failIfDoomed(me); // CheckForSerializableConflictOutNeeded
      const visible = this.heap.visible(v, me.snapshot, me.xid);
      let xid: number;
      switch (this.htsv(v, xmin)) {
        case "live":
          if (visible) continue;
          xid = v.xmin;
          break;
        case "recentlyDead":
        case "deleteInProgress":
          xid = visible ? v.xmax : v.xmin;
          if (xid < xmin) continue;
          break;
        case "insertInProgress":
          xid = v.xmin;
          break;
        case "dead":
          continue;
      }
      if (xid === me.xid || xid < xmin) continue;
      this.conflictOut(me, xid);
    }
  }

  /** HeapTupleSatisfiesVacuum against the OldestXmin `horizon`. */
  private htsv(v: Version, horizon: number): Htsv {
    const inserter = this.heap.fate(v.xmin);
    if (inserter === "aborted") return "dead";
    if (inserter === undefined) return v.xmax === v.xmin ? "deleteInProgress" : "insertInProgress";
    if (v.xmax === 0) return "live";
    const deleter = this.heap.fate(v.xmax);
    if (deleter === "aborted") return "live";
    if (deleter === undefined) return "deleteInProgress";
    return v.xmax < horizon ? "dead" : "recentlyDead";
  }

  /** CheckForSerializableConflictOut: we read past a version `xid` wrote that our snapshot does not see. */
  protected conflictOut(me: Sxact, xid: number): void {
    const writer = this.sxacts.find((s) => s.xid === xid);
    if (!writer || writer === me || writer.doomed) return;
    // a READ ONLY transaction appears to run before a committed writer with no earlier-committed conflict out
    if (
      me.readOnly &&
      writer.committed &&
      (!writer.conflictOut || me.lastCommitBeforeSnapshot < writer.earliestOutConflictCommit)
    )
      return;
    if (!this.concurrent(me, xid) || me.outConflicts.has(writer)) return;
    this.flag(me, me, writer);
  }

  /** XidIsConcurrent */
  private concurrent(me: Sxact, xid: number): boolean {
    const s = me.snapshot;
    if (xid < s.xmin) return false;
    return xid >= s.xmax || s.xip.includes(xid);
  }

  /** CheckForSerializableConflictIn at relation level: every SIREAD holder that overlaps us read what we write. */
  write(me: Sxact): void {
    this.failIfDoomed(me);
    me.didWrite = true;
    for (const r of [...this.holders]) {
      if (r === me || r.doomed || r.outConflicts.has(me)) continue;
      if (r.committed && !(me.snapshot.xmin < r.finishedBefore)) continue;
      this.flag(me, r, me);
    }
  }

  /** FlagRWConflict, run by `me`: check first, then record reader →rw writer. */
  private flag(me: Sxact, reader: Sxact, writer: Sxact): void {
    this.checkDangerous(me, reader, writer);
    reader.outConflicts.add(writer);
    writer.inConflicts.add(reader);
  }

  /** OnConflict_CheckForSerializationFailure, run by `me`, the reader or the writer. */
  private checkDangerous(me: Sxact, reader: Sxact, writer: Sxact): void {
    // a committed writer with a conflict out to an earlier committer: R → W → T2
    let failure = writer.committed && writer.conflictOut;
    // the writer became a pivot with an out-conflict to a transaction that committed first
    if (!failure) {
      for (const t2 of writer.outConflicts) {
        if (
          t2.prepared &&
          (!reader.committed || t2.prepareSeqNo <= reader.commitSeqNo) &&
          (!writer.committed || t2.prepareSeqNo <= writer.commitSeqNo) &&
          (!reader.readOnly || t2.prepareSeqNo <= reader.lastCommitBeforeSnapshot)
        ) {
          failure = true;
          break;
        }
      }
    }
    // the reader became a pivot, its writer having committed first: T0 → R → W
    if (!failure && writer.prepared && !reader.readOnly) {
      for (const t0 of reader.inConflicts) {
        if (
          !t0.doomed &&
          (!t0.committed || t0.commitSeqNo >= writer.prepareSeqNo) &&
          (!t0.readOnly || t0.lastCommitBeforeSnapshot >= writer.prepareSeqNo)
        ) {
          failure = true;
          break;
        }
      }
    }
    if (!failure) return;
    // the writer dies: at once if it is us or if it has committed (then we are the reader, and we die), else when it next acts
    if (writer === me || writer.prepared) throw new SerializationFailure("canceled on identification as a pivot");
    writer.doomed = true;
  }

  /** PreCommit_CheckForSerializationFailure: doomed dies; else a pivot reading into us whose own in-conflict is live is doomed. */
  preCommit(me: Sxact): void {
    this.failIfDoomed(me);
    for (const pivot of me.inConflicts) {
      if (pivot.committed || pivot.doomed) continue;
      for (const t0 of pivot.inConflicts) {
        if (t0 === me || (!t0.committed && !t0.readOnly && !t0.doomed)) {
          pivot.doomed = true;
          break;
        }
      }
    }
    me.prepareSeqNo = ++this.seq;
    me.prepared = true;
  }

  /** ReleasePredicateLocks at commit or abort. */
  release(me: Sxact, commit: boolean): void {
    me.finishedBefore = this.heap.nextXid;
    if (commit) {
      me.committed = true;
      me.commitSeqNo = ++this.seq;
      if (!me.didWrite) me.readOnly = true; // an implicit read-only transaction
      for (const w of [...me.outConflicts]) {
        if (!me.readOnly && w.committed) {
          me.earliestOutConflictCommit = Math.min(me.earliestOutConflictCommit, w.prepareSeqNo);
          me.conflictOut = true;
        }
        if (w.committed || w.lastCommitBeforeSnapshot >= this.seq) this.unlink(me, w);
      }
      for (const r of [...me.inConflicts]) if (r.committed || r.readOnly) this.unlink(r, me);
    }
    // the READ ONLY ones this read-write one could make unsafe: unsafe if it wrote and committed with a conflict out to
    // one that committed before their snapshot (FlagSxactUnsafe); else the link goes, and the last link's end makes
    // the snapshot safe
    if (!me.declaredReadOnly)
      for (const ro of [...me.possibleUnsafe]) {
        const unsafe =
          commit && me.didWrite && me.conflictOut && me.earliestOutConflictCommit <= ro.lastCommitBeforeSnapshot;
        for (const w of unsafe ? [...ro.possibleUnsafe] : [me]) this.unlinkPossible(ro, w);
        if (!unsafe && !ro.possibleUnsafe.size) ro.roSafe = true;
      }
    else for (const w of [...me.possibleUnsafe]) this.unlinkPossible(me, w);
    if (!commit) {
      me.doomed = true;
      this.forget(me);
    }
    if (me.snapshot.xmin === this.globalXmin && --this.globalXminCount === 0) {
      const active = this.sxacts.filter((s) => !s.committed);
      this.globalXmin = active.length ? Math.min(...active.map((s) => s.snapshot.xmin)) : undefined;
      this.globalXminCount = active.filter((s) => s.snapshot.xmin === this.globalXmin).length;
      this.clearOld();
    }
  }

  /** ClearOldPredicateLocks: committed transactions no running one overlaps are forgotten, in commit order. */
  private clearOld(): void {
    const finished = this.sxacts.filter((s) => s.committed).sort((a, b) => a.commitSeqNo - b.commitSeqNo);
    for (const s of finished) {
      if (this.globalXmin !== undefined && s.finishedBefore > this.globalXmin) break;
      this.forget(s);
    }
  }

  private unlinkPossible(ro: Sxact, w: Sxact): void {
    ro.possibleUnsafe.delete(w);
    w.possibleUnsafe.delete(ro);
  }

  /** ReleaseOneSerializableXact */
  private forget(s: Sxact): void {
    for (const x of [...s.possibleUnsafe]) this.unlinkPossible(s, x);
    for (const w of [...s.outConflicts]) this.unlink(s, w);
    for (const r of [...s.inConflicts]) this.unlink(r, s);
    this.sxacts.splice(this.sxacts.indexOf(s), 1);
    if (s.locked) this.holders.splice(this.holders.indexOf(s), 1);
  }

  private unlink(reader: Sxact, writer: Sxact): void {
    reader.outConflicts.delete(writer);
    writer.inConflicts.delete(reader);
  }

  /** What the inspected state shows: the transactions kept, in registration order, with their locks and conflicts. */
  inspect(): SsiState {
    if (!this.sxacts.length) return { sxacts: [] };
    return {
      sxacts: this.sxacts.map((s) => ({
        id: s.id,
        tx: s.tx,
        ...(s.xid !== undefined ? { xid: s.xid } : {}),
        readOnly: s.readOnly,
        doomed: s.doomed,
        ...(s.committed ? { commitSeqNo: s.commitSeqNo } : {}),
        locks: s.locked ? [{ target: "relation" as const }] : [],
        inConflicts: [...s.inConflicts].map((r) => r.id),
        outConflicts: [...s.outConflicts].map((w) => w.id),
      })),
    };
  }
}
