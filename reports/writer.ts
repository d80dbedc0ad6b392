// Report folder: summary.json, junit.xml and report.html rewritten after every target, and for each failure its trace, a
// readable explanation (json-diff of the first diverging observation) and a ready-to-commit vitest test.
// Written as the run goes, so an interrupted run keeps what it found.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import type { Viz } from "@viz-js/viz";
import { create } from "xmlbuilder";
import { type CampaignResult, formatTrace, visible } from "../core/index.ts";
import { explainFailure, regressionTest, replayCommand } from "./explain.ts";
import { failureSection, type PageTarget, page } from "./page.ts";
import { loadRenderer } from "./pictures.ts";

export interface TargetRecord {
  readonly label: string;
  readonly layer: string;
  readonly engine: string;
  /** What this target is expected to do: a model must pass, a mutant must be killed. */
  readonly expect: "pass" | "kill";
  readonly verdict: "ok" | "bad";
  readonly result: CampaignResult;
  readonly files: string[];
  readonly against?: string;
  readonly geometry?: string;
}

export const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "_");

// Engine output may hold any character: what XML 1.0 forbids even as a reference (most C0 controls, lone surrogates,
// U+FFFE, U+FFFF) and what a terminal would obey is made visible (`visible`) first; xmlbuilder escapes the rest.

/**
 * A target's JUnit properties: how to run it again (seed, engine, geometry, replay command), what was checked, what
 * was not and why, the op mix, warnings. They go on the target's testsuite: the schema CI servers validate against
 * (Jenkins' junit-10.xsd, test/fixtures/junit-10.xsd) has no properties on a testcase.
 */
function junitProperties(t: TargetRecord, dir: string): [string, string][] {
  const r = t.result;
  const trace = t.files.find((f) => f.endsWith(".trace.json"));
  const c = r.checked;
  return [
    ["seed", String(r.seed)],
    ["engine", t.engine],
    ["runs", String(r.runs)],
    ["ops", String(r.ops)],
    ...(r.trace ? [["geometry", JSON.stringify(r.trace.geometry)] as [string, string]] : []),
    ...(r.replay ? [["replay", r.replay] as [string, string]] : []),
    ...(trace ? [["replay-command", replayCommand(resolve(dir, trace), t.engine, t.against)] as [string, string]] : []),
    ...(c
      ? [
          ["checked", c.properties.join(", ")] as [string, string],
          ...c.notChecked.map((n): [string, string] => [`not-checked.${n.property}`, n.reason]),
          ["ops-effective", c.effective.toFixed(3)] as [string, string],
          ...Object.entries(c.opKinds).map(([k, v]): [string, string] => [`ops.${k}`, `${v.ops} (${v.errors} errors)`]),
          ...(c.compared === undefined ? [] : [["ops-compared", c.compared.toFixed(3)] as [string, string]]),
          ...c.warnings.map((w, i): [string, string] => [`warning.${i + 1}`, w]),
        ]
      : []),
  ];
}

/** Whether process `pid` of this machine is alive (a process we may not signal is alive too). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The report folders beside a new one (reports/out/*) that a run killed outright (SIGKILL, a power cut) left
 * "running": their writer is gone, so they are marked interrupted, as an interrupt would have marked them.
 */
function markAbandoned(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return; // no folder yet
  }
  for (const name of names) {
    const file = join(parent, name, "summary.json");
    try {
      const summary = JSON.parse(readFileSync(file, "utf8"));
      if (summary?.status !== "running" || summary.host !== hostname() || !Number.isInteger(summary.pid)) continue;
      if (alive(summary.pid)) continue;
      summary.status = "interrupted";
      summary.interrupted = `its run (pid ${summary.pid}) ended without finishing it; marked by a later run`;
      writeFileSync(file, `${JSON.stringify(summary, null, 1)}\n`);
      const html = join(parent, name, "report.html");
      writeFileSync(
        html,
        readFileSync(html, "utf8").replace("<h1>cowcheck: running</h1>", "<h1>cowcheck: interrupted</h1>"),
      );
    } catch {
      // not a report folder, or one being written: left alone
    }
  }
}

