// Eager oracle for the mvcc layer's innodb flavour. Rows are plain values in a map (a delete-marked one is kept,
// marked); a transaction keeps a full copy of what each row was before it first changed it, and rolling back puts
// those copies back. A read view is a full copy of the committed table when it is made, and a consistent read looks
// there, unless the transaction changed the row itself. Who made a row's newest version, and when that commit came,
// say whether a view may see it (innodb_snapshot_isolation).
//
// Locks are InnoDB's rules as docs/innodb.md states them, kept per record in the order they were asked for: a new
// request waits for the first lock in the record's queue it conflicts with, a waiting one for the first lock before
// it, and a release grants each waiting request nothing before it conflicts with any more. A cycle of such waits is
// broken at once; which of its transactions is rolled back (InnoDB picks the lightest) and the order in which
// statements woken together run are allowed choices: the oracle answers `oneOf`, each computed by running the history
// again with that choice, and `chose` follows the engine's. (Orders that give the same answer now are not kept
// apart: the oracle goes on with the order the requests were made, as the model does.)

import { Choices, copyData, otherOrders } from "../core/choices.ts";
import { type Engine, InputError } from "../core/index.ts";
import {
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  type PgLevel,
  type StatementOp,
  selection,
  selects,
  type WhereOp,
} from "../models/mvcc/types.ts";

type Statement = StatementOp;
type Mode = "S" | "X";
type Kind = "rec" | "gap" | "next-key" | "insert-intention";
const SUP = Number.POSITIVE_INFINITY;

/** A row as the table holds it now; `by` made this version, and is committed unless it is a live writer of it. */
interface Row {
  readonly value: number;
  readonly deleted: boolean;
  readonly by: Txn;
}

interface Req {
  readonly txn: Txn;
  readonly mode: Mode;
  readonly kind: Kind;
  waiting: boolean;
  /** When it was asked for (requests woken together run in this order unless the engine ran them otherwise). */
  readonly seq: number;
  /** Its lock struct's age: READ COMMITTED's unlock lets go of the transaction's X lock on the record in the oldest. */
  readonly struct: number;
}

interface Txn {
  readonly tx: number;
  readonly level: PgLevel;
  readonly readOnly: boolean;
  readonly implicit: boolean;
  /** Its place on the commit clock once committed. */
  committedAt?: number;
  ended: boolean;
  /** Its read view: the committed live rows when it was made, and the commit clock then. */
  view?: { rows: Map<number, number>; at: number };
  /** Its lock structs: one per lock type, and one per request that waited or was asked behind a waiter. */
  readonly structs: { readonly mode: Mode; readonly kind: Kind; readonly seq: number }[];
  /** Each row it changed, as it was before (undefined: there was no record). */
  readonly before: Map<number, Row | undefined>;
  wait?: { op: Statement; req: Req; key: number; on: Txn };
  /** A write by predicate running: the keys up to `after` are done, `count` rows changed. */
  statement?: { after: number; count: number };
}

/** What the engine chose at one op: the victim of each deadlock, in the order found; the order woken ones ran. */
interface Choice {
  readonly victims: readonly number[];
  readonly order?: readonly number[];
}

class Halt {
  constructor(readonly out: MvccResult | { wait: true }) {}
}

const ok = { ok: true } as const;

/** Whether request `r` (on a record or the supremum) must wait for `held`, another transaction's lock there. */
function conflicts(r: { mode: Mode; kind: Kind }, key: number, held: Req): boolean {
  if (r.mode === "S" && held.mode === "S") return false;
  const heldGap = held.kind === "gap" || (key === SUP && held.kind !== "insert-intention");
  if (r.kind === "insert-intention") return held.kind === "next-key" || heldGap;
  if (r.kind === "gap" || key === SUP) return false;
  return held.kind === "rec" || held.kind === "next-key";
}

/** Whether a lock the transaction holds is as strong as the request. */
function strongEnough(own: Req, key: number, r: { mode: Mode; kind: Kind }): boolean {
  if (own.waiting || own.kind === "insert-intention" || r.kind === "insert-intention") return false;
  if (own.mode === "S" && r.mode === "X") return false;
  return key === SUP || own.kind === "next-key" || own.kind === r.kind;
}

