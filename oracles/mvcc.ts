// Eager oracle for the mvcc layer: the committed table is a plain map of rows; a snapshot is a full copy of it
// (REPEATABLE READ: taken by the first statement; READ COMMITTED: one per statement); writes go to a private buffer
// under a row lock, and commit applies the buffer. The conflict rules are the isolation levels' as PostgreSQL
// documents them: a row another open transaction is changing waits for it; under REPEATABLE READ a row changed by a
// transaction that committed after the snapshot is a serialization failure (40001); under READ COMMITTED the
// statement goes on with the newest version of the same row, if it still exists. An insert waits for any open
// writer of the key and fails (23505) on a committed row. Rows have identities: a key deleted and inserted again is
// another row, and a snapshot that saw the deleted one still sees it beside the transaction's own new row, as
// PostgreSQL's does.
//
// The client side is the oracle's own too: one transaction per client, autocommit for a statement outside one, an
// error aborting the transaction at once (25P02 after it), 25001 and 25006 as xact.c raises them; a blocked
// statement joins one wait queue in the order it began to wait and runs again, in that order, when the transaction it
// waits for ends; a wait that closes a cycle fails the cycle's longest waiter with 40P01 (DeadLockCheck). Which
// waiter dies and the order in which waiters woken together run are allowed choices as well.
//
// SERIALIZABLE reads and writes as REPEATABLE READ does; on top of that, by search rather than by PostgreSQL's
// algorithm: a COMMIT must fail (40001) when the committed serializable transactions and this one would have no
// serial order, i.e. their dependency graph (wr/ww: committed before the other's snapshot and touching a key it
// touched; rw: read a key the other wrote, the other not committed before the reader's snapshot) has a cycle. And any
// statement or COMMIT of a serializable transaction may fail with 40001 where PostgreSQL's SSI could find a dangerous
// structure: A →rw P →rw B with B committed first and the failing one A or P, counting every read against every
// write of two overlapping serializable transactions (the table-level SIREAD locks a sequential scan takes are that
// coarse). Those are allowed choices: the oracle answers `oneOf`, each computed by running the history again with
// that failure, and `chose` follows the one the engine took.

import { Choices, copyData, otherOrders } from "../core/choices.ts";
import { type Engine, InputError } from "../core/index.ts";
import {
  MVCC_MAX_VERSIONS,
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  type PgLevel,
  pgLevels,
  type Selection,
  type StatementOp,
  selection,
  selects,
} from "../models/mvcc/types.ts";

type Statement = StatementOp;
/**
 * What a statement comes to: its result, or the transaction whose end it must wait for; or, with `tuple`, the
 * transaction that holds that committed row version's tuple lock, which it must have before it waits for the row's
 * writer.
 */
type Outcome = MvccResult | { waitFor: number; tuple?: Row };

/** A committed row: its key and value, and its version (one more for every committed change). */
interface Row {
  readonly key: number;
  readonly value: number;
  readonly ver: number;
}
/** A row as a transaction sees it: its id, key and value, and whether the transaction wrote it. */
interface ViewRow {
  readonly id: number;
  readonly key: number;
  readonly value: number;
  readonly mine: boolean;
}
/** A copy of the committed table, by row id. */
type Copy = Map<number, Row>;

/** What the serial-order search knows of a SERIALIZABLE transaction. */
interface Ser {
  /** Commits before its snapshot (the commit clock then). */
  snapAt?: number;
  /** Its place on the commit clock, once committed. */
  commitAt?: number;
  aborted: boolean;
  /** Keys it read, and the ranges its scans read (every key of the range, present or not: a predicate read). */
  readonly reads: Set<number>;
  readonly ranges: [number, number][];
  /** Keys it made a version of (insert, update), and the rows it deleted (row id → key): what it changed. */
  readonly made: Set<number>;
  readonly deleted: Map<number, number>;
  /** Its snapshot, by row id. */
  snapshot?: Copy;
  /** It read something / tried to write something (what table-level SIREAD locks and conflicts see). */
  readAny: boolean;
  wroteAny: boolean;
  /** A dangerous structure has held it while it ran: SSI may have doomed it then, and the doom outlives the others. */
  doomable: boolean;
}

