// The InnoDB flavour's model against what MariaDB 10.11 does (docs/research/innodb.md): each scenario runs on the
// model and, where a server can run, on MariaDB, and both must answer as the server was seen to; then generated
// sequences run on both, op by op.
import fc from "fast-check";
import { afterAll, describe, expect, test } from "vitest";
import type { Engine } from "../core/index.ts";
import { allows } from "../core/json.ts";
import { mariadbFactory } from "../engines/mariadb/index.ts";
import { mariadbUnavailable } from "../engines/mariadb/server.ts";
import { mvccOpKinds } from "../fuzz/mvcc/ops.ts";
import { InnodbModel } from "../models/mvcc/innodb.ts";
import type { MvccGeometry, MvccObs, MvccOp, MvccResult, SqlState } from "../models/mvcc/types.ts";
import { InnodbOracle } from "../oracles/mvcc-innodb.ts";

const why = mariadbUnavailable();
if (why) console.warn(`innodb: MariaDB skipped: it ${why}`);

const geometry = (snapshotIsolation = false): MvccGeometry => ({
  keys: 6,
  txs: 4,
  flavour: "innodb",
  snapshotIsolation,
});
const factory = mariadbFactory();
afterAll(async () => {
  await factory.dispose?.();
});

type Step = [MvccOp, MvccObs];
const ins = (tx: number, key: number, value: number): MvccOp => ({ op: "insert", tx, key, value });
const upd = (tx: number, key: number, value: number): MvccOp => ({ op: "update", tx, key, value });
const add = (tx: number, key: number, by = 1): MvccOp => ({ op: "update", tx, key, add: by });
const del = (tx: number, key: number): MvccOp => ({ op: "delete", tx, key });
const read = (tx: number, key: number): MvccOp => ({ op: "read", tx, key });
const scan = (tx: number, lo: number, hi: number): MvccOp => ({ op: "scan", tx, lo, hi });
const begin = (tx: number, level: "rc" | "rr" | "ser", readOnly?: true): MvccOp => ({
  op: "begin",
  tx,
  level,
  ...(readOnly ? { readOnly } : {}),
});
const commit = (tx: number): MvccOp => ({ op: "commit", tx });
const abort = (tx: number): MvccOp => ({ op: "abort", tx });
/** UPDATE t SET v = v + by WHERE k BETWEEN lo AND hi [AND v = eq] */
const addWhere = (tx: number, lo: number, hi: number, eq: number | undefined, by: number): MvccOp => ({
  op: "updateWhere",
  tx,
  lo,
  hi,
  ...(eq === undefined ? {} : { eq }),
  add: by,
});
const delWhere = (tx: number, lo: number, hi: number, eq: number): MvccOp => ({ op: "deleteWhere", tx, lo, hi, eq });
const woke = (tx: number, result: MvccResult): MvccObs => ({ ok: true, unblocked: [{ tx, result }] });
/** Rows (1,10), (2,20), and client 1's open change of k=1 to 11 (docs/research/innodb.md, h). */
const h = (level: "rc" | "rr"): Step[] => [
  [ins(3, 1, 10), count(1)],
  [ins(3, 2, 20), count(1)],
  [begin(1, level), ok],
  [upd(1, 1, 11), count(1)],
  [begin(2, level), ok],
];
const ok = { ok: true } as const;
const count = (n: number) => ({ count: n });
const values = (...v: number[]) => ({ values: v });
const blocked = { blocked: true } as const;
const error = (e: SqlState): MvccResult => ({ error: e });