class Core {
  private readonly rows = new Map<number, Row>();
  private readonly queues = new Map<number, Req[]>();
  private readonly open = new Map<number, Txn>();
  private clock = 0;
  /** The next lock request's number. */
  private seq = 0;
  private readonly si: boolean;
  /**
   * Clients whose READ ONLY transaction a deadlock or ER_CHECKREAD rolled back: MariaDB keeps the session read-only until a
   * COMMIT, a ROLLBACK or an autocommit statement succeeds (a START TRANSACTION without READ WRITE keeps it too).
   */
  private readonly stuckReadOnly = new Set<number>();
  private index = -1;
  private victimsUsed = 0;
  private finished = new Map<number, MvccResult>();
  /** This op: each cycle broken (the closer first), and each group of two or more statements woken together. */
  deadlocks: number[][] = [];
  wakes: number[][] = [];
  constructor(
    geometry: MvccGeometry,
    private readonly forced: ReadonlyMap<number, Choice>,
  ) {
    this.si = geometry.snapshotIsolation === true;
  }

  /** This history's state, copied, going on with `forced` (a checkpoint's copy: core/choices.ts). */
  fork(forced: ReadonlyMap<number, Choice>): Core {
    return Object.assign(copyData(this), { forced });
  }

  private txn(tx: number, level: PgLevel, readOnly: boolean, implicit: boolean): Txn {
    return { tx, level, readOnly, implicit, ended: false, before: new Map(), structs: [] };
  }

  apply(op: MvccOp, index: number): MvccObs {
    this.index = index;
    this.victimsUsed = 0;
    this.finished = new Map();
    this.deadlocks = [];
    this.wakes = [];
    const obs = this.perform(op);
    if (!this.finished.size || "skipped" in obs) return obs;
    const unblocked = [...this.finished].sort(([a], [b]) => a - b).map(([tx, result]) => ({ tx, result }));
    return { ...obs, unblocked };
  }

  private perform(op: MvccOp): MvccObs {
    if (op.op === "vacuum" || op.op === "checkpoint")
      throw new InputError(`${op.op} is not an op of the innodb flavour: purge runs by itself (docs/innodb.md)`);
    const t = this.open.get(op.tx);
    if (t?.wait) return { skipped: true };
    if (op.op === "begin") {
      if (op.level !== "rc" && op.level !== "rr" && op.level !== "ser")
        throw new InputError(`BEGIN ${op.level} is SQLite's; the innodb flavour's levels are rc, rr, ser`);
      if (t) return { error: "ER_CANT_CHANGE_TX_CHARACTERISTICS" };
      this.open.set(op.tx, this.txn(op.tx, op.level, op.readOnly === true || this.stuckReadOnly.has(op.tx), false));
      return ok;
    }
    if (op.op === "commit" || op.op === "abort") {
      this.stuckReadOnly.delete(op.tx);
      if (t) this.finish(t, op.op === "commit");
      return ok;
    }
    const txn = t ?? this.txn(op.tx, "rr", this.stuckReadOnly.has(op.tx), true);
    this.open.set(op.tx, txn);
    if (txn.readOnly && op.op !== "read" && op.op !== "scan")
      return this.done(txn, { error: "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION" });
    txn.statement = { after: Number.NEGATIVE_INFINITY, count: 0 };
    return this.run(txn, op) ?? { blocked: true };
  }

  /** A statement's answer ends an autocommit transaction, and a deadlock or ER_CHECKREAD ends any. */
  private done(t: Txn, r: MvccResult): MvccResult {
    const fatal = "error" in r && (r.error === "ER_LOCK_DEADLOCK" || r.error === "ER_CHECKREAD");
    if (fatal || t.implicit) this.finish(t, !("error" in r));
    if (fatal && t.readOnly) this.stuckReadOnly.add(t.tx);
    if (t.implicit && !("error" in r)) this.stuckReadOnly.delete(t.tx);
    return r;
  }

  private run(t: Txn, op: Statement): MvccResult | undefined {
    this.current = op;
    if (this.si && t.level === "ser" && !t.implicit && !t.view) t.view = this.copy();
    let out: MvccResult | { wait: true };
    try {
      out = this.statement(t, op);
    } catch (e) {
      if (!(e instanceof Halt)) throw e;
      out = e.out;
    }
    if (t.level === "rc" || t.implicit) t.view = undefined;
    let result: MvccResult | undefined;
    if ("wait" in out) {
      this.deadlockFrom(t);
      // the deadlock was broken: this statement failed, or another's rollback let it finish
      if (!t.wait) {
        result = this.finished.get(t.tx) ?? { error: "ER_LOCK_DEADLOCK" };
        this.finished.delete(t.tx);
      }
    } else result = this.done(t, out);
    // READ COMMITTED let go of locks on rows it did not change: whoever waits for them goes on
    if (this.letGo) {
      this.letGo = false;
      this.release();
    }
    return result;
  }

