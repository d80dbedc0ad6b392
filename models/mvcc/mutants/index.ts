// The mvcc mutant zoo: the reference model with one deliberate, documented bug each, named after the anomaly it
// lets through (Adya's G0/G1a/G1b/G1c, P4 lost update, …). The properties must kill every one.
import { type Mutant, mutantOf } from "../../../core/index.ts";
import { type Client, type Outcome, Sessions, type Statement } from "../clients.ts";
import { MvccModel } from "../model.ts";
import { Ssi, type SsiHeap } from "../ssi.ts";
import type { MvccGeometry, MvccObs, MvccOp, MvccState, Snapshot, Version } from "../types.ts";

type MvccMutant = Mutant<MvccOp, MvccObs, MvccState, MvccGeometry>;
type TxClient = Client<{ xid?: number; snapshot?: Snapshot }>;

const mutant = (
  name: string,
  mimics: string,
  Model: new (g: MvccGeometry) => MvccModel,
  killedBy?: "economy" | "invariant",
  geometry?: Partial<MvccGeometry>,
): MvccMutant => mutantOf<MvccOp, MvccObs, MvccState, MvccGeometry>(name, mimics, Model, killedBy, geometry);

/** XidInMVCCSnapshot forgets the in-progress list: transactions running at the snapshot become visible when they commit. */
class SnapshotIgnoresXip extends MvccModel {
  protected override inSnapshot(xid: number, s: Snapshot): boolean {
    return xid >= s.xmax;
  }
}

/** REPEATABLE READ takes a new snapshot per statement, as READ COMMITTED does (non-repeatable reads). */
class RrSnapshotPerStatement extends MvccModel {
  override context(client: TxClient, _op: Statement): Snapshot {
    return this.takeSnapshot(client.state.xid);
  }
}

/** REPEATABLE READ follows the update chain like READ COMMITTED instead of failing: lost updates (P4). */
class NoFirstUpdaterWins extends MvccModel {
  protected override modify(
    client: TxClient,
    op: Statement & { op: "update" | "delete" | "updateWhere" | "deleteWhere" },
    s: Snapshot,
  ): Outcome {
    return super.modify({ ...client, level: "rc", state: client.state } as TxClient, op, s);
  }
}

/** An aborted transaction's rows are visible (G1a, aborted read). */
class AbortedVisible extends MvccModel {
  protected override visible(v: Version, s: Snapshot, own: number | undefined): boolean {
    if (this.clog.get(v.xmin) === "aborted" && !this.inSnapshot(v.xmin, s)) return v.xmax === 0;
    return super.visible(v, s, own);
  }
}

/** Rows of transactions still running are visible (G1-style dirty read of uncommitted data). */
class DirtyRead extends MvccModel {
  protected override visible(v: Version, s: Snapshot, own: number | undefined): boolean {
    if (v.xmin !== own && !this.clog.has(v.xmin)) return v.xmax === 0;
    return super.visible(v, s, own);
  }
}

/** A version its own transaction replaced stays visible to others once committed (G1b, intermediate read). */
class IntermediateVisible extends MvccModel {
  protected override visible(v: Version, s: Snapshot, own: number | undefined): boolean {
    if (v.xmax !== 0 && v.xmax === v.xmin && v.xmin !== own && this.committed(v.xmin) && !this.inSnapshot(v.xmin, s))
      return true;
    return super.visible(v, s, own);
  }
}

/** Vacuum ignores open snapshots (horizon = the next xid): versions old readers still see disappear. */
class VacuumPastHorizon extends MvccModel {
  protected override horizon(): number {
    return this.nextXid;
  }
}

/** heap_update does not wait for a row another transaction is changing: both change it (G0, dirty write). */
class NoRowLock extends MvccModel {
  protected override modify(
    client: TxClient,
    op: Statement & { op: "update" | "delete" | "updateWhere" | "deleteWhere" },
    s: Snapshot,
  ): Outcome {
    const out = super.modify(client, op, s);
    if (!("waitFor" in out) || !("key" in op)) return out; // writes by key only
    const v = this.versions.find((x) => x.key === op.key && this.visible(x, s, client.state.xid))!; // the row it waited for
    client.state.xid ??= this.nextXid++;
    const xid = client.state.xid;
    v.xmax = xid;
    if (op.op === "update")
      this.place({
        key: v.key,
        value: op.add !== undefined ? v.value + op.add : (op.value ?? v.value),
        xmin: xid,
        xmax: 0,
      });
    return { count: 1 };
  }
}

/** An update rewrites every live row of the table as new versions (a page-level copy): right data, no economy. */
class UpdateCopiesTable extends MvccModel {
  protected override modify(
    client: TxClient,
    op: Statement & { op: "update" | "delete" | "updateWhere" | "deleteWhere" },
    s: Snapshot,
  ): Outcome {
    const out = super.modify(client, op, s);
    if (!("count" in out) || out.count === 0 || op.op !== "update") return out;
    const xid = client.state.xid!;
    for (const v of [...this.versions]) {
      if (v.key === op.key || v.xmax !== 0 || !this.committed(v.xmin)) continue;
      v.xmax = xid;
      this.place({ key: v.key, value: v.value, xmin: xid, xmax: 0 });
    }
    return out;
  }
}

