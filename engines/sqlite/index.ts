// SQLite in WAL mode as an mvcc engine (the sqlite flavour), through better-sqlite3: a private temporary directory,
// a fresh database file per sequence, one connection per client and one more that only checkpoints. Every
// connection has busy_timeout 0 (SQLITE_BUSY at once, never a wait: docs/research/sqlite-wal.md, surprise 1) and
// wal_autocheckpoint 0 (only the sequence's own checkpoints run; the default 1000 frames is per connection), and
// synchronous OFF (durability is not under test, and no lock depends on it). SQLite's result codes are observations;
// anything else it throws is an engine failure.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import {
  atProcessEnd,
  type Engine,
  type EngineFactory,
  EngineFailure,
  InputError,
  runRoot,
  type SystemEngine,
} from "../../core/index.ts";
import type { CheckpointRow, MvccGeometry, MvccObs, MvccOp, MvccResult } from "../../models/mvcc/types.ts";
import { checkpointModes } from "../../models/mvcc/types.ts";
import type { WalIndex } from "../../views/mvcc/wal-index.ts";
import { optionalPackage } from "../optional.ts";

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;
/** better-sqlite3, loaded on first use (a missing or unbuilt native addon must not break the other engines). */
function betterSqlite3(): { Database?: typeof BetterSqlite3; why?: string } {
  const r = optionalPackage<typeof BetterSqlite3>("better-sqlite3", "^12", (Database) => {
    new Database(":memory:").close(); // loads the native addon, which compiles on install (python3, make, g++)
  });
  return { Database: r.module, why: r.why };
}

/** The wal-index view from the -shm file's bytes (walformat.html; native byte order: a little-endian machine). */
function readWalIndex(shm: Buffer): WalIndex {
  const mark = (i: number) => {
    const m = shm.readUInt32LE(100 + 4 * i);
    return m === 0xffffffff ? null : m;
  };
  return {
    mxFrame: shm.readUInt32LE(16),
    nBackfill: shm.readUInt32LE(96),
    marks: [mark(1), mark(2), mark(3), mark(4)],
  };
}

/** Why SQLite cannot be an engine here (to follow "it "), or undefined. */
export function sqliteUnavailable(): string | undefined {
  return betterSqlite3().why;
}

/** The SQL of each op (the postgres engine's statements). */
const SQL = {
  deferred: "BEGIN DEFERRED",
  immediate: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  abort: "ROLLBACK",
  read: "SELECT v FROM t WHERE k = ? ORDER BY v",
  scan: "SELECT k, v FROM t WHERE k BETWEEN ? AND ? ORDER BY k, v",
  insert: "INSERT INTO t VALUES (?, ?)",
  add: "UPDATE t SET v = v + ? WHERE k = ?",
  set: "UPDATE t SET v = COALESCE(?, v) WHERE k = ?",
  delete: "DELETE FROM t WHERE k = ?",
  addWhere: "UPDATE t SET v = v + ? WHERE k BETWEEN ? AND ? AND (? IS NULL OR v = ?)",
  setWhere: "UPDATE t SET v = COALESCE(?, v) WHERE k BETWEEN ? AND ? AND (? IS NULL OR v = ?)",
  deleteWhere: "DELETE FROM t WHERE k BETWEEN ? AND ? AND (? IS NULL OR v = ?)",
} as const;
type Prepared = Record<keyof typeof SQL, Statement>;

/** Result codes that are observations: any statement's, and SQLITE_ERROR of BEGIN, COMMIT and ROLLBACK (no transaction, or one already). */
const OBSERVED = new Set(["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_CONSTRAINT_PRIMARYKEY"]);
const ok = { ok: true } as const;

