// The client side of SQLite in WAL mode, the sqlite flavour's model's as clients.ts is the PostgreSQL flavour's (the
// oracle, oracles/mvcc-wal.ts, has its own): one connection per client; BEGIN DEFERRED locks nothing until its first statement, BEGIN
// IMMEDIATE takes the write lock at once; a statement outside a transaction runs alone (autocommit); the first write
// takes the write lock, and fails with SQLITE_BUSY while another connection holds it, else with SQLITE_BUSY_SNAPSHOT
// from a snapshot older than the newest commit (in that order: docs/research/sqlite-wal.md, surprise 3); a failed
// write leaves its transaction open (surprise 4); BEGIN inside a transaction and COMMIT or ROLLBACK outside one are
// SQLITE_ERROR. How a snapshot is taken, read, written and committed, and what a checkpoint does, is the storage's.
import { InputError } from "../../core/index.ts";
import {
  type CheckpointRow,
  type checkpointModes,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  selection,
  selects,
} from "./types.ts";

export type { CheckpointRow };

export type CheckpointMode = (typeof checkpointModes)[number];
export type Select = Extract<MvccOp, { op: "read" | "scan" }>;
export type Change = Extract<MvccOp, { op: "insert" | "update" | "delete" | "updateWhere" | "deleteWhere" }>;
type Busy = "SQLITE_BUSY" | "SQLITE_BUSY_SNAPSHOT";

export interface WalConn<R> {
  readonly tx: number;
  /** BEGIN ran: its statements share one transaction until COMMIT or ROLLBACK. */
  open: boolean;
  /** Its read transaction (the snapshot and what the storage keeps with it), from its first statement to its end. */
  read?: R;
}
/** A connection inside a read transaction. */
export type Reading<R> = WalConn<R> & { read: R };

const ok = { ok: true } as const;

/**
 * One INSERT, or one UPDATE or DELETE of the rows its selection names, on a table image. `changed`: whether the
 * stored bytes changed; an UPDATE to the value a row already has rewrites nothing (btreeOverwriteContent), so its
 * page stays clean.
 */
export function applyChange(rows: Map<number, number>, op: Change): { result: MvccResult; changed: boolean } {
  if (op.op === "insert") {
    if (rows.has(op.key)) return { result: { error: "SQLITE_CONSTRAINT_PRIMARYKEY" }, changed: false };
    rows.set(op.key, op.value);
    return { result: { count: 1 }, changed: true };
  }
  const sel = selection(op);
  const keys = sel.lo === sel.hi ? (rows.has(sel.lo) ? [sel.lo] : []) : [...rows.keys()];
  let count = 0;
  let changed = false;
  for (const k of keys) {
    const old = rows.get(k)!;
    if (!selects(sel, k, old)) continue;
    count++;
    if (op.op === "delete" || op.op === "deleteWhere") {
      rows.delete(k);
      changed = true;
      continue;
    }
    const value = op.add !== undefined ? old + op.add : (op.value ?? old);
    if (value !== old) changed = true;
    rows.set(k, value);
  }
  return { result: { count }, changed };
}

export abstract class WalClients<R> {
  protected readonly conns = new Map<number, WalConn<R>>();
  /** The connection holding the WAL write lock. */
  protected writer: number | undefined;

  apply(op: MvccOp): MvccObs {
    switch (op.op) {
      case "checkpoint":
        return { checkpoint: this.checkpoint(op.mode) };
      case "vacuum":
        throw new InputError("vacuum is an op of the postgres flavour; the sqlite flavour has checkpoint");
      case "begin":
        return this.begin(this.conn(op.tx), op);
      case "commit":
      case "abort": {
        const c = this.conn(op.tx);
        if (!c.open) return { error: "SQLITE_ERROR" }; // "cannot commit - no transaction is active"
        this.finish(c, op.op === "commit");
        return ok;
      }
      default:
        return this.statement(this.conn(op.tx), op);
    }
  }

  private conn(tx: number): WalConn<R> {
    let c = this.conns.get(tx);
    if (!c) {
      c = { tx, open: false };
      this.conns.set(tx, c);
    }
    return c;
  }

  private begin(c: WalConn<R>, op: Extract<MvccOp, { op: "begin" }>): MvccResult {
    if ((op.level !== "deferred" && op.level !== "immediate") || op.readOnly) {
      throw new InputError(
        `BEGIN ${op.level}${op.readOnly ? " READ ONLY" : ""} is PostgreSQL's; the sqlite flavour has deferred and immediate`,
      );
    }
    if (c.open) return { error: "SQLITE_ERROR" }; // "cannot start a transaction within a transaction"
    if (op.level === "immediate") {
      // sqlite3BtreeBeginTrans(wrflag): a read transaction, then the write lock; on failure no transaction is open
      c.read = this.beginRead();
      const busy = this.beginWrite(c as Reading<R>);
      if (busy) {
        c.read = undefined;
        return { error: busy };
      }
    }
    c.open = true;
    return ok;
  }

  private statement(c: WalConn<R>, op: Select | Change): MvccResult {
    const hadRead = c.read !== undefined;
    c.read ??= this.beginRead();
    const r = c as Reading<R>;
    let result: MvccResult;
    if (op.op === "read" || op.op === "scan") result = this.select(r, op);
    else {
      const busy = this.beginWrite(r);
      if (busy) this.writeFailed(c, !hadRead);
      result = busy ? { error: busy } : this.write(r, op);
    }
    if (!c.open) this.finish(c, !("error" in result)); // autocommit
    return result;
  }

  /** sqlite3WalBeginWriteTransaction: the write lock, then the snapshot must still be the newest one. */
  protected beginWrite(c: Reading<R>): Busy | undefined {
    if (this.writer === c.tx) return undefined;
    if (this.writer !== undefined) return "SQLITE_BUSY";
    if (this.stale(c.read)) return "SQLITE_BUSY_SNAPSHOT";
    this.writer = c.tx;
    return undefined;
  }

  /**
   * A write failed with SQLITE_BUSY or SQLITE_BUSY_SNAPSHOT: the transaction stays open (surprise 4), and a read
   * transaction this very write began ends with it (unlockBtreeIfUnused). A mutant's seam.
   */
  protected writeFailed(c: WalConn<R>, began: boolean): void {
    if (began) c.read = undefined;
  }

  /** COMMIT (the storage writes what the transaction changed) or ROLLBACK; then its locks go. */
  private finish(c: WalConn<R>, commit: boolean): void {
    if (commit && c.read) this.commit(c as Reading<R>);
    if (this.writer === c.tx) this.writer = undefined;
    c.read = undefined;
    c.open = false;
  }

  /** A read transaction begins: the connection's snapshot. */
  protected abstract beginRead(): R;
  /** The snapshot is older than the newest commit (the wal-index header changed since it was taken). */
  protected abstract stale(read: R): boolean;
  protected abstract select(c: Reading<R>, op: Select): MvccResult;
  /** A write statement, run by the holder of the write lock. */
  protected abstract write(c: Reading<R>, op: Change): MvccResult;
  /** The transaction commits: what it changed becomes the newest state (nothing, if it changed nothing). */
  protected abstract commit(c: Reading<R>): void;
  /** PRAGMA wal_checkpoint(MODE), from a connection of its own. */
  protected abstract checkpoint(mode: CheckpointMode): CheckpointRow;
}
