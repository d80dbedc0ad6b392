// The PostgreSQL model's client side of the protocol, apart from its storage: clients (one connection each) that
// begin, run statements, block on a transaction and are woken when it ends, in the order they began to wait, with
// deadlocks broken as PostgreSQL breaks them. The model's storage plugs in through `Storage`. The oracle
// (oracles/mvcc.ts) has client logic of its own, so a bug here shows as a difference.
import { InputError } from "../../core/index.ts";
import { type MvccObs, type MvccOp, type MvccResult, type PgLevel, pgLevels, type StatementOp } from "./types.ts";

export type Statement = StatementOp;

/**
 * A statement's outcome: a result, or the lock it must wait for: a transaction's (its xid), or a tuple lock (a
 * negative number the storage gives it).
 */
export type Outcome = MvccResult | { waitFor: number };

export interface Client<S> {
  readonly tx: number;
  level: PgLevel;
  /** BEGIN … READ ONLY (a later BEGIN READ ONLY in the transaction makes it so too) */
  readOnly: boolean;
  /** It has run a statement (its isolation level can no longer change). */
  ran: boolean;
  /** BEGIN was implicit: the statement commits itself when it finishes (autocommit). */
  readonly implicit: boolean;
  failed: boolean;
  /** The storage's per-transaction state (snapshot, xid, buffer…). */
  readonly state: S;
  /** The statement waiting, the lock it waits for, and when it began this wait (for deadlock victims). */
  pending?: { readonly op: Statement; waitFor: number; since: number; readonly context: unknown };
}

export interface Storage<S> {
  begin(tx: number, level: PgLevel): S;
  /** Run a statement (again, after a wait, with the same context). */
  run(client: Client<S>, op: Statement, context: unknown): Outcome;
  /** The context a statement keeps across waits (read committed: its statement snapshot). */
  context(client: Client<S>, op: Statement): unknown;
  /** Commit; a serialization failure instead aborts (and is then the COMMIT's answer). */
  commit(client: Client<S>): MvccResult | undefined;
  /** Abort: undo, and release what it holds. */
  abort(client: Client<S>): void;
  /** The client (its number) holding the lock a waiter waits for: the transaction, or a tuple lock's holder. */
  holderOf(lock: number): number | undefined;
  /** Whether the lock the client waits for is its now: the transaction ended, or the tuple lock came to it. */
  granted(client: Client<S>): boolean;
  vacuum?(clients: readonly Client<S>[]): void;
}

/** The client side of a PostgreSQL server: sessions, waits and their wakeups, deadlock detection, errors. */
export class Sessions<S> {
  readonly clients = new Map<number, Client<S>>();
  private waits = 0;
  private woken: { tx: number; result: MvccResult }[] = [];

  constructor(private readonly storage: Storage<S>) {}

  apply(op: MvccOp): MvccObs {
    this.woken = [];
    const obs = this.perform(op);
    if (!this.woken.length || "skipped" in obs) return obs;
    // waiters woken together finish in an order the server does not fix: listed by client
    return { ...obs, unblocked: [...this.woken].sort((a, b) => a.tx - b.tx) };
  }

  private perform(op: MvccOp): MvccObs {
    if (op.op === "vacuum") {
      this.storage.vacuum?.([...this.clients.values()]);
      return { ok: true };
    }
    if (op.op === "checkpoint")
      throw new InputError('checkpoint is an op of the sqlite flavour (geometry {"flavour":"sqlite"})');
    const c = this.clients.get(op.tx);
    if (c?.pending) return { skipped: true };
    switch (op.op) {
      case "begin":
        if (!isPgLevel(op.level))
          throw new InputError(
            `BEGIN ${op.level} is SQLite's (geometry {"flavour":"sqlite"}); PostgreSQL's levels are ${pgLevels.join(", ")}`,
          );
        if (c?.failed) return { error: "25P02" }; // in a failed transaction even BEGIN is refused
        if (!c) this.clients.set(op.tx, this.newClient(op.tx, op.level, false, op.readOnly === true));
        else if (c.ran && c.level !== op.level) {
          // check_transaction_isolation: another level once a snapshot was taken: "SET TRANSACTION ISOLATION LEVEL
          // must be called before any query"
          this.fail(c);
          return { error: "25001" };
        } else {
          // a warning ("already a transaction in progress"), and what it names is set, as SET TRANSACTION would
          c.level = op.level;
          if (op.readOnly) c.readOnly = true;
        }
        return { ok: true };
      case "commit":
        if (!c) return { ok: true }; // a warning: no transaction in progress
        this.clients.delete(op.tx);
        if (c.failed) return { rolledBack: true };
        return this.commit(c) ?? { ok: true };
      case "abort":
        if (!c) return { ok: true };
        this.clients.delete(op.tx);
        if (!c.failed) this.end(c);
        return { ok: true };
      default: {
        const client = c ?? this.newClient(op.tx, "rc", true, false);
        if (!c) this.clients.set(op.tx, client);
        if (client.failed) return { error: "25P02" };
        client.ran = true;
        if (client.readOnly && op.op !== "read" && op.op !== "scan") {
          this.fail(client); // ExecCheckXactReadOnly, before the statement touches anything
          return { error: "25006" };
        }
        const r = this.execute(client, op, this.storage.context(client, op));
        this.wake(); // a tuple lock the statement let go
        return r ?? { blocked: true };
      }
    }
  }

