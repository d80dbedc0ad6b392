// The reference model of InnoDB's MVCC (MariaDB 10.11), for the mvcc layer's innodb flavour: one clustered record per
// key updated in place, older versions reached through undo records (a roll pointer chain), read views
// (ReadView::changes_visible), current reads for every write and locking read, record / gap / next-key /
// insert-intention locks with their queues (lock0lock.cc), one wait edge per waiting transaction and deadlocks broken
// at once by weight (Deadlock::check_and_resolve), and MariaDB's client side: a statement error rolls back the
// statement only, a deadlock or ER_CHECKREAD the whole transaction. Facts and sources: docs/innodb.md.
import { type Engine, InputError } from "../../core/index.ts";
import type { InnodbState } from "./innodb-state.ts";
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
} from "./types.ts";

type Statement = StatementOp;

/** One version of a record: the record itself (the newest) or an undo record's before-image (older ones). */
export interface Image {
  readonly value: number;
  /** Delete-marked: the row is gone for whoever sees this version. */
  readonly deleted: boolean;
  /** DB_TRX_ID: the transaction that made this version. */
  readonly trxId: number;
  /** DB_ROLL_PTR: the version before this one; none for a freshly inserted record. */
  readonly prev?: Image;
}

/** A clustered index record. Delete-marked records stay (purge never runs within a sequence: docs/innodb.md). */
interface Rec {
  readonly key: number;
  img: Image;
}

/** The supremum: the gap after the last record (locks on it are gap locks). */
const SUPREMUM = Number.POSITIVE_INFINITY;

/** LOCK_ORDINARY (next-key), LOCK_GAP, LOCK_REC_NOT_GAP, LOCK_INSERT_INTENTION. */
export type LockKind = "next-key" | "gap" | "rec" | "insert-intention";

export interface Lock {
  readonly trx: Trx;
  /** The record's key, or SUPREMUM. */
  readonly key: number;
  readonly mode: "S" | "X";
  readonly kind: LockKind;
  waiting: boolean;
  /**
   * Its lock struct's age (lock_rec_add_to_queue): where row_unlock_for_mysql finds it among the transaction's locks
   * on the record (lock_rec_unlock takes the oldest struct's).
   */
  readonly struct: number;
}

/** ReadView: ids of the read-write transactions active when it was made, low_limit_id and up_limit_id. */
export interface ReadView {
  readonly low: number;
  readonly up: number;
  readonly ids: readonly number[];
}

export interface Trx {
  readonly tx: number;
  readonly level: PgLevel;
  readonly readOnly: boolean;
  /** An autocommit statement's transaction. */
  readonly implicit: boolean;
  /** Assigned at the first write or locking read. */
  id?: number;
  /** REPEATABLE READ: from the first consistent read on; READ COMMITTED: during a statement only. */
  view?: ReadView;
  /** Its lock structs (one per lock type on the table's page, and one per request that waited), oldest first. */
  readonly structs: { readonly mode: "S" | "X"; readonly kind: LockKind; readonly seq: number }[];
  /** The records it changed, oldest first (one undo record each; `fresh`: it inserted the record). */
  readonly undo: { rec: Rec; fresh: boolean }[];
  /** A write by predicate running (it may have waited): the keys up to `after` are done, `count` rows changed. */
  statement?: { after: number; count: number };
  /** The statement waiting, its lock request and the transaction it waits for (the first conflicting lock's). */
  wait?: { op: Statement; lock: Lock; on: Trx };
}

/** A statement's end: a result, or a wait on a lock request. */
type Outcome = MvccResult | { wait: Lock; on: Trx };

/** What a locking step found: go on, or stop the statement with this outcome. */
class Stop {
  constructor(readonly outcome: Outcome) {}
}

/** lock_mode_compatible: S with S. */
const compatible = (a: "S" | "X", b: "S" | "X"): boolean => a === "S" && b === "S";
const gapOnly = (l: { key: number; kind: LockKind }): boolean =>
  l.key === SUPREMUM || l.kind === "gap" || l.kind === "insert-intention";

