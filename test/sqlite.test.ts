// The mvcc layer's sqlite flavour: scenarios with what SQLite 3.53.2 answers (docs/research/sqlite-wal.md), each run
// on the WAL model, the oracle and real SQLite through better-sqlite3 with the same expected observations; the model
// against the oracle over long fixed-seed runs; real SQLite against the oracle; the invariants on broken models;
// the traces under traces/mvcc/sqlite.
import { readdirSync } from "node:fs";
import { describe, expect, test } from "vitest";
import type { Named } from "../core/index.ts";
import { type Engine, EngineFailure } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { sqliteUnavailable } from "../engines/sqlite/index.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkWith } from "../fuzz/runner.ts";
import { loadTrace } from "../layers/index.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import { walMutants } from "../models/mvcc/mutants/wal.ts";
import { defaultMvccGeometry, type MvccGeometry, type MvccObs, type MvccOp } from "../models/mvcc/types.ts";
import { WalModel } from "../models/mvcc/wal.ts";
import type { WalState } from "../models/mvcc/wal-state.ts";
import { WalOracle } from "../oracles/mvcc-wal.ts";
import { walEconomy, walStructure } from "../properties/mvcc/wal.ts";
import { campaignOn } from "./helpers.ts";

const g: MvccGeometry = { ...defaultMvccGeometry, flavour: "sqlite", txs: 6 };
const ok = { ok: true } as const;
const busy = { error: "SQLITE_BUSY" } as const;
const stale = { error: "SQLITE_BUSY_SNAPSHOT" } as const;
const noTx = { error: "SQLITE_ERROR" } as const;
const ckpt = (mode: "passive" | "full" | "restart" | "truncate"): MvccOp => ({ op: "checkpoint", mode });
const row = (b: 0 | 1, log: number, checkpointed: number): MvccObs => ({ checkpoint: { busy: b, log, checkpointed } });
const begin = (tx: number, level: "deferred" | "immediate" = "deferred"): MvccOp => ({ op: "begin", tx, level });
const read = (tx: number, key = 1): MvccOp => ({ op: "read", tx, key });
const set = (tx: number, value: number, key = 1): MvccOp => ({ op: "update", tx, key, value });
const add = (tx: number, key = 1): MvccOp => ({ op: "update", tx, key, add: 1 });
const insert = (tx: number, key: number): MvccOp => ({ op: "insert", tx, key, value: key * 100 });
const commit = (tx: number): MvccOp => ({ op: "commit", tx });
const abort = (tx: number): MvccOp => ({ op: "abort", tx });
const values = (...v: number[]): MvccObs => ({ values: v });
const count = (n: number): MvccObs => ({ count: n });
/** Every scenario starts from row (1, 100), inserted in autocommit: one frame in the WAL. */
const setup: MvccOp[] = [{ op: "insert", tx: 9, key: 1, value: 100 }];
const empty: [MvccOp, MvccObs] = [ckpt("truncate"), row(0, 0, 0)];
const inserts = (tx: number, ...keys: number[]): [MvccOp, MvccObs][] => keys.map((k) => [insert(tx, k), count(1)]);
/** Client 1 commits v in autocommit, then client `reader` begins and takes its snapshot with a read. */
const snapshotAfter = (v: number, reader: number): [MvccOp, MvccObs][] => [
  [set(1, v), count(1)],
  [begin(reader), ok],
  [read(reader), values(v)],
];

