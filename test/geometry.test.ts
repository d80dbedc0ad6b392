// The one geometry rule (core/geometry.ts): defaults, then flavour, then engine, then user, then what the engine
// cannot run without. Campaign, explore, replay and minimize apply it (the CLI and the library go through them), so
// the library keeps a mutant's flavour as the CLI does.
import { expect, test } from "vitest";
import { type EngineFactory, InputError, resolveGeometry } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { explore } from "../fuzz/explore.ts";
import { minimizeTrace } from "../fuzz/minimize.ts";
import { replayTrace } from "../fuzz/replay.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry } from "../models/mm/types.ts";

test("precedence: defaults < flavour < engine's needs < user < what the engine cannot run without", () => {
  expect(resolveGeometry(mvccLayer)).toEqual(mvccLayer.defaultGeometry);
  expect(resolveGeometry(mvccLayer, { flavour: "sqlite" })).toEqual({ keys: 4, txs: 6, flavour: "sqlite" });
  const engine = { geometry: { txs: 2, keys: 3 } };
  expect(resolveGeometry(mvccLayer, { flavour: "sqlite", engine })).toEqual({ keys: 3, txs: 2, flavour: "sqlite" });
  expect(resolveGeometry(mvccLayer, { flavour: "sqlite", engine, user: { txs: 5 } })).toEqual({
    keys: 3,
    txs: 5,
    flavour: "sqlite",
  });
  const mutant = { geometry: { txs: 2 }, fixedGeometry: { flavour: "postgres" } };
  expect(resolveGeometry(mvccLayer, { flavour: "sqlite", engine: mutant, user: { flavour: "sqlite" } })).toEqual({
    keys: 4,
    txs: 2,
    flavour: "postgres",
  });
});

test("bad geometry is an input error that names the field", () => {
  expect(() => resolveGeometry(mmLayer, { user: null, source: "--geometry" })).toThrow(InputError);
  expect(() => resolveGeometry(mmLayer, { user: [1], source: "--geometry" })).toThrow(
    /--geometry must be a JSON object/,
  );
  expect(() => resolveGeometry(mmLayer, { user: { pages: 0 }, source: "--geometry" })).toThrow(
    /^--geometry\.pages: Too small/,
  );
  expect(() => resolveGeometry(mmLayer, { user: { page: 64 } })).toThrow(/Unrecognized key: "page"/);
  expect(() => resolveGeometry(mvccLayer, { flavour: "oracle" })).toThrow(
    /no flavour "oracle" \(known: sqlite, innodb\)/,
  );
});

test("a library campaign with a geometry keeps a WAL mutant's flavour (it mutates the sqlite model)", async () => {
  const factory = await resolveEngine(mvccLayer, "mutant:wal-two-writers");
  const r = await runCampaign(mvccLayer, factory, { seed: 1, runs: 200, maxOps: 50, geometry: { keys: 3 } });
  expect(r.status).toBe("failed");
  // the mutant's own fields ({"flavour":"sqlite","txs":6}) come last; the user's keys stay
  expect(r.trace!.geometry).toEqual({ keys: 3, txs: 6, flavour: "sqlite" });
});

test("a trace's geometry is completed by the rule: the engine's needs fill only what the trace leaves out", async () => {
  const seen: unknown[] = [];
  const factory: EngineFactory = {
    name: "needs-32-pages",
    geometry: { pages: 32 },
    create: (g) => {
      seen.push(g);
      return new MmModel(g as MmGeometry);
    },
  };
  const ops = [{ op: "spawn" }];
  const trace = { cowcheck: 1 as const, layer: "mm", features: [], ops };
  await replayTrace(mmLayer, { ...trace, geometry: {} }, factory);
  await replayTrace(mmLayer, { ...trace, geometry: { pages: 8 } }, factory);
  expect(seen).toEqual([
    { ...mmLayer.defaultGeometry, pages: 32 },
    { ...mmLayer.defaultGeometry, pages: 8 },
  ]);
});

test("explore and minimize complete the geometry by the same rule", async () => {
  const factory = await resolveEngine(mvccLayer, "mutant:wal-two-writers");
  const explored = await explore(mvccLayer, factory, { depth: 3, geometry: { keys: 2 } });
  expect(explored.result?.trace?.geometry).toEqual({ keys: 2, txs: 6, flavour: "sqlite" });
  const trace = { ...explored.result!.trace!, geometry: { keys: 2 } };
  const minimized = await minimizeTrace(mvccLayer, trace, factory);
  expect(minimized.kind === "property" && minimized.trace.geometry).toEqual({ keys: 2, txs: 6, flavour: "sqlite" });
});
