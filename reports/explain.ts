// Failures explained in words: the violated property, the ops with their observations, where the first diverging
// observation differs (json-diff), the state picture; and the regression test a failure should become.
import { diffString } from "json-diff";
import {
  type CampaignResult,
  type Coverage,
  deepEqual,
  excerpt,
  formatTrace,
  isOneOf,
  type StructureStats,
  visible,
} from "../core/index.ts";

/**
 * Longest text quoted from a failure's message or an engine's stderr; longest JSON shown of one op or observation
 * (a page of 4,096 cells fits), and most differences listed: enough for every valid value, not for a flood.
 */
const MAX_MESSAGE = 4000;
const MAX_VALUE = 20_000;
const MAX_DIFFERENCES = 5000;

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** A value as JSON, whole when it is small (as every valid op and observation is), else a bounded excerpt. */
function quote(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    // nested too deep for JSON.stringify
  }
  return s !== undefined && s.length <= MAX_VALUE ? s : excerpt(v, MAX_VALUE);
}

/** An engine failure in words, as the CLI prints it: its kind, its message, and what the engine wrote to stderr. */
export function describeEngineFailure(e: { kind: string; message: string; detail?: string }): string {
  const lines = [`engine failure (${e.kind}): ${cut(e.message, MAX_MESSAGE)}`];
  if (e.detail) lines.push("", "engine stderr / detail:", cut(e.detail, MAX_MESSAGE));
  return visible(lines.join("\n"));
}

export function explainFailure(r: CampaignResult): string {
  const lines: string[] = [];
  if (r.status === "engine-failure" && r.engineFailure) {
    lines.push(describeEngineFailure(r.engineFailure));
    lines.push("", `trace up to the failing op: ${r.trace?.ops.length ?? 0} ops`);
    return lines.join("\n");
  }
  const f = r.failure;
  if (!f || !r.trace) return "passed";
  lines.push(
    `property: ${f.property} (${f.kind})`,
    `message:  ${cut(f.message, MAX_MESSAGE)}`,
    r.interleaving ? "in the threads' schedule below" : `at op ${f.index}: ${quote(r.trace.ops[f.index])}`,
  );
  if (r.anomaly) lines.push(`anomaly:  ${r.anomaly}`);
  if (r.steps) {
    lines.push("", "ops → observations:");
    for (const s of r.steps) lines.push(`  ${String(s.index).padStart(3)}  ${quote(s.op)}  →  ${quote(s.observed)}`);
  }
  if (r.interleaving) {
    const i = r.interleaving;
    const title = `race ${i.race}: the failing schedule (${i.preemptions} preemption(s)), a row per step`;
    lines.push("", ...timelineText(title, i.threads, i.timeline));
  } else if (f.kind === "equivalence") {
    if (isOneOf(f.expected)) {
      lines.push("", `observed: ${quote(f.observed)}`, "allowed (any one of):");
      for (const e of f.expected.oneOf) lines.push(`  ${quote(e)}`);
    } else {
      const observed = quote(f.observed);
      const expected = quote(f.expected);
      lines.push("", `observed: ${observed}`, `expected: ${expected}`, "differs at:");
      const ds = differences(f.expected, f.observed);
      for (const d of ds.slice(0, MAX_DIFFERENCES)) lines.push(`  ${cut(d, 2 * MAX_VALUE)}`);
      if (ds.length > MAX_DIFFERENCES) lines.push(`  … and ${ds.length - MAX_DIFFERENCES} more`);
      // json-diff shows both values whole: only for values small enough to be shown whole
      if (observed.length < MAX_VALUE && expected.length < MAX_VALUE)
        lines.push(
          "json-diff (expected → observed):",
          diffString(positional(f.expected), positional(f.observed), { color: false, full: true }).trimEnd(),
        );
    }
  }
  const il = r.trace.interleaving;
  const length = r.trace.ops.length + (il ? il.threads.flat().length + il.epilogue.length : 0);
  if (r.originalLength !== undefined && r.originalLength > length) {
    lines.push("", `minimized from ${r.originalLength} to ${length} ops (seed ${r.seed})`);
  }
  if (r.state) lines.push("", `state after op ${f.index}:`, r.state.replace(/^/gm, "  "));
  return visible(lines.join("\n"));
}

