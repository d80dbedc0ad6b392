// Failures explained in words: the violated property, the ops with their observations, where the first diverging
// observation differs (json-diff), the state picture; and the regression test a failure should become.
import { diffString } from "json-diff";
import { type CampaignResult, formatTrace, isOneOf, type StructureStats } from "../core/index.ts";

export function explainFailure(r: CampaignResult): string {
  const lines: string[] = [];
  if (r.status === "engine-failure" && r.engineFailure) {
    lines.push(`engine failure (${r.engineFailure.kind}): ${r.engineFailure.message}`);
    if (r.engineFailure.detail) lines.push("", "engine stderr / detail:", r.engineFailure.detail);
    lines.push("", `trace up to the failing op: ${r.trace?.ops.length ?? 0} ops`);
    return lines.join("\n");
  }
  const f = r.failure;
  if (!f || !r.trace) return "passed";
  lines.push(
    `property: ${f.property} (${f.kind})`,
    `message:  ${f.message}`,
    `at op ${f.index}: ${JSON.stringify(r.trace.ops[f.index])}`,
  );
  if (r.anomaly) lines.push(`anomaly:  ${r.anomaly}`);
  if (r.steps) {
    lines.push("", "ops → observations:");
    for (const s of r.steps)
      lines.push(`  ${String(s.index).padStart(3)}  ${JSON.stringify(s.op)}  →  ${JSON.stringify(s.observed)}`);
  }
  if (f.kind === "equivalence") {
    if (isOneOf(f.expected)) {
      lines.push("", `observed: ${JSON.stringify(f.observed)}`, "allowed (any one of):");
      for (const e of f.expected.oneOf) lines.push(`  ${JSON.stringify(e)}`);
    } else {
      lines.push(
        "",
        `observed: ${JSON.stringify(f.observed)}`,
        `expected: ${JSON.stringify(f.expected)}`,
        "differs at:",
      );
      for (const d of differences(f.expected, f.observed)) lines.push(`  ${d}`);
      lines.push(
        "json-diff (expected → observed):",
        diffString(positional(f.expected), positional(f.observed), { color: false, full: true }).trimEnd(),
      );
    }
  }
  if (r.originalLength !== undefined && r.originalLength > r.trace.ops.length) {
    lines.push("", `minimized from ${r.originalLength} to ${r.trace.ops.length} ops (seed ${r.seed})`);
  }
  if (r.state) lines.push("", `state after op ${f.index}:`, r.state.replace(/^/gm, "  "));
  return lines.join("\n");
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
      if (!(k in expected)) return [`${sub}: absent → ${JSON.stringify(observed[k])}`];
      if (!(k in observed)) return [`${sub}: ${JSON.stringify(expected[k])} → absent`];
      return differences(expected[k], observed[k], sub);
    });
  }
  return JSON.stringify(expected) === JSON.stringify(observed)
    ? []
    : [`${path || "(value)"}: ${JSON.stringify(expected)} → ${JSON.stringify(observed)}`];
}

/**
 * A vitest test that fails while the engine still fails the trace. `engine` is the spec to replay it with; without
 * one (an engine passed to the library as a function), the test imports the user's factory, to be adjusted.
 */
export function regressionTest(label: string, r: CampaignResult, engine?: string): string {
  const line = (s: string): string => s.replace(/[\r\n]+/g, " ");
  const factory =
    engine === undefined
      ? '\n// the engine factory you checked: adjust this import to where it lives\nimport createEngine from "./my-engine.js";'
      : "";
  const spec = engine === undefined ? "createEngine" : JSON.stringify(engine);
  return `// cowcheck regression: ${line(label)}
// ${r.failure?.property}: ${line(r.failure?.message ?? "")}
import { expect, test } from "vitest";
import { checkTrace } from "cowcheck";${factory}

const trace = ${JSON.stringify(r.trace)};

test(${JSON.stringify(`cowcheck regression: ${label}`)}, async () => {
  const failure = await checkTrace(trace, { engine: ${spec} });
  expect(failure, failure?.message).toBeUndefined();
});
`;
}

/** The command that replays a trace file on the engine (and reference) it failed on. */
export function replayCommand(file: string, engine: string, against?: string): string {
  const spec = /^[\w:./-]+$/.test(engine) ? engine : JSON.stringify(engine);
  return `npx cowcheck replay ${file} --engine ${spec}${against ? ` --against ${against}` : ""}`;
}

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
export function failureReport(r: CampaignResult, label: string, engine?: string): string {
  if (r.status === "passed") return "passed";
  const file = `${label.replace(/[^A-Za-z0-9._-]+/g, "_")}.trace.json`;
  const replay = engine
    ? replayCommand(file, engine)
    : `npx cowcheck replay ${file} --engine ./my-engine.js   (a module whose default export is your engine factory)`;
  const parts = [
    explainFailure(r),
    "",
    `seed ${r.seed}, after ${r.runs} run(s); the trace (save it as ${file}):`,
    r.trace ? formatTrace(r.trace).trimEnd() : "(none)",
    "",
    `replay: ${replay}`,
  ];
  if (r.status === "failed") parts.push("", "regression test:", regressionTest(label, r, engine).trimEnd());
  return parts.join("\n");
}
