// PostgreSQL as an mvcc engine: a private server this engine starts itself (initdb and pg_ctl, as the postgres user,
// in a temporary directory, listening on 127.0.0.1 only, on a free port), or an existing one given by
// COWCHECK_PG_URL. One connection per client; a statement that waits on a lock is recognised from pg_stat_activity
// and pg_blocking_pids, never by a sleep, and the op that ends a wait reports whom it woke.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import {
  atProcessEnd,
  type Engine,
  type EngineFactory,
  EngineFailure,
  InputError,
  runRoot,
  type SystemEngine,
} from "../../core/index.ts";
import type { MvccObs, MvccOp, MvccResult, SqlState, WhereOp } from "../../models/mvcc/types.ts";
import { SQLSTATES } from "../../models/mvcc/types.ts";
import type { HeapView } from "../../views/mvcc/heap.ts";
import { optionalPackage } from "../optional.ts";
import { freePort, runGroup, serverFactory, withWoken } from "../servers.ts";

const BIN = "/usr/lib/postgresql";

/** The server's bin directory (the newest installed PostgreSQL), if any. */
function pgBin(): string | undefined {
  if (!existsSync(BIN)) return undefined;
  const versions = readdirSync(BIN)
    .filter((v) => existsSync(join(BIN, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(BIN, versions[0]!, "bin") : undefined;
}

/** Why PostgreSQL cannot be an engine here (to follow "it "), or undefined. */
export function postgresUnavailable(): string | undefined {
  const driver = driverMissing();
  if (driver) return driver;
  if (process.env.COWCHECK_PG_URL) return undefined;
  if (!pgBin()) return "needs PostgreSQL's server (apt-get install -y postgresql) or COWCHECK_PG_URL";
  if (process.getuid?.() !== 0) return "needs root to run its private server as the postgres user (or COWCHECK_PG_URL)";
  if (spawnSync("id", ["postgres"], { stdio: "ignore" }).status !== 0)
    return "needs the postgres user (from the postgresql package)";
  return undefined;
}

/** node-postgres, loaded on first use. */
const driver = () => optionalPackage<typeof pg>("pg", "^8");
const driverMissing = (): string | undefined => driver().why;
const Client = (): typeof pg.Client => driver().module!.Client;

const asPostgres = (args: string[]) => spawnSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8" });

/**
 * A command as the postgres user, run without blocking: in a session and process group of its own (a Ctrl-C at the
 * terminal does not reach it; cowcheck stops it), held as an engine group while it runs.
 */
function asPostgresAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runGroup(["runuser", "-u", "postgres", "--", ...args]);
}

/**
 * Shared memory a PostgreSQL server no longer running left behind (one killed where its own cleanup could not run):
 * System V segments of the postgres user that nothing attaches and whose creator is gone (a running server keeps its
 * segment attached), and, only while no process of the postgres user runs at all, its dynamic segments in /dev/shm
 * a minute old (a running server may keep one there that no process maps, pinned). Our servers keep theirs in the
 * data folder (dynamic_shared_memory_type=mmap); initdb's bootstrap backend cannot be told so, and an initdb killed
 * midway leaves its segments in /dev/shm.
 */
export function sweepOrphanMemory(uid: number): { segments: number; files: number } {
  let segments = 0;
  let files = 0;
  if (!(uid > 0)) return { segments, files }; // no postgres user: nothing of ours to sweep (never root's)
  try {
    // key shmid perms size cpid lpid nattch uid …
    for (const line of readFileSync("/proc/sysvipc/shm", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/).map(Number);
      if (f.length < 8 || f[7] !== uid || f[6] !== 0 || existsSync(`/proc/${f[4]}`)) continue;
      if (spawnSync("ipcrm", ["-m", String(f[1])]).status === 0) segments++;
    }
  } catch {
    // no System V IPC here: nothing to sweep
  }
  try {
    const running = readdirSync("/proc").some(
      (d) => /^\d+$/.test(d) && statSync(`/proc/${d}`, { throwIfNoEntry: false })?.uid === uid,
    );
    if (running) return { segments, files };
    for (const n of readdirSync("/dev/shm")) {
      const st = n.startsWith("PostgreSQL.") ? statSync(join("/dev/shm", n), { throwIfNoEntry: false }) : undefined;
      if (st?.uid !== uid || Date.now() - st.mtimeMs < 60_000) continue;
      rmSync(join("/dev/shm", n), { force: true });
      files++;
    }
  } catch {
    // no /dev/shm here: nothing to sweep
  }
  return { segments, files };
}

/** A private server, stopped and removed on every path (dispose, exit, signals). */
class Server {
  private constructor(
    public url: string,
    private readonly dir: string | undefined,
  ) {}

  static async start(): Promise<Server> {
    if (process.env.COWCHECK_PG_URL) return new Server(process.env.COWCHECK_PG_URL, undefined);
    const bin = pgBin()!;
    const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const uid = id.status === 0 ? Number(id.stdout) : Number.NaN;
    sweepOrphanMemory(uid);
    const dir = mkdtempSync(join(runRoot(), "pg-"));
    chmodSync(dir, 0o700);
    chownSync(dir, uid, Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout));
    const server = new Server("", dir); // its url once it listens
    // if this process dies unseen, its watchdog stops the server (core/cleanup.ts)
    const stop = [join(bin, "pg_ctl"), "-D", join(dir, "data"), "-m", "immediate", "-w", "stop"];
    server.forget = atProcessEnd(() => server.stop(), ["runuser", "-u", "postgres", "--", ...stop]);
    const init = await asPostgresAsync([
      join(bin, "initdb"),
      "-D",
      join(dir, "data"),
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
    ]);
    if (init.status !== 0) throw server.fail(`initdb failed: ${init.stderr}`);
    const port = await freePort();
    // deadlock_timeout stays 1 s: the first waiter's check runs after the cycle closes (ops come faster), so it is
    // the victim, as the model says; with a short timeout its check could run before, and the victim would vary
    // dynamic shared memory in the data folder, so that it goes with the folder however the server ends
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c deadlock_timeout=1s -c autovacuum=off -c dynamic_shared_memory_type=mmap`;
    const start = await asPostgresAsync([
      join(bin, "pg_ctl"),
      "-D",
      join(dir, "data"),
      "-o",
      opts,
      "-l",
      join(dir, "log"),
      "-w",
      "start",
    ]);
    if (start.status !== 0) throw server.fail(`pg_ctl start failed: ${start.stderr}${start.stdout}`);
    server.url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    return server;
  }

  private fail(message: string): EngineFailure {
    this.stop();
    return new EngineFailure("start", `the PostgreSQL engine could not start its server: ${message.trim()}`);
  }

  /** Drops the last-resort cleanup once stop() has run. */
  private forget: () => void = () => undefined;

  stop(): void {
    this.forget();
    if (!this.dir) return;
    if (existsSync(join(this.dir, "data", "postmaster.pid")))
      asPostgres([join(pgBin()!, "pg_ctl"), "-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface Conn {
  readonly client: pg.Client;
  readonly pid: number;
  /** The statement running (it may wait on a lock), with its result once it has one. */
  pending?: { settled?: MvccResult; order?: number; failure?: unknown };
  /** Its transaction failed (an error aborted it): it holds no locks, or is releasing them right now. */
  failed: boolean;
}

/** One sequence: a fresh table, a connection per client, a monitor connection that watches the waits. */
export class PostgresEngine implements Engine<MvccOp, MvccObs> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string>;
  private readonly conns = new Map<number, Conn>();
  private settledCount = 0;

  /** `base`: the xid before the sequence's first one (the model's xid 1 is base + 1); undefined without pageinspect. */
  private constructor(
    private readonly url: string,
    private readonly monitor: pg.Client,
    private readonly base: number | undefined,
  ) {
    this.features = new Set(base === undefined ? [] : ["heap"]);
  }

  static async start(url: string): Promise<PostgresEngine> {
    const monitor = new (Client())({ connectionString: url });
    await monitor.connect();
    await monitor.query(
      "DROP TABLE IF EXISTS t; CREATE TABLE t (k int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)",
    );
    let base: number | undefined;
    try {
      // the heap view reads pages with pageinspect (superuser); a server without it runs without the view
      await monitor.query("CREATE EXTENSION IF NOT EXISTS pageinspect");
      base = Number((await monitor.query("SELECT txid_current() % 4294967296 AS x")).rows[0].x);
    } catch {
      base = undefined;
    }
    return new PostgresEngine(url, monitor, base);
  }

  /** The "heap" view: every tuple in t's pages (heap_page_items), xids numbered from the sequence's start. */
  async inspectView(name: string): Promise<HeapView> {
    if (name !== "heap" || this.base === undefined)
      throw new EngineFailure("protocol", `the postgres engine has no view "${name}"`);
    const base = this.base;
    await this.untilAborted();
    const r = await this.monitor.query(
      // a row lock (HEAP_XMAX_LOCK_ONLY, 0x80: EvalPlanQual's lock, carried to the new version as KEY SHARE) is no
      // deleter: the view reports xmax 0 for it, as the model, which has no row locks but through xmax, does
      `SELECT t_xmin::text::bigint AS xmin, CASE WHEN t_infomask & 128 <> 0 THEN 0 ELSE t_xmax::text::bigint END AS xmax, t_data
         FROM generate_series(0, pg_relation_size('t') / current_setting('block_size')::int - 1) AS b,
              heap_page_items(get_raw_page('t', b::int))
        WHERE lp_flags = 1`,
    );
    const versions = r.rows.map((row: { xmin: string; xmax: string; t_data: Buffer }) => ({
      key: row.t_data.readInt32LE(0),
      value: row.t_data.readInt32LE(4),
      xmin: Number(row.xmin) - base,
      xmax: Number(row.xmax) === 0 ? 0 : Number(row.xmax) - base,
    }));
    const xids = [
      ...new Set(
        versions.flatMap((v: { xmin: number; xmax: number }) => [v.xmin, v.xmax]).filter((x: number) => x > 0),
      ),
    ];
    const fates = await this.monitor.query(
      "SELECT x, txid_status(x + $1::bigint) AS s FROM unnest($2::bigint[]) AS x",
      [base, xids],
    );
    const clog: HeapView["clog"] = {};
    for (const f of fates.rows as { x: string; s: string }[])
      if (f.s === "committed" || f.s === "aborted") clog[String(f.x)] = f.s;
    return { versions, clog };
  }

  private async conn(tx: number): Promise<Conn> {
    let c = this.conns.get(tx);
    if (!c) {
      const client = new (Client())({ connectionString: this.url });
      client.on("error", () => undefined); // a session close() terminates
      await client.connect();
      // sequential scans only: SERIALIZABLE then takes the table-level SIREAD locks the model mirrors (docs/mvcc.md)
      await client.query("SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off");
      const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      c = { client, pid, failed: false };
      this.conns.set(tx, c);
    }
    return c;
  }

  async apply(op: MvccOp): Promise<MvccObs> {
    if (op.op === "vacuum") {
      await this.vacuum();
      return this.settle({ ok: true });
    }
    if (op.op === "checkpoint")
      throw new InputError("checkpoint is an op of the sqlite flavour; PostgreSQL has none like it");
    if (op.op === "begin" && !LEVELS[op.level])
      throw new InputError(`BEGIN ${op.level} is SQLite's; PostgreSQL's levels are ${Object.keys(LEVELS).join(", ")}`);
    const c = await this.conn(op.tx);
    if (c.pending) return { skipped: true };
    const run = this.statement(c, op);
    const pending: NonNullable<Conn["pending"]> = {};
    c.pending = pending;
    run.then(
      (r) => {
        // an error leaves the transaction failed (holding nothing) until it ends; COMMIT and ROLLBACK end it whatever
        // they answer (a COMMIT that SSI refuses rolls back), and any other answer means it is not failed
        c.failed = "error" in r && op.op !== "commit" && op.op !== "abort";
        pending.settled = r;
        pending.order = this.settledCount++;
      },
      (e: unknown) => {
        pending.failure = e;
      },
    );
    // the statement finishes, or waits on a lock: whichever pg_stat_activity shows first. Most answer within a round
    // trip: that long, the answer is awaited before pg_stat_activity is asked at all.
    await Promise.race([run.then(noop, noop), new Promise((r) => setTimeout(r, ANSWER_MS))]);
    const deadline = Date.now() + 5000;
    for (;;) {
      if (pending.failure) throw pending.failure;
      if (Date.now() > deadline)
        throw new EngineFailure("hang", `${JSON.stringify(op)} neither finished nor waited on a lock within 5 s`);
      if (c.pending.settled) {
        const r = c.pending.settled;
        c.pending = undefined;
        return this.settle(r);
      }
      const before = this.settledCount;
      const act = await this.activity();
      if (!c.pending.settled && this.settledCount === before && this.waiting(c, act)) {
        // it waits; but breaking a deadlock it closed may let it finish before the op is over
        const obs = await this.settle({ blocked: true }, c);
        return obs;
      }
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Wait until every session whose statement failed has finished aborting its transaction. A backend sends the error
   * before it aborts (PostgresMain's error recovery: EmitErrorReport, then AbortCurrentTransaction), so for a moment
   * the client has the error while txid_status still says "in progress" (seen on a loaded machine). The session is
   * "active" in pg_stat_activity until the abort is done, then "idle in transaction (aborted)" or "idle".
   */
  private async untilAborted(): Promise<void> {
    const pids = [...this.conns.values()].filter((c) => c.failed && !c.pending).map((c) => c.pid);
    const deadline = Date.now() + 5000;
    while (pids.length) {
      const r = await this.monitor.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active'",
        [pids],
      );
      if (r.rows[0].n === 0) return;
      if (Date.now() > deadline)
        throw new EngineFailure("hang", "a session whose statement failed did not finish aborting within 5 s");
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** The session VACUUM runs in (opened at the sequence's first vacuum), so that the monitor can watch it. */
  private vacuumer?: { readonly client: pg.Client; readonly pid: number };

  /**
   * VACUUM t. Where it leaves the table's page empty while a session holds a lock on t, lazy_truncate_heap retries
   * ConditionalLockRelation for VACUUM_TRUNCATE_LOCK_TIMEOUT (5 s), then gives up truncating; the engine cancels it
   * at its first wait between tries (wait event VacuumTruncate) instead. By then it has done what it does when it
   * gives up, but for pg_class's statistics: the pruning, and the xid its first try took (an AccessExclusiveLock is
   * WAL-logged under one, LogAccessExclusiveLockPrepare). The heap view compares both with the model after every op.
   */
  private async vacuum(): Promise<void> {
    if (!this.vacuumer) {
      const client = new (Client())({ connectionString: this.url });
      client.on("error", () => undefined);
      await client.connect();
      const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      this.vacuumer = { client, pid };
    }
    const { client, pid } = this.vacuumer;
    let cancelled = false;
    let done = false;
    const run = client.query("VACUUM t").then(
      () => {
        done = true;
      },
      (e: { code?: string }) => {
        done = true;
        if (!cancelled || e.code !== "57014") throw e; // 57014: query_canceled, by the engine
      },
    );
    try {
      while (!done) {
        await Promise.race([run, new Promise((r) => setTimeout(r, ANSWER_MS))]);
        if (done) break;
        const r = await this.monitor.query("SELECT wait_event FROM pg_stat_activity WHERE pid = $1", [pid]);
        if (r.rows[0]?.wait_event === "VacuumTruncate") {
          cancelled = true;
          await this.monitor.query("SELECT pg_cancel_backend($1)", [pid]);
          break;
        }
      }
    } catch (e) {
      run.catch(() => undefined); // the monitor failed: the VACUUM's own end (close terminates it) is nobody's error
      throw e;
    }
    await run;
  }

  /** What pg_stat_activity says of this engine's sessions: whether each waits on a lock, and on whom. */
  private async activity(): Promise<Map<number, number[] | undefined>> {
    const pids = [...this.conns.values()].map((c) => c.pid);
    const r = await this.monitor.query(
      "SELECT pid, wait_event_type, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE pid = ANY($1)",
      [pids],
    );
    return new Map(
      r.rows.map((x: { pid: number; wait_event_type: string | null; blockers: number[] }) => [
        x.pid,
        x.wait_event_type === "Lock" && x.blockers.length ? x.blockers : undefined,
      ]),
    );
  }

  /**
   * Whether the connection's statement waits on a lock for good: held by clients whose transactions are live and
   * idle, or waiting themselves. A wait on a transaction an error has just aborted, or on one whose statement is
   * still running, is about to change.
   */
  private waiting(c: Conn, a: Map<number, number[] | undefined>): boolean {
    const blockers = a.get(c.pid);
    if (!blockers) return false;
    const byPid = new Map([...this.conns.values()].map((x) => [x.pid, x]));
    return blockers.every((b) => {
      const x = byPid.get(b);
      if (!x) return false;
      if (x.failed) return false;
      return !x.pending || x.pending.settled !== undefined || a.get(b) !== undefined;
    });
  }

  /**
   * After an op, wait until every woken statement has its result, and no wait is part of a deadlock PostgreSQL has
   * yet to break (deadlock_timeout): the op's observation says whom it woke, in the order they finished.
   */
  private async settle(obs: MvccObs, own?: Conn): Promise<MvccObs> {
    const deadline = Date.now() + 5000;
    // once a deadlock is seen, wait for PostgreSQL to break it: until its victim has its answer
    let cycleAt: number | undefined;
    for (;;) {
      const failed = [...this.conns.values()].find((c) => c.pending?.failure);
      if (failed) throw failed.pending!.failure;
      const waiting = [...this.conns.entries()].filter(([, c]) => c.pending && !c.pending.settled);
      if (!waiting.length) break; // no statement waits: no lock wait or deadlock to look at
      // one look at pg_stat_activity decides; if an answer arrived meanwhile, that look is stale: look again
      const before = this.settledCount;
      const act = await this.activity();
      if (this.settledCount !== before) continue;
      let stuck = true;
      for (const [, c] of waiting) if (!this.waiting(c, act)) stuck = false;
      const cycle = this.cycle(act);
      if (cycle && cycleAt === undefined) cycleAt = this.settledCount;
      if (stuck && !cycle && (cycleAt === undefined || this.settledCount > cycleAt)) break;
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

  /** Whether the waits among this engine's clients form a cycle (a deadlock not broken yet). */
  private cycle(act: Map<number, number[] | undefined>): boolean {
    const visit = (p: number, seen: Set<number>): boolean => {
      if (seen.has(p)) return true;
      seen.add(p);
      const found = (act.get(p) ?? []).some((b) => visit(b, seen));
      seen.delete(p);
      return found;
    };
    return [...act.keys()].some((p) => visit(p, new Set()));
  }

  private async statement(c: Conn, op: Exclude<MvccOp, { op: "vacuum" | "checkpoint" }>): Promise<MvccResult> {
    try {
      switch (op.op) {
        case "begin":
          await c.client.query(`BEGIN ISOLATION LEVEL ${LEVELS[op.level]}${op.readOnly ? " READ ONLY" : ""}`);
          return { ok: true };
        case "commit": {
          const r = await c.client.query("COMMIT");
          return r.command === "ROLLBACK" ? { rolledBack: true } : { ok: true };
        }
        case "abort":
          await c.client.query("ROLLBACK");
          return { ok: true };
        case "read":
          return {
            values: (await c.client.query("SELECT v FROM t WHERE k = $1 ORDER BY v", [op.key])).rows.map(
              (r: { v: number }) => r.v,
            ),
          };
        case "scan":
          return {
            rows: (
              await c.client.query("SELECT k, v FROM t WHERE k BETWEEN $1 AND $2 ORDER BY k, v", [op.lo, op.hi])
            ).rows.map((r: { k: number; v: number }) => [r.k, r.v] as [number, number]),
          };
        case "insert":
          return { count: (await c.client.query("INSERT INTO t VALUES ($1, $2)", [op.key, op.value])).rowCount ?? 0 };
        case "update": {
          const sql =
            op.add !== undefined
              ? "UPDATE t SET v = v + $2 WHERE k = $1"
              : "UPDATE t SET v = COALESCE($2, v) WHERE k = $1";
          return { count: (await c.client.query(sql, [op.key, op.add ?? op.value ?? null])).rowCount ?? 0 };
        }
        case "delete":
          return { count: (await c.client.query("DELETE FROM t WHERE k = $1", [op.key])).rowCount ?? 0 };
        case "updateWhere":
        case "deleteWhere":
          return { count: await this.where(c, op) };
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (this.closed) return { error: "25P02" }; // the session was ended by close(): nobody reads this
      if (code && (SQLSTATES as readonly string[]).includes(code)) return { error: code as SqlState };
      throw new EngineFailure(
        "error",
        `PostgreSQL answered ${JSON.stringify(op)} with ${code ?? "an error"}: ${(e as Error).message}`,
      );
    }
  }

  /**
   * A write by predicate, planned as a scan of the primary key's index (the rows in key order, as the model visits
   * them; a sequential scan would visit them in heap order, which the oracle does not keep). The plan settings are
   * set around it in the same simple query (its numbers are the schema's integers, written in): inside a
   * transaction an error reverts them with it, and alone the query is one implicit transaction.
   */
  private async where(c: Conn, op: WhereOp): Promise<number> {
    const where = `k BETWEEN ${op.lo} AND ${op.hi}${op.eq === undefined ? "" : ` AND v = ${op.eq}`}`;
    const write =
      op.op === "deleteWhere"
        ? `DELETE FROM t WHERE ${where}`
        : `UPDATE t SET v = ${op.add !== undefined ? `v + ${op.add}` : (op.value ?? "v")} WHERE ${where}`;
    const results = (await c.client.query(
      `SET enable_seqscan = off; SET enable_indexscan = on; ${write}; SET enable_seqscan = on; SET enable_indexscan = off`,
    )) as unknown as { rowCount: number | null }[];
    return results[2]?.rowCount ?? 0;
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // end every session, waiting or not: terminating the backends releases every lock at once
    // (a VACUUM still running, when the run is stopped in the middle of one, ends with its session)
    const pids = [...this.conns.values(), ...(this.vacuumer ? [this.vacuumer] : [])].map((c) => c.pid);
    if (pids.length) await this.monitor.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [pids]);
    await Promise.all([...this.conns.values()].map((c) => c.client.end().catch(() => undefined)));
    await this.vacuumer?.client.end().catch(() => undefined);
    await this.monitor.end();
  }
}

/**
 * How long a statement's answer is awaited before pg_stat_activity is asked whether it waits on a lock: a few loopback
 * round trips (under 1 ms here). Only the cost of a statement that waits depends on it, never what is observed.
 */
const ANSWER_MS = 2;
const noop = (): void => undefined;

const LEVELS: Record<string, string> = { rc: "READ COMMITTED", rr: "REPEATABLE READ", ser: "SERIALIZABLE" };

/** The factory: one server for a whole run, a fresh table and connections per sequence. */
export const postgresFactory = (): EngineFactory =>
  serverFactory("mvcc:postgres", Server.start, (server) => PostgresEngine.start(server.url));

/** PostgreSQL, for the mvcc layer's postgres flavour. */
export const postgresEngine: SystemEngine = {
  name: "postgres",
  description: "PostgreSQL (engines/postgres): a private server it starts, or COWCHECK_PG_URL",
  unavailable: postgresUnavailable,
  views: ["heap"],
  factory: () => postgresFactory(),
};
