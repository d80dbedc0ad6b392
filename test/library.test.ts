// cowcheck as a library, imported by its package name exactly as the generated regression tests do.
import { readFileSync } from "node:fs";
import { checkEngine, checkTrace, cowcheckMatchers, type Engine, expectEngineHolds, findLayer } from "cowcheck";
import { expect, test } from "vitest";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry, MmObs, MmOp } from "../models/mm/types.ts";

const trace = JSON.parse(readFileSync("test/fixtures/seed-article.trace.json", "utf8"));
const mm = findLayer("mm")!;
const overlay = findLayer("overlay")!;

test("checkTrace: the seed-article trace holds on the model and fails on a mutant", async () => {
  expect(await checkTrace(trace)).toBeUndefined();
  const f = await checkTrace({ ...trace, expected: undefined }, { engine: "mutant:fork-parent-writable" });
  expect(f?.property).toBe("private-writable-exclusive");
});

test("checkTrace takes an engine as a name, a factory or a function, and an in-process engine replays its own trace", async () => {
  const mutant = mm.mutants.find((m) => m.name === "fork-parent-writable")!;
  const t = { ...trace, expected: undefined };
  const byName = await checkTrace(t, { engine: "mutant:fork-parent-writable" });
  const byFactory = await checkTrace(t, { engine: { name: "mine", create: (g) => mutant.create(g) } });
  const byFunction = await checkTrace(t, { engine: (g) => mutant.create(g) });
  expect(byFactory).toEqual(byName);
  expect(byFunction).toEqual(byName);
  expect(await checkTrace(t, { engine: (g) => new MmModel(g as MmGeometry) })).toBeUndefined();
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
  expect(r.report).toMatch(/^passed: 50 runs, [\d,]+ ops\nchecked: observational-equivalence, refcount-conservation/);
  expect(r.checked?.notChecked).toEqual([]);
  await expectEngineHolds(mm, (g) => new Mine(g as MmGeometry), { runs: 50 });
});

test("expectEngineHolds fails with what the CLI prints: property, op index, seed, the trace, the replay command and the regression test", async () => {
  const mutant = mm.mutants.find((m) => m.name === "wp-copy-leak")!;
  const error = await expectEngineHolds(mm, (g) => mutant.create(g), { runs: 500 }).then(
    () => undefined,
    (e: Error) => e,
  );
  const text = error?.message ?? "";
  expect(text).toMatch(/^property: refcount-conservation \(invariant\)\nmessage: {2}frame \d+: refcount/);
  expect(text).toMatch(/\nat op \d+: \{"op":/);
  expect(text).toMatch(
    /\nseed 1, after \d+ run\(s\); the trace \(save it as [\w.-]+\.trace\.json\):\n\{\n {2}"cowcheck": 1,/,
  );
  expect(text).toContain("\nreplay: npx cowcheck replay ");
  expect(text).toContain("\nregression test:\n// cowcheck regression:");
  expect(text).toContain('import { checkTrace } from "cowcheck";');
  expect(text).toContain("await checkTrace(trace, { engine: createEngine })");
});

test("an observation that differs is shown as expected against observed, in checkEngine's report", async () => {
  const mutant = overlay.mutants.find((m) => m.name === "unlink-no-whiteout")!;
  const r = await checkEngine(overlay, (g) => mutant.create(g), { runs: 100 });
  expect(r.status).toBe("failed");
  expect(r.report).toMatch(/\nobserved: .*\nexpected: .*\ndiffers at:\n/);
  // the trace in the report is the result's trace, and it replays to the same failure
  const replayed = await checkTrace(r.trace, { engine: (g) => mutant.create(g) });
  expect(replayed?.property).toBe(r.failure?.property);
  expect(replayed?.index).toBe(r.failure?.index);
});

test("expect(engine).toConformTo(layer): passes for an engine that holds, fails with the CLI's account otherwise", async () => {
  expect.extend(cowcheckMatchers);
  const conform = expect as unknown as (v: unknown) => {
    toConformTo(layer: unknown, o?: unknown): Promise<void>;
    not: { toConformTo(layer: unknown, o?: unknown): Promise<void> };
  };
  await conform((g: unknown) => mm.model(g)).toConformTo(mm, { runs: 30 });
  const mutant = mm.mutants.find((m) => m.name === "wp-copy-leak")!;
  const error = await conform((g: unknown) => mutant.create(g))
    .toConformTo(mm, { runs: 500 })
    .then(
      () => undefined,
      (e: Error) => e,
    );
  expect(error?.message).toMatch(/^property: refcount-conservation \(invariant\)/);
  expect(error?.message).toContain("\nreplay: npx cowcheck replay ");
  await conform((g: unknown) => mutant.create(g)).not.toConformTo(mm, { runs: 500 });
});
