// MariaDB (InnoDB) as an mvcc engine for the innodb flavour: a private server (engines/mariadb/server.ts) or
// COWCHECK_MYSQL_URL's. One connection per client; a statement that waits on a lock is recognised from the
// TRANSACTIONS section of SHOW ENGINE INNODB STATUS (live; information_schema.INNODB_TRX is a cache refreshed only
// after 100 ms without readers), never by a sleep. A monitor connection holds a read view from the sequence's start,
// so that purge removes nothing the sequence deletes (the model has no purge: docs/innodb.md).
import type mysql from "mysql2/promise";
import { type Engine, type EngineFactory, EngineFailure, InputError, type SystemEngine } from "../../core/index.ts";
import type { MvccGeometry, MvccObs, MvccOp, MvccResult, SqlState } from "../../models/mvcc/types.ts";
import { SQLSTATES } from "../../models/mvcc/types.ts";
import { serverFactory, withWoken } from "../servers.ts";
import { MariadbServer, mariadbUnavailable, mysqlDriver } from "./server.ts";

interface Conn {
  readonly conn: mysql.Connection;
  readonly thread: number;
  pending?: { settled?: MvccResult; failure?: unknown };
}

const LEVELS: Record<string, string> = { rc: "READ COMMITTED", rr: "REPEATABLE READ", ser: "SERIALIZABLE" };
const DATABASE = "cowcheck";