/** A client's connection and the one transaction it is in, from its BEGIN (or its first statement) to its end. */
interface Tx {
  readonly tx: number;
  level: PgLevel;
  /** BEGIN … READ ONLY (a later BEGIN READ ONLY in the transaction makes it so too). */
  readOnly: boolean;
  /** A statement has run: the isolation level can no longer change. */
  ran: boolean;
  /** Begun by a statement without BEGIN: it commits when that statement finishes. */
  readonly autocommit: boolean;
  /** An error aborted it: every statement answers 25P02 until COMMIT or ROLLBACK. */
  failed: boolean;
  snapshot?: Copy;
  /** row id → its new value, or null for deleted (rows it inserted included). */
  readonly writes: Map<number, { key: number; value: number } | null>;
  /** Rows it inserted (in `writes`), counted against the table's bound until it ends. */
  inserted: number;
  /** SERIALIZABLE only. */
  ser?: Ser;
  /** The UPDATE or DELETE running (it may have waited): the rows it changed, and how many. */
  statement?: { readonly done: Set<number>; count: number };
  /**
   * Its statement waits for transaction `on` to end, or (`tuple`) for that row version's tuple lock to come to it;
   * then it runs again on the same statement snapshot.
   */
  waiting?: { readonly op: Statement; readonly copy: Copy; on: number; tuple?: Row };
  /** The committed row version whose tuple lock its UPDATE or DELETE holds, or waits in the queue of. */
  queued?: Row;
}

const ok = { ok: true } as const;

/** The oracle proper for one history, with the choices the engine made forced at their ops. */
class Core {
  private readonly rows: Copy = new Map();
  private nextRow = 1;
  /** Rows open transactions have inserted: with the committed rows, what the table's bound counts. */
  private inserted = 0;
  /** key → the open transaction that wrote a row of it (the row lock, and what an insert of the key waits for). */
  private readonly writers = new Map<number, number>();
  /** Clients in a transaction, by client number. */
  private readonly open = new Map<number, Tx>();
  /** Transactions whose statement waits, in the order they began this wait (a woken one that waits again goes last). */
  private readonly queue: Tx[] = [];
  /**
   * A committed row version → the queue of its tuple lock (heap_acquire_tuplock): UPDATEs and DELETEs that found the
   * row's writer running, in the order they came; the first holds the lock and waits for the writer, the others wait
   * for it. The lock is the version's: a holder that moves on to the writer's newer version lets it go.
   */
  private readonly tuples = new Map<Row, Tx[]>();
  /**
   * Committed row versions an open transaction has locked without changing them: READ COMMITTED locks the newest
   * version of a row changed under it before it judges it again, and keeps the lock if it no longer qualifies.
   * Other writers of the row wait for it (inserts do not: the row is there).
   */
  private readonly rowLocks = new Map<Row, number>();
  /** This op: the result of every statement that finished in it, a deadlock victim's 40P01 included. */
  private finished = new Map<number, MvccResult>();
  /** This op: each wait cycle it closed, victim first, then the rest of the cycle from the waiter that closed it. */
  deadlocks: number[][] = [];
  /** This op: each group of two or more waiters one transaction's end woke, in the order they began to wait. */
  wakes: number[][] = [];
  private clock = 0;
  /** The SERIALIZABLE transactions a serial order or a dangerous structure can still involve (see prune). */
  private sers: Ser[] = [];
  /** A pruned transaction read something: a reader rw-before every running writer (couldFail ignores overlap there). */
  private prunedReader = false;
  /** Each client's latest transaction, if SERIALIZABLE. */
  readonly latest = new Map<number, Ser>();
  private index = -1;

  /** `forced`: op index → the choices the engine made there: whose statements fail with 40001, who died in a deadlock. */
  constructor(private readonly forced: ReadonlyMap<number, Choice>) {}

