// Many machines: four shards of a campaign, run apart and merged by `cowcheck merge`, give the unsharded run's
// verdict (run --workers 4: the same four streams), and a merge of shards that are not one campaign is refused.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { main } from "../cli/main.ts";
import { captureOutput, tempDirs } from "./helpers.ts";

const { out, err } = captureOutput();
const tmp = tempDirs("cowcheck-shards-");

interface Summary {
  status: string;
  targets: {
    label: string;
    status: string;
    verdict: string;
    seed: number;
    runs: number;
    ops: number;
    failure?: { property: string; index: number; traceLength: number };
    files: string[];
  }[];
}
const summaryOf = (dir: string): Summary => JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
const traceOf = (t: Summary["targets"][number]): unknown =>
  JSON.parse(readFileSync(t.files.find((f) => f.endsWith(".trace.json"))!, "utf8")).ops;

/** Run `args` as four shards and as one run of four streams, and merge the shards. */
async function campaign(args: string[]) {
  const shards = [0, 1, 2, 3].map(() => tmp());
  const whole = tmp();
  const merged = tmp();
  const codes: number[] = [];
  for (const [i, dir] of shards.entries()) codes.push(await main([...args, "--shard", `${i}/4`, "--report", dir]));
  const unsharded = await main([...args, "--workers", "4", "--report", whole]);
  out.length = 0;
  const code = await main(["merge", ...[...shards].reverse(), "--report", merged]);
  expect(err.join("\n")).toBe("");
  expect(code).toBe(unsharded);
  expect(out.at(-1)).toBe(`merged 4 shards; report: ${merged}`);
  const m = summaryOf(merged);
  const w = summaryOf(whole);
  expect(m.status).toBe(w.status);
  expect(m.targets.map((t) => t.label)).toEqual(w.targets.map((t) => t.label));
  for (const [i, t] of m.targets.entries()) {
    const u = w.targets[i]!;
    expect({ label: t.label, status: t.status, verdict: t.verdict, seed: t.seed, failure: t.failure }).toEqual({
      label: u.label,
      status: u.status,
      verdict: u.verdict,
      seed: u.seed,
      failure: u.failure,
    });
    if (t.status === "passed")
      expect([t.runs, t.ops]).toEqual([u.runs, u.ops]); // every stream ran whole
    else {
      // a failing stream stops the others early in one run, not across machines: at least as much was run
      expect(t.runs).toBeGreaterThanOrEqual(u.runs);
      expect(traceOf(t)).toEqual(traceOf(u));
    }
  }
  expect(readFileSync(join(merged, "junit.xml"), "utf8")).toContain(`tests="${m.targets.length}"`);
  return { shards, whole, merged, codes, m };
}

describe("cowcheck merge", () => {
  let shards: string[] = [];
  let whole = "";

  test("four shards merged give the unsharded run's verdict: a failure (the lowest failing stream's) and a pass", async () => {
    // streams 0 and 1 of seed 3 both kill the mutant, at different runs: the merge keeps stream 0's
    const killed = await campaign([
      "run",
      "--layer",
      "mm",
      "--engine",
      "mutant:fork-parent-writable",
      "--runs",
      "40",
      "--seed",
      "3",
      "--quiet",
    ]);
    expect(killed.m.status).toBe("failed");
    expect(killed.codes.filter((c) => c === 1).length).toBeGreaterThan(1);
    expect(killed.m.targets[0]!.seed).toBe(3);
    expect(readFileSync(join(killed.merged, "report.html"), "utf8")).toContain('<div class="stepper"');
    const passed = await campaign([
      "run",
      "--layer",
      "snapshot",
      "--engine",
      "model",
      "--runs",
      "40",
      "--seed",
      "5",
      "--quiet",
    ]);
    expect(passed.m.status).toBe("passed");
    expect(passed.m.targets[0]!.runs).toBe(40);
    ({ shards, whole } = passed);
  });

  test("shards that are not one whole campaign are refused (exit 2), naming what is wrong", async () => {
    expect(await main(["merge", shards[0]!, shards[1]!, shards[2]!, "--report", tmp()])).toBe(2);
    expect(err.at(-1)).toMatch(/missing shard\(s\) 4\/4 of the campaign/);
    expect(await main(["merge", ...shards, shards[2]!, "--report", tmp()])).toBe(2);
    expect(err.at(-1)).toMatch(/are both shard 3\/4/);
    expect(await main(["merge", ...shards.slice(1), whole, "--report", tmp()])).toBe(2);
    expect(err.at(-1)).toMatch(/is shard \d\/\d, .* is shard \d\/\d: not shards of one campaign/);
    const notReport = tmp();
    expect(await main(["merge", notReport])).toBe(2);
    expect(err.at(-1)).toContain(`${notReport}: not a cowcheck report folder (no summary.json)`);
    // a shard run with other arguments
    const other = tmp();
    cpSync(shards[3]!, other, { recursive: true });
    const s = JSON.parse(readFileSync(join(other, "summary.json"), "utf8"));
    s.argv = s.argv.map((a: string) => (a === "5" ? "6" : a));
    writeFileSync(join(other, "summary.json"), JSON.stringify(s));
    expect(await main(["merge", ...shards.slice(0, 3), other, "--report", tmp()])).toBe(2);
    expect(err.at(-1)).toMatch(/not as the other shards/);
  });
});
