// cowcheck as a library, imported by its package name exactly as the generated regression tests do.
import { readFileSync } from "node:fs";
import { checkEngine, checkTrace, type Engine, expectEngineHolds, findLayer } from "cowcheck";
import { expect, test } from "vitest";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry, MmObs, MmOp } from "../models/mm/types.ts";

const trace = JSON.parse(readFileSync("test/fixtures/seed-article.trace.json", "utf8"));
const mm = findLayer("mm")!;

test("checkTrace: the seed-article trace holds on the model and fails on a mutant", async () => {
  expect(await checkTrace(trace)).toBeUndefined();
  const f = await checkTrace({ ...trace, expected: undefined }, { engine: "mutant:fork-parent-writable" });
  expect(f?.property).toBe("private-writable-exclusive");
});

test("checkEngine on a user's own engine (here: the model, wrapped)", async () => {
  class Mine implements Engine<MmOp, MmObs> {
    readonly layer = "mm" as const;
    readonly features = new Set(["inspect"]);
    private readonly inner: MmModel;
    constructor(g: MmGeometry) {
      this.inner = new MmModel(g);
    }
    apply(op: MmOp): MmObs {
      return this.inner.apply(op);
    }
    inspect() {
      return this.inner.inspect();
    }
  }
  const r = await checkEngine(mm, (g) => new Mine(g as MmGeometry), { runs: 50 });
  expect(r.status).toBe("passed");
  await expectEngineHolds(mm, (g) => new Mine(g as MmGeometry), { runs: 50 });
});

test("expectEngineHolds fails with the minimized trace in its message", async () => {
  const mutant = mm.mutants.find((m) => m.name === "wp-copy-leak")!;
  await expect(expectEngineHolds(mm, (g) => mutant.create(g), { runs: 500 })).rejects.toThrow(
    /refcount-conservation: .*\ntrace \(\d+ ops\):\n\{"cowcheck":1,"layer":"mm"/,
  );
});
