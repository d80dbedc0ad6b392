// Many machines: four shards of a campaign, run apart and merged by `cowcheck merge`, give the unsharded run's
// verdict (run --workers 4: the same four streams), and a merge of shards that are not one campaign is refused.
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { parse, parseAllDocuments } from "yaml";
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
    // a shard interrupted before it reached the target: the merged target is unfinished, not passed
    const cut = tmp();
    cpSync(shards[3]!, cut, { recursive: true });
    const c = summaryOf(cut) as Summary & { status: string };
    writeFileSync(join(cut, "summary.json"), JSON.stringify({ ...c, status: "interrupted", targets: [] }));
    out.length = 0;
    const merged = tmp();
    expect(await main(["merge", ...shards.slice(0, 3), cut, "--report", merged])).toBe(1);
    expect(out.join("\n")).toMatch(/INTERRUPTED 30 runs/);
    expect(out.join("\n")).toContain("unfinished: a shard was interrupted before it ran every target");
    expect(summaryOf(merged)).toMatchObject({ status: "interrupted", targets: [{ status: "interrupted", runs: 30 }] });
    // GitHub: an unfinished target is a warning, not an engine's error
    out.length = 0;
    expect(await main(["merge", ...shards.slice(0, 3), cut, "--report", tmp(), "--reporter", "github"])).toBe(1);
    expect(out.filter((l) => l.startsWith("::"))).toEqual([
      "::warning title=cowcheck snapshot-model: unfinished::a shard was interrupted before it finished this target",
    ]);
    // a merge never writes over one of its shards
    expect(await main(["merge", ...shards, "--report", shards[0]!])).toBe(2);
    expect(err.at(-1)).toContain("is one of the shards: merge into a new folder");
  });
});

describe("the ready-to-copy CI files run as written", () => {
  const cli = `node ${resolve("bin/cowcheck.js")}`;
  /** Run a shell script as CI would, with `npx cowcheck` being this checkout's CLI. */
  const sh = (script: string, env: Record<string, string>, cwd: string) =>
    spawnSync("sh", ["-c", script.replaceAll("npx cowcheck", cli)], {
      cwd,
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
  const MATRIX_SHARD = ["$", "{{ matrix.shard }}"].join(""); // GitHub's expression, as the workflow writes it
  const small = { LAYER: "mm", ENGINE: "mutant:fork-parent-writable", SEED: "3", RUNS: "40" };

  test("docs/ci/github-actions.yml: each matrix shard's step, then the merge job's, give the failure", () => {
    const wf = parse(readFileSync("docs/ci/github-actions.yml", "utf8"));
    const shardRun = wf.jobs.shard.steps.find((s: { run?: string }) => s.run?.includes("--shard")).run as string;
    const mergeRun = wf.jobs.merge.steps.find((s: { run?: string }) => s.run?.includes("merge")).run as string;
    const shards: number[] = wf.jobs.shard.strategy.matrix.shard;
    expect(shards).toEqual([0, 1, 2, 3]);
    expect(wf.env.SHARDS).toBe(String(shards.length));
    const cwd = tmp();
    for (const i of shards) {
      const r = sh(shardRun.replaceAll(MATRIX_SHARD, String(i)), { ...wf.env, ...small }, cwd);
      expect(r.status, r.stderr).toBe(0); // the mutant is killed (exit 1): the step still passes
      // what upload-artifact then download-artifact make of it: shards/cowcheck-shard-i
      cpSync(join(cwd, `shard-${i}`), join(cwd, "shards", `cowcheck-shard-${i}`), { recursive: true });
    }
    const r = sh(mergeRun, wf.env, cwd);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^::error file=merged\/mm-mutant_fork-parent-writable\.trace\.json,title=/m);
    expect(summaryOf(join(cwd, "merged")).targets[0]).toMatchObject({ status: "failed", seed: 3 });
  });

  test("docs/ci/k8s-indexed-job.yaml: each completion index's pod, then the merge job, give the failure", () => {
    const [, shardsJob, mergeJob] = parseAllDocuments(readFileSync("docs/ci/k8s-indexed-job.yaml", "utf8")).map((d) =>
      d.toJS(),
    );
    expect(shardsJob.spec.completionMode).toBe("Indexed");
    const pod = shardsJob.spec.template.spec.containers[0];
    const env = Object.fromEntries(pod.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(Number(env.SHARDS)).toBe(shardsJob.spec.completions);
    const reports = tmp();
    const script = (c: { command: string[] }) => c.command.at(-1)!.replaceAll("/reports", reports);
    for (let i = 0; i < 4; i++) {
      const r = sh(script(pod), { ...env, ...small, SHARDS: "4", JOB_COMPLETION_INDEX: String(i) }, tmp());
      expect(r.status, r.stderr).toBe(0);
    }
    const r = sh(script(mergeJob.spec.template.spec.containers[0]), {}, tmp());
    expect(r.status, r.stderr).toBe(1);
    expect(summaryOf(join(reports, "merged")).targets[0]).toMatchObject({ status: "failed", seed: 3 });
  });
});