const scenarios: [string, [MvccOp, MvccObs][]][] = [
  [
    "BEGIN IMMEDIATE is SQLITE_BUSY while another connection holds the write lock, and opens no transaction (1a)",
    [
      [begin(1, "immediate"), ok],
      [begin(2, "immediate"), busy],
      [commit(2), noTx],
      [insert(2, 2), busy],
      [read(2), values(100)],
      [commit(1), ok],
      [begin(2, "immediate"), ok],
      [insert(2, 2), count(1)],
      [commit(2), ok],
    ],
  ],
  [
    "in a deferred transaction BEGIN and reads succeed, the first write is SQLITE_BUSY and the transaction stays open (1b, 1c, surprise 4)",
    [
      [begin(1, "immediate"), ok],
      [begin(2), ok],
      [read(2), values(100)],
      [insert(2, 3), busy],
      [read(2), values(100)],
      [abort(2), ok],
      [begin(2), ok],
      [insert(2, 3), busy],
      [abort(2), ok],
      [commit(1), ok],
    ],
  ],
  [
    "a deferred BEGIN holds no lock; the first write takes it; autocommit reads go on (1e)",
    [
      [begin(1), ok],
      [begin(2, "immediate"), ok],
      [commit(2), ok],
      [add(1), count(1)],
      [begin(2, "immediate"), busy],
      [add(2), busy],
      [read(2), values(100)],
      [commit(1), ok],
      [add(2), count(1)],
      [read(2), values(102)],
    ],
  ],
  [
    "a deferred transaction's snapshot starts at its first read, not at BEGIN (2a)",
    [
      [begin(1), ok],
      [set(2, 101), count(1)],
      [read(1), values(101)],
      [set(2, 102), count(1)],
      [insert(2, 2), count(1)],
      [{ op: "scan", tx: 1, lo: 1, hi: 2 }, { rows: [[1, 101]] }],
      [commit(1), ok],
      [
        { op: "scan", tx: 1, lo: 1, hi: 2 },
        {
          rows: [
            [1, 102],
            [2, 200],
          ],
        },
      ],
    ],
  ],
  [
    "a write from a stale snapshot is SQLITE_BUSY_SNAPSHOT; the transaction keeps its snapshot and no lock (3a)",
    [
      [begin(1), ok],
      [read(1), values(100)],
      [set(2, 101), count(1)],
      [add(1), stale],
      [read(1), values(100)],
      [add(1), stale],
      [set(2, 111), count(1)],
      [insert(1, 9), stale],
      [commit(1), ok],
      [read(1), values(111)],
    ],
  ],
  [
    "with no commit in between the read-to-write upgrade succeeds; a writer that rolled back leaves snapshots current (3b, 3c)",
    [
      [begin(1), ok],
      [read(1), values(100)],
      [add(1), count(1)],
      [set(2, 0), busy],
      [commit(1), ok],
      [begin(1), ok],
      [read(1), values(101)],
      [begin(2, "immediate"), ok],
      [set(2, 0), count(1)],
      [add(1), busy],
      [abort(2), ok],
      [add(1), count(1)],
      [commit(1), ok],
      [read(3), values(102)],
    ],
  ],
  [
    "a stale snapshot meets a held lock as plain SQLITE_BUSY, then SQLITE_BUSY_SNAPSHOT once it is free (surprise 3, 3d)",
    [
      [begin(1), ok],
      [read(1), values(100)],
      [set(2, 500), count(1)],
      [begin(2, "immediate"), ok],
      [add(1), busy],
      [commit(2), ok],
      [add(1), stale],
      [abort(1), ok],
    ],
  ],
  [
    "a deferred transaction whose first statement writes takes its snapshot there (3e)",
    [
      [begin(1), ok],
      [set(2, 600), count(1)],
      [add(1), count(1)],
      [commit(1), ok],
      [read(1), values(601)],
    ],
  ],
  [
    "no readers, no writer: every mode backfills all; the WAL starts again at frame 1 after a complete backfill; TRUNCATE reports 0/0 (4b, surprises 6 and 8)",
    [
      empty,
      ...inserts(2, 2, 3, 4),
      [ckpt("passive"), row(0, 3, 3)],
      ...inserts(2, 5, 6),
      [ckpt("passive"), row(0, 2, 2)],
      [ckpt("full"), row(0, 2, 2)],
      [ckpt("restart"), row(0, 2, 2)],
      ...inserts(2, 7, 8),
      [ckpt("passive"), row(0, 2, 2)],
      [ckpt("truncate"), row(0, 0, 0)],
      ...inserts(2, 9),
      [ckpt("truncate"), row(0, 0, 0)],
    ],
  ],
  [
    "an old reader: PASSIVE stops at its mark, FULL, RESTART and TRUNCATE say busy=1 and copy as far; once it ends all is copied (4c, surprise 5)",
    [
      empty,
      ...inserts(2, 2, 3),
      [begin(1), ok],
      [read(1), values(100)],
      ...inserts(2, 4, 5, 6),
      [ckpt("passive"), row(0, 5, 2)],
      [ckpt("full"), row(1, 5, 2)],
      [ckpt("restart"), row(1, 5, 2)],
      [ckpt("truncate"), row(1, 5, 2)],
      [
        { op: "scan", tx: 1, lo: 1, hi: 9 },
        {
          rows: [
            [1, 100],
            [2, 200],
            [3, 300],
          ],
        },
      ],
      [commit(1), ok],
      [ckpt("passive"), row(0, 5, 5)],
      [ckpt("truncate"), row(0, 0, 0)],
    ],
  ],
  [
    "a reader at the end of the WAL lets PASSIVE and FULL copy all, and makes RESTART and TRUNCATE busy (4d, surprise 7)",
    [
      empty,
      ...inserts(2, 2, 3),
      [begin(1), ok],
      [read(1), values(100)],
      [ckpt("passive"), row(0, 2, 2)],
      [ckpt("full"), row(0, 2, 2)],
      [ckpt("restart"), row(1, 2, 2)],
      [ckpt("truncate"), row(1, 2, 2)],
      [commit(1), ok],
      [ckpt("truncate"), row(0, 0, 0)],
    ],
  ],
  [
    "a reader that began after a complete backfill reads the database file: RESTART is not busy, the next commit restarts the WAL, and nothing is copied while the reader lives (4e)",
    [
      empty,
      ...inserts(2, 2, 3),
      [ckpt("passive"), row(0, 2, 2)],
      [begin(1), ok],
      [read(1), values(100)],
      [ckpt("restart"), row(0, 2, 2)],
      [set(2, 1), count(1)],
      [read(1), values(100)],
      [ckpt("passive"), row(0, 1, 0)],
      [ckpt("full"), row(1, 1, 0)],
      [commit(1), ok],
      [ckpt("passive"), row(0, 1, 1)],
    ],
  ],
  [
    "an open writer: PASSIVE runs, FULL, RESTART and TRUNCATE say busy; its uncommitted write is not in the WAL (4f, surprises 12 and 16)",
    [
      empty,
      ...inserts(2, 2, 3),
      [begin(1, "immediate"), ok],
      [insert(1, 9), count(1)],
      [ckpt("passive"), row(0, 2, 2)],
      [ckpt("full"), row(1, 2, 2)],
      [ckpt("restart"), row(1, 2, 2)],
      [ckpt("truncate"), row(1, 2, 2)],
      [commit(1), ok],
      [ckpt("full"), row(0, 3, 3)],
      [ckpt("truncate"), row(0, 0, 0)],
    ],
  ],
  [
    "an open writer and an old reader: PASSIVE stops at the reader's mark, FULL and TRUNCATE say busy (4g)",
    [
      empty,
      ...inserts(2, 2),
      [begin(3), ok],
      [read(3), values(100)],
      ...inserts(2, 3, 4),
      [begin(1, "immediate"), ok],
      [insert(1, 9), count(1)],
      [ckpt("passive"), row(0, 3, 1)],
      [ckpt("full"), row(1, 3, 1)],
      [ckpt("truncate"), row(1, 3, 1)],
      [commit(1), ok],
      [commit(3), ok],
      [ckpt("truncate"), row(0, 0, 0)],
    ],
  ],
  [
    "after RESTART a reader's next transaction sees the newest data, and the next commit starts at frame 1 (5)",
    [
      empty,
      [set(1, 200), count(1)],
      [begin(2), ok],
      [read(2), values(200)],
      [set(1, 201), count(1)],
      [ckpt("restart"), row(1, 2, 1)],
      [read(2), values(200)],
      [commit(2), ok],
      [ckpt("restart"), row(0, 2, 2)],
      [begin(2), ok],
      [read(2), values(201)],
      [commit(2), ok],
      [set(1, 202), count(1)],
      [read(2), values(202)],
      [ckpt("passive"), row(0, 1, 1)],
    ],
  ],
  [
    "read marks are shared once more than four snapshots are live: the fifth shares the fourth's mark (6, surprise 9)",
    [
      empty,
      ...[1, 2, 3, 4, 5].flatMap((v) => snapshotAfter(v, v + 1)),
      [set(1, 6), count(1)],
      ...[2, 3, 4, 5, 6].map((tx, i): [MvccOp, MvccObs] => [read(tx), values(i + 1)]),
      [ckpt("passive"), row(0, 6, 1)],
      [commit(2), ok],
      [ckpt("passive"), row(0, 6, 2)],
      [commit(3), ok],
      [ckpt("passive"), row(0, 6, 3)],
      [commit(4), ok],
      [ckpt("passive"), row(0, 6, 4)],
      [commit(5), ok],
      [ckpt("passive"), row(0, 6, 4)],
      [commit(6), ok],
      [ckpt("passive"), row(0, 6, 6)],
    ],
  ],
  [
    "a slot a finished reader frees is reused and set to the new reader's frame (6c)",
    [
      empty,
      ...[1, 2, 3, 4].flatMap((v) => snapshotAfter(v, v + 1)),
      [commit(2), ok],
      [set(1, 5), count(1)],
      ...snapshotAfter(6, 2),
      [set(1, 7), count(1)],
      [ckpt("passive"), row(0, 7, 2)],
      [commit(3), ok],
      [ckpt("passive"), row(0, 7, 3)],
      [commit(4), ok],
      [ckpt("passive"), row(0, 7, 4)],
      [commit(5), ok],
      [ckpt("passive"), row(0, 7, 6)],
      [commit(2), ok],
      [ckpt("passive"), row(0, 7, 7)],
    ],
  ],
  [
    "after a TRUNCATE a reader of the database file that began before it has a stale snapshot",
    [
      empty,
      [begin(1), ok],
      [read(1), values(100)],
      [ckpt("truncate"), row(0, 0, 0)],
      [add(1), stale],
      [read(1), values(100)],
      [commit(1), ok],
    ],
  ],
  [
    "COMMIT and ROLLBACK outside a transaction and BEGIN inside one are SQLITE_ERROR; a failed insert keeps the write lock and writes nothing",
    [
      empty,
      [commit(1), noTx],
      [abort(1), noTx],
      [begin(1), ok],
      [begin(1, "immediate"), noTx],
      [insert(1, 1), { error: "SQLITE_CONSTRAINT_PRIMARYKEY" }],
      [begin(2, "immediate"), busy],
      [commit(1), ok],
      [ckpt("passive"), row(0, 0, 0)],
      [{ op: "delete", tx: 1, key: 7 }, count(0)],
      [ckpt("passive"), row(0, 0, 0)],
    ],
  ],
  [
    "an update to the value a row has rewrites nothing, so its commit appends no frame (btreeOverwriteContent)",
    [
      empty,
      [set(2, 100), count(1)],
      [ckpt("passive"), row(0, 0, 0)],
      [begin(2), ok],
      [set(2, 100), count(1)],
      [commit(2), ok],
      [ckpt("passive"), row(0, 0, 0)],
      [set(2, 5), count(1)],
      [ckpt("passive"), row(0, 1, 1)],
    ],
  ],
];

