// The mvcc layer's vocabulary: transactions on a table t(k int primary key, v int), as PostgreSQL runs them.
import { z } from "zod";

export const mvccGeometrySchema = z
  .object({
    /** Keys the generator names (1..keys). */
    keys: z.number().int().min(1).max(64),
    /** Transactions the generator names at once (1..txs): one client connection each. */
    txs: z.number().int().min(1).max(16),
    /**
     * Whose MVCC: PostgreSQL's heap (the default), SQLite's WAL or InnoDB's undo chains (docs/mvcc.md,
     * docs/sqlite-wal.md, docs/innodb.md).
     */
    flavour: z.enum(["postgres", "sqlite", "innodb"]).optional(),
    /** innodb: every session runs with innodb_snapshot_isolation=ON (a write to a row its read view does not see fails). */
    snapshotIsolation: z.boolean().optional(),
  })
  .strict();
export type MvccGeometry = z.infer<typeof mvccGeometrySchema>;

export const defaultMvccGeometry: MvccGeometry = { keys: 4, txs: 3 };

/**
 * Bounds on every number an op can give (docs/mvcc.md, "Bounds"), checked by the schema before any work. Keys (and a
 * scan's lo and hi) are PostgreSQL's int4, as t's column is: a scan of all of them costs what the rows that exist
 * cost. Clients are connections, each with a server backend: 64 is four times the geometry's most and below
 * PostgreSQL's default max_connections (100).
 */
export const MVCC_MAX_KEY = 2 ** 31 - 1;
export const MVCC_MAX_TX = 64;
export const MVCC_MAX_VALUE = 1_000_000;
/**
 * The state a trace may grow, checked as it grows (exit 2): tuple versions in the PostgreSQL flavour's heap (every
 * statement's sequential scan and every check of the state pass them all; only VACUUM removes dead ones), and rows in
 * the SQLite flavour's table (its one b-tree page, which every write copies into a WAL frame).
 */
export const MVCC_MAX_VERSIONS = 4096;
export const MVCC_MAX_ROWS = 64;

const tx = z.number().int().min(1).max(MVCC_MAX_TX);
const key = z.number().int().min(1).max(MVCC_MAX_KEY);
const value = z.number().int().min(-MVCC_MAX_VALUE).max(MVCC_MAX_VALUE);
/** PostgreSQL's isolation levels: READ COMMITTED, REPEATABLE READ, SERIALIZABLE. */
export const pgLevels = ["rc", "rr", "ser"] as const;
/** SQLite's BEGIN kinds: DEFERRED (locks at the first read and write) and IMMEDIATE (the write lock at BEGIN). */
export const sqliteLevels = ["deferred", "immediate"] as const;
export const levels = [...pgLevels, ...sqliteLevels] as const;
export type Level = (typeof levels)[number];
export type PgLevel = (typeof pgLevels)[number];
export const checkpointModes = ["passive", "full", "restart", "truncate"] as const;

export const mvccOpSchema = z.discriminatedUnion("op", [
  /**
   * PostgreSQL: BEGIN ISOLATION LEVEL READ COMMITTED | REPEATABLE READ | SERIALIZABLE [READ ONLY] on client `tx`.
   * SQLite: BEGIN DEFERRED | IMMEDIATE.
   */
  z.object({ op: z.literal("begin"), tx, level: z.enum(levels), readOnly: z.literal(true).optional() }).strict(),
  /** SELECT v FROM t WHERE k = key ORDER BY v (a snapshot may see two: see docs/mvcc.md) */
  z.object({ op: z.literal("read"), tx, key }).strict(),
  /** SELECT k, v FROM t WHERE k BETWEEN lo AND hi ORDER BY k */
  z.object({ op: z.literal("scan"), tx, lo: key, hi: key }).strict(),
  /** INSERT INTO t VALUES (key, value) */
  z.object({ op: z.literal("insert"), tx, key, value }).strict(),
  /** UPDATE t SET v = value (or v = v + add) WHERE k = key */
  z.object({ op: z.literal("update"), tx, key, value: value.optional(), add: value.optional() }).strict(),
  /** DELETE FROM t WHERE k = key */
  z.object({ op: z.literal("delete"), tx, key }).strict(),
  /**
   * UPDATE t SET v = value (or v = v + add) WHERE k BETWEEN lo AND hi [AND v = eq]: every row of the range (that
   * holds eq) in one statement, in key order (docs/mvcc.md, "Writes by predicate").
   */
  z
    .object({
      op: z.literal("updateWhere"),
      tx,
      lo: key,
      hi: key,
      eq: value.optional(),
      value: value.optional(),
      add: value.optional(),
    })
    .strict(),
  /** DELETE FROM t WHERE k BETWEEN lo AND hi [AND v = eq] */
  z.object({ op: z.literal("deleteWhere"), tx, lo: key, hi: key, eq: value.optional() }).strict(),
  z.object({ op: z.literal("commit"), tx }).strict(),
  z.object({ op: z.literal("abort"), tx }).strict(),
  /** VACUUM t, from a connection of its own (PostgreSQL). */
  z.object({ op: z.literal("vacuum") }).strict(),
  /** PRAGMA wal_checkpoint(MODE), from a connection of its own (SQLite). */
  z.object({ op: z.literal("checkpoint"), mode: z.enum(checkpointModes) }).strict(),
]);
export type MvccOp = z.infer<typeof mvccOpSchema>;
/** The ops a client's session runs as statements (inside its transaction, or alone). */
export type StatementOp = Extract<
  MvccOp,
  { op: "read" | "scan" | "insert" | "update" | "delete" | "updateWhere" | "deleteWhere" }