  /** A statement let go of a lock: the waits are looked at again when it ends. */
  private letGo = false;

  /** The committed table as a read view copies it: each row as its last committed version left it. */
  private copy(): { rows: Map<number, number>; at: number } {
    const rows = new Map<number, number>();
    for (const [key, row] of this.rows) {
      const writer = [...this.open.values()].find((x) => x.before.has(key));
      const committed = writer ? writer.before.get(key) : row;
      if (committed && !committed.deleted) rows.set(key, committed.value);
    }
    return { rows, at: this.clock };
  }

  private statement(t: Txn, op: Statement): MvccResult | { wait: true } {
    const locking = t.level === "ser" && !t.implicit;
    if (!locking && (op.op === "read" || op.op === "scan")) {
      t.view ??= this.copy();
      const sees = (key: number): number | undefined => {
        if (!t.before.has(key)) return t.view!.rows.get(key);
        const row = this.rows.get(key);
        return row && !row.deleted ? row.value : undefined;
      };
      if (op.op === "read") {
        const v = sees(op.key);
        return { values: v === undefined ? [] : [v] };
      }
      const keys = new Set([...t.view.rows.keys(), ...t.before.keys()]);
      const rows: [number, number][] = [...keys]
        .filter((k) => k >= op.lo && k <= op.hi)
        .sort((a, b) => a - b)
        .flatMap((k) => {
          const v = sees(k);
          return v === undefined ? [] : [[k, v] as [number, number]];
        });
      return { rows };
    }
    switch (op.op) {
      case "read": {
        const row = this.search(t, op.key, "S");
        return { values: row ? [row.value] : [] };
      }
      case "scan": {
        if (op.lo === op.hi) {
          const row = this.search(t, op.lo, "S");
          return { rows: row ? [[op.lo, row.value]] : [] };
        }
        const rows: [number, number][] = [];
        const keys = [...this.rows.keys()].filter((k) => k >= op.lo).sort((a, b) => a - b);
        for (const k of keys) {
          this.lockRow(t, k, "S", k === op.lo ? "rec" : "next-key");
          const row = this.rows.get(k)!;
          if (row.deleted) continue; // passed over, locked: the range's end shows on a live row
          if (k > op.hi) return { rows };
          rows.push([k, row.value]);
        }
        this.lock(t, SUP, "S", "next-key");
        return { rows };
      }
      case "insert":
        return this.insert(t, op.key, op.value);
      case "updateWhere":
      case "deleteWhere":
        return this.changeWhere(t, op);
      case "update":
      case "delete": {
        const row = this.search(t, op.key, "X");
        if (!row) return { count: 0 };
        const value =
          op.op === "delete" ? row.value : op.add !== undefined ? row.value + op.add : (op.value ?? row.value);
        if (op.op === "delete" || value !== row.value)
          this.write(t, op.key, { value, deleted: op.op === "delete", by: t });
        return { count: 1 };
      }
    }
  }