/** One sequence: a fresh table, a connection per client, a monitor that holds purge back and watches the waits. */
export class MariadbEngine implements Engine<MvccOp, MvccObs> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set<string>();
  private readonly conns = new Map<number, Conn>();
  private settledCount = 0;
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly monitor: mysql.Connection,
    private readonly geometry: MvccGeometry,
  ) {}

  static async start(url: string, geometry: MvccGeometry): Promise<MariadbEngine> {
    const { createConnection } = mysqlDriver().module!;
    const monitor = await createConnection({ uri: url, multipleStatements: true });
    try {
      await monitor.query(
        `CREATE DATABASE IF NOT EXISTS ${DATABASE}; USE ${DATABASE}; DROP TABLE IF EXISTS t;
         CREATE TABLE t (k INT PRIMARY KEY, v INT) ENGINE=InnoDB;
         START TRANSACTION WITH CONSISTENT SNAPSHOT`,
      );
    } catch (e) {
      monitor.destroy();
      throw e;
    }
    return new MariadbEngine(url, monitor, geometry);
  }

  private async conn(tx: number): Promise<Conn> {
    let c = this.conns.get(tx);
    if (!c) {
      const { createConnection } = mysqlDriver().module!;
      const conn = await createConnection({ uri: inDatabase(this.url), multipleStatements: false });
      conn.on("error", () => undefined); // close() kills the session
      c = { conn, thread: conn.threadId };
      this.conns.set(tx, c); // held from now on: close() ends it whatever follows
      const si = this.geometry.snapshotIsolation ? "ON" : "OFF";
      await conn.query(`SET SESSION innodb_snapshot_isolation = ${si}, SESSION innodb_lock_wait_timeout = 3600`);
    }
    return c;
  }

  async apply(op: MvccOp): Promise<MvccObs> {
    if (op.op === "vacuum" || op.op === "checkpoint")
      throw new InputError(`${op.op} is not an op of the innodb flavour: purge runs by itself (docs/innodb.md)`);
    if (op.op === "begin" && !LEVELS[op.level])
      throw new InputError(`BEGIN ${op.level} is SQLite's; InnoDB's levels are ${Object.keys(LEVELS).join(", ")}`);
    const c = await this.conn(op.tx);
    if (c.pending) return { skipped: true };
    const pending: NonNullable<Conn["pending"]> = {};
    c.pending = pending;
    this.statement(c, op).then(
      (r) => {
        pending.settled = r;
        this.settledCount++;
      },
      (e: unknown) => {
        pending.failure = e;
      },
    );
    const deadline = Date.now() + 5000;
    for (;;) {
      if (pending.failure) throw pending.failure;
      if (pending.settled) {
        c.pending = undefined;
        return this.settle(pending.settled);
      }
      if (Date.now() > deadline)
        throw new EngineFailure("hang", `${JSON.stringify(op)} neither finished nor waited on a lock within 5 s`);
      const before = this.settledCount;
      const waiting = await this.waiting();
      if (!pending.settled && this.settledCount === before && waiting?.has(c.thread))
        return this.settle({ blocked: true }, c);
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * The threads whose transaction waits for a lock now (SHOW ENGINE INNODB STATUS, TRANSACTIONS), if every waiting
   * transaction on the server has had its deadlock check: lock_wait() runs Deadlock::check_and_resolve before it
   * counts the wait in Innodb_row_lock_current_waits, so while the two disagree a victim may be about to be chosen
   * (undefined: look again).
   */
  private async waiting(): Promise<Set<number> | undefined> {
    const sleeping = async () =>
      Number(
        (
          (await this.monitor.query("SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_current_waits'"))[0] as {
            Value: string;
          }[]
        )[0]!.Value,
      );
    const before = await sleeping();
    const [rows] = await this.monitor.query("SHOW ENGINE INNODB STATUS");
    const after = await sleeping();
    const status = String((rows as { Status: string }[])[0]!.Status);
    const section = status.slice(status.indexOf("\nTRANSACTIONS\n"));
    const threads = new Set<number>();
    let waits = 0;
    for (const block of section.split("---TRANSACTION ").slice(1)) {
      if (!/\nLOCK WAIT /.test(block)) continue;
      waits++;
      const thread = /MariaDB thread id (\d+)/.exec(block);
      if (thread) threads.add(Number(thread[1]));
    }
    return before === waits && after === waits ? threads : undefined;
  }

  /**
   * After an op, wait until every statement still pending waits on a lock, and collect the answers of the woken: the
   * op's observation lists them by client.
   */
  private async settle(obs: MvccObs, own?: Conn): Promise<MvccObs> {
    const deadline = Date.now() + 5000;
    // stuck: every statement still pending waits on a lock, seen twice in a row with no answer between (once in about
    // 20,000 ops a woken statement was seen waiting and then finished without any other op)
    let seen = "";
    for (;;) {
      const failed = [...this.conns.values()].find((c) => c.pending?.failure);
      if (failed) throw failed.pending!.failure;
      const before = this.settledCount;
      const waiting = await this.waiting();
      if (this.settledCount !== before) continue;
      const running = [...this.conns.values()].filter((c) => c.pending && !c.pending.settled);
      const look = waiting && running.every((c) => waiting.has(c.thread)) ? `${before}:${[...waiting].sort()}` : "";
      if (look && look === seen) break;
      seen = look;
      if (Date.now() > deadline)
        throw new EngineFailure("hang", "a statement neither finished nor waited on a lock within 5 s");
      await new Promise((r) => setTimeout(r, 1));
    }
    if (own?.pending?.settled) {
      const mine = own.pending.settled;
      own.pending = undefined;
      return this.settle(mine);
    }
    return withWoken(obs, this.conns);
  }

  private async statement(c: Conn, op: Exclude<MvccOp, { op: "vacuum" | "checkpoint" }>): Promise<MvccResult> {
    const q = async (sql: string, args: unknown[] = []) => (await c.conn.query(sql, args))[0];
    const affected = (r: unknown): MvccResult => ({ count: (r as mysql.ResultSetHeader).affectedRows });
    try {
      switch (op.op) {
        case "begin":
          // SET TRANSACTION inside a transaction fails (ER_CANT_CHANGE_TX_CHARACTERISTICS) and nothing begins
          await q(`SET TRANSACTION ISOLATION LEVEL ${LEVELS[op.level]}`);
          await q(`START TRANSACTION${op.readOnly ? " READ ONLY" : ""}`);
          return { ok: true };
        case "commit":
          await q("COMMIT");
          return { ok: true };
        case "abort":
          await q("ROLLBACK");
          return { ok: true };
        case "read":
          return { values: ((await q("SELECT v FROM t WHERE k = ?", [op.key])) as { v: number }[]).map((r) => r.v) };
        case "scan":
          return {
            rows: (
              (await q("SELECT k, v FROM t WHERE k BETWEEN ? AND ? ORDER BY k", [op.lo, op.hi])) as {
                k: number;
                v: number;
              }[]
            ).map((r) => [r.k, r.v] as [number, number]),
          };
        case "insert":
          return affected(await q("INSERT INTO t VALUES (?, ?)", [op.key, op.value]));
        case "update":
          // the primary key forced: with no hint the optimizer now and then scanned the table (its statistics are
          // recalculated in the background), and a scanning UPDATE at READ COMMITTED reads semi-consistently,
          // passing over a row another transaction holds where a search by key waits for it
          return affected(
            op.add !== undefined
              ? await q("UPDATE t FORCE INDEX (PRIMARY) SET v = v + ? WHERE k = ?", [op.add, op.key])
              : await q("UPDATE t FORCE INDEX (PRIMARY) SET v = COALESCE(?, v) WHERE k = ?", [
                  op.value ?? null,
                  op.key,
                ]),
          );
        case "delete":
          return affected(await q("DELETE FROM t WHERE k = ?", [op.key]));
        case "updateWhere":
        case "deleteWhere": {
          // a range scan of the primary key (the model's plan), whatever the statistics say: FORCE INDEX for UPDATE;
          // a single-table DELETE takes no index hint, and ORDER BY k makes the primary key its plan
          const eq = op.eq === undefined ? "" : " AND v = ?";
          const where = [op.lo, op.hi, ...(op.eq === undefined ? [] : [op.eq])];
          if (op.op === "deleteWhere")
            return affected(await q(`DELETE FROM t WHERE k BETWEEN ? AND ?${eq} ORDER BY k`, where));
          return affected(
            op.add !== undefined
              ? await q(`UPDATE t FORCE INDEX (PRIMARY) SET v = v + ? WHERE k BETWEEN ? AND ?${eq}`, [op.add, ...where])
              : await q(`UPDATE t FORCE INDEX (PRIMARY) SET v = COALESCE(?, v) WHERE k BETWEEN ? AND ?${eq}`, [
                  op.value ?? null,
                  ...where,
                ]),
          );
        }
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (this.closed) return { error: "ER_LOCK_DEADLOCK" }; // the session was killed by close(): nobody reads this
      if (code && (SQLSTATES as readonly string[]).includes(code)) return { error: code as SqlState };
      throw new EngineFailure(
        "error",
        `MariaDB answered ${JSON.stringify(op)} with ${code ?? "an error"}: ${(e as Error).message}`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // kill every session, waiting or not: that rolls back their transactions and releases their locks
    for (const c of this.conns.values()) await this.monitor.query(`KILL ${c.thread}`).catch(() => undefined);
    for (const c of this.conns.values()) c.conn.destroy(); // killed: nothing to say goodbye to
    await this.monitor.end().catch(() => this.monitor.destroy());
  }
}

/** The url with the sequence's database. */
const inDatabase = (base: string): string => {
  const u = new URL(base);
  u.pathname = `/${DATABASE}`;
  return u.toString();
};

/** The factory: one server for a whole run, a fresh table and connections per sequence. */
export const mariadbFactory = (): EngineFactory =>
  serverFactory("mvcc:innodb", MariadbServer.start, (server, g) => MariadbEngine.start(server.url, g as MvccGeometry));

/** MariaDB's InnoDB, for the mvcc layer's innodb flavour. */
export const innodbEngine: SystemEngine = {
  name: "innodb",
  description: "MariaDB's InnoDB (engines/mariadb): a private server it starts, or COWCHECK_MYSQL_URL",
  unavailable: mariadbUnavailable,
  geometry: { flavour: "innodb" },
  factory: () => mariadbFactory(),
};
