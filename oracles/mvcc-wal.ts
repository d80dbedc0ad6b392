// Eager oracle for the mvcc layer's sqlite flavour. The committed table is a plain map; each read transaction takes
// a full copy of it when its snapshot starts (its first statement, or BEGIN IMMEDIATE) and writes into that copy; a
// commit of the one writer, whose snapshot must be the newest, makes its copy the table. The WAL is only counted:
// every commit that changed rows adds one frame (docs/research/sqlite-wal.md, section 4). A checkpoint copies frames
// up to the oldest read mark a reader of the WAL holds, nothing while a reader of the database file alone lives, and
// answers as the research's rules say. Connections, SQLITE_BUSY and SQLITE_BUSY_SNAPSHOT: models/mvcc/wal-clients.ts.
import type { Engine } from "../core/index.ts";
import type { MvccGeometry, MvccObs, MvccOp, MvccResult } from "../models/mvcc/types.ts";
import {
  applyChange,
  type Change,
  type CheckpointMode,
  type CheckpointRow,
  type Reading,
  type Select,
  WalClients,
} from "../models/mvcc/wal-clients.ts";

interface Copy {
  /** The table as the transaction sees it, its own writes included. */
  readonly view: Map<number, number>;
  /** How many times the WAL's header had changed when the copy was taken. */
  readonly version: number;
  /** A reader of the WAL: the read-mark slot it uses and the mark (absent: it reads the database file alone). */
  readonly slot?: number;
  readonly mark?: number;
  changed: boolean;
}

export class WalOracle extends WalClients<Copy> implements Engine<MvccOp, MvccObs> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set<string>();
  private table = new Map<number, number>();
  /** Frames in the WAL, and how many of them are copied into the database file. */
  private log = 0;
  private backfilled = 0;
  /** Changes of the WAL's header: every commit that wrote a frame, every TRUNCATE that emptied the WAL. */
  private version = 0;

  constructor(readonly geometry: MvccGeometry) {
    super();
  }

  protected beginRead(): Copy {
    const copy = { view: new Map(this.table), version: this.version, changed: false };
    return this.backfilled === this.log ? copy : { ...copy, ...this.readMark() };
  }

  /**
   * A reader of the WAL needs a read mark at or below its snapshot, in one of four slots: a slot already marked at
   * its snapshot; else a free slot, marked at its snapshot; else it shares the slot with the highest older mark.
   */
  private readMark(): { slot: number; mark: number } {
    const readers = this.walReaders();
    const same = readers.find((r) => r.mark === this.log);
    if (same) return { slot: same.slot!, mark: this.log };
    for (let slot = 1; slot <= 4; slot++) if (!readers.some((r) => r.slot === slot)) return { slot, mark: this.log };
    const highest = readers.reduce((a, b) => (b.mark! > a.mark! ? b : a));
    return { slot: highest.slot!, mark: highest.mark! };
  }

  private readers(): Copy[] {
    return [...this.conns.values()].flatMap((c) => (c.read ? [c.read] : []));
  }

  private walReaders(): Copy[] {
    return this.readers().filter((r) => r.mark !== undefined);
  }

  protected stale(c: Copy): boolean {
    return c.version !== this.version;
  }

  protected select(c: Reading<Copy>, op: Select): MvccResult {
    if (op.op === "read") {
      const v = c.read.view.get(op.key);
      return { values: v === undefined ? [] : [v] };
    }
    const rows: [number, number][] = [];
    for (let k = op.lo; k <= op.hi; k++) {
      const v = c.read.view.get(k);
      if (v !== undefined) rows.push([k, v]);
    }
    return { rows };
  }

  protected write(c: Reading<Copy>, op: Change): MvccResult {
    const { result, changed } = applyChange(c.read.view, op);
    if (changed) c.read.changed = true;
    return result;
  }

  protected commit(c: Reading<Copy>): void {
    if (!c.read.changed) return;
    // the WAL starts again at frame 1 when its writer began with everything backfilled and no one reads the WAL
    if (c.read.mark === undefined && this.backfilled > 0 && !this.walReaders().length) this.log = this.backfilled = 0;
    this.log++;
    this.version++;
    this.table = c.read.view;
  }

  protected checkpoint(mode: CheckpointMode): CheckpointRow {
    if (this.backfilled < this.log && !this.readers().some((r) => r.mark === undefined)) {
      this.backfilled = Math.min(this.log, ...this.walReaders().map((r) => r.mark!));
    }
    // without the write lock, FULL and above only do what PASSIVE does, and are busy
    let busy = mode !== "passive" && this.writer !== undefined;
    if (!busy && mode !== "passive") {
      if (this.backfilled < this.log) busy = true;
      else if (mode !== "full" && this.walReaders().length) busy = true;
      else if (mode === "truncate") {
        this.log = this.backfilled = 0;
        this.version++;
      }
    }
    return { busy: busy ? 1 : 0, log: this.log, checkpointed: this.backfilled };
  }
}
