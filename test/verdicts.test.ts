// Verdicts that mean something: what a pass checked, replay tokens, shrinking that holds on to the bug, the
// corpus run first, and an oracle replayed as the engine.
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { main } from "../cli/main.ts";
import type { Engine } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { differingFields } from "../fuzz/bug.ts";
import { parseReplayToken, replayToken, runCampaign } from "../fuzz/campaign.ts";
import { replayTrace } from "../fuzz/replay.ts";
import { layerNamed, loadTrace } from "../layers/index.ts";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry, MmObs, MmOp } from "../models/mm/types.ts";
import { campaignOn, captureOutput, tempDirs } from "./helpers.ts";

const io = captureOutput();
const tempDir = tempDirs("cowcheck-verdicts-");

const mm = layerNamed("mm");
const mvcc = layerNamed("mvcc");

/** The model behind an engine that offers no inspect and no optional op: a black box. */
class BlackBox implements Engine<MmOp, MmObs> {
  readonly layer = "mm";
  readonly features = new Set<string>();
  private readonly inner: MmModel;
  constructor(g: MmGeometry) {
    this.inner = new MmModel(g);
  }
  apply(op: MmOp): MmObs {
    return this.inner.apply(op);
  }
}

test("a pass by an engine with no inspect says what it did not check, which op kinds it never saw, and warns that an eager engine passes too", async () => {
  const r = await runCampaign(
    mm,
    { name: "black-box", create: (g) => new BlackBox(g as MmGeometry) },
    {
      seed: 1,
      runs: 30,
      maxOps: 50,
    },
  );
  expect(r.status).toBe("passed");
  const c = r.checked!;
  expect(c.properties).toEqual(["observational-equivalence"]);
  const names = c.notChecked.map((n) => n.property);
  for (const p of ["refcount-conservation", "copies-only-on-write", "fork-copies-only-pinned"])
    expect(names).toContain(p);
  expect(c.notChecked.every((n) => /no inspect/.test(n.reason))).toBe(true);
  expect(c.warnings.join("\n")).toMatch(/eagerly/);
  const missing = Object.fromEntries(c.notGenerated.map((n) => [n.feature, n.opKinds]));
  expect(missing.thp).toContain("collapse");
  expect(missing.gup).toContain("pin");
  expect(Object.keys(c.opKinds)).not.toContain("collapse");
  const total = Object.values(c.opKinds).reduce((a, k) => a + k.ops, 0);
  expect(total).toBe(r.ops);
  expect(c.effective).toBeGreaterThan(0);
  expect(c.effective).toBeLessThan(1);
});

test("the model's pass lists every property, --skip economy lists the bounds as skipped with the eager warning", async () => {
  const full = await campaignOn(mm, "model", { seed: 1, runs: 20, maxOps: 40 });
  expect(full.checked?.notChecked).toEqual([]);
  expect(full.checked?.warnings).toEqual([]);
  expect(full.checked?.properties).toContain("copies-only-on-write");
  const skipped = await campaignOn(mm, "model", { seed: 1, runs: 20, maxOps: 40, skip: ["economy"] });
  expect(skipped.checked?.notChecked.find((n) => n.property === "copies-only-on-write")?.reason).toBe("--skip economy");
  expect(skipped.checked?.warnings.join()).toMatch(/eagerly/);
});

