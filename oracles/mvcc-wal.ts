// Eager oracle for the mvcc layer's sqlite flavour. The committed table is a plain map; each read transaction takes
// a full copy of it when its snapshot starts (its first statement, or BEGIN IMMEDIATE) and writes into that copy; a
// commit of the one writer, whose snapshot must be the newest, makes its copy the table. The WAL is only counted:
// every commit that changed rows adds one frame (docs/research/sqlite-wal.md, section 4). A checkpoint copies frames
// up to the oldest read mark a reader of the WAL holds, nothing while a reader of the database file alone lives, and
// answers as the research's rules say.
//
// The connections are the oracle's own too: BEGIN DEFERRED takes nothing, BEGIN IMMEDIATE a snapshot and the write
// lock (or SQLITE_BUSY, and no transaction); a statement outside a transaction runs alone (autocommit); a write needs
// the write lock: SQLITE_BUSY while another connection holds it, else SQLITE_BUSY_SNAPSHOT from a snapshot older than
// the newest commit (in that order, surprise 3); a failed write leaves its transaction open (surprise 4); BEGIN inside
// a transaction, COMMIT or ROLLBACK outside one: SQLITE_ERROR.
import { type Engine, InputError } from "../core/index.ts";
import {
  type CheckpointRow,
  type checkpointModes,
  MVCC_MAX_ROWS,
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  selection,
  selects,
} from "../models/mvcc/types.ts";

type Select = Extract<MvccOp, { op: "read" | "scan" }>;
type Change = Extract<MvccOp, { op: "insert" | "update" | "delete" | "updateWhere" | "deleteWhere" }>;
type CheckpointMode = (typeof checkpointModes)[number];

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

/** A client's connection: whether it is inside BEGIN … COMMIT, and its read transaction's copy, while it has one. */
interface Conn {
  readonly tx: number;
  begun: boolean;
  copy?: Copy;
}

const ok = { ok: true } as const;