const why = sqliteUnavailable();
if (why) console.log(`skipping the sqlite engine: it ${why}`);

/** Run a scenario's steps after the setup, expecting each observation. */
async function play(e: Engine<MvccOp, MvccObs>, steps: [MvccOp, MvccObs][], label: string): Promise<void> {
  for (const op of setup) await e.apply(op);
  for (const [i, [op, obs]] of steps.entries())
    expect(await e.apply(op), `${label}, step ${i}: ${JSON.stringify(op)}`).toEqual(obs);
}

describe("scenarios (SQLite 3.53.2)", () => {
  test.each(scenarios)("%s", async (_, steps) => {
    await play(new WalModel(g), steps, "model");
    await play(new WalOracle(g), steps, "oracle");
  });

  test.skipIf(why !== undefined)("the same scenarios on real SQLite give the same observations", async () => {
    const factory = await resolveEngine(mvccLayer, "sqlite");
    const engines: Engine<MvccOp, MvccObs>[] = [];
    try {
      for (const [name, steps] of scenarios) {
        engines.push((await factory.create(g)) as Engine<MvccOp, MvccObs>);
        await play(engines.at(-1)!, steps, name);
      }
    } finally {
      for (const e of engines) await e.close?.();
      await factory.dispose?.();
    }
  });

  test("the scenarios hold every WAL property on the model", async () => {
    for (const [name, steps] of scenarios) {
      expect(
        await checkWith(mvccLayer, g, await resolveEngine(mvccLayer, "model"), [...setup, ...steps.map(([op]) => op)]),
        name,
      ).toBeUndefined();
    }
  });
});