  /** This history's state, copied, going on with `forced` (a checkpoint's copy: core/choices.ts). */
  fork(forced: ReadonlyMap<number, Choice>): Core {
    return Object.assign(copyData(this), { forced });
  }

  apply(op: MvccOp, index: number): MvccObs {
    this.index = index;
    this.finished = new Map();
    this.deadlocks = [];
    this.wakes = [];
    const obs = this.perform(op);
    this.markDoomable();
    this.prune();
    if (!this.finished.size || "skipped" in obs) return obs;
    // the others whose waits this op ended, by client number (they finish in no fixed order)
    const unblocked = [...this.finished].sort(([a], [b]) => a - b).map(([tx, result]) => ({ tx, result }));
    return { ...obs, unblocked };
  }

  // ---- the client side: sessions, waits, deadlocks (postgres.c, xact.c, lmgr)

  private perform(op: MvccOp): MvccObs {
    if (op.op === "vacuum") return ok; // the oracle keeps no dead rows: nothing to reclaim
    if (op.op === "checkpoint")
      throw new InputError('checkpoint is an op of the sqlite flavour (geometry {"flavour":"sqlite"})');
    const t = this.open.get(op.tx);
    if (t?.waiting) return { skipped: true }; // a blocked client sends nothing
    switch (op.op) {
      case "begin": {
        const pg = pgLevels.find((l) => l === op.level);
        if (!pg)
          throw new InputError(
            `BEGIN ${op.level} is SQLite's (geometry {"flavour":"sqlite"}); PostgreSQL's levels are ${pgLevels.join(", ")}`,
          );
        if (t?.failed) return { error: "25P02" }; // even BEGIN, in a failed transaction
        if (!t) {
          this.open.set(op.tx, this.newTx(op.tx, pg, false, op.readOnly === true));
          return ok;
        }
        if (t.ran && t.level !== pg) {
          this.fail(t); // check_transaction_isolation: the level is fixed once a snapshot was taken
          return { error: "25001" };
        }
        // only a warning: BEGIN inside a transaction sets what it names, as SET TRANSACTION would
        t.level = pg;
        if (op.readOnly) t.readOnly = true;
        return ok;
      }
      case "commit":
        if (!t) return ok; // a warning: no transaction in progress
        this.open.delete(op.tx);
        if (t.failed) return { rolledBack: true };
        return this.finish(t) ?? ok;
      case "abort":
        if (!t) return ok;
        this.open.delete(op.tx);
        if (!t.failed) {
          this.abort(t);
          this.wake(t);
        }
        return ok;
      default: {
        const me = t ?? this.newTx(op.tx, "rc", true, false);
        if (!t) this.open.set(op.tx, me);
        if (me.failed) return { error: "25P02" };
        me.ran = true;
        if (me.readOnly && op.op !== "read" && op.op !== "scan") {
          this.fail(me); // ExecCheckXactReadOnly, before the statement does anything
          return { error: "25006" };
        }
        me.statement = { done: new Set(), count: 0 };
        this.execute(me, op, this.context(me));
        const result = this.finished.get(me.tx);
        this.finished.delete(me.tx);
        return result ?? { blocked: true };
      }
    }
  }

  private newTx(tx: number, level: PgLevel, autocommit: boolean, readOnly: boolean): Tx {
    const t: Tx = { tx, level, readOnly, autocommit, ran: false, failed: false, writes: new Map(), inserted: 0 };
    this.latest.delete(tx);
    if (level === "ser") this.serialize(t);
    return t;
  }

  /**
   * Run a statement, or run it again after its wait. A result goes to `finished` (and an error aborts the
   * transaction; an autocommit one commits); a wait puts it in the queue and looks for a deadlock.
   */
  private execute(t: Tx, op: Statement, copy: Copy): void {
    const queued = t.queued;
    t.queued = undefined;
    const out = this.run(t, op, copy);
    if ("waitFor" in out) {
      if (!t.waiting) this.queue.push(t);
      t.waiting = { op, copy, on: out.waitFor, tuple: out.tuple };
      this.deadlockCheck(t);
    } else {
      this.stopWaiting(t);
      if ("error" in out) {
        this.finished.set(t.tx, out);
        this.fail(t);
      } else if (t.autocommit) {
        this.open.delete(t.tx);
        this.finished.set(t.tx, this.finish(t) ?? out);
      } else this.finished.set(t.tx, out);
    }
    // heap_update / heap_delete let the tuple lock go when they return, unless they wait with it or for it
    if (queued !== undefined && queued !== t.queued) this.leaveTuple(t, queued);
  }