/** lock_rec_has_to_wait: whether request `r` must wait for `l`, another transaction's lock on the same record. */
function hasToWait(r: { key: number; mode: "S" | "X"; kind: LockKind }, l: Lock): boolean {
  if (compatible(r.mode, l.mode)) return false;
  if (gapOnly(r) && r.kind !== "insert-intention") return false; // a gap lock never waits
  if (r.kind !== "insert-intention" && l.key !== SUPREMUM && l.kind === "gap") return false;
  if ((r.kind === "gap" || r.kind === "insert-intention") && l.kind === "rec") return false;
  if (l.kind === "insert-intention") return false; // nobody waits for an insert intention
  return true;
}

/** lock_rec_has_expl: a lock of the transaction's own as strong as the request. */
function covers(l: Lock, r: { mode: "S" | "X"; kind: LockKind }): boolean {
  if (l.waiting || l.kind === "insert-intention" || r.kind === "insert-intention") return false;
  if (r.mode === "X" && l.mode !== "X") return false;
  if (l.key === SUPREMUM) return true;
  return l.kind === "next-key" || l.kind === r.kind;
}

/** ReadView::changes_visible */
const changesVisible = (id: number, v: ReadView): boolean => id < v.up || (id < v.low && !v.ids.includes(id));

export class InnodbModel implements Engine<MvccOp, MvccObs, InnodbState> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect"]);
  /** The clustered index, in key order. */
  protected readonly records: Rec[] = [];
  /** Every lock, in the order it was asked for (a record's queue is this order filtered by its key). */
  protected locks: Lock[] = [];
  /** Open transactions by client. */
  protected readonly trxs = new Map<number, Trx>();
  /** trx_sys.max_trx_id */
  protected nextId = 1;
  private woken: { tx: number; result: MvccResult }[] = [];
  /** A statement let go of a lock (READ COMMITTED): its waiters are granted when it ends. */
  private unlocked = false;
  /**
   * The last lock call made a lock and granted it at once (DB_SUCCESS_LOCKED_REC, prebuilt->new_rec_locks): only
   * such a lock can READ COMMITTED let go of again; one it held already, or got after a wait, stays.
   */
  private created = false;
  /** The next lock struct's age. */
  private structs = 0;
  private readonly snapshotIsolation: boolean;
  /**
   * Clients whose READ ONLY transaction a deadlock or ER_CHECKREAD rolled back: the server leaves the session's
   * read-only mark set (the implicit rollback does not reset it), so writes fail with
   * ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, in autocommit and in a transaction begun without READ WRITE, until a
   * COMMIT or ROLLBACK, or an autocommit statement that succeeds.
   */
  private readonly staleReadOnly = new Set<number>();

  constructor(readonly geometry: MvccGeometry) {
    this.snapshotIsolation = geometry.snapshotIsolation === true;
  }

  apply(op: MvccOp): MvccObs {
    this.woken = [];
    const obs = this.perform(op);
    if (!this.woken.length || "skipped" in obs) return obs;
    return { ...obs, unblocked: [...this.woken].sort((a, b) => a.tx - b.tx) };
  }

  inspect(): InnodbState {
    const chain = (img: Image) => {
      const out: InnodbState["records"][number]["versions"] = [];
      for (let v: Image | undefined = img; v; v = v.prev)
        out.push({ value: v.value, deleted: v.deleted, trxId: v.trxId });
      return out;
    };
    return {
      innodb: true,
      records: this.records.map((r) => ({ key: r.key, versions: chain(r.img) })),
      locks: this.locks.map((l) => ({
        tx: l.trx.tx,
        key: l.key === SUPREMUM ? null : l.key,
        mode: l.mode,
        kind: l.kind,
        waiting: l.waiting,
      })),
      trxs: [...this.trxs.values()].map((t) => ({
        tx: t.tx,
        ...(t.id !== undefined ? { id: t.id } : {}),
        level: t.level,
        ...(t.view ? { view: { low: t.view.low, up: t.view.up, ids: [...t.view.ids] } } : {}),
        undo: t.undo.length,
        waiting: t.wait !== undefined,
      })),
      nextTrxId: this.nextId,
    };
  }

  session(tx: number): { open: boolean; blocked: boolean; failed: boolean } {
    const t = this.trxs.get(tx);
    return { open: t !== undefined && !t.implicit, blocked: t?.wait !== undefined, failed: false };
  }

  private perform(op: MvccOp): MvccObs {
    if (op.op === "vacuum" || op.op === "checkpoint")
      throw new InputError(`${op.op} is not an op of the innodb flavour: purge runs by itself (docs/innodb.md)`);
    const t = this.trxs.get(op.tx);
    if (t?.wait) return { skipped: true };
    switch (op.op) {
      case "begin":
        if (op.level !== "rc" && op.level !== "rr" && op.level !== "ser")
          throw new InputError(`BEGIN ${op.level} is SQLite's; the innodb flavour's levels are rc, rr, ser`);
        // SET TRANSACTION ISOLATION LEVEL inside a transaction: ER_CANT_CHANGE_TX_CHARACTERISTICS, nothing changes
        if (t) return { error: "ER_CANT_CHANGE_TX_CHARACTERISTICS" };
        // START TRANSACTION without READ ONLY or READ WRITE keeps a stale read-only mark (see staleReadOnly)
        this.trxs.set(
          op.tx,
          this.newTrx(op.tx, op.level, op.readOnly === true || this.staleReadOnly.has(op.tx), false),
        );
        return { ok: true };
      case "commit":
      case "abort":
        this.staleReadOnly.delete(op.tx);
        if (t) this.end(t, op.op === "commit");
        return { ok: true }; // COMMIT or ROLLBACK outside a transaction: OK, no warning
      default: {
        // an autocommit statement runs at the session's level, the server's default REPEATABLE READ
        const trx = t ?? this.newTrx(op.tx, "rr", this.staleReadOnly.has(op.tx), true);
        if (!t) this.trxs.set(op.tx, trx);
        if (trx.readOnly && op.op !== "read" && op.op !== "scan")
          return this.finish(trx, { error: "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION" });
        trx.statement = { after: Number.NEGATIVE_INFINITY, count: 0 };
        return this.execute(trx, op) ?? { blocked: true };
      }
    }
  }

  private newTrx(tx: number, level: PgLevel, readOnly: boolean, implicit: boolean): Trx {
    return { tx, level, readOnly, implicit, undo: [], structs: [] };
  }

  /** Run a statement (again, after a wait); undefined while it waits. */
  private execute(t: Trx, op: Statement): MvccResult | undefined {
    // innodb_snapshot_isolation: SERIALIZABLE makes its read view at its first statement of any kind
    if (this.snapshotIsolation && t.level === "ser" && !t.implicit) t.view ??= this.openView();
    let out: Outcome;
    try {
      out = this.statement(t, op);
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      out = e.outcome;
    }
    if (this.closesView(t)) t.view = undefined;
    let result: MvccResult | undefined;
    if ("wait" in out) {
      t.wait = { op, lock: out.wait, on: out.on };
      this.checkDeadlock(t);
      // the deadlock was broken: this statement failed, or another's failure let it finish
      const mine = this.woken.findIndex((w) => w.tx === t.tx);
      if (!t.wait) result = mine < 0 ? { error: "ER_LOCK_DEADLOCK" } : this.woken.splice(mine, 1)[0]!.result;
    } else {
      t.wait = undefined;
      result = this.finish(t, out);
    }
    // locks the statement let go of on rows it did not change (READ COMMITTED): their waiters go on now
    if (this.unlocked) {
      this.unlocked = false;
      this.regrant();
    }
    return result;
  }

  /** READ COMMITTED closes its read view at each statement's end (an autocommit transaction ends with it). */
  protected closesView(t: Trx): boolean {
    return t.level === "rc" || t.implicit;
  }

  /** A statement has its answer: an autocommit transaction ends with it (committed, or rolled back by its error). */
  private finish(t: Trx, out: MvccResult): MvccResult {
    if ("error" in out && this.endsTransaction(out.error)) {
      this.end(t, false); // the whole transaction is rolled back, and the session leaves it
      if (t.readOnly) this.staleReadOnly.add(t.tx);
      return out;
    }
    if (t.implicit) this.end(t, !("error" in out));
    if (t.implicit && !("error" in out)) this.staleReadOnly.delete(t.tx);
    return out;
  }

  /** convert_error_code_to_mysql: a deadlock and ER_CHECKREAD roll back the transaction, other errors the statement. */
  protected endsTransaction(error: string): boolean {
    return error === "ER_LOCK_DEADLOCK" || error === "ER_CHECKREAD";
  }

  // ---- statements

  private statement(t: Trx, op: Statement): Outcome {
    const locking = t.level === "ser" && !t.implicit; // ha_innobase::store_lock: SERIALIZABLE SELECTs take S locks
    // a consistent read opens the read view (row_search_mvcc: trx->read_view.open), whatever it then finds
    if (!locking && (op.op === "read" || op.op === "scan")) t.view ??= this.openView();
    switch (op.op) {
      case "read": {
        const r = this.find(op.key);
        const img = locking ? this.uniqueSearch(t, op.key, "S")?.img : r && this.consistent(t, r);
        return { values: img && !img.deleted ? [img.value] : [] };
      }
      case "scan": {
        if (!locking) return { rows: this.consistentScan(t, op.lo, op.hi) };
        if (op.lo !== op.hi) return { rows: this.lockingScan(t, op.lo, op.hi) };
        // BETWEEN k AND k is k = k to the optimizer: a unique search
        const r = this.uniqueSearch(t, op.lo, "S");
        return { rows: r ? [[r.key, r.img.value]] : [] };
      }
      case "insert":
        return this.insert(t, op.key, op.value);
      case "updateWhere":
      case "deleteWhere":
        return this.changeWhere(t, op);
      case "update":
      case "delete": {
        const r = this.uniqueSearch(t, op.key, "X");
        if (!r) return { count: 0 };
        if (op.op === "delete") this.change(t, r, { value: r.img.value, deleted: true });
        else {
          const value = op.add !== undefined ? r.img.value + op.add : (op.value ?? r.img.value);
          // the SQL layer compares the rows: an unchanged row is found (counted) but not written
          if (value !== r.img.value) this.change(t, r, { value, deleted: false });
        }
        return { count: 1 };
      }
    }
  }

  /**
   * UPDATE or DELETE … WHERE k BETWEEN lo AND hi [AND v = eq] (mysql_update / mysql_delete over a range scan of the
   * clustered index, row_search_mvcc with X locks): each record from lo on, in key order, is locked (the first, if
   * it is lo, without its gap; next-key locks under REPEATABLE READ and SERIALIZABLE, record locks under READ
   * COMMITTED), and so is the first record after the range (the SQL layer sees the range's end) or the supremum;
   * the SQL layer then judges the newest version, and changes it if it matches. A wait stops the statement in place:
   * the rows before are changed, and after the wait it goes on from the record it waited for. READ COMMITTED lets
   * go of the lock on a row it did not change (ha_innobase::unlock_row), and its UPDATE reads semi-consistently: a
   * record another transaction locks is judged on its last committed version first, and skipped without a wait if
   * that does not match (row_sel_build_committed_vers_for_mysql; not with innodb_snapshot_isolation). BETWEEN k AND
   * k is a unique search.
   */
  private changeWhere(t: Trx, op: WhereOp): Outcome {
    const st = t.statement!;
    const sel = selection(op);
    const rc = t.level === "rc";
    const judge = (r: Rec, fresh: boolean): void => {
      if (!r.img.deleted && selects(sel, r.key, r.img.value)) {
        st.count++;
        if (op.op === "deleteWhere") this.change(t, r, { value: r.img.value, deleted: true });
        else {
          const value = op.add !== undefined ? r.img.value + op.add : (op.value ?? r.img.value);
          if (value !== r.img.value) this.change(t, r, { value, deleted: false });
        }
      } else if (rc && fresh) this.unlock(t, r);
    };
    if (op.lo === op.hi) {
      const r = this.uniqueSearch(t, op.lo, "X");
      if (r) judge(r, this.created);
      return { count: st.count };
    }
    const semi = rc && op.op === "updateWhere" && this.semiConsistent();
    for (const r of [...this.records]) {
      if (r.key < op.lo || r.key <= st.after) continue;
      if (semi && this.wouldWait(t, r.key)) {
        const last = this.lastCommitted(r);
        if (!last || last.deleted || r.key > op.hi || !selects(sel, r.key, last.value)) {
          if (r.key > op.hi) return { count: st.count };
          st.after = r.key;
          continue;
        }
      }
      if (rc && r.img.deleted && this.passesOver(r)) {
        st.after = r.key;
        continue;
      }
      this.lockRecord(t, r, "X", rc || r.key === op.lo ? "rec" : "next-key");
      if (r.img.deleted) {
        st.after = r.key;
        continue; // locked and passed over: the end of the range is seen on a row the scan returns
      }
      if (r.key > op.hi) {
        if (rc && this.created) this.unlock(t, r); // handler::read_range_next: past the range, unlock_row
        return { count: st.count };
      }
      judge(r, this.created);
      st.after = r.key;
    }
    if (!rc) this.lock(t, SUPREMUM, "X", "next-key");
    return { count: st.count };
  }

  /** ha_innobase::try_semi_consistent_read: on, unless innodb_snapshot_isolation turns it off (a mutant's seam). */
  protected semiConsistent(): boolean {
    return !this.snapshotIsolation;
  }

  /** Whether an X record lock on the key would wait: the transaction holds none, and another's lock conflicts. */
  private wouldWait(t: Trx, key: number): boolean {
    const want = { key, mode: "X" as const, kind: "rec" as const };
    if (this.locks.some((l) => l.trx === t && l.key === key && covers(l, want))) return false;
    return this.conflict(t, want, this.locks.length) !== undefined;
  }

  /** row_vers_build_for_semi_consistent_read: the newest version whose maker has ended (none: a fresh insert). */
  private lastCommitted(r: Rec): Image | undefined {
    let img: Image | undefined = r.img;
    while (img && this.active(img.trxId)) img = img.prev;
    return img;
  }

  /**
   * row_unlock_for_mysql (READ COMMITTED): the record lock a statement took at once on a row it did not change goes
   * (not one it held already or waited for: `created`), unless the transaction changed the row before; its waiters
   * go on once the statement ends.
   */
  private unlock(t: Trx, r: Rec): void {
    if (t.undo.some((u) => u.rec === r)) return;
    // lock_rec_unlock: the transaction's lock on the record in that mode, whatever its kind, in the oldest struct (a
    // granted insert intention in an older struct goes instead of the record lock just made: seen on 10.11)
    let oldest: Lock | undefined;
    for (const l of this.locks)
      if (l.trx === t && l.key === r.key && l.mode === "X" && !l.waiting && (!oldest || l.struct < oldest.struct))
        oldest = l;
    if (!oldest) return;
    this.locks.splice(this.locks.indexOf(oldest), 1);
    this.unlocked = true;
  }

  /** The version a consistent read sees through its open view (row_vers_build_for_consistent_read). */
  protected consistent(t: Trx, r: Rec): Image | undefined {
    for (let img: Image | undefined = r.img; img; img = img.prev)
      if (img.trxId === t.id || this.sees(t.view!, img.trxId)) return img;
    return undefined;
  }

  /** ReadView::changes_visible */
  protected sees(view: ReadView, id: number): boolean {
    return changesVisible(id, view);
  }

  private consistentScan(t: Trx, lo: number, hi: number): [number, number][] {
    const rows: [number, number][] = [];
    for (const r of this.records) {
      if (r.key < lo || r.key > hi) continue;
      const img = this.consistent(t, r);
      if (img && !img.deleted) rows.push([r.key, img.value]);
    }
    return rows;
  }

  /** ReadView::open: the active read-write transactions, the next id. */
  protected openView(): ReadView {
    const ids = [...this.trxs.values()].flatMap((x) => (x.id !== undefined ? [x.id] : [])).sort((a, b) => a - b);
    return { low: this.nextId, up: ids[0] ?? this.nextId, ids };
  }

  /**
   * row_search_mvcc, a unique search with locks (k = key): the record itself, delete-marked or not, without its gap
   * (an exact match of a PAGE_CUR_GE search); where there is none, under REPEATABLE READ and SERIALIZABLE, a gap lock
   * on the next record. READ COMMITTED passes over a record whose delete is committed without locking it (but keeps
   * the lock if it waited for the deleter). Returns the record if it is there now (a current read).
   */
  private uniqueSearch(t: Trx, key: number, mode: "S" | "X"): Rec | undefined {
    const gaps = t.level !== "rc";
    const r = this.find(key);
    if (!r) {
      if (gaps) this.lockAbsent(t, key, mode);
      return undefined;
    }
    if (!gaps && r.img.deleted && this.passesOver(r)) return undefined; // a lock a wait took on it stays
    this.lockRecord(t, r, mode, "rec");
    return r.img.deleted ? undefined : r;
  }

  /** Under REPEATABLE READ and SERIALIZABLE, a key that is not there: a gap lock where it would be. */
  protected lockAbsent(t: Trx, key: number, mode: "S" | "X"): void {
    this.lock(t, this.after(key), mode, "gap");
  }

  /** READ COMMITTED does not lock a record whose delete is committed (its deleter has ended). */
  protected passesOver(r: Rec): boolean {
    return !this.active(r.img.trxId);
  }

  /** Whether a transaction that has not ended has this id. */
  protected active(id: number): boolean {
    return [...this.trxs.values()].some((x) => x.id === id);
  }

  /**
   * A SERIALIZABLE scan (k BETWEEN lo AND hi): S locks on every record of the range (the first, if it is lo, without
   * its gap), delete-marked ones too, and next-key locks on the records after it up to the first that is not
   * delete-marked (the SQL layer, which sees the end of the range, never sees a delete-marked one), or the supremum.
   */
  private lockingScan(t: Trx, lo: number, hi: number): [number, number][] {
    const rows: [number, number][] = [];
    for (const r of this.records) {
      if (r.key < lo) continue;
      this.lockRecord(t, r, "S", r.key === lo ? "rec" : "next-key");
      if (r.img.deleted) continue; // locked and passed over: the end of the range is seen on a row the scan returns
      if (r.key > hi) return rows;
      rows.push([r.key, r.img.value]);
    }
    this.lock(t, SUPREMUM, "S", "next-key");
    return rows;
  }

  /**
   * row_ins_clust_index_entry: a present key is checked under an S record lock (row_ins_duplicate_error_in_clust):
   * ER_DUP_ENTRY if it is not delete-marked, else the record is written over (X lock). An absent key needs the gap
   * (lock_rec_insert_check_and_lock: an insert intention that waits for others' gap and next-key locks).
   */
  private insert(t: Trx, key: number, value: number): Outcome {
    const r = this.find(key);
    if (r) {
      this.lockRecord(t, r, "S", "rec");
      if (!r.img.deleted) return { error: "ER_DUP_ENTRY" }; // the statement is rolled back; its lock stays
      this.lock(t, key, "X", "rec");
      this.change(t, r, { value, deleted: false });
      return { count: 1 };
    }
    const next = this.after(key);
    // checked again after a wait (the insert is retried from the start): a lock granted meanwhile makes it wait again
    const blocker = this.conflict(t, { key: next, mode: "X", kind: "insert-intention" }, this.locks.length);
    if (blocker) return this.enqueue(t, next, "X", "insert-intention", blocker);
    const rec: Rec = { key, img: { value, deleted: false, trxId: this.idOf(t) } };
    this.records.push(rec);
    this.records.sort((a, b) => a.key - b.key);
    t.undo.push({ rec, fresh: true });
    // lock_update_insert: the new record inherits the next one's gap locks, as gap locks
    for (const l of this.locks.filter((x) => x.key === next && x.kind !== "insert-intention" && x.kind !== "rec"))
      this.grant(l.trx, key, l.mode, "gap");
    this.grant(t, key, "X", "rec"); // its implicit lock, made explicit
    return { count: 1 };
  }

  /** A new version of the record, by the transaction (which holds its X lock): one undo record. */
  private change(t: Trx, r: Rec, to: { value: number; deleted: boolean }): void {
    r.img = { ...to, trxId: this.idOf(t), prev: r.img };
    t.undo.push({ rec: r, fresh: false });
  }

  private idOf(t: Trx): number {
    t.id ??= this.nextId++;
    return t.id;
  }

  /**
   * lock_clust_rec_read_check_and_lock: lock a record; under innodb_snapshot_isolation, a record whose newest version
   * the read view does not see fails with ER_CHECKREAD, at once if its changer has ended, else once it has.
   */
  private lockRecord(t: Trx, r: Rec, mode: "S" | "X", kind: LockKind): void {
    const changed = (): boolean =>
      this.snapshotIsolation && t.view !== undefined && r.img.trxId !== t.id && !this.sees(t.view, r.img.trxId);
    if (this.checksBeforeWait() && changed() && !this.active(r.img.trxId)) throw new Stop({ error: "ER_CHECKREAD" });
    this.lock(t, r.key, mode, kind);
    if (changed() && !this.active(r.img.trxId)) throw new Stop({ error: "ER_CHECKREAD" });
  }

  /** The snapshot-isolation check comes before the lock wait too (MDEV-36639's order). */
  protected checksBeforeWait(): boolean {
    return true;
  }

  private find(key: number): Rec | undefined {
    return this.records.find((r) => r.key === key);
  }

  /** The first record after `key`, or the supremum. */
  private after(key: number): number {
    return this.records.find((r) => r.key > key)?.key ?? SUPREMUM;
  }

  // ---- locks

  /** lock_rec_lock: held already, granted, or a wait (the statement stops there). */
  private lock(t: Trx, key: number, mode: "S" | "X", kind: LockKind): void {
    this.idOf(t); // a locking read makes the transaction read-write
    this.created = false;
    const mine = this.locks.filter((l) => l.trx === t && l.key === key);
    if (mine.some((l) => covers(l, { mode, kind }))) return;
    // the record is locked already, strongly enough: only its gap is wanted, and a gap lock never waits
    if (kind === "next-key" && mine.some((l) => covers(l, { mode, kind: "rec" }))) kind = "gap";
    const blocker = this.conflict(t, { key, mode, kind }, this.locks.length);
    if (blocker) throw new Stop(this.enqueue(t, key, mode, kind, blocker));
    this.grant(t, key, mode, kind);
    this.created = true;
  }

  /**
   * A granted lock, in a struct of the transaction's (lock_rec_add_to_queue): its oldest struct of the same type,
   * unless a request waits on the record, which makes a new one (as a waiting request always does).
   */
  private grant(t: Trx, key: number, mode: "S" | "X", kind: LockKind): void {
    const queued = this.locks.some((l) => l.key === key && l.waiting);
    const same = queued ? undefined : t.structs.find((x) => x.mode === mode && x.kind === kind);
    this.locks.push({ trx: t, key, mode, kind, waiting: false, struct: same?.seq ?? this.newStruct(t, mode, kind) });
  }

  private newStruct(t: Trx, mode: "S" | "X", kind: LockKind): number {
    const seq = this.structs++;
    t.structs.push({ mode, kind, seq });
    return seq;
  }

  private enqueue(t: Trx, key: number, mode: "S" | "X", kind: LockKind, on: Trx): Outcome {
    const wait: Lock = { trx: t, key, mode, kind, waiting: true, struct: this.newStruct(t, mode, kind) };
    this.locks.push(wait);
    return { wait, on };
  }

  /**
   * The owner of the first lock before `before` in the record's queue that the request must wait for (a new request:
   * the whole queue, lock_rec_other_has_conflicting; a waiting one: what is before it, lock_rec_has_to_wait_in_queue).
   */
  private conflict(t: Trx, r: { key: number; mode: "S" | "X"; kind: LockKind }, before: number): Trx | undefined {
    for (let i = 0; i < before; i++) {
      const l = this.locks[i]!;
      if (l.trx !== t && l.key === r.key && this.mustWait(r, l)) return l.trx;
    }
    return undefined;
  }

  /** lock_rec_has_to_wait, granted and waiting requests alike. */
  protected mustWait(r: { key: number; mode: "S" | "X"; kind: LockKind }, l: Lock): boolean {
    return hasToWait(r, l);
  }

  // ---- ends, wakeups, deadlocks

  /** trx_commit / trx_rollback: undo (newest first) if rolling back, then release every lock. */
  private end(t: Trx, commit: boolean): void {
    if (this.trxs.get(t.tx) === t) this.trxs.delete(t.tx);
    t.wait = undefined;
    if (!commit)
      for (const { rec, fresh } of [...t.undo].reverse()) {
        if (!fresh) rec.img = rec.img.prev!;
        else this.remove(rec, t);
      }
    this.locks = this.locks.filter((l) => l.trx !== t);
    this.regrant();
  }

  /**
   * A rolled-back insert's record goes (lock_update_delete): the next record inherits every lock on it, waiting ones
   * too, as a gap lock of the same mode (lock_rec_inherit_to_gap), but the rolling-back transaction's own, insert
   * intentions, and READ COMMITTED's X locks; requests waiting on it are cancelled: their statements search again.
   */
  private remove(rec: Rec, by: Trx): void {
    this.records.splice(this.records.indexOf(rec), 1);
    const next = this.after(rec.key);
    const on = this.locks.filter((l) => l.key === rec.key);
    this.locks = this.locks.filter((l) => l.key !== rec.key);
    for (const l of on) {
      if (l.waiting && l.trx.wait?.lock === l) l.trx.wait.on = l.trx;
      if (l.trx !== by && l.kind !== "insert-intention" && (l.trx.level !== "rc" || l.mode !== "X"))
        this.grant(l.trx, next, l.mode, "gap");
    }
  }

  /**
   * lock_rec_dequeue_from_page / lock_grant: every waiting request that nothing before it in its queue conflicts with
   * is granted (in the order the requests were made), and cancelled ones search again; then their statements go on,
   * in that order. The others wait for the first lock that still conflicts, and a wait edge that changed is checked
   * for a deadlock. Each woken statement runs once: a release inside one of them (an autocommit's end) regrants
   * again, and a statement it runs is no longer this pass's to run.
   */
  private regrant(): void {
    const ready: { x: Trx; wait: NonNullable<Trx["wait"]> }[] = [];
    for (const [i, l] of this.locks.entries())
      if (l.waiting && !this.conflict(l.trx, l, i)) {
        l.waiting = false;
        if (l.trx.wait) ready.push({ x: l.trx, wait: l.trx.wait });
      }
    for (const x of this.trxs.values())
      if (x.wait?.on === x && !ready.some((r) => r.x === x)) ready.push({ x, wait: x.wait });
    for (const x of [...this.trxs.values()]) {
      if (!x.wait || ready.some((r) => r.x === x)) continue;
      const on = this.conflict(x, x.wait.lock, this.locks.indexOf(x.wait.lock));
      if (on && on !== x.wait.on) {
        x.wait.on = on;
        this.repointed(x);
      }
    }
    for (const { x, wait } of ready) {
      if (x.wait !== wait) continue; // a deadlock above ended it, or a nested pass ran it
      x.wait = undefined;
      const r = this.execute(x, wait.op);
      if (r) this.woken.push({ tx: x.tx, result: r });
    }
  }

  /**
   * lock_rec_dequeue_from_page: when a release points a waiter at another owner, a deadlock is looked for from that
   * waiter (Deadlock::to_check; MariaDB 10.11.19 was seen to choose the re-pointed waiter on a tie of weights).
   */
  protected repointed(x: Trx): void {
    this.checkDeadlock(x, false);
  }

  /**
   * Deadlock::find_cycle over each waiter's one edge; the victim is the lightest transaction of the cycle (undo
   * records plus lock structs, TRX_WEIGHT), the one whose wait closed it on a tie. It is rolled back: ER_LOCK_DEADLOCK.
   */
  private checkDeadlock(from: Trx, own = true): void {
    const cycle: Trx[] = [];
    let x: Trx | undefined = from;
    while (x?.wait && x.wait.on !== x && !cycle.includes(x)) {
      cycle.push(x);
      x = x.wait.on;
    }
    if (x !== from) return;
    const victim = this.victimOf(cycle);
    // the statement of the op that closed the cycle answers for itself; any other victim is woken with the error
    if (victim !== from || !own) this.woken.push({ tx: victim.tx, result: { error: "ER_LOCK_DEADLOCK" } });
    this.end(victim, false);
    if (victim.readOnly) this.staleReadOnly.add(victim.tx);
  }

  /** The lightest of the cycle (a mutant's seam); `cycle[0]`, the checked waiter, on a tie. */
  protected victimOf(cycle: readonly Trx[]): Trx {
    const weight = (t: Trx): number => {
      const structs = new Set(this.locks.filter((l) => l.trx === t).map((l) => `${l.mode}${l.kind}${l.waiting}`));
      return t.undo.length + structs.size + (structs.size ? 1 : 0);
    };
    return cycle.reduce((a, b) => (weight(b) < weight(a) ? b : a));
  }
}
