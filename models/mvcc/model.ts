// The reference model of PostgreSQL's MVCC heap: tuple versions with xmin/xmax, a commit log, snapshots of
// (xmin, xmax, xip), HeapTupleSatisfiesMVCC, row locks through xmax (heap_update / heap_delete waiting on the
// updater), READ COMMITTED's EvalPlanQual, REPEATABLE READ's first-updater-wins, the unique check of an insert
// (_bt_check_unique with a dirty snapshot), and lazy vacuum up to the OldestXmin horizon. Versions are shared by
// every snapshot that can see them: nothing is copied.
import { type Engine, InputError } from "../../core/index.ts";
import { type Client, type Outcome, Sessions, type Statement, type Storage } from "./clients.ts";
import { SerializationFailure, Ssi, type SsiHeap, type Sxact } from "./ssi.ts";
import {
  MVCC_MAX_VERSIONS,
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  type MvccState,
  type PgLevel,
  type Snapshot,
  selection,
  selects,
  type Version,
} from "./types.ts";

interface TxState {
  xid?: number;
  /** REPEATABLE READ and SERIALIZABLE: the transaction snapshot, taken by its first statement. */
  snapshot?: Snapshot;
  /** SERIALIZABLE: its SSI record (none for a READ ONLY one that opted out). */
  sxact?: Sxact;
  /** The heap tuple of an insert still in its unique check. */
  inserting?: Version;
  /** The UPDATE or DELETE running (it may have waited): how many rows it changed, and the versions it made. */
  statement?: { count: number; made: Set<Version> };
  /**
   * READ COMMITTED: the snapshot of its last statement, if that was a SELECT. The engine's driver runs it as an
   * extended-protocol portal, which keeps its snapshot registered (and the backend's xmin) until the next statement
   * replaces the portal or the transaction ends.
   */
  held?: Snapshot;
  /** The tuple lock (its id) the running UPDATE or DELETE holds while it waits for the tuple's updater. */
  tuplock?: number;
}

/** What a waiting statement waits as (a write by predicate waits as an UPDATE or DELETE does). */
const WAITS_AS: Partial<Record<string, "insert" | "update" | "delete">> = {
  insert: "insert",
  update: "update",
  updateWhere: "update",
  delete: "delete",
  deleteWhere: "delete",
};