  private stopWaiting(t: Tx): void {
    if (!t.waiting) return;
    t.waiting = undefined;
    this.queue.splice(this.queue.indexOf(t), 1);
  }

  /** CommitTransaction; a serialization failure at commit rolls it back instead (and is the COMMIT's answer). */
  private finish(t: Tx): MvccResult | undefined {
    const refused = this.commit(t);
    if (refused) {
      t.failed = true;
      this.abort(t);
    }
    this.wake(t);
    return refused;
  }

  /** An error aborts the transaction at once (AbortTransaction): its row locks go, and its waiters run. */
  private fail(t: Tx): void {
    t.failed = true;
    this.abort(t);
    this.wake(t);
    if (t.autocommit) this.open.delete(t.tx);
  }

  /**
   * The transaction ended: every statement waiting for it runs again (LockRelease → ProcLockWakeup grants them
   * all, in the order of the lock's wait queue), unless the engine ran them in another order. A woken statement
   * that waits again begins a new wait.
   */
  private wake(ended: Tx): void {
    let waiters = this.queue.filter((w) => w.waiting?.on === ended.tx && w.waiting.tuple === undefined);
    if (waiters.length > 1) {
      const txs = waiters.map((w) => w.tx);
      this.wakes.push(txs);
      const order = this.forced.get(this.index)?.order?.filter((tx) => txs.includes(tx));
      if (order && order.length === txs.length) waiters = order.map((tx) => waiters.find((w) => w.tx === tx)!);
    }
    for (const w of waiters) if (w.waiting?.on === ended.tx && w.waiting.tuple === undefined) this.rerun(w);
  }

  private rerun(w: Tx): void {
    const { op, copy } = w.waiting!;
    this.stopWaiting(w);
    this.execute(w, op, copy);
  }

  /** An UPDATE or DELETE that found the row's writer running: it waits under the row version's tuple lock, or for it. */
  private waitForWriter(t: Tx, row: Row, writer: number): Outcome {
    const queue = this.tuples.get(row) ?? [];
    this.tuples.set(row, queue);
    if (!queue.includes(t)) queue.push(t);
    t.queued = row;
    return queue[0] === t ? { waitFor: writer } : { waitFor: queue[0]!.tx, tuple: row };
  }

  /** `t` leaves a tuple lock's queue: if it held the lock, the next in the queue takes it and runs again. */
  private leaveTuple(t: Tx, row: Row): void {
    const queue = this.tuples.get(row);
    const at = queue?.indexOf(t) ?? -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    if (!queue.length) this.tuples.delete(row);
    else if (at === 0) {
      for (const w of queue) if (w.waiting?.tuple === row) w.waiting.on = queue[0]!.tx; // the others wait for it now
      this.rerun(queue[0]!);
    }
  }

  /**
   * DeadLockCheck (lmgr/deadlock.c), run for the waiter that just began (or went on) waiting: follow whom each
   * waiter waits for; if that leads back to it, the waits form a cycle and one waiter of the cycle fails with 40P01.
   * PostgreSQL's victim is the waiter whose deadlock_timeout fires first: the one that has waited longest, first in
   * the queue; the engine may have chosen another waiter of the cycle (its check ran before the cycle closed).
   */
  private deadlockCheck(from: Tx): void {
    const cycle: Tx[] = [];
    let at: Tx | undefined = from;
    while (at?.waiting && !cycle.includes(at)) {
      cycle.push(at);
      at = this.open.get(at.waiting.on);
    }
    if (at !== from) return;
    const forced = this.forced.get(this.index)?.victims?.[this.deadlocks.length];
    const victim = cycle.find((c) => c.tx === forced) ?? this.queue.find((w) => cycle.includes(w))!;
    this.deadlocks.push([victim.tx, ...cycle.filter((c) => c !== victim).map((c) => c.tx)]);
    this.stopWaiting(victim);
    this.finished.set(victim.tx, { error: "40P01" });
    this.fail(victim);
  }