  private newClient(tx: number, level: PgLevel, implicit: boolean, readOnly: boolean): Client<S> {
    return { tx, level, implicit, readOnly, failed: false, ran: false, state: this.storage.begin(tx, level) };
  }

  /** CommitTransaction; a serialization failure found at commit ends the transaction too, as a rollback. */
  private commit(c: Client<S>): MvccResult | undefined {
    let failed: MvccResult | undefined;
    this.release(c, () => {
      failed = this.storage.commit(c) ?? undefined;
      if (failed) {
        c.failed = true;
        this.storage.abort(c);
      }
    });
    return failed;
  }

  /**
   * Run a statement (again, once its lock is granted); undefined while it waits. A finished statement of an implicit
   * transaction commits it. Each wait is a new sleep (ProcSleep), with a deadlock timer of its own.
   */
  private execute(client: Client<S>, op: Statement, context: unknown): MvccResult | undefined {
    const out = this.storage.run(client, op, context);
    if ("waitFor" in out) {
      client.pending = { op, waitFor: out.waitFor, since: this.waits++, context };
      this.breakDeadlock(client);
      if (client.pending) return undefined;
      // the deadlock was broken: this statement failed, or another's failure let it finish
      const mine = this.woken.findIndex((w) => w.tx === client.tx);
      return mine < 0 ? { error: "40P01" } : this.woken.splice(mine, 1)[0]!.result;
    }
    client.pending = undefined;
    if ("error" in out) this.fail(client);
    else if (client.implicit) {
      this.clients.delete(client.tx);
      return this.commit(client) ?? out;
    }
    return out;
  }

  /** An error aborts the transaction at once (AbortTransaction): its rows are released; it answers 25P02 until it ends. */
  private fail(client: Client<S>): void {
    client.failed = true;
    this.end(client);
    if (client.implicit) this.clients.delete(client.tx);
  }

  private end(client: Client<S>): void {
    this.release(client, () => this.storage.abort(client));
  }

  /**
   * xact.c CommitTransaction / AbortTransaction: the transaction ends (`finish`: its commit or abort is recorded and
   * visible) before its locks are released and its waiters run (a mutant's seam).
   */
  protected release(_ended: Client<S>, finish: () => void): void {
    finish();
    this.wake();
  }

  /**
   * Locks were released (a transaction ended, a statement moved past a tuple it had locked): every waiter whose lock
   * is now its runs again, the one that began to wait first first (ProcLockWakeup, in the wait queue's order). The
   * waiters of one transaction are all granted its lock at once and race, so the oracle allows any order of them.
   */
  protected wake(): void {
    for (;;) {
      let next: Client<S> | undefined;
      for (const c of this.clients.values())
        if (c.pending && (!next || c.pending.since < next.pending!.since) && this.storage.granted(c)) next = c;
      if (!next) return;
      const r = this.execute(next, next.pending!.op, next.pending!.context);
      if (r) this.woken.push({ tx: next.tx, result: r });
    }
  }

  /**
   * DeadLockCheck: a cycle of waits is broken by failing one waiter with 40P01. PostgreSQL fails the waiter whose
   * deadlock_timeout fires first while the cycle exists: the one whose sleep began first. Its failure may let a
   * waiter take a tuple lock and close another cycle: that one is broken the same way, after.
   */
  private breakDeadlock(from: Client<S>): void {
    const holderOf = (c: Client<S>) => {
      const h = this.storage.holderOf(c.pending!.waitFor);
      return h === undefined || h === c.tx ? undefined : this.clients.get(h);
    };
    const cycle: Client<S>[] = [];
    let c: Client<S> | undefined = from;
    while (c?.pending && !cycle.includes(c)) {
      cycle.push(c);
      c = holderOf(c);
    }
    if (!c || c !== from) return; // no cycle through the new waiter
    const victim = this.victimOf(cycle);
    victim.pending = undefined;
    if (victim !== from) this.woken.push({ tx: victim.tx, result: { error: "40P01" } });
    this.fail(victim);
  }

  /**
   * PostgreSQL's usual victim of a cycle: the waiter that has waited longest (a mutant's seam). Not a rule: a waiter
   * whose deadlock check ran before the cycle closed is not checked again, so the oracle allows any waiter of it.
   */
  protected victimOf(cycle: readonly Client<S>[]): Client<S> {
    return cycle.reduce((a, b) => (b.pending!.since < a.pending!.since ? b : a));
  }
}

const isPgLevel = (l: string): l is PgLevel => (pgLevels as readonly string[]).includes(l);