export class MvccModel implements Engine<MvccOp, MvccObs, MvccState>, Storage<TxState> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect"]);
  protected readonly versions: Version[] = [];
  protected readonly clog = new Map<number, "committed" | "aborted">();
  /** The commit log as the inspected state shows it, kept up to date with `clog` (so inspect copies nothing). */
  private readonly fates: Record<string, "committed" | "aborted"> = {};
  protected nextXid = 1;
  protected removed: Version[] = [];
  /** The table has a page (a tuple was put in it since it was created or last truncated). */
  private hasPage = false;
  /** t_ctid: the version an update made from this one (a delete leaves none). */
  protected readonly ctid = new WeakMap<Version, Version>();
  /** Each version's line pointer on the table's page: `versions` is in this order. */
  private readonly lp = new WeakMap<Version, number>();
  /** Line pointers from `nextLp` on are unused; below it, the unused ones (VACUUM freed them) are `freeLps`, descending. */
  private nextLp = 1;
  private freeLps: number[] = [];
  /**
   * Tuple locks (heap_acquire_tuplock: the heavyweight lock an UPDATE or DELETE takes on a tuple whose updater it
   * waits for), by id (negative, apart from xids): the clients that asked, in order; the first holds it.
   */
  private readonly tuplocks = new Map<number, Client<TxState>[]>();
  private readonly tuplockIds = new WeakMap<Version, number>();
  private nextTuplock = -1;
  /**
   * Row locks that are not changes: the lock-only xmax (HEAP_XMAX_LOCK_ONLY) EvalPlanQual leaves on a newest version
   * that no longer qualified. Kept apart from xmax, which the state shows as deleters only (a lock-only xmax is 0 in
   * the engine's heap view too).
   */
  private readonly rowLocks = new WeakMap<Version, number>();
  protected readonly sessions: Sessions<TxState> = this.newSessions();
  protected readonly ssi: Ssi;

  constructor(readonly geometry: MvccGeometry) {
    const model = this;
    this.ssi = this.newSsi({
      get versions() {
        return model.versions;
      },
      get nextXid() {
        return model.nextXid;
      },
      fate: (xid) => this.clog.get(xid),
      visible: (v, s, own) => this.visible(v, s, own),
    });
  }

  /** The client side: sessions, waits, wakeups, deadlocks (a mutant may bring its own). */
  protected newSessions(): Sessions<TxState> {
    return new Sessions<TxState>(this);
  }

  /** The SSI bookkeeping (a mutant may bring its own). */
  protected newSsi(heap: SsiHeap): Ssi {
    return new Ssi(heap);
  }

  apply(op: MvccOp): MvccObs {
    this.removed = [];
    const obs = this.sessions.apply(op);
    if (this.versions.length) this.hasPage = true;
    return obs;
  }

  // ---- Storage

  begin(_tx: number, _level: PgLevel): TxState {
    return {};
  }

  /** GetSnapshotData: running xids (not the caller's own), xmax the next xid, xmin the oldest running. */
  protected takeSnapshot(own: number | undefined): Snapshot {
    const xip = [...this.sessions.clients.values()]
      .map((c) => c.state.xid)
      .filter((x): x is number => x !== undefined && x !== own && !this.clog.has(x))
      .sort((a, b) => a - b);
    return { xmin: Math.min(this.nextXid, ...xip), xmax: this.nextXid, xip };
  }

  /**
   * The statement's snapshot: REPEATABLE READ and SERIALIZABLE keep the first one (and SERIALIZABLE registers with
   * SSI then, GetSerializableTransactionSnapshot); READ COMMITTED takes one per statement.
   */
  context(client: Client<TxState>, _op: Statement): Snapshot {
    if (client.level === "rc") return this.takeSnapshot(client.state.xid);
    const st = client.state;
    if (!st.snapshot) {
      st.snapshot = this.takeSnapshot(st.xid);
      if (client.level === "ser") st.sxact = this.ssi.register(client.tx, st.snapshot, client.readOnly);
    }
    return st.snapshot;
  }

  holderOf(lock: number): number | undefined {
    if (lock < 0) return this.tuplocks.get(lock)?.[0]?.tx;
    for (const c of this.sessions.clients.values()) if (c.state.xid === lock) return c.tx;
  }

  granted(client: Client<TxState>): boolean {
    const lock = client.pending!.waitFor;
    return lock < 0 ? this.tuplocks.get(lock)?.[0] === client : this.clog.has(lock);
  }

  private xidOf(client: Client<TxState>): number {
    const st = client.state;
    st.xid ??= this.nextXid++; // AssignTransactionId: at the first write
    if (st.sxact) st.sxact.xid = st.xid;
    return st.xid;
  }

  protected committed(xid: number): boolean {
    return this.clog.get(xid) === "committed";
  }

  /** XidInMVCCSnapshot: still running when the snapshot was taken (or not started yet). */
  protected inSnapshot(xid: number, s: Snapshot): boolean {
    return xid >= s.xmax || s.xip.includes(xid);
  }

  /** HeapTupleSatisfiesMVCC */
  protected visible(v: Version, s: Snapshot, own: number | undefined): boolean {
    if (v.xmin === own) return v.xmax !== own;
    if (!this.committed(v.xmin) || this.inSnapshot(v.xmin, s)) return false;
    if (v.xmax === 0 || this.clog.get(v.xmax) === "aborted") return true;
    if (v.xmax === own) return false;
    if (!this.committed(v.xmax)) return true;
    return this.inSnapshot(v.xmax, s);
  }

  private seen(key: number, s: Snapshot, own: number | undefined): Version[] {
    return this.versions.filter((v) => v.key === key && this.visible(v, s, own));
  }

  run(client: Client<TxState>, op: Statement, context: unknown): Outcome {
    client.state.tuplock = undefined;
    let out: Outcome;
    try {
      out = this.statement(client, op, context as Snapshot);
    } catch (e) {
      if (!(e instanceof SerializationFailure)) throw e;
      out = { error: "40001" };
    }
    // heap_update / heap_delete release the tuple lock when they return: keep only the one it waits with or for
    this.unlockTuples(client, "waitFor" in out ? (out.waitFor < 0 ? out.waitFor : client.state.tuplock) : undefined);
    return out;
  }

  /**
   * heap_acquire_tuplock, then XactLockTableWait: a tuple whose updater `xmax` is running is waited for under the
   * tuple's lock. The first to ask holds it and waits for the updater; the others wait for the holder, and each
   * takes the lock in turn (so the next one waits for the transaction that the holder's change made the updater).
   */
  private waitForUpdater(client: Client<TxState>, v: Version, xmax: number): Outcome {
    const id = this.tuplockIds.get(v) ?? this.nextTuplock--;
    this.tuplockIds.set(v, id);
    const queue = this.tuplocks.get(id) ?? [];
    this.tuplocks.set(id, queue);
    if (!queue.includes(client)) queue.push(client);
    if (queue[0] !== client) return { waitFor: id };
    client.state.tuplock = id;
    return { waitFor: xmax };
  }

  /** Leave every tuple lock's queue but `keep`'s (a lock released goes to the next in its queue: Sessions wakes it). */
  private unlockTuples(client: Client<TxState>, keep: number | undefined): void {
    for (const [id, queue] of this.tuplocks) {
      if (id === keep || !queue.includes(client)) continue;
      queue.splice(queue.indexOf(client), 1);
      if (!queue.length) this.tuplocks.delete(id);
    }
  }

  private statement(client: Client<TxState>, op: Statement, s: Snapshot): Outcome {
    const own = client.state.xid;
    // a statement woken from a wait goes on where it stopped: its scan (and an insert's heap tuple) are done
    let sxact = client.pending ? undefined : client.state.sxact;
    // SerializationNeededForRead: a READ ONLY transaction whose snapshot became safe releases everything and leaves
    // SSI (ReleasePredicateLocks(false, true)); it cannot fail with 40001 after
    if (sxact?.roSafe) {
      this.ssi.release(sxact, false);
      client.state.sxact = sxact = undefined;
    }
    client.state.held = op.op === "read" || op.op === "scan" ? s : undefined;
    if (sxact && op.op !== "insert") this.ssi.scan(sxact);
    switch (op.op) {
      case "read":
        return {
          values: this.seen(op.key, s, own)
            .map((v) => v.value)
            .sort((a, b) => a - b),
        };
      case "scan": {
        const rows = this.versions
          .filter((v) => v.key >= op.lo && v.key <= op.hi && this.visible(v, s, own))
          .map((v) => [v.key, v.value] as [number, number]);
        return { rows: rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]) };
      }
      case "insert":
        return this.insert(client, op.key, op.value);
      case "update":
      case "delete":
      case "updateWhere":
      case "deleteWhere":
        return this.modify(client, op, s);
    }
  }

  /**
   * heap_insert, then _bt_check_unique with SnapshotDirty: a live or possibly live version of the key (in the index:
   * not another's pending one) waits or fails. The heap tuple, the xid and SSI's conflicts in come first, so they
   * are there while the statement waits, and after it fails.
   */
  protected insert(client: Client<TxState>, key: number, value: number): Outcome {
    const st = client.state;
    if (!st.inserting) {
      const xmin = this.xidOf(client); // GetCurrentTransactionId, first thing
      if (st.sxact) this.ssi.write(st.sxact); // CheckForSerializableConflictIn, before the tuple goes in
      st.inserting = { key, value, xmin, xmax: 0, pending: true };
      this.place(st.inserting);
    }
    // woken from its wait: _bt_check_unique and _bt_doinsert check SSI's conflicts in again, a doomed one first
    else if (st.sxact) this.ssi.failIfDoomed(st.sxact);
    const mine = st.inserting;
    const own = st.xid;
    for (const v of this.versions) {
      if (v.key !== key || v === mine || v.pending || this.clog.get(v.xmin) === "aborted") continue;
      if (v.xmin !== own && !this.committed(v.xmin)) return { waitFor: v.xmin };
      if (v.xmax === 0 || this.clog.get(v.xmax) === "aborted") return this.inserted(st, { error: "23505" });
      if (v.xmax === own) continue;
      if (!this.committed(v.xmax)) return { waitFor: v.xmax };
    }
    return this.inserted(st, { count: 1 });
  }

  /** The insert has finished: its tuple is indexed (or dead with its transaction). */
  private inserted(st: TxState, out: MvccResult): MvccResult {
    delete st.inserting!.pending;
    st.inserting = undefined;
    return out;
  }

  /**
   * ExecUpdate / ExecDelete (heap_update, heap_delete) on each version the statement sees that its selection names.
   * A version another transaction is changing waits for it; one a concurrent transaction changed and committed is
   * 40001 under REPEATABLE READ, and under READ COMMITTED is followed along its update chain to the newest version
   * (EvalPlanQual), which must still hold the selection's value (EvalPlanQual re-evaluates the quals), or is gone if
   * deleted.
   */
  protected modify(
    client: Client<TxState>,
    op: Statement & { op: "update" | "delete" | "updateWhere" | "deleteWhere" },
    s: Snapshot,
  ): Outcome {
    const st = client.state;
    const sel = selection(op);
    // what the statement did before it waited: a command does not see the versions it made itself
    if (!client.pending) st.statement = { count: 0, made: new Set() };
    const done = st.statement!;
    const seen = this.versions.filter(
      (v) => selects(sel, v.key, v.value) && this.visible(v, s, st.xid) && !done.made.has(v),
    );
    if (op.op === "updateWhere" || op.op === "deleteWhere") this.indexOrder(seen);
    // heap_update / heap_delete take the xid on entry (GetCurrentTransactionId), before they wait or fail
    if (seen.length) this.xidOf(client);
    const own = st.xid!;
    // one version at a time in the scan's order: a wait or a failure at one leaves the earlier ones changed
    for (const first of seen) {
      let v: Version | undefined = first;
      while (v) {
        const x = v.xmax;
        if (x === 0 || x === own || this.clog.get(x) === "aborted") {
          // a row lock (a lock-only xmax) of another running transaction: waited for as an updater is
          const locker = this.rowLocks.get(v);
          if (locker !== undefined && locker !== own && !this.clog.has(locker))
            return this.waitForUpdater(client, v, locker);
          break;
        }
        if (!this.committed(x)) return this.waitForUpdater(client, v, x);
        if (client.level !== "rc") return { error: "40001" };
        v = this.newerVersion(v);
      }
      if (!v || v.xmax === own) continue; // deleted, or changed by this command already (TM_SelfModified)
      if (v !== first && !selects(sel, v.key, v.value)) {
        // EvalPlanQual locked the newest version (table_tuple_lock) before it judged it: the lock stays
        if (this.locksBeforeRecheck()) this.rowLocks.set(v, own);
        continue;
      }
      if (st.sxact) this.ssi.write(st.sxact);
      v.xmax = own;
      if (op.op === "update" || op.op === "updateWhere") {
        const next = {
          key: v.key,
          value: op.add !== undefined ? v.value + op.add : (op.value ?? v.value),
          xmin: own,
          xmax: 0,
        };
        this.place(next);
        this.ctid.set(v, next);
        done.made.add(next);
      } else this.ctid.delete(v); // a delete after an aborted update: no successor
      done.count++;
    }
    return { count: done.count };
  }

  /** ExecUpdate / ExecDelete lock the newest version before EvalPlanQual judges it (a mutant's seam). */
  protected locksBeforeRecheck(): boolean {
    return true;
  }

  /**
   * The order a write by predicate visits what it selects: the engine has it scan the primary key's index, so in key
   * order, the versions of one key in heap order (nbtree orders equal keys by heap TID). A write by key is a
   * sequential scan: heap (line pointer) order, as `versions` is.
   */
  private indexOrder(versions: Version[]): void {
    versions.sort((a, b) => a.key - b.key || this.lp.get(a)! - this.lp.get(b)!);
  }

  /**
   * PageAddItem: a new version takes the first free line pointer (VACUUM frees them), else a new one at the end. The
   * heap holds at most MVCC_MAX_VERSIONS versions: every statement's scan, and every check of the state, passes them
   * all, and only VACUUM removes any (docs/mvcc.md, "Bounds").
   */
  protected place(v: Version): void {
    if (this.versions.length >= MVCC_MAX_VERSIONS)
      throw new InputError(
        `the heap would hold more than ${MVCC_MAX_VERSIONS} tuple versions (the mvcc layer's bound): vacuum the table, or split the trace`,
      );
    const lp = this.freeLps.pop() ?? this.nextLp++;
    this.lp.set(v, lp);
    const last = this.versions.at(-1);
    if (!last || this.lp.get(last)! < lp) {
      this.versions.push(v);
      return;
    }
    let lo = 0;
    let hi = this.versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lp.get(this.versions[mid]!)! > lp) hi = mid;
      else lo = mid + 1;
    }
    this.versions.splice(lo, 0, v);
  }

  /** Record a transaction's fate in the commit log. */
  private setFate(xid: number, fate: "committed" | "aborted"): void {
    this.clog.set(xid, fate);
    this.fates[xid] = fate;
  }

  /** The version that replaced `v` (t_ctid): the one its updater made, if it updated rather than deleted. */
  private newerVersion(v: Version): Version | undefined {
    return this.ctid.get(v);
  }

  commit(client: Client<TxState>): MvccResult | undefined {
    const sxact = client.state.sxact;
    if (sxact) {
      try {
        this.ssi.preCommit(sxact);
      } catch (e) {
        if (e instanceof SerializationFailure) return { error: "40001" };
        throw e;
      }
    }
    if (client.state.xid !== undefined) this.setFate(client.state.xid, "committed");
    if (sxact) this.ssi.release(sxact, true);
  }

  abort(client: Client<TxState>): void {
    if (client.state.xid !== undefined) this.setFate(client.state.xid, "aborted");
    this.unlockTuples(client, undefined);
    if (client.state.inserting) this.inserted(client.state, { ok: true }); // died waiting in its unique check
    const sxact = client.state.sxact;
    client.state.sxact = undefined;
    if (sxact) this.ssi.release(sxact, false);
  }

  /**
   * Lazy vacuum: a version is dead to everyone when its inserter aborted, or its deleter committed before the
   * OldestXmin horizon: the oldest xid any open transaction has, or holds back with its snapshot (GetOldestNonRemovableTransactionId).
   */
  vacuum(clients: readonly Client<TxState>[]): void {
    // lazy_scan_heap: without the cleanup lock (an UPDATE or DELETE waiting on a row keeps its scan's pin on the
    // page) a non-aggressive vacuum prunes nothing (lazy_scan_noprune); the table is one page
    if (clients.some((c) => c.pending && c.pending.op.op !== "insert")) return;
    const horizon = this.horizon(clients);
    const kept: Version[] = [];
    for (const v of this.versions) {
      const dead = this.clog.get(v.xmin) === "aborted" || (v.xmax !== 0 && this.committed(v.xmax) && v.xmax < horizon);
      if (!dead) kept.push(v);
      else {
        this.removed.push(v);
        this.freeLps.push(this.lp.get(v)!); // lazy_vacuum_heap_page: the line pointer is unused again
      }
    }
    if (this.removed.length) {
      this.versions.length = 0;
      for (const v of kept) this.versions.push(v);
      this.freeLps.sort((a, b) => b - a);
    }
    // lazy_truncate_heap: an empty page is truncated away, and that uses up an xid (observed on 15.18: even when the
    // truncation gives up, after 5 s, because an open transaction that read the table holds a lock on it)
    if (this.hasPage && !this.versions.length) {
      this.nextXid++;
      if (!clients.some((c) => c.ran && !c.failed)) this.hasPage = false;
    }
  }

  protected horizon(clients: readonly Client<TxState>[]): number {
    let h = this.nextXid;
    for (const c of clients) {
      if (c.failed) continue; // an aborted transaction holds nothing back
      if (c.state.xid !== undefined && !this.clog.has(c.state.xid)) h = Math.min(h, c.state.xid);
      const own = c.state.snapshot ?? c.state.held;
      if (own) h = Math.min(h, own.xmin);
      const held = c.pending?.context as Snapshot | undefined; // a waiting statement holds its snapshot
      if (held) h = Math.min(h, held.xmin);
    }
    return h;
  }

  /** What a client would know of its own session: in a transaction, waiting on a lock, failed (for the fuzzer). */
  session(tx: number): { open: boolean; blocked: boolean; failed: boolean } {
    const c = this.sessions.clients.get(tx);
    return { open: c !== undefined, blocked: c?.pending !== undefined, failed: c?.failed === true };
  }

  inspect(): MvccState {
    const txs: MvccState["txs"] = [];
    for (const c of this.sessions.clients.values()) {
      // the schema's order of fields, for whoever reads the JSON
      const tx = (
        c.state.xid !== undefined
          ? { tx: c.tx, xid: c.state.xid, level: c.level, failed: c.failed }
          : { tx: c.tx, level: c.level, failed: c.failed }
      ) as MvccState["txs"][number];
      // the snapshot it holds: its own (REPEATABLE READ), or the one its waiting statement keeps
      const snapshot = c.state.snapshot ?? (c.pending?.context as Snapshot | undefined) ?? c.state.held;
      if (snapshot) tx.snapshot = snapshot;
      const waiting = c.pending && WAITS_AS[c.pending.op.op];
      if (waiting) tx.waiting = waiting;
      txs.push(tx);
    }
    return {
      // the live heap and commit log, not copies: every reader of the state reads it before the next op
      versions: this.versions,
      clog: this.fates,
      txs,
      nextXid: this.nextXid,
      removed: this.removed,
      ssi: this.ssi.inspect(),
    };
  }
}