>;
/** The ops that change rows chosen by a predicate on the key range and, with `eq`, the value. */
export type WhereOp = Extract<MvccOp, { op: "updateWhere" | "deleteWhere" }>;
/** The rows a write selects: k BETWEEN lo AND hi, and v = eq if given (a write by key: lo = hi = key). */
export interface Selection {
  readonly lo: number;
  readonly hi: number;
  readonly eq?: number;
}
/** What an UPDATE, DELETE or their predicate forms select. */
export function selection(op: Extract<MvccOp, { op: "update" | "delete" | "updateWhere" | "deleteWhere" }>): Selection {
  return "key" in op ? { lo: op.key, hi: op.key } : { lo: op.lo, hi: op.hi, eq: op.eq };
}
/** Whether a row of key k and value v is one the selection names. */
export const selects = (s: Selection, k: number, v: number): boolean =>
  k >= s.lo && k <= s.hi && (s.eq === undefined || v === s.eq);

/**
 * PostgreSQL's SQLSTATEs: 40001 serialization failure, 40P01 deadlock, 23505 unique violation, 25P02 in a failed
 * transaction, 25001 BEGIN inside a transaction, 25P01 a statement outside one, 25006 a write in a READ ONLY one.
 * SQLite's extended result codes: SQLITE_BUSY (another connection holds the write lock), SQLITE_BUSY_SNAPSHOT (a
 * write from a snapshot older than the last commit), SQLITE_CONSTRAINT_PRIMARYKEY (an insert of a present key).
 */
export const SQLSTATES = [
  "40001",
  "40P01",
  "23505",
  "25P02",
  "25001",
  "25P01",
  "25006",
  "SQLITE_BUSY",
  "SQLITE_BUSY_SNAPSHOT",
  "SQLITE_CONSTRAINT_PRIMARYKEY",
  // SQLite: BEGIN inside a transaction, COMMIT or ROLLBACK outside one ("cannot commit - no transaction is active")
  "SQLITE_ERROR",
  // MariaDB's error names (mysql2's `code`; 1213 and 1020 roll back the whole transaction, the others the statement)
  "ER_LOCK_DEADLOCK",
  "ER_DUP_ENTRY",
  "ER_CHECKREAD",
  "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION",
  "ER_CANT_CHANGE_TX_CHARACTERISTICS",
] as const;
export type SqlState = (typeof SQLSTATES)[number];

const row = z.tuple([key, value]);
/** What a statement that has finished gives. */
export const resultSchema = z.union([
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ values: z.array(value) }).strict(),
  z.object({ rows: z.array(row) }).strict(),
  z.object({ count: z.number().int().min(0) }).strict(),
  /** COMMIT of a transaction an error has aborted: PostgreSQL answers ROLLBACK. */
  z.object({ rolledBack: z.literal(true) }).strict(),
  z.object({ error: z.enum(SQLSTATES) }).strict(),
  /** PRAGMA wal_checkpoint's row: busy 0|1, log (frames in the WAL), checkpointed (frames backfilled). */
  z
    .object({
      checkpoint: z
        .object({
          busy: z.union([z.literal(0), z.literal(1)]),
          log: z.number().int().min(-1),
          checkpointed: z.number().int().min(-1),
        })
        .strict(),
    })
    .strict(),
]);
export type MvccResult = z.infer<typeof resultSchema>;
/** What a checkpoint reports (sqlite flavour): busy, frames in the WAL, frames backfilled. */
export type CheckpointRow = Extract<MvccResult, { checkpoint: unknown }>["checkpoint"];