  /**
   * A write by predicate: the records from lo on in key order, each locked (next-key, or just the record if it is lo
   * or under READ COMMITTED), up to the first live one past hi (or the supremum, locked too); a live record in the
   * range that holds the selection's value now is changed, and READ COMMITTED lets go of the locks it made without a
   * wait on the others and on the record past the range. A READ
   * COMMITTED UPDATE judges a record another transaction locks by its last committed version first, and passes it
   * by without a wait if that does not qualify (not with innodb_snapshot_isolation). After a wait it goes on from
   * the record it waited for. BETWEEN k AND k is a search by key.
   */
  private changeWhere(t: Txn, op: WhereOp): MvccResult | { wait: true } {
    const st = t.statement!;
    const sel = selection(op);
    const rc = t.level === "rc";
    const judge = (key: number, fresh: boolean): void => {
      const row = this.rows.get(key);
      if (row && !row.deleted && selects(sel, key, row.value)) {
        st.count++;
        const value =
          op.op === "deleteWhere" ? row.value : op.add !== undefined ? row.value + op.add : (op.value ?? row.value);
        if (op.op === "deleteWhere" || value !== row.value)
          this.write(t, key, { value, deleted: op.op === "deleteWhere", by: t });
      } else if (rc && fresh) this.letGoOf(t, key);
    };
    if (op.lo === op.hi) {
      if (this.search(t, op.lo, "X")) judge(op.lo, this.madeNow);
      return { count: st.count };
    }
    const keys = [...this.rows.keys()].filter((k) => k >= op.lo && k > st.after).sort((a, b) => a - b);
    for (const k of keys) {
      const row = this.rows.get(k);
      if (!row) continue; // gone meanwhile (a rolled-back insert)
      if (rc && op.op === "updateWhere" && !this.si && this.blocked(t, k)) {
        const last =
          row.by.ended || row.by === t ? row : [...this.open.values()].find((x) => x.before.has(k))?.before.get(k);
        if (!last || last.deleted || k > op.hi || !selects(sel, k, last.value)) {
          if (k > op.hi) return { count: st.count };
          st.after = k;
          continue;
        }
      }
      if (rc && row.deleted && row.by.ended) {
        st.after = k;
        continue;
      }
      this.lockRow(t, k, "X", rc || k === op.lo ? "rec" : "next-key");
      if (this.rows.get(k)!.deleted) {
        st.after = k;
        continue;
      }
      if (k > op.hi) {
        if (rc && this.madeNow) this.letGoOf(t, k);
        return { count: st.count };
      }
      judge(k, this.madeNow);
      st.after = k;
    }
    if (!rc) this.lock(t, SUP, "X", "next-key");
    return { count: st.count };
  }

  /** Whether an X record lock on the key would wait: the transaction holds none, and another's lock conflicts. */
  private blocked(t: Txn, key: number): boolean {
    const q = this.queues.get(key) ?? [];
    const want = { mode: "X" as const, kind: "rec" as const };
    if (q.some((r) => r.txn === t && strongEnough(r, key, want))) return false;
    return q.some((r) => r.txn !== t && conflicts(want, key, r));
  }

  /** READ COMMITTED lets go of the record lock it just made on a row it did not change (one it changed before stays). */
  private letGoOf(t: Txn, key: number): void {
    if (t.before.has(key)) return;
    const q = this.queues.get(key) ?? [];
    // its X lock there in its oldest struct goes, whatever its kind: an older insert intention before the record lock
    let oldest: Req | undefined;
    for (const r of q)
      if (r.txn === t && r.mode === "X" && !r.waiting && (!oldest || r.struct < oldest.struct)) oldest = r;
    if (!oldest) return;
    q.splice(q.indexOf(oldest), 1);
    this.letGo = true;
  }

  /** The next record's key after `key`, or the supremum. */
  private next(key: number): number {
    let n = SUP;
    for (const k of this.rows.keys()) if (k > key && k < n) n = k;
    return n;
  }

  /** A search by key with locks; the live row now, if any. */
  private search(t: Txn, key: number, mode: Mode): Row | undefined {
    const row = this.rows.get(key);
    if (!row) {
      if (t.level !== "rc") this.lock(t, this.next(key), mode, "gap");
      return undefined;
    }
    if (t.level === "rc" && row.deleted && row.by.ended) return undefined; // its deleter has ended
    this.lockRow(t, key, mode, "rec");
    const now = this.rows.get(key)!;
    return now.deleted ? undefined : now;
  }

  /** A record lock, with innodb_snapshot_isolation's check before it (changer ended) and after it. */
  private lockRow(t: Txn, key: number, mode: Mode, kind: Kind): void {
    const unseen = (): boolean => {
      const row = this.rows.get(key);
      if (!this.si || !t.view || !row || row.by === t || !row.by.ended) return false;
      return row.by.committedAt === undefined || row.by.committedAt > t.view.at;
    };
    if (unseen()) throw new Halt({ error: "ER_CHECKREAD" });
    this.lock(t, key, mode, kind);
    if (unseen()) throw new Halt({ error: "ER_CHECKREAD" });
  }