const scenarios: Record<string, { si?: boolean; steps: Step[] }> = {
  "REPEATABLE READ's read view is made by the first consistent read, not by BEGIN (a1)": {
    steps: [
      [ins(3, 1, 10), count(1)],
      [begin(1, "rr"), ok],
      [upd(3, 1, 77), count(1)],
      [read(1, 1), values(77)],
      [upd(3, 1, 88), count(1)],
      [read(1, 1), values(77)],
    ],
  },
  "a consistent read that finds nothing makes the read view too": {
    steps: [
      [ins(3, 2, 8), count(1)],
      [begin(1, "rr"), ok],
      [read(1, 4), values()],
      [add(3, 2), count(1)],
      [read(1, 2), values(8)],
    ],
  },
  "a write reads the newest committed version: REPEATABLE READ loses an update (b1)": {
    steps: [
      [ins(3, 1, 0), count(1)],
      [begin(1, "rr"), ok],
      [read(1, 1), values(0)],
      [begin(2, "rr"), ok],
      [upd(2, 1, 1), count(1)],
      [commit(2), ok],
      [read(1, 1), values(0)],
      [add(1, 1), count(1)],
      [read(1, 1), values(2)],
      [commit(1), ok],
    ],
  },
  "a writer that waited goes on from the version committed meanwhile, with no error (b2)": {
    steps: [
      [ins(3, 1, 0), count(1)],
      [begin(1, "rr"), ok],
      [read(1, 1), values(0)],
      [begin(2, "rr"), ok],
      [upd(2, 1, 5), count(1)],
      [add(1, 1), blocked],
      [commit(2), { ok: true, unblocked: [{ tx: 1, result: count(1) }] }],
      [read(1, 1), values(6)],
    ],
  },
  "a key deleted and inserted again: the reader sees its own row only (b6)": {
    steps: [
      [ins(3, 1, 0), count(1)],
      [ins(3, 2, 0), count(1)],
      [begin(1, "rr"), ok],
      [
        scan(1, 1, 2),
        {
          rows: [
            [1, 0],
            [2, 0],
          ],
        },
      ],
      [del(3, 1), count(1)],
      [add(1, 1), count(0)],
      [ins(1, 1, 11), count(1)],
      [
        scan(1, 1, 2),
        {
          rows: [
            [1, 11],
            [2, 0],
          ],
        },
      ],
    ],
  },
  "ER_DUP_ENTRY rolls back the statement only; the transaction goes on (b7)": {
    steps: [
      [ins(3, 1, 0), count(1)],
      [ins(3, 2, 0), count(1)],
      [begin(1, "rr"), ok],
      [upd(1, 1, 5), count(1)],
      [ins(1, 2, 22), error("ER_DUP_ENTRY")],
      [commit(1), ok],
      [
        scan(2, 1, 2),
        {
          rows: [
            [1, 5],
            [2, 0],
          ],
        },
      ],
    ],
  },
  "SERIALIZABLE reads take S locks; two of them on one gap, then both insert: a deadlock (d11)": {
    steps: [
      [ins(3, 1, 0), count(1)],
      [ins(3, 4, 0), count(1)],
      [begin(1, "ser"), ok],
      [begin(2, "ser"), ok],
      [read(1, 3), values()],
      [read(2, 3), values()],
      [ins(1, 3, 31), blocked],
      [ins(2, 3, 32), { error: "ER_LOCK_DEADLOCK", unblocked: [{ tx: 1, result: count(1) }] }],
      [commit(1), ok],
      [read(2, 3), values(31)],
    ],
  },
  "an S→X upgrade behind a waiting X: the deadlock is found when the other S holder commits (c4)": {
    steps: [
      [ins(4, 1, 10), count(1)],
      [begin(1, "ser"), ok],
      [begin(2, "ser"), ok],
      [begin(3, "rr"), ok],
      [read(1, 1), values(10)],
      [read(2, 1), values(10)],
      [upd(3, 1, 5), blocked],
      [upd(1, 1, 6), blocked],
      [
        commit(2),
        {
          ok: true,
          unblocked: [
            { tx: 1, result: count(1) },
            { tx: 3, result: error("ER_LOCK_DEADLOCK") },
          ],
        },
      ],
      [commit(1), ok],
      [read(4, 1), values(6)],
    ],
  },
  "a SERIALIZABLE scan locks the record after its range, unless the range is one key (a unique search)": {
    steps: [
      [ins(4, 2, 20), count(1)],
      [ins(4, 4, 40), count(1)],
      [begin(2, "ser"), ok],
      [ins(2, 3, 7), count(1)],
      [begin(1, "ser"), ok],
      [scan(1, 2, 2), { rows: [[2, 20]] }],
      [scan(1, 4, 5), { rows: [[4, 40]] }],
      [scan(1, 1, 2), blocked], // its next-key request on 3 waits for client 2's insert
      [commit(2), { ok: true, unblocked: [{ tx: 1, result: { rows: [[2, 20]] } }] }],
    ],
  },
  "a release points a waiter at another waiter that waits for it: the deadlock is broken then, the pointed one rolled back":
    {
      steps: [
        [ins(1, 1, 0), count(1)],
        [begin(1, "ser"), ok],
        [begin(2, "rc"), ok],
        [ins(2, 1, 0), error("ER_DUP_ENTRY")], // its S lock on 1 stays
        [scan(1, 1, 2), { rows: [[1, 0]] }], // S on 1 and on the supremum
        [begin(3, "ser"), ok],
        [del(3, 2), count(0)], // X gap on the supremum
        [add(3, 1, 0), blocked], // behind client 2's S on 1
        [ins(2, 2, 0), blocked], // behind client 1's S on the supremum
        [
          commit(1),
          {
            ok: true,
            unblocked: [
              { tx: 2, result: error("ER_LOCK_DEADLOCK") },
              { tx: 3, result: count(1) },
            ],
          },
        ],
      ],
    },
  "a rolled-back insert's record passes its waiters' locks to the next record as gap locks (S under READ COMMITTED)": {
    steps: [
      [ins(1, 1, 0), count(1)],
      [begin(1, "rr"), ok],
      [ins(1, 2, 0), count(1)],
      [begin(2, "rc"), ok],
      [ins(2, 2, 0), blocked], // its duplicate check's S lock waits on 2
      [
        { op: "abort", tx: 1 },
        { ok: true, unblocked: [{ tx: 2, result: count(1) }] },
      ], // now an S gap lock on the supremum
      [begin(1, "rr"), ok],
      [upd(1, 1, 0), count(1)],
      [add(2, 1, 0), blocked],
      [ins(1, 3, 0), { error: "ER_LOCK_DEADLOCK", unblocked: [{ tx: 2, result: count(1) }] }],
    ],
  },
  "… and X locks under REPEATABLE READ": {
    steps: [
      [ins(4, 1, 0), count(1)],
      [begin(1, "rr"), ok],
      [ins(1, 2, 0), count(1)],
      [begin(2, "rr"), ok],
      [upd(2, 2, 5), blocked],
      [
        { op: "abort", tx: 1 },
        { ok: true, unblocked: [{ tx: 2, result: count(0) }] },
      ],
      [ins(3, 3, 0), blocked],
      [commit(2), { ok: true, unblocked: [{ tx: 3, result: count(1) }] }],
    ],
  },
  "a record locked already: a scan wants only its gap and does not queue behind a waiter": {
    steps: [
      [ins(4, 1, 10), count(1)],
      [ins(4, 2, 20), count(1)],
      [begin(1, "ser"), ok],
      [upd(1, 2, 8), count(1)],
      [begin(2, "rr"), ok],
      [del(2, 2), blocked],
      [
        scan(1, 1, 2),
        {
          rows: [
            [1, 10],
            [2, 8],
          ],
        },
      ],
      [commit(1), { ok: true, unblocked: [{ tx: 2, result: count(1) }] }],
    ],
  },
  "a delete-marked record is locked without its gap, an absent key's gap is; READ COMMITTED passes over a committed delete":
    {
      steps: [
        [ins(3, 1, 10), count(1)],
        [ins(3, 4, 40), count(1)],
        [del(3, 1), count(1)],
        [del(3, 4), count(1)],
        [begin(1, "ser"), ok],
        [upd(1, 1, 4), count(0)],
        [upd(1, 4, 4), count(0)],
        [begin(2, "rc"), ok],
        [del(2, 1), count(0)], // client 1 holds the record, but its delete is committed
        [ins(3, 5, 5), count(1)], // nothing locks the gap after 4
        [upd(1, 2, 4), count(0)], // no 2: the gap before 4 is locked
        [ins(3, 3, 3), blocked],
        [commit(1), { ok: true, unblocked: [{ tx: 3, result: count(1) }] }],
      ],
    },
  "a READ ONLY transaction a deadlock rolled back leaves the session read-only until a COMMIT or an autocommit success":
    {
      steps: [
        [ins(1, 1, 0), count(1)],
        [begin(2, "rc"), ok],
        [add(2, 1), count(1)],
        [begin(1, "ser", true), ok],
        [read(1, 2), values()], // an S gap lock on the supremum
        [read(1, 1), blocked],
        [ins(2, 2, 0), { count: 1, unblocked: [{ tx: 1, result: error("ER_LOCK_DEADLOCK") }] }],
        [commit(2), ok],
        [add(1, 1, 0), error("ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION")],
        [add(1, 1, 0), error("ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION")],
        [begin(1, "rr"), ok],
        [add(1, 1, 5), error("ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION")],
        [commit(1), ok],
        [add(1, 1, 5), count(1)],
        [read(3, 1), values(6)],
      ],
    },
  "READ COMMITTED keeps the lock it waited for on a record the deleter then committed": {
    steps: [
      [begin(1, "rr"), ok],
      [ins(1, 1, 0), count(1)],
      [del(1, 1), count(1)],
      [begin(2, "rc"), ok],
      [upd(2, 1, 0), blocked],
      [commit(1), { ok: true, unblocked: [{ tx: 2, result: count(0) }] }],
      [ins(1, 1, 0), blocked],
      [commit(2), { ok: true, unblocked: [{ tx: 1, result: count(1) }] }],
    ],
  },
  "an insert that waited is tried again from the start: a gap lock granted meanwhile makes it wait again": {
    steps: [
      [begin(1, "rr"), ok],
      [upd(1, 1, 0), count(0)], // an X gap lock on the supremum
      [ins(3, 1, 0), blocked],
      [begin(2, "ser"), ok],
      [read(2, 1), values()], // an S gap lock on the supremum, granted
      [{ op: "abort", tx: 1 }, ok],
      [commit(2), { ok: true, unblocked: [{ tx: 3, result: count(1) }] }],
    ],
  },
  "an insert intention granted after a wait serves that insert only: the next insert is checked again": {
    steps: [
      [begin(1, "ser"), ok],
      [upd(1, 1, 0), count(0)], // an X gap lock on the supremum
      [begin(2, "rc"), ok],
      [ins(2, 1, 0), blocked],
      [commit(1), { ok: true, unblocked: [{ tx: 2, result: count(1) }] }],
      [begin(1, "ser"), ok],
      [del(1, 2), count(0)], // an X gap lock on the supremum again
      [add(1, 1, 0), blocked],
      [ins(2, 2, 0), { count: 1, unblocked: [{ tx: 1, result: error("ER_LOCK_DEADLOCK") }] }],
    ],
  },
  "a request waits for the first conflicting lock in the order they were asked for: here no cycle closes": {
    steps: [
      [ins(2, 1, 0), count(1)],
      [begin(2, "ser"), ok],
      [begin(1, "ser"), ok],
      [upd(1, 1, 0), count(1)],
      [begin(3, "rc"), ok],
      [ins(3, 1, 0), blocked],
      [scan(2, 1, 2), blocked],
      [
        commit(1),
        {
          ok: true,
          unblocked: [
            { tx: 2, result: { rows: [[1, 0]] } },
            { tx: 3, result: error("ER_DUP_ENTRY") },
          ],
        },
      ],
      [begin(1, "ser"), ok],
      [del(1, 2), count(0)], // an X gap lock on the supremum, after client 2's S next-key lock there
      [add(1, 1, 0), blocked], // waits for client 3 (its S lock on 1 came first)
      [ins(3, 2, 0), blocked], // waits for client 2, not client 1: no cycle
    ],
  },
  "a SERIALIZABLE scan locks delete-marked records after its range up to the first live one": {
    steps: [
      [ins(1, 3, 0), count(1)],
      [del(1, 3), count(1)],
      [begin(2, "ser"), ok],
      [ins(1, 4, 0), count(1)],
      [scan(2, 1, 2), { rows: [] }],
      [upd(1, 4, 1), blocked],
      [commit(2), { ok: true, unblocked: [{ tx: 1, result: count(1) }] }],
    ],
  },
  "an insert that waited is tried again from the start: the key inserted meanwhile is a duplicate": {
    steps: [
      [begin(1, "rr"), ok],
      [upd(1, 1, 0), count(0)], // an X gap lock on the supremum
      [ins(3, 1, 0), blocked],
      [ins(1, 1, 0), count(1)],
      [begin(2, "ser"), ok],
      [scan(2, 2, 2), { rows: [] }], // an S gap lock on the supremum, after the waiting insert's request
      [commit(1), { ok: true, unblocked: [{ tx: 3, result: error("ER_DUP_ENTRY") }] }],
    ],
  },
  "BEGIN inside a transaction, a write in a READ ONLY one, COMMIT outside one": {
    steps: [
      [begin(1, "rr"), ok],
      [begin(1, "rc"), error("ER_CANT_CHANGE_TX_CHARACTERISTICS")],
      [commit(1), ok],
      [commit(1), ok],
      [begin(2, "rr", true), ok],
      [ins(2, 1, 1), error("ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION")],
      [read(2, 1), values()],
      [commit(2), ok],
    ],
  },
  "innodb_snapshot_isolation: a write to a row changed since the read view fails and ends the transaction (f1)": {
    si: true,
    steps: [
      [ins(3, 1, 0), count(1)],
      [ins(3, 2, 0), count(1)],
      [begin(1, "rr"), ok],
      [read(1, 1), values(0)],
      [upd(3, 1, 1), count(1)],
      [add(1, 1), error("ER_CHECKREAD")],
      [add(1, 2), count(1)], // autocommitted: the transaction is over
      [commit(1), ok],
      [
        scan(3, 1, 2),
        {
          rows: [
            [1, 1],
            [2, 1],
          ],
        },
      ],
    ],
  },
  "innodb_snapshot_isolation: a changed record fails at once if its changer has ended, not behind another's lock": {
    si: true,
    steps: [
      [ins(3, 1, 10), count(1)],
      [begin(1, "rr"), ok],
      [scan(1, 1, 1), { rows: [[1, 10]] }],
      [del(3, 1), count(1)],
      [begin(2, "ser", true), ok],
      [scan(2, 1, 1), { rows: [] }], // an S lock on the delete-marked record
      [add(1, 1), error("ER_CHECKREAD")],
    ],
  },
  "innodb_snapshot_isolation: a write waits for the changer, then fails if it committed, goes on if it rolled back (f4)":
    {
      si: true,
      steps: [
        [ins(4, 1, 0), count(1)],
        [begin(1, "rr"), ok],
        [read(1, 1), values(0)],
        [begin(2, "rr"), ok],
        [upd(2, 1, 1), count(1)],
        [add(1, 1), blocked],
        [
          { op: "abort", tx: 2 },
          { ok: true, unblocked: [{ tx: 1, result: count(1) }] },
        ],
        [begin(3, "rr"), ok],
        [read(3, 1), values(0)],
        [commit(1), ok],
        [upd(3, 1, 5), error("ER_CHECKREAD")],
      ],
    },
  "READ COMMITTED UPDATE by predicate passes over a held row whose committed version does not match (h1)": {
    steps: [...h("rc"), [addWhere(2, 1, 2, 11, 100), count(0)], [commit(1), ok], [read(2, 1), values(11)]],
  },
  "REPEATABLE READ UPDATE by predicate waits for the held row, then judges its newest version (h1)": {
    steps: [
      ...h("rr"),
      [addWhere(2, 1, 2, 11, 100), blocked],
      [commit(1), woke(2, count(1))],
      [read(2, 1), values(111)],
    ],
  },
  "READ COMMITTED UPDATE by predicate waits where the committed version matches, and judges again (h2)": {
    steps: [...h("rc"), [addWhere(2, 1, 2, 10, 100), blocked], [commit(1), woke(2, count(0))]],
  },
  "the same, the holder rolls back: the row matches again and is changed (h2b)": {
    steps: [
      ...h("rc"),
      [addWhere(2, 1, 2, 10, 100), blocked],
      [abort(1), woke(2, count(1))],
      [read(2, 1), values(110)],
    ],
  },
  "READ COMMITTED DELETE by predicate reads no committed version: it waits (h4b)": {
    steps: [...h("rc"), [delWhere(2, 1, 2, 10), blocked], [commit(1), woke(2, count(0))]],
  },
  "READ COMMITTED: a row that came to match while the statement waited is changed (h8)": {
    steps: [
      ...h("rc"),
      [addWhere(2, 1, 2, 10, 100), blocked],
      [upd(3, 2, 10), count(1)],
      [commit(1), woke(2, count(1))],
      [read(2, 2), values(110)],
      [read(2, 1), values(11)],
    ],
  },
  "READ COMMITTED keeps a lock it waited for on a row that then did not match (found by the campaign, seed 7)": {
    steps: [
      ...h("rc"),
      [delWhere(2, 1, 1, 10), blocked],
      [del(3, 1), blocked],
      [commit(1), woke(2, count(0))],
      [commit(2), woke(3, count(1))],
    ],
  },
  "READ COMMITTED lets go of its lock on the record past the range": {
    steps: [
      [ins(3, 1, 10), count(1)],
      [ins(3, 3, 30), count(1)],
      [begin(2, "rc"), ok],
      [addWhere(2, 1, 2, undefined, 1), count(1)],
      [ins(1, 3, 0), error("ER_DUP_ENTRY")],
    ],
  },
  "…but where it holds an insert intention on that record, the insert intention goes instead (campaign, seed 7)": {
    steps: [
      [ins(3, 3, 30), count(1)],
      [begin(1, "ser"), ok],
      [upd(1, 1, 0), count(0)], // a gap lock on 3
      [begin(2, "rc"), ok],
      [ins(2, 1, 0), blocked], // an insert intention on 3
      [commit(1), woke(2, count(1))],
      [addWhere(2, 1, 2, undefined, 1), count(1)],
      [ins(1, 3, 0), blocked],
      [commit(2), woke(1, error("ER_DUP_ENTRY"))],
    ],
  },
  "…and where its record lock is in an older struct than that insert intention, the record lock goes (seed 7)": {
    steps: [
      [ins(1, 1, 0), count(1)],
      [begin(1, "rc"), ok],
      [del(1, 1), count(1)], // an X record lock: the transaction's first struct of that type
      [ins(2, 3, 0), count(1)],
      [ins(1, 4, 0), count(1)],
      [delWhere(3, 2, 3, 0), blocked], // next-key on 3, waits at 4
      [ins(1, 2, 0), { count: 1, unblocked: [{ tx: 3, result: error("ER_LOCK_DEADLOCK") }] }], // an insert intention on 3
      [delWhere(1, 1, 2, 0), count(1)],
      [upd(2, 3, 5), count(1)],
    ],
  },
  "READ COMMITTED UPDATE by predicate passes over another's uncommitted insert (h7)": {
    steps: [
      [ins(3, 1, 10), count(1)],
      [ins(3, 2, 20), count(1)],
      [begin(1, "rc"), ok],
      [ins(1, 3, 10), count(1)],
      [begin(2, "rc"), ok],
      [addWhere(2, 1, 3, 10, 100), count(1)],
    ],
  },
  "REPEATABLE READ waits for another's uncommitted insert in the range, and changes it too (h7)": {
    steps: [
      [ins(3, 1, 10), count(1)],
      [ins(3, 2, 20), count(1)],
      [begin(1, "rr"), ok],
      [ins(1, 3, 10), count(1)],
      [begin(2, "rr"), ok],
      [addWhere(2, 1, 3, 10, 100), blocked],
      [commit(1), woke(2, count(2))],
      [read(2, 3), values(110)],
    ],
  },
  "a range UPDATE changes the rows before the one it waits for, and goes on from there after (i1)": {
    steps: [
      [ins(3, 1, 1), count(1)],
      [ins(3, 2, 2), count(1)],
      [ins(3, 3, 3), count(1)],
      [ins(3, 4, 4), count(1)],
      [begin(1, "rr"), ok],
      [upd(1, 2, 100), count(1)],
      [begin(2, "rr"), ok],
      [addWhere(2, 1, 3, undefined, 10), blocked],
      [upd(4, 1, 5), blocked], // client 2 holds k=1 already
      [commit(1), { ok: true, unblocked: [{ tx: 2, result: count(3) }] }],
      [read(2, 2), values(110)],
      [commit(2), woke(4, count(1))],
    ],
  },
  "REPEATABLE READ: a waiting range UPDATE picks up a key inserted into a gap it has not reached (i7)": {
    steps: [
      [ins(3, 1, 1), count(1)],
      [ins(3, 2, 2), count(1)],
      [ins(3, 4, 4), count(1)],
      [begin(1, "rr"), ok],
      [upd(1, 2, 100), count(1)],
      [begin(2, "rr"), ok],
      [addWhere(2, 1, 4, undefined, 10), blocked],
      [ins(3, 3, 3), count(1)],
      [ins(3, 5, 5), count(1)], // past the range: the statement has not reached the supremum's gap either
      [commit(1), { ok: true, unblocked: [{ tx: 2, result: count(4) }] }],
      [
        scan(2, 1, 4),
        {
          rows: [
            [1, 11],
            [2, 110],
            [3, 13],
            [4, 14],
          ],
        },
      ],
    ],
  },
};

