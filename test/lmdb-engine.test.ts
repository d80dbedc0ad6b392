// LMDB itself as the snapshot layer's lmdb engine (engines/lmdb): fixed op sequences with the observations LMDB
// must give, its env view, crashes, a short lockstep run against the model, and the crash campaign on the real
// library with its negative control. Skipped, with the reason printed, where the agent cannot be built (no C
// compiler, no liblmdb-dev).
import { readdirSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { type AnyLayer, type Engine, type EngineFactory, runRoot } from "../core/index.ts";
import { lmdbUnavailable } from "../engines/lmdb/build.ts";
import { runLmdbCrashCampaign } from "../engines/lmdb/crash.ts";
import { lmdbEngine } from "../engines/lmdb/index.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { defaultSnapshotGeometry, type SnapshotObs, type SnapshotOp } from "../models/snapshot/types.ts";
import { type LmdbEnvView, lmdbEnvView } from "../views/snapshot/lmdb.ts";

const why = lmdbUnavailable();
if (why) console.log(`skipping the LMDB engine tests: it ${why}`);

/** The snapshot layer with the env view (the layer's descriptor lists the engine and its view itself). */
const layer: AnyLayer = { ...snapshotLayer, views: [lmdbEnvView], engines: [lmdbEngine] };
const geometry = { ...defaultSnapshotGeometry, flavour: "lmdb" };
const lmdbFolders = (): string[] => readdirSync(runRoot()).filter((n) => n.startsWith("lmdb-"));

type Expected = [SnapshotOp, SnapshotObs];

async function expectAll(engine: Engine<unknown, unknown>, steps: Expected[]): Promise<void> {
  for (const [op, obs] of steps) expect([op, await engine.apply(op)]).toEqual([op, obs]);
}
const env = async (engine: Engine<unknown, unknown>): Promise<LmdbEnvView> =>
  (await engine.inspectView!("env")) as LmdbEnvView;
const ok = { ok: true } as const;
const error = (e: string): SnapshotObs => ({ error: e }) as SnapshotObs;

describe.skipIf(why !== undefined)("LMDB as the snapshot layer's lmdb engine", () => {
  test("ops, errors, readers, crashes and the env view, as LMDB answers them", async () => {
    const factory = lmdbEngine.factory(layer, {});
    expect(factory.fixedGeometry).toEqual({ flavour: "lmdb" });
    try {
      await sequences(factory);
    } finally {
      await factory.dispose?.();
    }
    expect(lmdbFolders()).toEqual([]); // the agent's folder went with the factory
  });

  async function sequences(factory: EngineFactory): Promise<void> {
    const engine = await factory.create(geometry);
    try {
      expect([...engine.features].sort()).toEqual(["abort", "crash", "env", "reset"]);
      // the initial state: t0 created and committed by txn 1; the next write txn is 2 (the model's txn)
      let v = await env(engine);
      expect(v).toMatchObject({ lastTxn: 1, open: null, readers: {}, lockTable: [], trees: { 0: { entries: 0 } } });
      expect(v.metas.map((m) => m?.txn)).toEqual([0, 1]);
      expect(v.audit).toMatchObject({ ok: true });
      await expectAll(engine, [
        [{ op: "put", tree: 0, key: 1, data: [1, 2, 3] }, ok],
        [{ op: "get", tree: 0, key: 1 }, { data: [1, 2, 3] }],
        [{ op: "get", tree: 0, key: 2 }, error("NOTFOUND")],
        [{ op: "del", tree: 0, key: 2 }, error("NOTFOUND")],
        [{ op: "put", tree: 1, key: 1, data: [1] }, error("ENOENT")],
        [{ op: "scan", tree: 1 }, error("ENOENT")],
        [{ op: "create", tree: 0 }, error("EEXIST")],
        [{ op: "drop", tree: 0 }, error("EINVAL")],
        [{ op: "drop", tree: 2 }, error("ENOENT")],
        [{ op: "create", tree: 1 }, ok],
        [{ op: "create", tree: 1 }, error("EEXIST")],
        [{ op: "put", tree: 1, key: 0, data: [9] }, ok],
        [{ op: "put", tree: 1, key: 9, data: [0, 255] }, ok],
        [
          { op: "scan", tree: 1 },
          {
            entries: [
              [0, [9]],
              [9, [0, 255]],
            ],
          },
        ],
      ]);
      expect((await env(engine)).open).toBe(2);
      await expectAll(engine, [[{ op: "commit" }, ok]]);
      v = await env(engine);
      expect(v).toMatchObject({ lastTxn: 2, open: null, trees: { 0: { entries: 1 }, 1: { entries: 2 } } });
      expect(v.metas.map((m) => m?.txn)).toEqual([2, 1]); // txn 2 wrote slot 2 & 1 = 0
      // each slot's trees, read from the file: txn 1 had an empty t0, txn 2 has t0 and t1 with a root page each
      expect(v.metas[1]?.roots).toEqual({ 0: null });
      expect(Object.keys(v.metas[0]!.roots)).toEqual(["0", "1"]);
      expect(Object.values(v.metas[0]!.roots).every((r) => typeof r === "number" && r > 1)).toBe(true);
      // an abort drops the open txn; a commit of nothing writes nothing
      await expectAll(engine, [
        [{ op: "put", tree: 0, key: 5, data: [5] }, ok],
        [{ op: "abort" }, ok],
        [{ op: "get", tree: 0, key: 5 }, error("NOTFOUND")],
        [{ op: "commit" }, ok],
      ]);
      expect((await env(engine)).lastTxn).toBe(2);

      // readers: a read txn keeps the state it began on, whatever commits after it
      await expectAll(engine, [
        [{ op: "begin-read", reader: 0 }, ok],
        [{ op: "begin-read", reader: 0 }, error("EINVAL")],
        [{ op: "read", reader: 1, tree: 0, key: 1 }, error("EINVAL")],
        [{ op: "end-read", reader: 1 }, error("EINVAL")],
        [{ op: "put", tree: 0, key: 1, data: [7] }, ok],
        [{ op: "commit" }, ok],
        [{ op: "del", tree: 0, key: 1 }, ok],
        [{ op: "commit" }, ok],
        [{ op: "read", reader: 0, tree: 0, key: 1 }, { data: [1, 2, 3] }],
        [{ op: "get", tree: 0, key: 1 }, error("NOTFOUND")],
        // a drop in the open txn: the writer no longer sees the tree, a reader that begins now still does
        [{ op: "drop", tree: 1 }, ok],
        [{ op: "scan", tree: 1 }, error("ENOENT")],
        [{ op: "begin-read", reader: 1 }, ok],
        [{ op: "read", reader: 1, tree: 1, key: 0 }, { data: [9] }],
        [{ op: "commit" }, ok],
        [{ op: "create", tree: 1 }, ok], // a new, empty t1 (LMDB may give it the dropped one's handle slot)
        [{ op: "put", tree: 1, key: 0, data: [4] }, ok],
        [{ op: "commit" }, ok],
        [{ op: "read", reader: 1, tree: 1, key: 0 }, { data: [9] }],
        [{ op: "read", reader: 0, tree: 1, key: 9 }, { data: [0, 255] }],
        [{ op: "get", tree: 1, key: 0 }, { data: [4] }],
        [{ op: "read", reader: 0, tree: 2, key: 0 }, error("ENOENT")],
      ]);
      v = await env(engine);
      expect(v.readers).toEqual({ 0: 2, 1: 4 });
      expect([...v.lockTable].sort()).toEqual([2, 4]);
      expect(v.lastTxn).toBe(6);
      expect(v.audit).toMatchObject({ ok: true });
      // reader 0 pins txn 2: no record of txn 2 or later may be reused while it lives (mdb_find_oldest)
      expect(Object.keys(v.freelist).map(Number).sort()).toEqual([2, 3, 4, 5, 6]);
      await expectAll(engine, [
        [{ op: "end-read", reader: 0 }, ok],
        [{ op: "end-read", reader: 0 }, error("EINVAL")],
      ]);

      // crashes: power lost before any step, after every step, with no open txn; readers are gone after each
      await expectAll(engine, [
        [{ op: "put", tree: 0, key: 3, data: [3] }, ok],
        [{ op: "crash", after: 0, keep: 0 }, { recovered: "last" }],
        [{ op: "get", tree: 0, key: 3 }, error("NOTFOUND")],
        [{ op: "read", reader: 1, tree: 0, key: 3 }, error("EINVAL")],
        [{ op: "put", tree: 0, key: 3, data: [3] }, ok],
        [{ op: "crash", after: 1_000_000, keep: 0 }, { recovered: "inflight" }],
        [{ op: "get", tree: 0, key: 3 }, { data: [3] }],
        [{ op: "crash", after: 1_000_000, keep: 0 }, { recovered: "last" }],
        [{ op: "get", tree: 1, key: 0 }, { data: [4] }],
      ]);
      v = await env(engine);
      expect(v).toMatchObject({ lastTxn: 7, readers: {}, lockTable: [], audit: { ok: true } });
      // every data write kept but the flush and the meta not reached: the last state
      await expectAll(engine, [
        [{ op: "put", tree: 0, key: 4, data: [4] }, ok],
        [{ op: "crash", after: 3, keep: 7 }, { recovered: "last" }],
        [{ op: "get", tree: 0, key: 4 }, error("NOTFOUND")],
      ]);
    } finally {
      await engine.close?.();
    }
    // the engine offers reset: the same process serves the next sequence, from the initial state
    const again = await factory.create(geometry);
    try {
      const v = await env(again);
      expect(v).toMatchObject({ lastTxn: 1, open: null, trees: { 0: { entries: 0 } } });
      expect(Object.keys(v.trees)).toEqual(["0"]);
      await expectAll(again, [[{ op: "get", tree: 0, key: 1 }, error("NOTFOUND")]]);
    } finally {
      await again.close?.();
    }
  }

  test("in lockstep with the model: observations, and the env view against the model's state", async () => {
    const factory = lmdbEngine.factory(layer, {});
    const against: EngineFactory = { name: "model", create: (g) => layer.model(g) };
    try {
      const r = await runCampaign(layer, factory, { seed: 1, runs: 150, maxOps: 40, against, flavour: "lmdb" });
      expect(r.failure ?? r.engineFailure).toBeUndefined();
      expect(r.status).toBe("passed");
      expect(r.structure?.compared).toBeGreaterThan(1000);
    } finally {
      await factory.dispose?.();
    }
  });

  test("crash campaign: every crash state of every commit recovers exactly the last or the in-flight state", async () => {
    const r = await runLmdbCrashCampaign({ layer: snapshotLayer, seed: 7, sequences: 16 });
    console.log(
      `LMDB crash campaign, seed 7: ${r.commits} commits (${r.commitsWithReader} with a reader pinning an older txn), ${r.states} crash states (${r.pairs} prefix × subset pairs), ${r.recoveredLast} last, ${r.recoveredInflight} in flight, ${r.violations} violations, ${r.msPerState.toFixed(2)} ms per state`,
    );
    expect(r.mismatches).toEqual([]);
    expect(r.examples).toEqual([]);
    expect(r.violations).toBe(0);
    expect(r.states).toBeGreaterThanOrEqual(1000);
    expect(r.recoveredLast + r.recoveredInflight).toBe(r.states);
    expect(r.recoveredInflight).toBeGreaterThanOrEqual(r.commits); // at least the fully written commit each time
    expect(r.commitsWithReader).toBeGreaterThan(0);
    expect(r.maxWrites).toBeGreaterThan(6); // overflow values make multi-page commits
    expect(lmdbFolders()).toEqual([]);
  });

  test("crash campaign's negative control: without the data flush, LMDB recovers silently wrong data", async () => {
    const r = await runLmdbCrashCampaign({ layer: snapshotLayer, seed: 7, sequences: 6, dropDataSync: true });
    console.log(
      `LMDB crash campaign without the data fdatasync, seed 7: ${r.states} crash states, ${r.violations} violations (${JSON.stringify(r.kinds)})`,
    );
    expect(r.mismatches).toEqual([]); // the agent's answers outside the crash images are still right
    expect(r.violations).toBeGreaterThan(0);
    expect(r.kinds.silent).toBeGreaterThan(0); // read without an error, and neither state
    expect(r.examples.length).toBeGreaterThan(0);
    const e = r.examples[0]!;
    expect(e.steps.filter((s) => s === "flush")).toHaveLength(1); // the meta write's own O_DSYNC flush is all that is left
    expect(lmdbFolders()).toEqual([]); // the campaign's folder (lmdb-crash-…) went with it
  });
});