  private insert(t: Txn, key: number, value: number): MvccResult | { wait: true } {
    const row = this.rows.get(key);
    if (row) {
      this.lockRow(t, key, "S", "rec");
      if (!this.rows.get(key)!.deleted) return { error: "ER_DUP_ENTRY" };
      this.lock(t, key, "X", "rec");
      this.write(t, key, { value, deleted: false, by: t });
      return { count: 1 };
    }
    const next = this.next(key);
    const queue = this.queues.get(next) ?? [];
    // checked whenever the insert runs, again after a wait too
    const on = queue.find((r) => r.txn !== t && conflicts({ mode: "X", kind: "insert-intention" }, next, r));
    if (on) {
      const req = this.req(t, next, "X", "insert-intention", true);
      this.queues.set(next, [...queue, req]);
      this.waitFor(t, next, req, on.txn);
    }
    this.write(t, key, { value, deleted: false, by: t });
    // the new record takes the gap locks of the one after it, as gap locks; and its inserter's lock on it
    const inherited = queue
      .filter((r) => r.kind === "next-key" || r.kind === "gap" || (next === SUP && r.kind !== "insert-intention"))
      .map((r) => this.req(r.txn, key, r.mode, "gap", false));
    this.queues.set(key, [...inherited, this.req(t, key, "X", "rec", false)]);
    return { count: 1 };
  }

  private write(t: Txn, key: number, row: Row): void {
    if (!t.before.has(key)) t.before.set(key, this.rows.get(key));
    this.rows.set(key, row);
  }

  /** Held already, granted at once, or the statement stops to wait. */
  private lock(t: Txn, key: number, mode: Mode, kind: Kind): void {
    const queue = this.queues.get(key) ?? [];
    this.queues.set(key, queue);
    const own = queue.filter((r) => r.txn === t);
    this.madeNow = false;
    if (own.some((r) => strongEnough(r, key, { mode, kind }))) return;
    const asked = own.some((r) => strongEnough(r, key, { mode, kind: "rec" })) && kind === "next-key" ? "gap" : kind;
    const on = queue.find((r) => r.txn !== t && conflicts({ mode, kind: asked }, key, r));
    const req = this.req(t, key, mode, asked, on !== undefined);
    queue.push(req);
    if (on) this.waitFor(t, key, req, on.txn);
    this.madeNow = true;
  }

  /**
   * A lock request, in a struct of the transaction's: its oldest of the same type, unless it waits or another request
   * waits on the record (then a new one).
   */
  private req(t: Txn, key: number, mode: Mode, kind: Kind, waiting: boolean): Req {
    const queued = waiting || (this.queues.get(key) ?? []).some((r) => r.waiting);
    let struct = queued ? undefined : t.structs.find((x) => x.mode === mode && x.kind === kind)?.seq;
    if (struct === undefined) {
      struct = this.structSeq++;
      t.structs.push({ mode, kind, seq: struct });
    }
    return { txn: t, mode, kind, waiting, seq: this.seq++, struct };
  }

  private structSeq = 0;

  /** The last lock asked for was made and granted at once: READ COMMITTED may let go of it again (no other). */
  private madeNow = false;

  /** The statement stops: its request waits in the record's queue (already put there). */
  private waitFor(t: Txn, key: number, req: Req, on: Txn): never {
    t.wait = { op: this.current!, req, key, on };
    throw new Halt({ wait: true });
  }

  /** The statement running (again). */
  private current?: Statement;

  /** Commit or roll back; then the waits its locks held end or point elsewhere. */
  private finish(t: Txn, commit: boolean): void {
    t.ended = true;
    t.wait = undefined;
    if (this.open.get(t.tx) === t) this.open.delete(t.tx);
    if (commit) t.committedAt = ++this.clock;
    else
      for (const [key, before] of t.before) {
        if (before) this.rows.set(key, before);
        else this.drop(key, t);
      }
    for (const [key, q] of this.queues)
      this.queues.set(
        key,
        q.filter((r) => r.txn !== t),
      );
    this.release();
  }

  /**
   * A rolled-back insert's record goes: each lock on it, waiting or not, becomes a gap lock on the next record, but
   * those of the transaction rolling back, insert intentions and READ COMMITTED's X locks; its waiters search again.
   */
  private drop(key: number, by: Txn): void {
    this.rows.delete(key);
    const q = this.queues.get(key) ?? [];
    this.queues.delete(key);
    const next = this.next(key);
    const nq = this.queues.get(next) ?? [];
    for (const r of q) {
      if (r.waiting && r.txn.wait?.req === r) r.txn.wait.on = r.txn;
      if (r.txn !== by && r.kind !== "insert-intention" && (r.txn.level !== "rc" || r.mode === "S"))
        nq.push(this.req(r.txn, next, r.mode, "gap", false));
    }
    this.queues.set(next, nq);
  }