/** What a report says of the run that writes it, besides its arguments: which shard of how many it is. */
export interface RunMeta {
  readonly shard?: { readonly index: number; readonly count: number };
  readonly workers?: number;
}

/** How a target was run, beyond its result: the reference engine and the geometry the user gave. */
export interface TargetOptions {
  readonly against?: string;
  readonly geometry?: string;
}

/** A target as `<label>.result.json` keeps it, whole, so that `cowcheck merge` can rebuild the report from shards. */
export interface SavedTarget extends TargetOptions {
  readonly cowcheck: 1;
  readonly label: string;
  readonly engine: string;
  readonly expect: "pass" | "kill";
  readonly result: CampaignResult;
}

export class ReportWriter {
  readonly dir: string;
  private readonly targets: TargetRecord[] = [];
  private readonly sections: string[] = [];
  private readonly started = new Date();

  private constructor(
    dir: string,
    private readonly argv: readonly string[],
    private readonly viz: Viz,
    private readonly meta: RunMeta,
  ) {
    this.dir = resolve(dir);
    markAbandoned(dirname(this.dir));
    mkdirSync(this.dir, { recursive: true });
    this.flush("running");
  }

  /** A report folder, created (the picture renderer loaded first) and marked running. */
  static async open(dir: string, argv: readonly string[], meta: RunMeta = {}): Promise<ReportWriter> {
    return new ReportWriter(dir, argv, await loadRenderer(), meta);
  }

  /**
   * Record one target's result; returns the record (with the files written for it). `options.against` is the
   * reference engine of a run with `--against`, which the regression test passes on so it reproduces the failure.
   */
  add(
    label: string,
    expect: "pass" | "kill",
    engineSpec: string,
    result: CampaignResult,
    options: TargetOptions = {},
  ): TargetRecord {
    const files: string[] = [];
    const base = join(this.dir, safe(label));
    if (result.trace) {
      const note = result.failure
        ? `${result.failure.property}: ${result.failure.message}`
        : result.engineFailure?.message;
      writeFileSync(`${base}.trace.json`, formatTrace({ ...result.trace, note }));
      writeFileSync(`${base}.failure.txt`, `${explainFailure(result)}\n`);
      files.push(`${base}.trace.json`, `${base}.failure.txt`);
      if (result.status === "failed") {
        writeFileSync(`${base}.regression.test.ts`, regressionTest(label, result, engineSpec, options.against));
        files.push(`${base}.regression.test.ts`);
      }
    }
    const saved: SavedTarget = { cowcheck: 1, label, engine: engineSpec, expect, ...options, result };
    writeFileSync(`${base}.result.json`, `${JSON.stringify(saved)}\n`);
    const killed = result.status === "failed";
    const verdict = expect === "pass" ? (result.status === "passed" ? "ok" : "bad") : killed ? "ok" : "bad";
    const rec: TargetRecord = {
      label,
      layer: result.layer,
      engine: engineSpec,
      expect,
      verdict,
      result,
      files,
      ...options,
    };
    this.targets.push(rec);
    if (result.trace && (result.status === "failed" || result.status === "engine-failure"))
      this.sections.push(failureSection(this.viz, this.pageTarget(rec)));
    this.flush("running");
    return rec;
  }

  finish(status: "passed" | "failed" | "interrupted" | "aborted"): void {
    this.flush(status);
  }

  private pageTarget(t: TargetRecord): PageTarget {
    const trace = t.files.find((f) => f.endsWith(".trace.json"));
    return { ...t, anchor: safe(t.label), trace: trace && relative(process.cwd(), trace) };
  }