/**
 * A schedule with the threads side by side: a row per step, in the column of the thread that ran it (with the
 * op's observation on its last step, where the timeline has it).
 */
export function timelineText(
  title: string,
  threads: readonly (readonly unknown[])[],
  timeline: readonly {
    readonly thread: number;
    readonly op: number;
    readonly label: string;
    readonly observed?: unknown;
  }[],
): string[] {
  const width = 46;
  const lines = [title];
  for (const [t, ops] of threads.entries()) lines.push(`  thread ${t}: ${ops.map((op) => quote(op)).join(", ")}`);
  lines.push(`  ${threads.map((_, t) => `thread ${t}`.padEnd(width)).join(" │ ")}`);
  for (const s of timeline) {
    const name = (threads[s.thread]?.[s.op] as { op?: string } | undefined)?.op ?? "op";
    const end = "observed" in s ? ` → ${quote(s.observed)}` : " (ends)";
    const text = cut(s.label === name ? `${name}${end}` : `${name}: ${s.label}`, width);
    lines.push(`  ${threads.map((_, t) => (t === s.thread ? text : "").padEnd(width)).join(" │ ")}`.trimEnd());
  }
  return lines;
}

/** Arrays as index-keyed objects, so json-diff compares cells by position instead of as sequences. */
function positional(v: unknown): unknown {
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), positional(x)]));
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, positional(x)]));
  return v;
}

/** Positional differences, as paths: "data[0]: 0 → 1", "data: absent → …". */
export function differences(expected: unknown, observed: unknown, path = ""): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (isObj(expected) && isObj(observed) && Array.isArray(expected) === Array.isArray(observed)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(observed)])];
    return keys.flatMap((k) => {
      const sub = Array.isArray(expected) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      if (!(k in expected)) return [`${sub}: absent → ${quote(observed[k])}`];
      if (!(k in observed)) return [`${sub}: ${quote(expected[k])} → absent`];
      return differences(expected[k], observed[k], sub);
    });
  }
  return deepEqual(expected, observed) ? [] : [`${path || "(value)"}: ${quote(expected)} → ${quote(observed)}`];
}

/**
 * A JavaScript literal of a JSON value: JSON.stringify's, with the line and paragraph separators escaped too (JSON
 * allows them raw in strings; older JavaScript and every `//` comment do not), so the text stays data on any reader.
 */
