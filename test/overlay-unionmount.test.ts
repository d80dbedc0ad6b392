// The unionmount-testsuite as traces: every subtest of its 60 files is enumerated in every mount configuration (the
// count is the suite's own: what Python keeps of each module's subtest_* functions), the committed files are what the
// enumerator writes, the model replays them with every property, and on every written case both the model and the
// oracle satisfy each of the suite's claims.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { formatTrace } from "../core/index.ts";
import { overlayfsUnavailable } from "../engines/overlayfs/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { satisfies, UNIONMOUNT_CONFIGS, type UnionmountGap, unionmountCases } from "../fuzz/overlay/unionmount.ts";
import { checkWith } from "../fuzz/runner.ts";
import { checkTrace } from "../index.ts";
import { overlayLayer } from "../layers/overlay/index.ts";
import { OverlayModel } from "../models/overlay/model.ts";
import type { OverlayObs, OverlayOp } from "../models/overlay/types.ts";
import { OverlayOracle } from "../oracles/overlay.ts";
import {
  allUnionmountCases,
  unionmountGeometry,
  unionmountIndex,
  unionmountTrace,
  unionmountTraceDir,
  writtenUnionmountCases,
} from "../scenarios/overlay-unionmount.ts";

test("every subtest is enumerated: 373 in 60 files, 359 of them in a default ./run --ov on 6.18", () => {
  for (const config of UNIONMOUNT_CONFIGS) {
    const cases = unionmountCases(config);
    expect(cases.length, config).toBe(373);
    expect(new Set(cases.map((c) => c.file)).size).toBe(60);
    // rename-new-dir.py defines subtest_11 and subtest_12 twice: Python keeps the later pair
    expect(cases.filter((c) => c.file === "rename-new-dir").map((c) => c.subtest)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
    expect(cases.find((c) => c.file === "rename-new-dir" && c.subtest === 11)?.doc).toBe(
      "Rename new empty dir over removed empty lower dir",
    );
    // 54 listed files (324) + the 4 redirect_dir files (35), or rename-exdev's 4 with --xdev
    expect(cases.filter((c) => c.runs).length, config).toBe(config === "xdev" ? 328 : 359);
    expect(cases.filter((c) => c.file === "dir-weird-open-dir").every((c) => c.notRun === "removed")).toBe(true);
  }
  expect(new Set(allUnionmountCases.map((c) => c.name)).size).toBe(allUnionmountCases.length);
  // a case is written exactly when nothing blocks it and its configuration is one the suite runs it in
  expect(writtenUnionmountCases.every((c) => c.ops.length > 0 && c.asserts.length > 0)).toBe(true);
  expect(allUnionmountCases.filter((c) => c.gaps.length).every((c) => c.ops.length === 0)).toBe(true);
  const gapped = (gap: UnionmountGap) => allUnionmountCases.filter((c) => c.config === "plain" && c.gaps.includes(gap));
  expect(gapped("times").map((c) => `${c.file} ${c.subtest}`)).toEqual(["impermissible 5"]);
  // --ov=N remounts without rotating after every link, and after a mkdir or rename once N layers are rotated
  const remounting = allUnionmountCases.filter(
    (c) => c.config === "rotation" && c.ops.some((op) => op.op === "remount"),
  );
  for (const s of ["hard-link 1", "hard-link 11", "hard-link-sym 1", "hard-link-sym 2", "hard-link-sym 10"]) {
    expect(remounting.map((c) => `${c.file} ${c.subtest}`)).toContain(s);
  }
  expect(remounting.length).toBe(60);
  // check_dev_ino under --verify: the same st_ino after each successful link (both names) and rename (the new name)
  const devIno = unionmountCases("index").filter((c) => c.asserts.some((x) => "sameIno" in x.expect));
  expect(devIno.length).toBe(64);
  expect(devIno.flatMap((c) => c.asserts.filter((x) => "sameIno" in x.expect)).length).toBe(102);
  expect(allUnionmountCases.filter((c) => c.config !== "rotation" && c.ops.some((op) => op.op === "remount"))).toEqual(
    [],
  );
});

test("every case fits the vocabulary's bounds: one image layer of at most 64 entries, under 200 ops", () => {
  for (const c of writtenUnionmountCases) {
    expect(c.ops[0].op).toBe("layer");
    expect(c.ops.filter((op) => op.op === "layer").length).toBe(1);
    expect(c.ops.length, c.name).toBeLessThan(200);
    expect(c.asserts.every((a) => a.at >= 2 && a.at < c.ops.length)).toBe(true);
  }
});

test("the committed traces and index are the enumerator's (regenerate: npx tsx scenarios/overlay-unionmount.ts)", () => {
  const files = readdirSync(unionmountTraceDir).filter((f) => f.endsWith(".trace.json"));
  expect(files.sort()).toEqual(writtenUnionmountCases.map((c) => `${c.name}.trace.json`).sort());
  for (const c of writtenUnionmountCases) {
    expect(readFileSync(`${unionmountTraceDir}${c.name}.trace.json`, "utf8"), c.name).toBe(
      formatTrace(unionmountTrace(c)),
    );
  }
  expect(readFileSync(`${unionmountTraceDir}index.json`, "utf8")).toBe(unionmountIndex());
});

test("the index lists every case with its gaps", () => {
  const index = JSON.parse(readFileSync(`${unionmountTraceDir}index.json`, "utf8"));
  expect(index.subtests).toBe(373);
  expect(index.runByDefault).toBe(359);
  expect(index.written).toBe(writtenUnionmountCases.length);
  expect(index.rows.map((r: { name: string }) => r.name)).toEqual(allUnionmountCases.map((c) => c.name));
  for (const [row, c] of index.rows.map((r: { gaps: string[] }, i: number) => [r, allUnionmountCases[i]] as const)) {
    expect(row.gaps).toEqual(c.gaps);
  }
});

test("the model replays every written trace with every recorded observation and property", async () => {
  for (const c of writtenUnionmountCases) {
    const trace = JSON.parse(readFileSync(`${unionmountTraceDir}${c.name}.trace.json`, "utf8"));
    expect(await checkTrace(trace, { engine: "model" }), c.name).toBeUndefined();
  }
});

const engines = {
  model: () => new OverlayModel(unionmountGeometry),
  oracle: () => new OverlayOracle(unionmountGeometry),
};
describe.each(Object.entries(engines))("the %s satisfies every claim of the suite", (_, make) => {
  test.each(UNIONMOUNT_CONFIGS.map((c) => [c]))("%s", (config) => {
    const failures: string[] = [];
    for (const c of writtenUnionmountCases.filter((x) => x.config === config)) {
      const engine = make();
      let obs: OverlayObs[];
      try {
        obs = c.ops.map((op: OverlayOp) => engine.apply(op) as OverlayObs);
      } catch (e) {
        failures.push(`${c.name}: ${(e as Error).message}`);
        continue;
      }
      for (const a of c.asserts) {
        if (!satisfies(obs[a.at]!, a.expect, obs)) {
          failures.push(
            `${c.name} op ${a.at} ${JSON.stringify(c.ops[a.at])}: want ${JSON.stringify(a.expect)}, got ${JSON.stringify(obs[a.at])}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

// The real mount: every written trace, its recorded observations (the oracle's, which satisfy the suite's claims)
// and the raw upper layer compared with the model's after every op. 1,729 traces take about 25 s here.
const why = overlayfsUnavailable();
if (why) console.log(`overlayfs: the unionmount traces are not run on the kernel (${why})`);
describe.skipIf(why !== undefined)("the kernel", () => {
  test.each(UNIONMOUNT_CONFIGS.map((c) => [c]))(
    "%s: every written trace passes on a real mount, its upper layer compared with the model's",
    async (config) => {
      const factory = await resolveEngine(overlayLayer, "overlayfs");
      const model = await resolveEngine(overlayLayer, "model");
      const failures: string[] = [];
      for (const c of writtenUnionmountCases.filter((x) => x.config === config)) {
        const t = unionmountTrace(c);
        const f = await checkWith(overlayLayer, t.geometry, factory, t.ops, { against: model, expected: t.expected });
        if (f) failures.push(`${c.name} op ${f.index}: ${f.property}: ${f.message}`);
      }
      expect(failures).toEqual([]);
    },
    120_000,
  );
});
