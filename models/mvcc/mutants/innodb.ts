// The innodb flavour's mutant zoo: the InnoDB model with one deliberate, documented bug each, after a class of bug
// InnoDB has had or a rule a port could get wrong. They run with the innodb geometry.
import { type Mutant, mutantOf } from "../../../core/index.ts";
import { type Image, InnodbModel, type Lock, type LockKind, type ReadView, type Trx } from "../innodb.ts";
import type { InnodbState } from "../innodb-state.ts";
import type { MvccGeometry, MvccObs, MvccOp } from "../types.ts";

const mutant = (
  name: string,
  mimics: string,
  Model: new (g: MvccGeometry) => InnodbModel,
  geometry: Partial<MvccGeometry> = {},
): Mutant<MvccOp, MvccObs, InnodbState, MvccGeometry> =>
  mutantOf<MvccOp, MvccObs, InnodbState, MvccGeometry>(name, mimics, Model, undefined, {
    flavour: "innodb",
    ...geometry,
  });

/** REPEATABLE READ closes its read view at each statement's end, as READ COMMITTED does: non-repeatable reads. */
class RrViewPerStatement extends InnodbModel {
  protected override closesView(): boolean {
    return true;
  }
}

/** changes_visible without m_ids: a transaction active when the view was made is seen once it commits. */
class ViewIgnoresActiveIds extends InnodbModel {
  protected override sees(view: ReadView, id: number): boolean {
    return id < view.low;
  }
}

/** A consistent read takes the record as it is, without walking the undo chain: dirty reads of uncommitted changes. */
class NoUndoChain extends InnodbModel {
  protected override consistent(_t: Trx, r: { img: Image }): Image | undefined {
    return r.img;
  }
}

/** A locking search for an absent key takes no gap lock: another transaction inserts the phantom at once. */
class NoGapLockForAbsentKey extends InnodbModel {
  protected override lockAbsent(): void {}
}

/**
 * lock_rec_insert_check_and_lock counting only gap locks, not next-key ones, as conflicting with the insert
 * intention: an insert into a gap a SERIALIZABLE scan has locked goes through.
 */
class InsertIgnoresNextKey extends InnodbModel {
  protected override mustWait(r: { key: number; mode: "S" | "X"; kind: LockKind }, l: Lock): boolean {
    if (r.kind === "insert-intention" && l.kind === "next-key") return false;
    return super.mustWait(r, l);
  }
}

/**
 * A new request is checked against granted locks only, not against the waiting ones before it: a stream of S
 * lockers starves a waiting X locker (lock_rec_other_has_conflicting skipping waiters).
 */
class RequestsJumpTheQueue extends InnodbModel {
  protected override mustWait(r: { key: number; mode: "S" | "X"; kind: LockKind }, l: Lock): boolean {
    return !l.waiting && super.mustWait(r, l);
  }
}

/** No deadlock check when a release points a waiter at another owner (only at the start of a wait): a cycle hangs. */
class NoRecheckOnRelease extends InnodbModel {
  protected override repointed(): void {}
}

/** A duplicate key rolls back the whole transaction, as a deadlock does: the statements before it are lost. */
class DuplicateEndsTransaction extends InnodbModel {
  protected override endsTransaction(error: string): boolean {
    return error === "ER_DUP_ENTRY" || super.endsTransaction(error);
  }
}

/** READ COMMITTED locks a record whose delete is committed: it waits where MariaDB passes over (before 10.6's fix). */
class RcLocksCommittedDelete extends InnodbModel {
  protected override passesOver(): boolean {
    return false;
  }
}

/**
 * innodb_snapshot_isolation checked only after the lock wait: a write to a record a committed transaction changed
 * queues behind other readers instead of failing at once (MDEV-36639's order reversed).
 */
class CheckReadAfterWaitOnly extends InnodbModel {
  protected override checksBeforeWait(): boolean {
    return false;
  }
}

/**
 * READ COMMITTED UPDATE without the semi-consistent read: it waits for every locked row of its range, as DELETE
 * does (MariaDB turns the read off only under innodb_snapshot_isolation, MDEV-34108; a port that forgets it waits
 * where the server passes a row by).
 */
class NoSemiConsistentRead extends InnodbModel {
  protected override semiConsistent(): boolean {
    return false;
  }
}

export const innodbMutants = [
  mutant("rr-view-per-statement", "REPEATABLE READ reading through a fresh view per statement", RrViewPerStatement),
  mutant("view-ignores-active-ids", "ReadView::changes_visible without the active-ids check", ViewIgnoresActiveIds),
  mutant("no-undo-chain", "a consistent read that skips row_vers_build_for_consistent_read", NoUndoChain),
  mutant(
    "no-gap-lock-for-absent-key",
    "a locking unique search that misses its gap lock (phantoms)",
    NoGapLockForAbsentKey,
  ),
  mutant("insert-ignores-next-key", "an insert intention that waits for gap locks only", InsertIgnoresNextKey),
  mutant("requests-jump-the-queue", "lock requests that ignore waiting requests before them", RequestsJumpTheQueue),
  mutant("no-recheck-on-release", "no deadlock check when a release moves a wait edge", NoRecheckOnRelease),
  mutant("duplicate-ends-transaction", "ER_DUP_ENTRY rolling back the transaction", DuplicateEndsTransaction),
  mutant("rc-locks-committed-delete", "READ COMMITTED locking committed delete-marked records", RcLocksCommittedDelete),
  mutant(
    "no-semi-consistent-read",
    "a READ COMMITTED range UPDATE that waits for every locked row",
    NoSemiConsistentRead,
  ),
  mutant("checkread-after-wait-only", "ER_CHECKREAD found only after a lock wait", CheckReadAfterWaitOnly, {
    snapshotIsolation: true,
  }),
];