function literal(v: unknown): string {
  return JSON.stringify(v).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * A vitest test that fails while the engine still fails the trace. `engine` is the spec to replay it with; without
 * one (an engine passed to the library as a function), the test imports the user's factory, to be adjusted.
 * `against` is the reference engine of a run with `--against`, whose failure only the lockstep comparison sees.
 * Everything the run produced (the label, the failure's message, the trace) goes in as JSON data, never as code
 * or comment text: the trace's note says what it was written for.
 */
export function regressionTest(label: string, r: CampaignResult, engine?: string, against?: string): string {
  const factory =
    engine === undefined
      ? '\n// the engine factory you checked: adjust this import to where it lives\nimport createEngine from "./my-engine.js";'
      : "";
  const options = [`engine: ${engine === undefined ? "createEngine" : literal(engine)}`];
  if (against !== undefined) options.push(`against: ${literal(against)}`);
  const note = r.failure ? `${r.failure.property}: ${r.failure.message}` : r.trace?.note;
  const trace = r.trace && { ...r.trace, note };
  return `// cowcheck regression: generated; fails while the engine still fails this trace (the trace's note says how).
import { expect, test } from "vitest";
import { checkTrace } from "cowcheck";${factory}

const trace = ${literal(trace ?? null)};

test(${literal(`cowcheck regression: ${label}`)}, async () => {
  const failure = await checkTrace(trace, { ${options.join(", ")} });
  expect(failure, failure?.message).toBeUndefined();
});
`;
}

/** The command that replays a trace file on the engine (and reference) it failed on. */
export function replayCommand(file: string, engine: string, against?: string): string {
  return `npx cowcheck replay ${file} --engine ${shellWord(engine)}${against ? ` --against ${against}` : ""}`;
}

/** The command that reruns a failure from its replay token, without searching. */
export function rerunCommand(token: string, engine: string, geometry?: string, against?: string): string {
  const g = geometry === undefined ? "" : ` --geometry '${geometry.replace(/'/g, "'\\''")}'`;
  return `npx cowcheck run --engine ${shellWord(engine)}${g}${against ? ` --against ${against}` : ""} --replay ${token}`;
}

const shellWord = (w: string): string => (/^[\w:./-]+$/.test(w) ? w : JSON.stringify(w));

/** What a lockstep comparison (--against) did, for a run's summary. */
export function describeStructure(st: StructureStats, ops: number): string {
  const counts = (m: Record<string, number>): string =>
    Object.entries(m)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  const share = ((100 * st.compared) / Math.max(ops, 1)).toFixed(1);
  return [
    `structure compared after ${st.compared.toLocaleString("en-US")} of ${ops.toLocaleString("en-US")} ops (${share}%)`,
    `allowances used: ${counts(st.allowed)}`,
    `sequences compared only in part, by reason: ${counts(st.desynced)}`,
  ].join("\n");
}

/**
 * Everything the CLI would say of a failed result, for a library user who has no report folder: the explanation
 * (op index, expected against observed, seed), the minimized trace, how to replay it, and the regression test.
 */
export function failureReport(r: CampaignResult, label: string, engine?: string, against?: string): string {
  if (r.status === "passed")
    return `passed: ${r.runs} runs, ${r.ops.toLocaleString("en-US")} ops${r.checked ? `\n${describeCoverage(r.checked)}` : ""}`;
  const file = `${label.replace(/[^A-Za-z0-9._-]+/g, "_")}.trace.json`;
  const replay = engine
    ? replayCommand(file, engine, against)
    : `npx cowcheck replay ${file} --engine ./my-engine.js   (a module whose default export is your engine factory)`;
  const parts = [
    explainFailure(r),
    "",
    `seed ${r.seed}, after ${r.runs} run(s); the trace (save it as ${file}):`,
    r.trace ? formatTrace(r.trace).trimEnd() : "(none)",
    "",
    `replay: ${replay}`,
    ...(r.replay ? [`rerun without searching: ${rerunCommand(r.replay, engine ?? "./my-engine.js")}`] : []),
  ];
  if (r.status === "failed") parts.push("", "regression test:", regressionTest(label, r, engine, against).trimEnd());
  return parts.join("\n");
}

/** What a verdict covered, in a few lines: properties checked, those not and why, the op mix, warnings. */
export function describeCoverage(c: Coverage): string {
  const lines = [`checked: ${c.properties.join(", ")}`];
  const why = new Map<string, string[]>();
  for (const n of c.notChecked) why.set(n.reason, [...(why.get(n.reason) ?? []), n.property]);
  for (const [reason, names] of why) lines.push(`not checked (${reason}): ${names.join(", ")}`);
  const kinds = Object.entries(c.opKinds).sort((a, b) => b[1].ops - a[1].ops);
  const pct = (x: number): string => `${Math.round(100 * x)}%`;
  lines.push(
    `ops: ${pct(c.effective)} did something${c.compared === undefined ? "" : `, ${pct(c.compared)} compared with the reference`}; ${kinds
      .map(
        ([k, v]) =>
          `${k} ${v.ops.toLocaleString("en-US")}${v.errors ? ` (${v.errors.toLocaleString("en-US")} errors)` : ""}`,
      )
      .join(", ")}`,
  );
  for (const w of c.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