/** One sequence: a fresh database file in WAL mode with an empty WAL, a connection per client. */
export class SqliteEngine implements Engine<MvccOp, MvccObs> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set(["wal-index"]);
  private readonly conns = new Map<number, Prepared & { db: Database }>();
  private readonly checkpointer: Database;
  private readonly checkpoints: Record<(typeof checkpointModes)[number], Statement>;

  /** `clients`: the connections to open at once, while the WAL is empty (see below). */
  constructor(
    private readonly file: string,
    clients = 0,
  ) {
    this.checkpointer = this.open();
    this.checkpointer.pragma("journal_mode = WAL");
    this.checkpointer.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)");
    this.checkpoints = Object.fromEntries(
      checkpointModes.map((m) => [m, this.checkpointer.prepare(`PRAGMA wal_checkpoint(${m.toUpperCase()})`)]),
    ) as SqliteEngine["checkpoints"];
    // start from an empty WAL, as the model does: nothing in it, nothing backfilled
    const start = this.checkpoints.truncate.get() as CheckpointRow;
    if (start.busy || start.log || start.checkpointed)
      throw new EngineFailure("start", `the fresh database's WAL did not empty: ${JSON.stringify(start)}`);
    // every client's connection now: preparing its statements reads the schema, a read transaction of its own, and
    // one begun later would take a read mark the model knows nothing of (found with the wal-index view)
    for (let tx = 1; tx <= clients; tx++) this.conn(tx);
  }

  private open(): Database {
    const db = new (betterSqlite3().Database!)(this.file, { timeout: 0 });
    db.pragma("wal_autocheckpoint = 0");
    db.pragma("synchronous = OFF");
    return db;
  }

  /** A client's connection, its statements prepared before it runs any (so no schema read happens inside its transactions). */
  private conn(tx: number): Prepared & { db: Database } {
    let c = this.conns.get(tx);
    if (!c) {
      const db = this.open();
      const prepared = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, db.prepare(sql)])) as Prepared;
      prepared.read.pluck();
      prepared.scan.raw();
      c = { db, ...prepared };
      this.conns.set(tx, c);
    }
    return c;
  }

  apply(op: MvccOp): MvccObs {
    if (op.op === "checkpoint") return { checkpoint: this.checkpoints[op.mode].get() as CheckpointRow };
    if (op.op === "vacuum")
      throw new InputError("vacuum is an op of the postgres flavour; SQLite's engine runs the sqlite flavour");
    if (op.op === "begin" && ((op.level !== "deferred" && op.level !== "immediate") || op.readOnly)) {
      throw new InputError(
        `BEGIN ${op.level}${op.readOnly ? " READ ONLY" : ""} is PostgreSQL's; SQLite's engine runs the sqlite flavour`,
      );
    }
    const c = this.conn(op.tx);
    try {
      return this.statement(c, op);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (e instanceof betterSqlite3().Database!.SqliteError) {
        if (OBSERVED.has(e.code)) return { error: e.code as "SQLITE_BUSY" };
        if (e.code === "SQLITE_ERROR" && (op.op === "begin" || op.op === "commit" || op.op === "abort"))
          return { error: "SQLITE_ERROR" };
      }
      throw new EngineFailure(
        "error",
        `SQLite answered ${JSON.stringify(op)} with ${typeof code === "string" ? code : "an error"}: ${(e as Error).message}`,
      );
    }
  }

  private statement(c: Prepared, op: Exclude<MvccOp, { op: "checkpoint" | "vacuum" }>): MvccResult {
    switch (op.op) {
      case "begin":
        c[op.level as "deferred" | "immediate"].run();
        return ok;
      case "commit":
      case "abort":
        c[op.op].run();
        return ok;
      case "read":
        return { values: c.read.all(op.key) as number[] };
      case "scan":
        return { rows: c.scan.all(op.lo, op.hi) as [number, number][] };
      case "insert":
        return { count: c.insert.run(op.key, op.value).changes };
      case "update":
        return {
          count: (op.add !== undefined ? c.add.run(op.add, op.key) : c.set.run(op.value ?? null, op.key)).changes,
        };
      case "delete":
        return { count: c.delete.run(op.key).changes };
      case "updateWhere": {
        const where = [op.lo, op.hi, op.eq ?? null, op.eq ?? null];
        return {
          count: (op.add !== undefined ? c.addWhere.run(op.add, ...where) : c.setWhere.run(op.value ?? null, ...where))
            .changes,
        };
      }
      case "deleteWhere":
        return { count: c.deleteWhere.run(op.lo, op.hi, op.eq ?? null, op.eq ?? null).changes };
    }
  }

  /** The "wal-index" view: the -shm file's header and checkpoint info, read as walformat.html lays them out. */
  inspectView(name: string): WalIndex {
    if (name !== "wal-index") throw new EngineFailure("protocol", `the sqlite engine has no view "${name}"`);
    return readWalIndex(readFileSync(`${this.file}-shm`).subarray(0, 136));
  }

  close(): void {
    for (const c of this.conns.values()) c.db.close();
    this.checkpointer.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(this.file + suffix, { force: true });
  }
}

/** The factory: one private directory for a whole run, a fresh database file per sequence. */
export function sqliteFactory(): EngineFactory {
  let dir: { path: string; forget: () => void } | undefined;
  let sequences = 0;
  const remove = (): void => {
    if (!dir) return;
    dir.forget();
    rmSync(dir.path, { recursive: true, force: true });
    dir = undefined;
  };
  return {
    name: "mvcc:sqlite",
    create(geometry) {
      if ((geometry as MvccGeometry).flavour !== "sqlite")
        throw new InputError(
          'the sqlite engine runs the mvcc layer\'s sqlite flavour: --geometry \'{"flavour":"sqlite"}\'',
        );
      if (!dir) {
        const path = mkdtempSync(join(runRoot(), "sqlite-"));
        dir = { path, forget: atProcessEnd(() => rmSync(path, { recursive: true, force: true })) };
      }
      return new SqliteEngine(join(dir.path, `db-${sequences++}.sqlite`), (geometry as MvccGeometry).txs);
    },
    dispose: remove,
  };
}

/** SQLite, for the mvcc layer's sqlite flavour. */
export const sqliteEngine: SystemEngine = {
  name: "sqlite",
  description:
    "SQLite in WAL mode through better-sqlite3 (engines/sqlite), the sqlite flavour: a fresh database file per sequence",
  unavailable: sqliteUnavailable,
  // six clients: enough snapshots at once to share read marks (there are four)
  geometry: { txs: 6 },
  fixedGeometry: { flavour: "sqlite" },
  views: ["wal-index"],
  factory: () => sqliteFactory(),
};