test("summary.json, junit.xml and the terminal carry what was checked", async () => {
  const dir = tempDir();
  expect(await main(["run", "--layer", "mm", "--engine", "model", "--runs", "20", "--report", dir])).toBe(0);
  const stdout = io.out.join("\n");
  expect(stdout).toMatch(/checked: observational-equivalence, refcount-conservation/);
  expect(stdout).toMatch(/ops: \d+% did something; /);
  const summary = JSON.parse(readFileSync(`${dir}/summary.json`, "utf8"));
  expect(summary.targets[0].checked.properties).toContain("tlb-coherence");
  expect(summary.targets[0].checked.opKinds.fork.ops).toBeGreaterThan(0);
  const junit = readFileSync(`${dir}/junit.xml`, "utf8");
  expect(junit).toMatch(/<property name="checked" value="observational-equivalence, refcount-conservation/);
  expect(junit).toMatch(/<property name="ops\.fork" value="\d+ \(\d+ errors\)"\/>/);
  expect(readFileSync(`${dir}/report.html`, "utf8")).toMatch(/what was checked/);
});

test("a failure's replay token goes straight to its counterexample: one run, the same trace", async () => {
  const mutant = await resolveEngine(mm, "mutant:wipeonfork-ignored");
  const r = await runCampaign(mm, mutant, { seed: 3, runs: 5000, maxOps: 200 });
  expect(r.status).toBe("failed");
  expect(r.runs).toBeGreaterThan(1);
  const token = parseReplayToken(r.replay!);
  expect(token).toMatchObject({ layer: "mm", seed: 3, maxOps: 200 });
  const again = await runCampaign(mm, mutant, { seed: token.seed, runs: 1, maxOps: token.maxOps, replay: token.path });
  expect(again.runs).toBe(1);
  expect(again.trace?.ops).toEqual(r.trace?.ops);
  expect(again.failure).toEqual(r.failure);
  // the model passes the same sequence: a fixed engine shows as a pass
  const fixed = await campaignOn(mm, "model", { seed: 3, runs: 1, maxOps: 200, replay: token.path });
  expect(fixed.status).toBe("passed");
});

test("replay tokens: long paths are packed, and a malformed token is bad input", () => {
  const path = Array.from({ length: 500 }, (_, i) => String(i % 7)).join(":");
  const t = replayToken("mvcc", "sqlite", 9, 100, path);
  expect(t.length).toBeLessThan(path.length);
  expect(parseReplayToken(t)).toEqual({ layer: "mvcc", flavour: "sqlite", seed: 9, maxOps: 100, path });
  expect(parseReplayToken("mm:1:200:57:3:0")).toEqual({
    layer: "mm",
    flavour: undefined,
    seed: 1,
    maxOps: 200,
    path: "57:3:0",
  });
  for (const bad of ["mm:1:200", "mm:x:200:1", "mm:1:200:zAAAA", "mm:1:0:1", "mm:99999999999:200:1"])
    expect(() => parseReplayToken(bad)).toThrow(/--replay takes the token/);
});

test("cowcheck run --replay: exit 2 on a bad token, the failure again on a good one", async () => {
  expect(await main(["run", "--engine", "model", "--replay", "foo:bar"])).toBe(2);
  expect(io.err.join("")).toMatch(/--replay takes the token/);
  const report = tempDir();
  const first = ["run", "--layer", "mm", "--engine", "mutant:wipeonfork-ignored", "--seed", "3", "--runs", "5000"];
  expect(await main([...first, "--quiet", "--report", report])).toBe(1);
  const token = /--replay (\S+)/.exec(io.out.join("\n"))?.[1];
  expect(token).toBeDefined();
  io.out.length = 0;
  const again = ["run", "--engine", "mutant:wipeonfork-ignored", "--replay", token!, "--quiet", "--report", tempDir()];
  expect(await main(again)).toBe(1);
  expect(io.out.join("\n")).toMatch(/FAILED {3}observational-equivalence after 1 run\(s\)/);
});

test("the fields an observation differs in, against the closest allowed answer", () => {
  expect(differingFields({ data: [1, 0] }, { data: [2, 0] })).toBe("data");
  expect(differingFields({ fault: "SEGV" }, { data: [0] })).toBe("data,fault");
  expect(differingFields({ count: 1, unblocked: [] }, { oneOf: [{ error: "40001" }, { count: 1 }] })).toBe("unblocked");
  expect(differingFields(3, 4)).toBe("value");
});

test("the corpus runs first: a bug one of its scenarios shows is found in the first runs", async () => {
  const examples = mm.corpus?.(mm.defaultGeometry) ?? [];
  expect(examples.length).toBeGreaterThan(5);
  const r = await campaignOn(mm, "mutant:thp-reuse-by-mapcount", { seed: 1, runs: 1000, maxOps: 200 });
  expect(r.status).toBe("failed");
  expect(r.runs).toBeLessThanOrEqual(examples.length);
});

test("an oracle replayed as the engine takes the member of its choice that the trace records", async () => {
  const { trace } = loadTrace("traces/mvcc/postgres/deadlock-victim-by-timing.trace.json");
  const oracle = await resolveEngine(mvcc, "oracle");
  expect(await replayTrace(mvcc, trace, oracle)).toBeUndefined();
  const seen: unknown[] = [];
  await replayTrace(mvcc, trace, await resolveEngine(mvcc, "model"), { onStep: (s) => seen.push(s.observed) });
  const last = trace.ops.length - 1;
  // the server's choice at the deadlock (the other member of the oracle's oneOf), recorded
  const server = { error: "40P01", unblocked: [{ tx: 2, result: { error: "23505" } }] };
  expect(seen[last]).not.toEqual(server);
  expect(await replayTrace(mvcc, { ...trace, expected: [...seen.slice(0, last), server] }, oracle)).toBeUndefined();
  const wrong = { error: "40P01" };
  const f = await replayTrace(mvcc, { ...trace, expected: [...seen.slice(0, last), wrong] }, oracle);
  expect(f?.property).toBe("recorded-observation");
});