export class WalOracle implements Engine<MvccOp, MvccObs> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set<string>();
  private readonly conns = new Map<number, Conn>();
  /** The connection holding the WAL write lock: one at a time. */
  private writer: number | undefined;
  private table = new Map<number, number>();
  /** Frames in the WAL, and how many of them are copied into the database file. */
  private log = 0;
  private backfilled = 0;
  /** Changes of the WAL's header: every commit that wrote a frame, every TRUNCATE that emptied the WAL. */
  private version = 0;

  constructor(readonly geometry: MvccGeometry) {}

  apply(op: MvccOp): MvccObs {
    if (op.op === "checkpoint") return { checkpoint: this.checkpoint(op.mode) };
    if (op.op === "vacuum")
      throw new InputError("vacuum is an op of the postgres flavour; the sqlite flavour has checkpoint");
    let c = this.conns.get(op.tx);
    if (!c) {
      c = { tx: op.tx, begun: false };
      this.conns.set(op.tx, c);
    }
    switch (op.op) {
      case "begin":
        return this.begin(c, op);
      case "commit":
      case "abort":
        if (!c.begun) return { error: "SQLITE_ERROR" }; // "cannot commit - no transaction is active"
        this.end(c, op.op === "commit");
        return ok;
      default:
        return this.statement(c, op);
    }
  }

  private begin(c: Conn, op: Extract<MvccOp, { op: "begin" }>): MvccResult {
    if ((op.level !== "deferred" && op.level !== "immediate") || op.readOnly)
      throw new InputError(
        `BEGIN ${op.level}${op.readOnly ? " READ ONLY" : ""} is PostgreSQL's; the sqlite flavour has deferred and immediate`,
      );
    if (c.begun) return { error: "SQLITE_ERROR" }; // "cannot start a transaction within a transaction"
    if (op.level === "immediate") {
      // a snapshot and the write lock at once (sqlite3BtreeBeginTrans with wrflag); if busy, no transaction is open
      const copy = this.snapshot();
      const busy = this.lockForWrite(c.tx, copy);
      if (busy) return { error: busy };
      c.copy = copy;
    }
    c.begun = true;
    return ok;
  }

  /** A read or write statement; outside BEGIN … COMMIT it is a transaction of its own, committed if it succeeded. */
  private statement(c: Conn, op: Select | Change): MvccResult {
    const began = c.copy === undefined;
    const copy = c.copy ?? this.snapshot();
    c.copy = copy;
    let result: MvccResult;
    if (op.op === "read" || op.op === "scan") result = this.select(copy, op);
    else {
      const busy = this.lockForWrite(c.tx, copy);
      if (!busy) result = this.change(copy, op);
      else {
        result = { error: busy };
        // the transaction stays open (surprise 4), but a snapshot this very write took is dropped with the failure
        if (began) c.copy = undefined;
      }
    }
    if (!c.begun) this.end(c, !("error" in result));
    return result;
  }

  /**
   * sqlite3WalBeginWriteTransaction: the write lock, unless another connection has it (SQLITE_BUSY); then the
   * snapshot must still be the newest (else SQLITE_BUSY_SNAPSHOT). A failure leaves the lock where it was.
   */
  private lockForWrite(tx: number, copy: Copy): "SQLITE_BUSY" | "SQLITE_BUSY_SNAPSHOT" | undefined {
    if (this.writer === tx) return undefined;
    if (this.writer !== undefined) return "SQLITE_BUSY";
    if (copy.version !== this.version) return "SQLITE_BUSY_SNAPSHOT";
    this.writer = tx;
    return undefined;
  }

  /** COMMIT (its copy becomes the table, if it changed anything) or ROLLBACK; either way its locks and copy go. */
  private end(c: Conn, commit: boolean): void {
    if (commit && c.copy) this.commit(c.copy);
    if (this.writer === c.tx) this.writer = undefined;
    c.copy = undefined;
    c.begun = false;
  }

  /** A read transaction begins: a copy of the committed table, and a read mark if it must read the WAL. */
  private snapshot(): Copy {
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
    return [...this.conns.values()].flatMap((c) => (c.copy ? [c.copy] : []));
  }

  private walReaders(): Copy[] {
    return this.readers().filter((r) => r.mark !== undefined);
  }

  private select(copy: Copy, op: Select): MvccResult {
    if (op.op === "read") {
      const v = copy.view.get(op.key);
      return { values: v === undefined ? [] : [v] };
    }
    // the rows that exist in the range, by key: never a walk of every key from lo to hi
    const rows: [number, number][] = [];
    for (const [k, v] of copy.view) if (k >= op.lo && k <= op.hi) rows.push([k, v]);
    return { rows: rows.sort((a, b) => a[0] - b[0]) };
  }

  /**
   * One INSERT, UPDATE or DELETE on the copy (by the writer). An UPDATE to the value the row already has changes no
   * byte, so by itself it leaves the copy unchanged: its commit writes no frame.
   */
  private change(copy: Copy, op: Change): MvccResult {
    const rows = copy.view;
    if (op.op === "insert") {
      if (rows.has(op.key)) return { error: "SQLITE_CONSTRAINT_PRIMARYKEY" };
      if (rows.size >= MVCC_MAX_ROWS)
        throw new InputError(`the table would hold more than ${MVCC_MAX_ROWS} rows (the sqlite flavour's bound)`);
      rows.set(op.key, op.value);
      copy.changed = true;
      return { count: 1 };
    }
    const sel = selection(op);
    let count = 0;
    for (const [k, old] of [...rows]) {
      if (!selects(sel, k, old)) continue;
      count++;
      if (op.op === "delete" || op.op === "deleteWhere") rows.delete(k);
      else {
        const value = op.add !== undefined ? old + op.add : (op.value ?? old);
        if (value === old) continue;
        rows.set(k, value);
      }
      copy.changed = true;
    }
    return { count };
  }

  private commit(copy: Copy): void {
    if (!copy.changed) return;
    // the WAL starts again at frame 1 when its writer began with everything backfilled and no one reads the WAL
    if (copy.mark === undefined && this.backfilled > 0 && !this.walReaders().length) this.log = this.backfilled = 0;
    this.log++;
    this.version++;
    this.table = copy.view;
  }

  /** PRAGMA wal_checkpoint(MODE), from a connection of its own. */
  private checkpoint(mode: CheckpointMode): CheckpointRow {
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
