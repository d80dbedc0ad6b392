// The sqlite flavour's mutant zoo: the WAL model with one deliberate, documented bug each, named after the bug class.
// They run with the sqlite geometry, with six clients so that more than four snapshots can need a read mark.
import { type Mutant, mutantOf } from "../../../core/index.ts";
import type { MvccGeometry, MvccObs, MvccOp } from "../types.ts";
import { WalModel } from "../wal.ts";
import type { WalState } from "../wal-state.ts";

const geometry = { flavour: "sqlite", txs: 6 } as const;
const mutant = (
  name: string,
  mimics: string,
  Model: new (g: MvccGeometry) => WalModel,
  killedBy?: "economy" | "invariant",
): Mutant<MvccOp, MvccObs, WalState, MvccGeometry> =>
  mutantOf<MvccOp, MvccObs, WalState, MvccGeometry>(name, mimics, Model, killedBy, geometry);

/** walCheckpoint without its read-mark loop: frames past a live reader's mark are backfilled. */
class CheckpointPastReaderMark extends WalModel {
  protected override safeFrame(): number {
    return this.frames.length;
  }
}

/** The backfill does not take read lock 0: the database file changes under a reader that reads it alone. */
class CheckpointUnderFileReader extends WalModel {
  protected override fileInUse(): boolean {
    return false;
  }
}

/** sqlite3WalBeginWriteTransaction without its header compare: a stale snapshot writes (lost update). */
class NoBusySnapshot extends WalModel {
  protected override stale(): boolean {
    return false;
  }
}

/**
 * A failed write ends the read transaction even when earlier statements began it: the next statement takes a fresh
 * snapshot, so a stale transaction's retry writes instead of failing with BUSY_SNAPSHOT again (surprise 4), and its
 * reads change under it.
 */
class BusySnapshotOnce extends WalModel {
  protected override writeFailed(c: Parameters<WalModel["writeFailed"]>[0]): void {
    c.read = undefined;
  }
}

/** With every read lock busy, a new reader takes one anyway and moves its mark forward, past the readers sharing it. */
class ReadMarkOverwritten extends WalModel {
  protected override freeSlot(): number {
    return super.freeSlot() || 4;
  }
}

/** The write lock is not exclusive: a second connection writes while the first holds it, and both commit. */
class TwoWriters extends WalModel {
  protected override beginWrite(c: Parameters<WalModel["beginWrite"]>[0]) {
    if (this.writer !== undefined && this.writer !== c.tx) this.writer = undefined;
    return super.beginWrite(c);
  }
}

/** The WAL starts again from frame 1 (a writer's walRestartLog, RESTART, TRUNCATE) while readers still use its frames. */
class RestartUnderReaders extends WalModel {
  protected override walInUse(): boolean {
    return false;
  }
}

/** The backfill copies every frame in log order instead of each page once from its newest frame: right data, more writes. */
class CheckpointWritesEveryFrame extends WalModel {
  protected override backfillOrder(from: number, to: number) {
    return this.frames.slice(from, to);
  }
}

export const walMutants: readonly Mutant<MvccOp, MvccObs, WalState, MvccGeometry>[] = [
  mutant(
    "wal-checkpoint-past-reader-mark",
    "a WAL checkpoint that backfills past a live reader's read mark",
    CheckpointPastReaderMark,
  ),
  mutant(
    "wal-checkpoint-under-file-reader",
    "a checkpoint that overwrites the database file under a reader of the file alone (read lock 0)",
    CheckpointUnderFileReader,
  ),
  mutant(
    "wal-no-busy-snapshot",
    "no SQLITE_BUSY_SNAPSHOT: a transaction writes from a stale snapshot (lost update)",
    NoBusySnapshot,
  ),
  mutant(
    "wal-busy-snapshot-once",
    "BUSY_SNAPSHOT only once: a failed write drops the transaction's snapshot, so its retry writes from a newer one",
    BusySnapshotOnce,
  ),
  mutant(
    "wal-read-mark-overwritten",
    "read marks not shared: a fifth reader moves a busy slot's mark past the readers using it",
    ReadMarkOverwritten,
  ),
  mutant("wal-two-writers", "the WAL write lock is not exclusive: two writers at once", TwoWriters),
  mutant(
    "wal-restart-under-readers",
    "the WAL restarts from frame 1 while readers still read its frames",
    RestartUnderReaders,
  ),
  mutant(
    "wal-checkpoint-writes-every-frame",
    "a backfill that writes every frame rather than each page once: right data, more writes",
    CheckpointWritesEveryFrame,
    "economy",
  ),
];