async function play(engine: Engine<MvccOp, MvccObs>, steps: Step[]): Promise<void> {
  try {
    for (const [i, [op, want]] of steps.entries())
      expect(await engine.apply(op), `op ${i}: ${JSON.stringify(op)}`).toEqual(want);
  } finally {
    await engine.close?.();
  }
}

describe("the InnoDB model answers as MariaDB was seen to", () => {
  for (const [name, { si, steps }] of Object.entries(scenarios))
    test(name, () => play(new InnodbModel(geometry(si)), steps));
});

describe("the InnoDB oracle allows what MariaDB was seen to answer", () => {
  for (const [name, { si, steps }] of Object.entries(scenarios))
    test(name, () => {
      const oracle = new InnodbOracle(geometry(si));
      for (const [i, [op, want]] of steps.entries()) {
        const answer = oracle.apply(op);
        expect(allows(answer, want), `op ${i}: ${JSON.stringify(op)} → ${JSON.stringify(answer)}`).toBe(true);
        oracle.chose(want);
      }
    });
});

describe.skipIf(why !== undefined)("MariaDB answers the same", () => {
  for (const [name, { si, steps }] of Object.entries(scenarios))
    test(name, async () => play((await factory.create(geometry(si))) as Engine<MvccOp, MvccObs>, steps));

  test("generated sequences: the model and MariaDB answer every op alike", async () => {
    const g = geometry();
    g.keys = 3;
    g.txs = 3;
    const kinds = mvccOpKinds(g, new Set()).filter(
      (k) => !JSON.stringify(fc.sample(k.arbitrary, 1)).includes("vacuum"),
    );
    const sequences = fc.sample(fc.array(fc.oneof(...kinds), { minLength: 5, maxLength: 40 }), {
      seed: 20,
      numRuns: 60,
    });
    let ops = 0;
    for (const raw of sequences) {
      const model = new InnodbModel(g);
      const engine = (await factory.create(g)) as Engine<MvccOp, MvccObs>;
      const done: string[] = [];
      try {
        for (const op of [ins(1, 1, 10), ...raw]) {
          if (op.op === "vacuum" || op.op === "checkpoint") continue;
          const s = model.session(op.tx);
          if (s.blocked || (op.op === "begin" && s.open)) continue; // as arrange sends them
          const want = model.apply(op);
          const got = await engine.apply(op);
          done.push(`${JSON.stringify(op)} → ${JSON.stringify(got)}`);
          expect(got, done.join("\n")).toEqual(want);
          ops++;
        }
      } finally {
        await engine.close?.();
      }
    }
    expect(ops).toBeGreaterThan(600);
  }, 120_000);
});