  /** Whom the waiting request `q[i]` waits for: the first lock before it that it conflicts with. */
  private blocker(q: readonly Req[], i: number, key: number): Txn | undefined {
    const r = q[i];
    if (!r) return undefined;
    return q.slice(0, i).find((h) => h.txn !== r.txn && conflicts(r, key, h))?.txn;
  }

  /**
   * After a release: each waiting request nothing before it conflicts with any more is granted, a cancelled one
   * searches again, the others may wait for another owner now (a deadlock is looked for from them); then the woken
   * statements run, each once (one that runs in a nested release, an autocommit's end, is not run again here).
   */
  private release(): void {
    const granted: Req[] = [];
    for (const [key, q] of this.queues)
      for (const [i, r] of q.entries())
        if (r.waiting && !this.blocker(q, i, key)) {
          r.waiting = false;
          granted.push(r);
        }
    const ready: { x: Txn; wait: NonNullable<Txn["wait"]> }[] = granted
      .sort((a, b) => a.seq - b.seq)
      .flatMap((r) => (r.txn.wait ? [{ x: r.txn, wait: r.txn.wait }] : []));
    for (const x of this.open.values())
      if (x.wait?.on === x && !ready.some((r) => r.x === x)) ready.push({ x, wait: x.wait });
    for (const x of [...this.open.values()]) {
      if (!x.wait || ready.some((r) => r.x === x)) continue;
      const q = this.queues.get(x.wait.key) ?? [];
      const on = this.blocker(q, q.indexOf(x.wait.req), x.wait.key);
      if (on && on !== x.wait.on) {
        x.wait.on = on;
        this.deadlockFrom(x);
      }
    }
    for (const { x, wait } of this.orderOf(ready.filter((r) => r.x.wait === r.wait))) {
      if (x.wait !== wait) continue; // a deadlock or a nested release ended or ran it
      x.wait = undefined;
      const r = this.run(x, wait.op);
      if (r) this.finished.set(x.tx, r);
    }
  }

  /** The woken, in the order the engine ran them if it said, else in the order their requests were made. */
  private orderOf<R extends { x: Txn }>(ready: R[]): R[] {
    if (ready.length < 2) return ready;
    const group = ready.map((r) => r.x.tx);
    this.wakes.push(group);
    const forced = this.forced.get(this.index)?.order;
    if (!forced || forced.length !== group.length || !group.every((g) => forced.includes(g))) return ready;
    return forced.map((tx) => ready.find((r) => r.x.tx === tx)!);
  }

  /** Follow the one wait edge of each waiter; a cycle back to `from` is broken by rolling one of it back. */
  private deadlockFrom(from: Txn): void {
    const cycle: Txn[] = [];
    let x: Txn | undefined = from;
    while (x?.wait && x.wait.on !== x && !cycle.includes(x)) {
      cycle.push(x);
      x = x.wait.on;
    }
    if (x !== from) return;
    this.deadlocks.push(cycle.map((c) => c.tx));
    const want = this.forced.get(this.index)?.victims[this.victimsUsed++];
    const victim = cycle.find((c) => c.tx === want) ?? from;
    victim.wait = undefined;
    this.finished.set(victim.tx, { error: "ER_LOCK_DEADLOCK" });
    this.finish(victim, false);
    if (victim.readOnly) this.stuckReadOnly.add(victim.tx);
  }
}

type Answer = MvccObs | { oneOf: MvccObs[] };

export class InnodbOracle implements Engine<MvccOp, Answer> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set<string>();
  private readonly choices: Choices<MvccOp, MvccObs, Choice, Core>;

  constructor(readonly geometry: MvccGeometry) {
    this.choices = new Choices<MvccOp, MvccObs, Choice, Core>({
      history: (forced) => new Core(geometry, forced),
      copy: (core, forced) => core.fork(forced),
      none: { victims: [] },
      next: (_op, _obs, choice, core) => {
        const next: Choice[] = [];
        // the next deadlock of this op not yet decided: any transaction of its cycle
        const cycle = core.deadlocks[choice.victims.length];
        if (cycle) for (const v of cycle) next.push({ ...choice, victims: [...choice.victims, v] });
        // statements woken together: any order
        return [...next, ...otherOrders(choice, core.wakes)];
      },
    });
  }

  apply(op: MvccOp): Answer {
    return this.choices.apply(op);
  }

  chose(observed: unknown): void {
    this.choices.chose(observed);
  }
}
