// Report folder: summary.json, junit.xml and report.html rewritten after every target, and for each failure its trace, a
// readable explanation (json-diff of the first diverging observation) and a ready-to-commit vitest test.
// Written as the run goes, so an interrupted run keeps what it found.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type CampaignResult, formatTrace, visible } from "../core/index.ts";
import { describeCoverage, explainFailure, regressionTest } from "./explain.ts";

export interface TargetRecord {
  readonly label: string;
  readonly layer: string;
  readonly engine: string;
  /** What this target is expected to do: a model must pass, a mutant must be killed. */
  readonly expect: "pass" | "kill";
  readonly verdict: "ok" | "bad";
  readonly result: CampaignResult;
  readonly files: string[];
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "_");

/**
 * Engine output may hold any character: what XML 1.0 forbids even as a reference (most C0 controls, lone surrogates,
 * U+FFFE, U+FFFF) and what a terminal would obey is made visible as `\\uXXXX` first, then markup is escaped.
 * (xmlbuilder2 was tried: it leaves text that looks like an entity, "&amp;", unescaped, so it does not read back.)
 */
const html = (s: string): string =>
  visible(s).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
const xml = (s: string): string => visible(s).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** An attribute value, where a literal tab or line break would be read as a space: they are references too. */
const attr = (s: string): string => xml(s).replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A target's JUnit properties: how to run it again (seed, engine, geometry, replay command), what was checked, what
 * was not and why, the op mix, warnings. They go on the target's testsuite: the schema CI servers validate against
 * (Jenkins' junit-10.xsd, test/fixtures/junit-10.xsd) has no properties on a testcase.
 */
function junitProperties(t: TargetRecord, dir: string): string {
  const r = t.result;
  const trace = t.files.find((f) => f.endsWith(".trace.json"));
  const c = r.checked;
  const props: [string, string][] = [
    ["seed", String(r.seed)],
    ["engine", t.engine],
    ["runs", String(r.runs)],
    ["ops", String(r.ops)],
    ...(r.trace ? [["geometry", JSON.stringify(r.trace.geometry)] as [string, string]] : []),
    ...(r.replay ? [["replay", r.replay] as [string, string]] : []),
    ...(trace
      ? [["replay-command", `npx cowcheck replay ${resolve(dir, trace)} --engine ${t.engine}`] as [string, string]]
      : []),
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
  return `<properties>${props.map(([n, v]) => `<property name="${attr(n)}" value="${attr(v)}"/>`).join("")}</properties>`;
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

export class ReportWriter {
  readonly dir: string;
  private readonly targets: TargetRecord[] = [];
  private readonly started = new Date();

  constructor(
    dir: string,
    private readonly argv: readonly string[],
  ) {
    this.dir = resolve(dir);
    markAbandoned(dirname(this.dir));
    mkdirSync(this.dir, { recursive: true });
    this.flush("running");
  }

  /**
   * Record one target's result; returns the record (with the files written for it). `against` is the reference
   * engine's spec of a run with `--against`, which the regression test passes on so it reproduces the failure.
   */
  add(
    label: string,
    expect: "pass" | "kill",
    engineSpec: string,
    result: CampaignResult,
    against?: string,
  ): TargetRecord {
    const files: string[] = [];
    if (result.trace) {
      const base = join(this.dir, safe(label));
      const note = result.failure
        ? `${result.failure.property}: ${result.failure.message}`
        : result.engineFailure?.message;
      writeFileSync(`${base}.trace.json`, formatTrace({ ...result.trace, note }));
      writeFileSync(`${base}.failure.txt`, `${explainFailure(result)}\n`);
      files.push(`${base}.trace.json`, `${base}.failure.txt`);
      if (result.status === "failed") {
        writeFileSync(`${base}.regression.test.ts`, regressionTest(label, result, engineSpec, against));
        files.push(`${base}.regression.test.ts`);
      }
    }
    const killed = result.status === "failed";
    const verdict = expect === "pass" ? (result.status === "passed" ? "ok" : "bad") : killed ? "ok" : "bad";
    const rec: TargetRecord = { label, layer: result.layer, engine: engineSpec, expect, verdict, result, files };
    this.targets.push(rec);
    this.flush("running");
    return rec;
  }

  finish(status: "passed" | "failed" | "interrupted" | "aborted"): void {
    this.flush(status);
  }

  private flush(status: string): void {
    const summary = {
      cowcheck: 1,
      status,
      // who writes it, so that a later run can tell a report still being written from one a killed run left
      pid: process.pid,
      host: hostname(),
      argv: this.argv,
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
    writeFileSync(join(this.dir, "report.html"), this.html(status));
  }

  /** One self-contained page: the targets, and for each failure its explanation and state picture. */
  private html(status: string): string {
    const rows = this.targets.map((t) => {
      const r = t.result;
      const outcome =
        r.status === "passed"
          ? t.expect === "kill"
            ? "survived"
            : "passed"
          : r.status === "failed"
            ? t.expect === "kill"
              ? "killed"
              : "failed"
            : r.status === "interrupted"
              ? "interrupted"
              : "engine failure";
      const by = r.failure?.property ?? r.engineFailure?.kind ?? "";
      return `<tr class="${t.verdict}"><td>${html(t.label)}</td><td>${outcome}</td><td>${html(by)}</td><td>${r.runs}</td><td>${r.ops.toLocaleString("en-US")}</td><td>${(r.elapsedMs / 1000).toFixed(1)} s</td><td>${r.trace ? r.trace.ops.length : ""}</td></tr>`;
    });
    const covered = this.targets
      .filter((t) => t.result.checked)
      .map(
        (t) =>
          `<details><summary>${html(t.label)}: what was checked</summary><pre>${html(describeCoverage(t.result.checked!))}</pre></details>`,
      );
    const details = this.targets
      .filter((t) => t.result.status === "failed" || t.result.status === "engine-failure")
      .map(
        (t) =>
          `<h2 id="${html(safe(t.label))}">${html(t.label)}</h2>\n<pre>${html(explainFailure(t.result))}</pre>\n<p>trace: <code>${html(t.files[0] ?? "")}</code></p>`,
      );
    return `<!doctype html>
<html><head><meta charset="utf-8"><title>cowcheck report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
tr.bad td:first-child{border-left:4px solid #c33}tr.ok td:first-child{border-left:4px solid #3a3}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style></head>
<body><h1>cowcheck: ${html(status)}</h1><p>${html(this.argv.join(" ") || "(no arguments)")} · started ${this.started.toISOString()}</p>
<table><tr><th>target</th><th>outcome</th><th>by</th><th>runs</th><th>ops</th><th>time</th><th>trace ops</th></tr>
${rows.join("\n")}
</table>
${covered.join("\n")}
${details.join("\n")}
</body></html>
`;
  }

  /**
   * junit.xml: one testsuite per target (its properties say how to run it again and what it checked), one testcase
   * in it; a failure's type is the property that failed, an engine failure's (an error) its kind; the explanation
   * goes to system-out. Totals on the root.
   */
  private junit(): string {
    const totals = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0 };
    const suites = this.targets.map((t) => {
      const r = t.result;
      const name = t.expect === "kill" ? `${t.label} is killed` : `${t.label} holds every property`;
      const time = (r.elapsedMs / 1000).toFixed(3);
      let body = "";
      let out = "";
      const counts = { failures: 0, errors: 0, skipped: 0 };
      if (r.status === "interrupted") {
        counts.skipped = 1;
        body = `<skipped message="interrupted after ${r.runs} runs"/>`;
      } else if (t.verdict === "bad") {
        const error = r.status === "engine-failure";
        counts[error ? "errors" : "failures"] = 1;
        const tag = error ? "error" : "failure";
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
        body = `<${tag} type="${attr(type)}" message="${attr(short)}">${xml(msg)}</${tag}>`;
        if (t.expect !== "kill") out = `<system-out>${xml(explainFailure(r))}</system-out>`;
      }
      totals.tests++;
      totals.failures += counts.failures;
      totals.errors += counts.errors;
      totals.skipped += counts.skipped;
      totals.time += r.elapsedMs / 1000;
      const suite = `cowcheck.${t.layer}.${t.label}`;
      return `  <testsuite name="${attr(suite)}" tests="1" failures="${counts.failures}" errors="${counts.errors}" skipped="${counts.skipped}" time="${time}">${junitProperties(t, this.dir)}\n    <testcase classname="cowcheck.${attr(t.layer)}" name="${attr(name)}" time="${time}">${body}${out}</testcase>\n  </testsuite>`;
    });
    return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="cowcheck" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" time="${totals.time.toFixed(3)}">\n${suites.join("\n")}\n</testsuites>\n`;
  }
}