  private flush(status: string): void {
    const summary = {
      cowcheck: 1,
      status,
      // who writes it, so that a later run can tell a report still being written from one a killed run left
      pid: process.pid,
      host: hostname(),
      argv: this.argv,
      ...this.meta,
      startedAt: this.started.toISOString(),
      updatedAt: new Date().toISOString(),
      targets: this.targets.map((t) => ({
        label: t.label,
        layer: t.layer,
        engine: t.engine,
        expect: t.expect,
        verdict: t.verdict,
        status: t.result.status,
        seed: t.result.seed,
        runs: t.result.runs,
        ops: t.result.ops,
        elapsedMs: t.result.elapsedMs,
        searchMs: t.result.searchMs,
        checked: t.result.checked,
        replay: t.result.replay,
        failure: t.result.failure && {
          ...t.result.failure,
          traceLength: t.result.trace?.ops.length,
          originalLength: t.result.originalLength,
        },
        engineFailure: t.result.engineFailure,
        files: t.files,
      })),
    };
    writeFileSync(join(this.dir, "summary.json"), `${JSON.stringify(summary, null, 1)}\n`);
    writeFileSync(join(this.dir, "junit.xml"), this.junit());
    writeFileSync(
      join(this.dir, "report.html"),
      page(
        status,
        this.argv,
        this.started,
        this.targets.map((t) => this.pageTarget(t)),
        this.sections,
      ),
    );
  }

  /**
   * junit.xml: one testsuite per target (its properties say how to run it again and what it checked), one testcase
   * in it; a failure's type is the property that failed, an engine failure's (an error) its kind; the explanation
   * goes to system-out. Totals on the root.
   */
  private junit(): string {
    const totals = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
    const root = create("testsuites", { version: "1.0", encoding: "UTF-8" });
    for (const t of this.targets) {
      const r = t.result;
      const time = (r.elapsedMs / 1000).toFixed(3);
      const counts = { failures: 0, errors: 0, skipped: 0 };
      const bad = r.status !== "interrupted" && t.verdict === "bad";
      const error = bad && r.status === "engine-failure";
      if (r.status === "interrupted") counts.skipped = 1;
      else if (bad) counts[error ? "errors" : "failures"] = 1;
      const suite = root.ele("testsuite", {
        name: visible(`cowcheck.${t.layer}.${t.label}`),
        tests: 1,
        ...counts,
        time,
      });
      const props = suite.ele("properties");
      for (const [name, value] of junitProperties(t, this.dir))
        props.ele("property", { name: visible(name), value: visible(value) });
      const name = t.expect === "kill" ? `${t.label} is killed` : `${t.label} holds every property`;
      const tc = suite.ele("testcase", { classname: visible(`cowcheck.${t.layer}`), name: visible(name), time });
      if (r.status === "interrupted") tc.ele("skipped", { message: `interrupted after ${r.runs} runs` });
      else if (bad) {
        const type =
          t.expect === "kill"
            ? "mutant-survived"
            : error
              ? (r.engineFailure?.kind ?? "engine")
              : (r.failure?.property ?? "");
        const msg =
          t.expect === "kill"
            ? `mutant survived ${r.runs} runs`
            : (r.failure?.message ?? r.engineFailure?.message ?? "");
        const short = msg.length > 1000 ? `${msg.slice(0, 999)}…` : msg; // system-out explains it in full
        tc.ele(error ? "error" : "failure", { type: visible(type), message: visible(short) }, visible(msg));
        if (t.expect !== "kill") tc.ele("system-out", {}, visible(explainFailure(r)));
      }
      totals.tests++;
      totals.failures += counts.failures;
      totals.errors += counts.errors;
      totals.skipped += counts.skipped;
      totals.time += r.elapsedMs / 1000;
    }
    root.att({
      name: "cowcheck",
      tests: totals.tests,
      failures: totals.failures,
      errors: totals.errors,
      time: totals.time.toFixed(3),
    });
    return `${root.end({ pretty: true })}\n`;
  }
}