/** SERIALIZABLE without SSI: it runs as REPEATABLE READ, so write skew (G2-item) and phantoms (G2) commit. */
class NoSsi extends MvccModel {
  override context(client: TxClient, op: Statement): Snapshot {
    return super.context(
      { ...client, level: client.level === "ser" ? "rr" : client.level, state: client.state } as TxClient,
      op,
    );
  }
}

/**
 * SSI without conflicts out: a read does not notice that a concurrent serializable transaction has already
 * replaced or inserted a version it passes (CheckForSerializableConflictOut), so a write skew whose writes come
 * before the reads commits.
 */
class NoConflictOut extends MvccModel {
  protected override newSsi(heap: SsiHeap): Ssi {
    return new (class extends Ssi {
      protected override conflictOut(): void {}
    })(heap);
  }
}

/**
 * Waiters woken before the transaction's end is visible, against CommitTransaction's order (ProcArrayEndTransaction,
 * then the locks go): they find the row still held and wait again, and no wakeup follows (a lost wakeup).
 */
class WakeFirstSessions<S> extends Sessions<S> {
  protected override release(_ended: Client<S>, finish: () => void): void {
    this.wake();
    finish();
  }
}
class WakeBeforeEnd extends MvccModel {
  protected override newSessions() {
    return new WakeFirstSessions(this);
  }
}

/**
 * DeadLockCheck picks its victim among all the waiters, not the cycle's: the longest waiter anywhere is cancelled,
 * though it may only wait on the cycle, and the cycle stays.
 */
class VictimOfAllSessions<S> extends Sessions<S> {
  protected override victimOf(_cycle: readonly Client<S>[]): Client<S> {
    return super.victimOf([...this.clients.values()].filter((c) => c.pending));
  }
}
class DeadlockVictimOutsideCycle extends MvccModel {
  protected override newSessions() {
    return new VictimOfAllSessions(this);
  }
}

/**
 * EvalPlanQual judges the newest version of a row changed under a READ COMMITTED write before locking it: a row that
 * no longer qualifies is left unlocked, so a later writer of it does not wait (a rule a port could get wrong: the
 * server locks first, table_tuple_lock, and keeps the lock).
 */
class EpqRecheckWithoutLock extends MvccModel {
  protected override locksBeforeRecheck(): boolean {
    return false;
  }
}

export const mvccMutants: readonly MvccMutant[] = [
  mutant(
    "snapshot-ignores-xip",
    "a snapshot that ignores the in-progress list: commits of transactions running at the snapshot appear",
    SnapshotIgnoresXip,
  ),
  mutant(
    "rr-snapshot-per-statement",
    "repeatable read re-takes its snapshot per statement (non-repeatable read)",
    RrSnapshotPerStatement,
  ),
  mutant("no-first-updater-wins", "repeatable read without first-updater-wins: lost update (P4)", NoFirstUpdaterWins),
  mutant("aborted-visible", "an aborted transaction's inserts are visible (G1a)", AbortedVisible),
  mutant("dirty-read", "rows of transactions still running are visible (dirty read)", DirtyRead),
  mutant(
    "intermediate-visible",
    "a version its writer replaced before committing is visible (G1b, intermediate read)",
    IntermediateVisible,
  ),
  mutant("vacuum-past-horizon", "vacuum past a live snapshot's horizon: old readers lose rows", VacuumPastHorizon),
  mutant("no-row-lock", "a second writer does not wait for the first (G0, dirty write / lost update)", NoRowLock),
  mutant("no-ssi", "SERIALIZABLE run as REPEATABLE READ: write skew commits (G2-item), and phantoms (G2)", NoSsi),
  mutant(
    "ssi-no-conflict-out",
    "SSI that flags rw-conflicts only when the write comes after the read: write skew commits when the writes come first",
    NoConflictOut,
  ),
  mutant(
    "wake-before-end",
    "waiters woken before the transaction's end is visible: they wait again and no wakeup follows (a lost wakeup)",
    WakeBeforeEnd,
  ),
  mutant(
    "deadlock-victim-outside-cycle",
    "a deadlock victim chosen among all waiters: the longest waiter outside the cycle is cancelled, and the cycle stays",
    DeadlockVictimOutsideCycle,
  ),
  mutant(
    "epq-recheck-without-lock",
    "a READ COMMITTED write by predicate that leaves a row unlocked when EvalPlanQual finds it no longer qualifies",
    EpqRecheckWithoutLock,
  ),
  mutant(
    "update-copies-table",
    "an update that copies every row (a page-level copy): right data, no economy",
    UpdateCopiesTable,
    "economy",
  ),
];