  // ---- the data: the committed table, snapshots, row locks, and the serial-order search

  private isForced(t: Tx): boolean {
    return this.forced.get(this.index)?.fail.includes(t.tx) === true;
  }

  private serialize(t: Tx): void {
    t.ser = {
      aborted: false,
      reads: new Set(),
      ranges: [],
      made: new Set(),
      deleted: new Map(),
      readAny: false,
      wroteAny: false,
      doomable: false,
    };
    this.sers.push(t.ser);
    this.latest.set(t.tx, t.ser);
  }

  /** The statement's snapshot: READ COMMITTED takes one per statement, the others keep their first. */
  private context(t: Tx): Copy {
    // a second BEGIN may have changed the level before the first statement
    if (t.level === "ser" && !t.ser) this.serialize(t);
    if (t.level !== "ser" && t.ser && t.ser.snapAt === undefined) {
      t.ser.aborted = true; // not serializable after all
      t.ser = undefined;
      this.latest.delete(t.tx);
    }
    if (t.level === "rc") return new Map(this.rows);
    if (!t.snapshot) {
      t.snapshot = new Map(this.rows);
      if (t.ser) [t.ser.snapAt, t.ser.snapshot] = [this.clock, t.snapshot];
    }
    return t.snapshot;
  }

  /** The rows of a key the transaction sees: its copy's, less what it changed, plus what it wrote. */
  private view(t: Tx, c: Copy, key: number): ViewRow[] {
    return this.viewWhere(t, c, { lo: key, hi: key });
  }

  /** The rows the transaction sees that a selection names, by key (and row id). */
  private viewWhere(t: Tx, c: Copy, sel: Selection): ViewRow[] {
    const out: ViewRow[] = [];
    for (const [id, r] of c)
      if (selects(sel, r.key, r.value) && !t.writes.has(id)) out.push({ id, key: r.key, value: r.value, mine: false });
    for (const [id, w] of t.writes) if (w && selects(sel, w.key, w.value)) out.push({ id, ...w, mine: true });
    return out.sort((a, b) => a.key - b.key || a.id - b.id);
  }

  /** One statement on the transaction's copy: its result, or whom it must wait for. */
  private run(t: Tx, op: Statement, c: Copy): Outcome {
    if (this.isForced(t)) return { error: "40001" };
    if (t.ser) {
      if (op.op === "insert") t.ser.wroteAny = true;
      else {
        t.ser.readAny = true;
        // a scan (or a write by predicate) reads its whole range (kept as the range: its keys are too many to list)
        if ("lo" in op) t.ser.ranges.push([op.lo, op.hi]);
        else t.ser.reads.add(op.key);
        if (op.op !== "read" && op.op !== "scan") t.ser.wroteAny = true;
      }
    }
    return this.statement(t, op, c);
  }

