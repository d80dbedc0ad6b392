// The mvcc layer (PostgreSQL flavour): scenarios with what PostgreSQL 15 answers (docs/research/postgres-15-mvcc.md),
// each run on the model and the oracle; the model against the oracle over long fixed-seed runs (the mutants: test/mutants.test.ts).
import { readdirSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { postgresUnavailable } from "../engines/postgres/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import type { Engine } from "../engines/types.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkWith } from "../fuzz/runner.ts";
import { loadTrace } from "../fuzz/trace.ts";
import { mvccLayer } from "../layers/mvcc.ts";
import { MvccModel } from "../models/mvcc/model.ts";
import { defaultMvccGeometry as g, type MvccObs, type MvccOp } from "../models/mvcc/types.ts";
import { MvccOracle } from "../oracles/mvcc.ts";

const ok = { ok: true } as const;
const setup: MvccOp[] = [{ op: "insert", tx: 9, key: 1, value: 10 }, { op: "insert", tx: 9, key: 2, value: 20 }]; // autocommit

const scenarios: [string, [MvccOp, MvccObs][]][] = [
  ["read committed: a blocked update re-checks the newest version when the holder commits (a1)", [
    [{ op: "begin", tx: 1, level: "rc" }, ok],
    [{ op: "update", tx: 1, key: 1, value: 100 }, { count: 1 }],
    [{ op: "begin", tx: 2, level: "rc" }, ok],
    [{ op: "update", tx: 2, key: 1, add: 1 }, { blocked: true }],
    [{ op: "read", tx: 2, key: 1 }, { skipped: true }],
    [{ op: "commit", tx: 1 }, { ok: true, unblocked: [{ tx: 2, result: { count: 1 } }] }],
    [{ op: "read", tx: 2, key: 1 }, { values: [101] }],
  ]],
  ["read committed: the holder rolls back, the update applies to the old version (a1b)", [
    [{ op: "begin", tx: 1, level: "rc" }, ok],
    [{ op: "update", tx: 1, key: 1, value: 100 }, { count: 1 }],
    [{ op: "update", tx: 2, key: 1, add: 1 }, { blocked: true }], // autocommit
    [{ op: "abort", tx: 1 }, { ok: true, unblocked: [{ tx: 2, result: { count: 1 } }] }],
    [{ op: "read", tx: 3, key: 1 }, { values: [11] }],
  ]],
  ["read committed: the holder deleted the row, the update changes nothing (a2)", [
    [{ op: "begin", tx: 1, level: "rc" }, ok],
    [{ op: "delete", tx: 1, key: 1 }, { count: 1 }],
    [{ op: "begin", tx: 2, level: "rc" }, ok],
    [{ op: "update", tx: 2, key: 1, add: 1 }, { blocked: true }],
    [{ op: "commit", tx: 1 }, { ok: true, unblocked: [{ tx: 2, result: { count: 0 } }] }],
  ]],
  ["repeatable read: the snapshot is taken by the first statement, not by BEGIN (c1)", [
    [{ op: "begin", tx: 1, level: "rr" }, ok],
    [{ op: "update", tx: 2, key: 1, value: 11 }, { count: 1 }],
    [{ op: "read", tx: 1, key: 1 }, { values: [11] }],
    [{ op: "update", tx: 2, key: 1, value: 12 }, { count: 1 }],
    [{ op: "read", tx: 1, key: 1 }, { values: [11] }],
    [{ op: "scan", tx: 1, lo: 1, hi: 2 }, { rows: [[1, 11], [2, 20]] }],
  ]],
  ["repeatable read: first updater wins (40001 at once), then 25P02, and COMMIT answers ROLLBACK (c2)", [
    [{ op: "begin", tx: 1, level: "rr" }, ok],
    [{ op: "read", tx: 1, key: 1 }, { values: [10] }],
    [{ op: "update", tx: 2, key: 1, value: 11 }, { count: 1 }],
    [{ op: "update", tx: 1, key: 1, add: 1 }, { error: "40001" }],
    [{ op: "read", tx: 1, key: 1 }, { error: "25P02" }],
    [{ op: "commit", tx: 1 }, { rolledBack: true }],
  ]],
  ["repeatable read: blocked on an open updater, 40001 when it commits (c3)", [
    [{ op: "begin", tx: 1, level: "rr" }, ok],
    [{ op: "read", tx: 1, key: 1 }, { values: [10] }],
    [{ op: "begin", tx: 2, level: "rc" }, ok],
    [{ op: "update", tx: 2, key: 1, value: 11 }, { count: 1 }],
    [{ op: "update", tx: 1, key: 1, add: 1 }, { blocked: true }],
    [{ op: "commit", tx: 2 }, { ok: true, unblocked: [{ tx: 1, result: { error: "40001" } }] }],
  ]],
  ["a duplicate key waits for the open inserter: 23505 if it commits, the row if it aborts (c5)", [
    [{ op: "begin", tx: 1, level: "rc" }, ok],
    [{ op: "insert", tx: 1, key: 5, value: 1 }, { count: 1 }],
    [{ op: "begin", tx: 2, level: "rc" }, ok],
    [{ op: "insert", tx: 2, key: 5, value: 2 }, { blocked: true }],
    [{ op: "commit", tx: 1 }, { ok: true, unblocked: [{ tx: 2, result: { error: "23505" } }] }],
    [{ op: "abort", tx: 2 }, ok],
    [{ op: "begin", tx: 1, level: "rc" }, ok],
    [{ op: "insert", tx: 1, key: 6, value: 1 }, { count: 1 }],
    [{ op: "insert", tx: 2, key: 6, value: 2 }, { blocked: true }],
    [{ op: "abort", tx: 1 }, { ok: true, unblocked: [{ tx: 2, result: { count: 1 } }] }],
    [{ op: "read", tx: 3, key: 6 }, { values: [2] }],
  ]],
  ["deadlock: the waiter that has waited longest fails with 40P01 and the other goes on (e1)", [
    [{ op: "begin", tx: 1, level: "rc" }, ok],
    [{ op: "begin", tx: 2, level: "rc" }, ok],
    [{ op: "update", tx: 1, key: 1, value: 1 }, { count: 1 }],
    [{ op: "update", tx: 2, key: 2, value: 2 }, { count: 1 }],
    [{ op: "update", tx: 1, key: 2, value: 3 }, { blocked: true }],
    [{ op: "update", tx: 2, key: 1, value: 4 }, { count: 1, unblocked: [{ tx: 1, result: { error: "40P01" } }] }],
    [{ op: "commit", tx: 1 }, { rolledBack: true }],
    [{ op: "commit", tx: 2 }, ok],
    [{ op: "scan", tx: 3, lo: 1, hi: 2 }, { rows: [[1, 4], [2, 2]] }],
  ]],
  ["repeatable read: a key a concurrent transaction deleted can be inserted, and the snapshot then sees both rows (checked on 15.18)", [
    [{ op: "begin", tx: 1, level: "rr" }, ok],
    [{ op: "scan", tx: 1, lo: 9, hi: 9 }, { rows: [] }],
    [{ op: "delete", tx: 2, key: 1 }, { count: 1 }],
    [{ op: "insert", tx: 1, key: 1, value: 0 }, { count: 1 }],
    [{ op: "read", tx: 1, key: 1 }, { values: [0, 10] }],
    [{ op: "update", tx: 1, key: 1, add: 1 }, { error: "40001" }],
  ]],
];

