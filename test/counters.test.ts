// Economy counters: an engine that cannot be inspected reports the few counters the economy bounds need (the
// "counters" view), and the runner holds them to the lazy model's, run in lockstep, without --against. An eager
// engine then fails with an economy failure naming the counter; a lazy one passes; --skip economy skips it.
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { type AnyLayer, type Engine, type EngineFactory, withoutKinds } from "../core/index.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import { overlayLayer } from "../layers/overlay/index.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import type { MmState } from "../models/mm/types.ts";
import type { MvccState } from "../models/mvcc/types.ts";
import type { OverlayState } from "../models/overlay/types.ts";
import type { SnapshotState } from "../models/snapshot/types.ts";
import { mmCountersOf } from "../views/mm/counters.ts";
import { campaignOn } from "./helpers.ts";

const EAGER_WARNING = /economy bounds were not checked/;

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
});
afterEach(() => vi.restoreAllMocks());

/** Each layer's counters, read off a model's (or mutant's) inspected state: what an honest engine reports. */
const countersOf: Record<string, (s: never) => Record<string, number>> = {
  mm: (s: MmState) => mmCountersOf(s),
  overlay: (s: OverlayState) => ({ copyUps: s.copiedTotal?.copyUps ?? 0, bytesCopied: s.copiedTotal?.bytes ?? 0 }),
  mvcc: (s: MvccState) => ({ versions: s.versions.length }),
  snapshot: (s: SnapshotState) => ({ nodesCopied: s.counters.copied, nodesAllocated: s.counters.allocated }),
};

/**
 * The layer's model, or one of its mutants, behind an engine that offers the "counters" view and no inspect (as a
 * black box would); `inflate` adds to a counter once the engine has forked.
 */
function countersOnly(layer: AnyLayer, which = "model", inflate?: string): EngineFactory {
  return {
    name: `counters-only:${which}${inflate ? `+${inflate}` : ""}`,
    create(geometry): Engine<unknown, unknown> {
      const inner: Engine<unknown, unknown> =
        which === "model" ? layer.model(geometry) : layer.mutants.find((m) => m.name === which)!.create(geometry);
      let forked = false;
      return {
        layer: layer.name,
        features: new Set([...[...inner.features].filter((f) => f !== "inspect"), "counters"]),
        apply(op) {
          if ((op as { op: string }).op === "fork") forked = true;
          return inner.apply(op);
        },
        chose: inner.chose?.bind(inner),
        inspectView(name) {
          expect(name).toBe("counters");
          const counters = countersOf[layer.name]!(inner.inspect!() as never);
          if (inflate && forked) counters[inflate]! += 1;
          return counters;
        },
      };
    },
  };
}

const campaign = (layer: AnyLayer, factory: EngineFactory, extra: { skip?: ["economy"] } = {}) =>
  runCampaign(layer, factory, { seed: 1, runs: 60, maxOps: 40, ...extra });