  private statement(t: Tx, op: Statement, c: Copy): Outcome {
    switch (op.op) {
      case "read":
        return {
          values: this.view(t, c, op.key)
            .map((r) => r.value)
            .sort((a, b) => a - b),
        };
      case "scan": {
        // the rows that exist in the range (the copy's, less what it changed, plus what it wrote): never a walk of
        // every key from lo to hi
        const rows: [number, number][] = [];
        const inRange = (k: number) => k >= op.lo && k <= op.hi;
        for (const [id, r] of c) if (inRange(r.key) && !t.writes.has(id)) rows.push([r.key, r.value]);
        for (const w of t.writes.values()) if (w && inRange(w.key)) rows.push([w.key, w.value]);
        return { rows: rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]) };
      }
      case "insert": {
        if (this.view(t, new Map(), op.key).length) return { error: "23505" }; // its own live row
        const writer = this.writers.get(op.key);
        if (writer !== undefined && writer !== t.tx) return { waitFor: writer };
        const live = [...this.rows].some(([id, r]) => r.key === op.key && t.writes.get(id) !== null);
        if (live) return { error: "23505" };
        // every statement copies or passes the table: it holds a bounded number of rows (docs/mvcc.md, "Bounds")
        if (this.rows.size + this.inserted >= MVCC_MAX_VERSIONS)
          throw new InputError(`the table would hold more than ${MVCC_MAX_VERSIONS} rows (the mvcc layer's bound)`);
        this.inserted++;
        t.inserted++;
        t.writes.set(this.nextRow++, { key: op.key, value: op.value });
        t.ser?.made.add(op.key);
        this.writers.set(op.key, t.tx);
        return { count: 1 };
      }
      case "update":
      case "delete":
      case "updateWhere":
      case "deleteWhere":
        return this.change(t, op, c);
    }
  }

  /**
   * UPDATE and DELETE: each row the statement's copy shows that its selection names, in key order (as the engine's
   * plan visits them), one at a time: a row another open transaction writes waits for it (so the rows before it are
   * changed already); a row changed since the copy fails under REPEATABLE READ, and under READ COMMITTED is changed
   * as it is now, if it still exists and still holds the selection's value.
   */
  private change(
    t: Tx,
    op: Extract<Statement, { op: "update" | "delete" | "updateWhere" | "deleteWhere" }>,
    c: Copy,
  ): Outcome {
    const sel = selection(op);
    const st = t.statement!;
    for (const r of this.viewWhere(t, c, sel)) {
      if (st.done.has(r.id)) continue;
      let value = r.value;
      if (!r.mine) {
        const then = c.get(r.id)!;
        const now = this.rows.get(r.id);
        if (now !== then) {
          // changed by a transaction that committed after the snapshot
          if (t.level !== "rc") return { error: "40001" };
          if (!now) continue; // deleted: nothing to change (READ COMMITTED)
        }
        const writer = this.writers.get(r.key) ?? this.rowLocks.get(now ?? then);
        if (writer !== undefined && writer !== t.tx) return this.waitForWriter(t, now ?? then, writer);
        if (!selects(sel, now!.key, now!.value)) {
          // no longer what the statement selects; but READ COMMITTED locked the row before it looked (EvalPlanQual)
          if (now !== then) this.rowLocks.set(now!, t.tx);
          continue;
        }
        value = now!.value;
      }
      const deleting = op.op === "delete" || op.op === "deleteWhere";
      t.writes.set(
        r.id,
        deleting ? null : { key: r.key, value: op.add !== undefined ? value + op.add : (op.value ?? value) },
      );
      this.writers.set(r.key, t.tx);
      if (deleting) t.ser?.deleted.set(r.id, r.key);
      else t.ser?.made.add(r.key);
      st.done.add(r.id);
      st.count++;
    }
    return { count: st.count };
  }

  /** Apply the transaction's writes to the table; a SERIALIZABLE one with no serial order fails (40001) instead. */
  private commit(t: Tx): MvccResult | undefined {
    const ser = t.ser;
    if (ser && (this.isForced(t) || this.cycleWith(ser))) return { error: "40001" };
    if (ser) ser.commitAt = ++this.clock;
    else this.clock++;
    for (const [id, w] of t.writes) {
      if (w === null) this.rows.delete(id);
      else this.rows.set(id, { key: w.key, value: w.value, ver: (this.rows.get(id)?.ver ?? 0) + 1 });
    }
    this.release(t);
  }

  /** Drop the transaction's writes and release its row locks. */
  private abort(t: Tx): void {
    // a doom outlives the transaction whose conflict made it: mark who could be doomed before this one leaves
    this.markDoomable();
    if (t.ser) t.ser.aborted = true;
    this.release(t);
  }

  /** Whether the committed serializable transactions and `me` have a dependency cycle (no serial order). */
  private cycleWith(me: Ser): boolean {
    const members = this.sers.filter((s) => s === me || s.commitAt !== undefined);
    const before = (a: Ser, b: Ser) => a.commitAt !== undefined && b.snapAt !== undefined && a.commitAt <= b.snapAt;
    const changed = (s: Ser) => new Set([...s.made, ...s.deleted.values()]);
    const meets = (a: Set<number>, b: Set<number>) => [...a].some((k) => b.has(k));
    // a read of k misses b's write when b made a version of k, or deleted a row of k that a's snapshot has (deleting
    // a row a never saw changes nothing a read)
    // a read of a key: a point read, or a scan of a range holding it
    const reads = (s: Ser, k: number) => s.reads.has(k) || s.ranges.some(([lo, hi]) => k >= lo && k <= hi);
    const readsAny = (s: Ser, keys: Set<number>) => [...keys].some((k) => reads(s, k));
    const missed = (a: Ser, b: Ser) =>
      [...b.made].some((k) => reads(a, k)) ||
      [...b.deleted].some(([id, key]) => reads(a, key) && a.snapshot?.has(id) === true);
    const edge = (a: Ser, b: Ser) =>
      (before(a, b) && (readsAny(b, changed(a)) || meets(changed(a), changed(b)))) || (!before(b, a) && missed(a, b));
    return hasCycle(members, edge);
  }

  /**
   * Drop the SERIALIZABLE transactions that no dependency cycle or dangerous structure can involve any more, so that
   * the search costs the transactions that overlap, not the whole history (PostgreSQL's ClearOldPredicateLocks
   * releases a committed sxact once nothing overlaps it; here the rule is exact). g is the oldest snapshot that a
   * kept transaction has or will take: the running ones' and each client's latest (couldFail may be asked about it),
   * then, to a fixpoint, those of the committed ones that committed after g. One that committed at or before g is
   * before every kept one: no edge leads from a kept transaction to it (before(x, s) would need x to commit before
   * s's snapshot, missed(x, s) s not to be before x), so no cycle through a kept one reaches it, and no rw edge from a
   * kept one reaches it either. It still counts as a reader rw-before a running writer (couldFail's first clause,
   * which ignores overlap): one flag keeps that. Aborted ones count nowhere but as the `me` of a client's latest.
   */
  private prune(): void {
    const held = new Set(this.latest.values());
    let g = this.clock;
    for (const s of this.sers)
      if (held.has(s) || (s.commitAt === undefined && !s.aborted)) g = Math.min(g, s.snapAt ?? this.clock);
    const committed = this.sers.filter((s) => s.commitAt !== undefined).sort((a, b) => b.commitAt! - a.commitAt!);
    for (const s of committed) {
      if (s.commitAt! <= g) break; // and so are all the rest: g only falls, and they committed earlier
      if (s.snapAt !== undefined) g = Math.min(g, s.snapAt);
    }
    const kept: Ser[] = [];
    for (const s of this.sers) {
      if (held.has(s) || (!s.aborted && (s.commitAt === undefined || s.commitAt > g))) kept.push(s);
      else if (!s.aborted && s.readAny) this.prunedReader = true;
    }
    this.sers = kept;
  }

  private markDoomable(): void {
    for (const s of this.sers)
      if (!s.aborted && s.commitAt === undefined && !s.doomable) s.doomable = this.couldFail(s);
  }

  /** Whether PostgreSQL could fail `me` now: a dangerous structure A →rw P →rw B, B committed first, me A or P. */
  couldFail(me: Ser): boolean {
    const at = (s: Ser) => (s === me ? undefined : s.commitAt); // me as still running, whatever this op did to it
    const live = this.sers.filter((s) => s === me || !s.aborted);
    const rw = (r: Ser, w: Ser) => {
      const c = at(w);
      return r !== w && r.readAny && w.wroteAny && !(c !== undefined && r.snapAt !== undefined && c <= r.snapAt);
    };
    const committedOut = (p: Ser) =>
      live.some((b) => b !== p && at(b) !== undefined && rw(p, b) && (at(p) === undefined || at(b)! < at(p)!));
    const readBefore = (this.prunedReader && me.wroteAny) || live.some((a) => rw(a, me));
    if (readBefore && committedOut(me)) return true; // me the pivot
    return live.some((p) => rw(me, p) && committedOut(p)); // me reading into a pivot
  }

  private release(t: Tx): void {
    if (t.queued !== undefined) {
      const key = t.queued;
      t.queued = undefined;
      this.leaveTuple(t, key);
    }
    for (const [row, tx] of [...this.rowLocks]) if (tx === t.tx) this.rowLocks.delete(row);
    this.inserted -= t.inserted;
    t.inserted = 0;
    for (const [k, tx] of [...this.writers]) if (tx === t.tx) this.writers.delete(k);
  }
}