const unblocked = z.array(z.object({ tx, result: resultSchema }).strict()).min(1);
/**
 * An op's observation: its result, or `blocked` (the statement waits on a row lock; the client sends nothing more
 * until it ends), or `skipped` (the client is blocked, so the op was not sent). Any op that ends another client's
 * wait lists those clients' results as `unblocked`, by client number (waiters woken together finish in no fixed
 * order).
 */
export const mvccObsSchema = z.union([
  resultSchema.and(z.object({ unblocked: unblocked.optional() })),
  z.object({ blocked: z.literal(true), unblocked: unblocked.optional() }).strict(),
  z.object({ skipped: z.literal(true) }).strict(),
]);
export type MvccObs =
  | (MvccResult & { unblocked?: { tx: number; result: MvccResult }[] })
  | { blocked: true; unblocked?: { tx: number; result: MvccResult }[] }
  | { skipped: true };

// ---- the inspected state

const xid = z.number().int().min(1);
const version = z
  .object({
    key,
    value,
    xmin: xid,
    xmax: z.number().int().min(0),
    /** heap_insert has put it in the heap, and its inserter waits in the unique check (_bt_check_unique) before indexing it. */
    pending: z.literal(true).optional(),
  })
  .strict();
const sxactId = z.number().int().min(1);
/**
 * The serializable transactions SSI keeps (docs/mvcc.md, "The inspected state"): every active one that registered
 * (a READ ONLY one that opted out has none, and one whose snapshot was found safe has left), and each committed one until ClearOldPredicateLocks forgets it; a
 * rolled-back one is released at once.
 */
const ssiStateSchema = z
  .object({
    sxacts: z.array(
      z
        .object({
          /** Its number, in the order transactions registered (took their snapshot): conflicts name it. */
          id: sxactId,
          /** Its client. */
          tx,
          xid: xid.optional(),
          /** SXACT_FLAG_READ_ONLY: declared READ ONLY, or committed without writing. */
          readOnly: z.boolean(),
          /** SXACT_FLAG_DOOMED: a dangerous structure marked it to fail at its next statement or COMMIT. */
          doomed: z.boolean(),
          /** Committed (SXACT_FLAG_COMMITTED): its commitSeqNo, from LastSxactCommitSeqNo. Absent: active. */
          commitSeqNo: z.number().int().min(1).optional(),
          /** SIREAD locks it holds: relation-level only (a sequential scan's PredicateLockRelation). */
          locks: z.array(z.object({ target: z.literal("relation") }).strict()),
          /** rw-conflicts in: transactions that read what it wrote (their ids). */
          inConflicts: z.array(sxactId),
          /** rw-conflicts out: transactions that wrote what it read. */
          outConflicts: z.array(sxactId),
        })
        .strict(),
    ),
  })
  .strict();

export const mvccStateSchema = z
  .object({
    /** Every heap tuple version, in line pointer order (VACUUM frees line pointers that later versions take). xmax 0: none. */
    versions: z.array(version),
    /** xid → "committed" | "aborted"; absent: in progress. */
    clog: z.record(z.string(), z.enum(["committed", "aborted"])),
    /** Open transactions: their xid (if they wrote), level, and the snapshot they hold now (RR: theirs; RC: none between statements). */
    txs: z.array(
      z
        .object({
          tx,
          xid: xid.optional(),
          level: z.enum(levels),
          failed: z.boolean(),
          snapshot: z
            .object({ xmin: xid, xmax: xid, xip: z.array(xid) })
            .strict()
            .optional(),
          /** The statement it waits in, if it waits on a lock (an UPDATE or DELETE waits with the page pinned). */
          waiting: z.enum(["insert", "update", "delete"]).optional(),
        })
        .strict(),
    ),
    nextXid: xid,
    /** Versions the last op removed (vacuum). */
    removed: z.array(version),
    /** SERIALIZABLE's bookkeeping (predicate.c's SERIALIZABLEXACTs); optional: an engine that keeps none omits it. */
    ssi: ssiStateSchema.optional(),
  })
  .strict();
export type MvccState = z.infer<typeof mvccStateSchema>;
export type SsiState = z.infer<typeof ssiStateSchema>;
export type SxactState = SsiState["sxacts"][number];
export type Version = MvccState["versions"][number];
export type Snapshot = NonNullable<MvccState["txs"][number]["snapshot"]>;