const why = postgresUnavailable();
if (why) console.log(`skipping the PostgreSQL engine: it ${why}`);

describe("scenarios (PostgreSQL 15)", () => {
  test.each(scenarios)("%s", (_, steps) => {
    for (const e of [new MvccModel(g), new MvccOracle(g)] as Engine<MvccOp, MvccObs>[]) {
      for (const op of setup) e.apply(op);
      for (const [i, [op, obs]] of steps.entries()) expect(e.apply(op), `${e.constructor.name} step ${i}: ${JSON.stringify(op)}`).toEqual(obs);
    }
  });

  test.skipIf(why !== undefined)("the same scenarios on a real PostgreSQL server give the same observations", async () => {
    const factory = resolveEngine(mvccLayer, "postgres");
    try {
      for (const [name, steps] of scenarios) {
        const e = (await factory.create(g)) as Engine<MvccOp, MvccObs>;
        try {
          for (const op of setup) await e.apply(op);
          for (const [i, [op, obs]] of steps.entries()) expect(await e.apply(op), `${name}, step ${i}: ${JSON.stringify(op)}`).toEqual(obs);
        } finally {
          await e.close?.();
        }
      }
    } finally {
      await factory.dispose?.();
    }
  }, 60_000);

  test("vacuum keeps what an open snapshot sees, and reclaims it once the snapshot ends", () => {
    const m = new MvccModel(g);
    for (const op of setup) m.apply(op);
    m.apply({ op: "begin", tx: 1, level: "rr" });
    m.apply({ op: "read", tx: 1, key: 1 });
    m.apply({ op: "update", tx: 2, key: 1, value: 11 });
    m.apply({ op: "vacuum" });
    expect(m.inspect().removed).toEqual([]);
    expect(m.apply({ op: "read", tx: 1, key: 1 })).toEqual({ values: [10] });
    m.apply({ op: "commit", tx: 1 });
    m.apply({ op: "vacuum" });
    expect(m.inspect().removed).toEqual([{ key: 1, value: 10, xmin: 1, xmax: 3 }]);
  });
});

test("the model holds against the oracle over long fixed-seed runs", async () => {
  for (const seed of [1, 2]) {
    const r = await runCampaign(mvccLayer, resolveEngine(mvccLayer, "model"), { seed, runs: 5000, maxOps: 200 });
    expect(r.failure?.message).toBeUndefined();
    expect(r.ops).toBeGreaterThan(400_000);
  }
}, 60_000);


describe("findings recorded under traces/mvcc/postgres", () => {
  const files = readdirSync("traces/mvcc/postgres");
  test("pass on the model", async () => {
    for (const f of files) {
      const { trace } = loadTrace(`traces/mvcc/postgres/${f}`);
      expect(await checkWith(mvccLayer, trace.geometry, resolveEngine(mvccLayer, "model"), trace.ops), f).toBeUndefined();
    }
  });
  test.skipIf(why !== undefined)("pass on a real PostgreSQL server", async () => {
    const factory = resolveEngine(mvccLayer, "postgres");
    try {
      for (const f of files) {
        const { trace } = loadTrace(`traces/mvcc/postgres/${f}`);
        expect(await checkWith(mvccLayer, trace.geometry, factory, trace.ops), f).toBeUndefined();
      }
    } finally {
      await factory.dispose?.();
    }
  }, 60_000);
});