function hasCycle<T>(nodes: readonly T[], edge: (a: T, b: T) => boolean): boolean {
  const state = new Map<T, "open" | "done">();
  const visit = (n: T): boolean => {
    if (state.get(n) === "done") return false;
    if (state.get(n) === "open") return true;
    state.set(n, "open");
    const cyclic = nodes.some((m) => m !== n && edge(n, m) && visit(m));
    state.set(n, "done");
    return cyclic;
  };
  return nodes.some(visit);
}

type Answer = MvccObs | { oneOf: MvccObs[] };

/** What an engine chose at one op where PostgreSQL may choose: serialization failures, deadlocks' victims. */
interface Choice {
  readonly fail: readonly number[];
  /** The victim of each deadlock the op broke, in order. */
  readonly victims?: readonly number[];
  /** The order waiters woken together ran in. */
  readonly order?: readonly number[];
}

export class MvccOracle implements Engine<MvccOp, Answer> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set<string>();
  // every choice PostgreSQL could make at an op, each run again with it forced
  private readonly choices = new Choices<MvccOp, MvccObs, Choice, Core>({
    history: (forced) => new Core(forced),
    copy: (core, forced) => core.fork(forced),
    none: { fail: [] },
    next: (op, obs, choice, core) => {
      const next: Choice[] = this.mayFail(op, obs, core)
        .filter((tx) => !choice.fail.includes(tx))
        .map((tx) => ({ ...choice, fail: [...choice.fail, tx].sort((a, b) => a - b) }));
      // each deadlock's victim, one cycle after another (breaking one may close the next): any waiter of it
      const decided = choice.victims ?? [];
      const cycle = core.deadlocks[decided.length];
      if (cycle) {
        const [usual, ...others] = cycle;
        next.push(...others.map((victim) => ({ ...choice, victims: [...decided, victim] })));
        if (core.deadlocks.length > decided.length + 1) next.push({ ...choice, victims: [...decided, usual!] });
      }
      // statements woken together: any order
      return [...next, ...otherOrders(choice, core.wakes)];
    },
  });

  constructor(readonly geometry: MvccGeometry) {}

  apply(op: MvccOp): Answer {
    return this.choices.apply(op);
  }

  /** The engine took another of the answers `apply` allowed: go on from the history that gives it. */
  chose(observed: unknown): void {
    this.choices.chose(observed);
  }

  /** Serializable clients whose statement or COMMIT at this op PostgreSQL's SSI could have failed. */
  private mayFail(op: MvccOp, obs: MvccObs, core: Core): number[] {
    const ran: number[] = [];
    if ("tx" in op && op.op !== "begin" && op.op !== "abort" && !("skipped" in obs) && !isError(obs, "40001"))
      ran.push(op.tx);
    if ("unblocked" in obs)
      for (const u of obs.unblocked ?? []) if (!("error" in u.result && u.result.error === "40001")) ran.push(u.tx);
    return ran.filter((tx) => {
      const ser = core.latest.get(tx); // the transaction it ran at this op (which may have ended with it)
      return ser !== undefined && (ser.doomable || core.couldFail(ser));
    });
  }
}

const isError = (obs: MvccObs, code: string) => "error" in obs && obs.error === code;