describe("an engine without inspect, offering counters", () => {
  test("the model behind counters passes, and the coverage lists the counters check, not the eager warning", async () => {
    const r = await campaign(mmLayer, countersOnly(mmLayer));
    expect(r.failure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
    expect(r.checked?.properties).toEqual(["observational-equivalence", "economy-counters"]);
    expect(r.checked?.warnings.some((w) => EAGER_WARNING.test(w))).toBe(false);
    const why = Object.fromEntries(r.checked!.notChecked.map((n) => [n.property, n.reason]));
    expect(why["refcount-conservation"]).toMatch(/no inspect/);
    expect(why["fork-copies-only-pinned"]).toMatch(/no inspect.*held to the model's instead: economy-counters/);
  });

  test("an inflated counter fails with kind economy, naming the counter, both values and the op", async () => {
    const engine = await countersOnly(mmLayer, "model", "pagesCopied").create(mmLayer.defaultGeometry);
    const ops = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 2, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 0, cell: 0, value: 7 },
      { op: "fork", pid: 1 },
      { op: "read", pid: 2, page: 0 },
    ];
    const f = await checkSequence(mmLayer, mmLayer.defaultGeometry, engine, ops);
    expect(f).toMatchObject({ index: 3, property: "counters-pagesCopied", kind: "economy" });
    expect(f!.message).toBe(
      "pagesCopied is 1, the lazy model's 0: the engine copied more pages than the model did for the same ops, after op 3 (fork)",
    );
    // --skip economy skips it, and lets the same sequence pass
    const skipped = withoutKinds(mmLayer, ["economy"]);
    const again = await countersOnly(mmLayer, "model", "pagesCopied").create(mmLayer.defaultGeometry);
    expect(await checkSequence(skipped, mmLayer.defaultGeometry, again, ops)).toBeUndefined();
  });

  test("the eager-fork mutant behind counters fails economy; with --skip economy it passes, with the eager warning", async () => {
    const r = await campaign(mmLayer, countersOnly(mmLayer, "eager-fork"));
    expect(r.status).toBe("failed");
    expect(r.failure).toMatchObject({ kind: "economy", property: "counters-pagesCopied" });
    expect(r.failure!.message).toMatch(/\(fork\)$/);
    const skipped = await campaign(mmLayer, countersOnly(mmLayer, "eager-fork"), { skip: ["economy"] });
    expect(skipped.status).toBe("passed");
    expect(skipped.checked?.properties).not.toContain("economy-counters");
    expect(skipped.checked?.warnings.some((w) => EAGER_WARNING.test(w))).toBe(true);
    expect(skipped.checked?.notChecked.find((n) => n.property === "copies-only-on-write")?.reason).toBe(
      "--skip economy",
    );
  });

  test("overlay: the vfs driver (a copy of the image per container) fails through copyUps; the model passes", async () => {
    const bad = await campaign(overlayLayer, countersOnly(overlayLayer, "vfs-driver"));
    expect(bad.failure).toMatchObject({ kind: "economy", property: "counters-copyUps" });
    const ok = await campaign(overlayLayer, countersOnly(overlayLayer));
    expect(ok.failure?.message).toBeUndefined();
    expect(ok.checked?.properties).toContain("economy-counters");
  });

  test("snapshot: a snapshot that copies the whole tree fails through nodesAllocated; the model passes", async () => {
    const bad = await campaign(snapshotLayer, countersOnly(snapshotLayer, "eager-snapshot"));
    expect(bad.failure).toMatchObject({ kind: "economy", property: "counters-nodesAllocated" });
    expect(bad.trace!.ops.at(-1)).toMatchObject({ op: expect.stringMatching(/^(snapshot|clone|send)$/) });
    const ok = await campaign(snapshotLayer, countersOnly(snapshotLayer));
    expect(ok.failure?.message).toBeUndefined();
    expect(ok.checked?.properties).toContain("economy-counters");
  });

  test("mvcc: an update that copies the table fails through versions; the model passes", async () => {
    const bad = await campaign(mvccLayer, countersOnly(mvccLayer, "update-copies-table"));
    expect(bad.failure).toMatchObject({ kind: "economy", property: "counters-versions" });
    const ok = await campaign(mvccLayer, countersOnly(mvccLayer));
    expect(ok.failure?.message).toBeUndefined();
    expect(ok.status).toBe("passed");
  });
});

const python = spawnSync("python3", ["--version"]).status === 0;
if (!python) console.warn("test/counters.test.ts: python3 is missing, so examples/eager-mm.py is not run");

describe.skipIf(!python)("examples/eager-mm.py, an eager engine in Python over stdio", () => {
  const engine = "stdio:python3 examples/eager-mm.py";

  test("fails economy through its counters (pagesCopied above the model's at a fork)", async () => {
    const r = await campaignOn(mmLayer, engine, { seed: 1, runs: 200, maxOps: 50 });
    expect(r.status).toBe("failed");
    expect(r.failure).toMatchObject({ kind: "economy", property: "counters-pagesCopied" });
    expect(r.trace!.ops.at(-1)).toMatchObject({ op: "fork" });
    expect(r.checked?.properties).toContain("economy-counters");
  });

  test("without the counters feature, its observations pass, with the eager warning", async () => {
    process.env.EAGER_MM_HIDE_COUNTERS = "1";
    try {
      const r = await campaignOn(mmLayer, engine, { seed: 1, runs: 200, maxOps: 50 });
      expect(r.failure?.message).toBeUndefined();
      expect(r.status).toBe("passed");
      expect(r.checked?.properties).toEqual(["observational-equivalence"]);
      expect(r.checked?.warnings.some((w) => EAGER_WARNING.test(w))).toBe(true);
    } finally {
      delete process.env.EAGER_MM_HIDE_COUNTERS;
    }
  });

  test("--skip economy skips the counters check", async () => {
    const r = await campaignOn(mmLayer, engine, { seed: 1, runs: 100, maxOps: 50, skip: ["economy"] });
    expect(r.status).toBe("passed");
    expect(r.checked?.properties).toEqual(["observational-equivalence"]);
  });
});