test("the model holds against the oracle over long fixed-seed runs", async () => {
  for (const seed of [1, 2]) {
    const r = await campaignOn(mvccLayer, "model", {
      seed,
      runs: 5000,
      maxOps: 200,
      geometry: g,
    });
    expect(r.failure?.message).toBeUndefined();
    expect(r.ops).toBeGreaterThan(400_000);
  }
});

describe.skipIf(why !== undefined)("real SQLite", () => {
  test("against the oracle, and its wal-index with the model's: 1000 fuzzed sequences (the engine's own geometry: six clients)", async () => {
    const r = await campaignOn(mvccLayer, "sqlite", {
      seed: 1,
      runs: 1000,
      maxOps: 200,
      against: "model",
    });
    expect(r.failure?.message ?? r.engineFailure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
    expect(r.trace).toBeUndefined();
    expect(r.ops).toBeGreaterThan(10_000);
    expect(r.structure?.compared).toBe(r.ops);
  });

  test("in lockstep with the model, whose properties hold on the states along the very same sequences", async () => {
    // an engine that runs each op on SQLite and on the model, fails if they answer differently, and shows the model's state
    const sqlite = await resolveEngine(mvccLayer, "sqlite");
    const both = {
      name: "sqlite+model",
      async create(geometry: unknown): Promise<Engine<MvccOp, MvccObs, WalState>> {
        const real = (await sqlite.create(geometry)) as Engine<MvccOp, MvccObs>;
        const model = new WalModel(geometry as MvccGeometry);
        return {
          layer: "mvcc",
          features: model.features,
          apply(op) {
            const seen = real.apply(op) as MvccObs;
            const expected = model.apply(op);
            if (JSON.stringify(seen) !== JSON.stringify(expected))
              throw new EngineFailure(
                "error",
                `SQLite answered ${JSON.stringify(seen)}, the model ${JSON.stringify(expected)}`,
              );
            return seen;
          },
          inspect: () => model.inspect(),
          close: () => real.close?.(),
        };
      },
      dispose: () => sqlite.dispose?.(),
    };
    const r = await runCampaign(mvccLayer, both, { seed: 2, runs: 300, maxOps: 200, geometry: g }).finally(() =>
      both.dispose(),
    );
    expect(r.engineFailure?.message ?? r.failure?.message).toBeUndefined();
    expect(r.ops).toBeGreaterThan(10_000);
  });
});

test("wal-busy-snapshot-once drops a stale transaction's snapshot: it reads the newer commit, and its retry writes (3a)", () => {
  const m = walMutants.find((x) => x.name === "wal-busy-snapshot-once")!.create(g) as WalModel;
  for (const op of setup) m.apply(op);
  const steps = scenarios.find(([name]) => name.endsWith("(3a)"))![1];
  const seen = steps.slice(0, 6).map(([op]) => m.apply(op));
  // SQLite: BUSY_SNAPSHOT, the old snapshot's 100, BUSY_SNAPSHOT again
  expect(seen.slice(3)).toEqual([stale, values(101), count(1)]);
});

describe("the invariants and economy bounds catch what the WAL mutants break in the state (no-busy-snapshot and busy-snapshot-once break only observations)", () => {
  /** The first property of the sqlite flavour a sequence breaks on a mutant (states only: observations are not compared). */
  function firstBroken(name: string, ops: MvccOp[]): string | undefined {
    const m = walMutants.find((x) => x.name === name)!.create(g) as WalModel;
    const checkers = [walStructure, ...walEconomy].map((p) => ({ p, c: p.start(m.inspect()) }));
    for (const op of [...setup, ...ops]) {
      const obs = m.apply(op) as MvccObs;
      const s = m.inspect();
      for (const { p, c } of checkers) {
        const v = c.after(op, obs, s, false);
        if (v) return typeof v === "string" ? p.name : (v as Named).property;
      }
    }
    return undefined;
  }
  const oldReader: MvccOp[] = [ckpt("truncate"), set(1, 1), begin(2), read(2), set(1, 2)];
  const fileReader: MvccOp[] = [ckpt("truncate"), set(1, 1), ckpt("passive"), begin(2), read(2), set(1, 2)];
  test.each([
    ["wal-checkpoint-past-reader-mark", [...oldReader, ckpt("passive")], "checkpoint-respects-readers"],
    ["wal-checkpoint-under-file-reader", [...fileReader, ckpt("passive")], "old-readers-see-old-state"],
    [
      "wal-restart-under-readers",
      [...oldReader, ckpt("passive"), commit(2), begin(2), read(2), ckpt("passive"), ckpt("truncate")],
      "frames-well-formed",
    ],
    [
      "wal-read-mark-overwritten",
      [ckpt("truncate"), ...[1, 2, 3, 4, 5].flatMap((v) => [set(1, v), begin(v + 1), read(v + 1)])],
      "checkpoint-respects-readers",
    ],
    ["wal-two-writers", [begin(1, "immediate"), add(1), begin(2, "immediate"), add(2)], "one-writer"],
    [
      "wal-checkpoint-writes-every-frame",
      [ckpt("truncate"), set(1, 1), set(1, 2), ckpt("passive")],
      "checkpoint-writes-backfilled-pages",
    ],
  ] as const)("%s breaks %s", (name, ops, property) => {
    expect(firstBroken(name, [...ops])).toBe(property);
    // and the reference model keeps every property on the same ops
    const model = new WalModel(g);
    const checkers = [walStructure, ...walEconomy].map((p) => p.start(model.inspect()));
    for (const op of [...setup, ...ops]) {
      const obs = model.apply(op);
      for (const c of checkers) expect(c.after(op, obs, model.inspect(), false)).toBeUndefined();
    }
  });
});

describe("findings recorded under traces/mvcc/sqlite", () => {
  const files = readdirSync("traces/mvcc/sqlite");
  test("pass on the model", async () => {
    for (const f of files) {
      const { trace } = loadTrace(`traces/mvcc/sqlite/${f}`);
      expect(
        await checkWith(mvccLayer, trace.geometry, await resolveEngine(mvccLayer, "model"), trace.ops, {
          expected: trace.expected,
        }),
        f,
      ).toBeUndefined();
    }
  });
  test.skipIf(why !== undefined)("pass on real SQLite", async () => {
    const factory = await resolveEngine(mvccLayer, "sqlite");
    try {
      for (const f of files) {
        const { trace } = loadTrace(`traces/mvcc/sqlite/${f}`);
        expect(
          await checkWith(mvccLayer, trace.geometry, factory, trace.ops, {
            expected: trace.expected,
            against: await resolveEngine(mvccLayer, "model"),
          }),
          f,
        ).toBeUndefined();
      }
    } finally {
      await factory.dispose?.();
    }
  });
});
