// PostgreSQL's own isolation specs as mvcc traces (traces/mvcc/isolation, made by scripts/isolation-specs.ts from
// src/test/isolation): every translated permutation replays on the reference model, the oracle and a real PostgreSQL
// server, and every observation the spec's .out shows (<spec>.<n>.expected.jsonl: a trace's "expected" can only be a
// prefix of its ops, and the .out cannot give some) must hold, but for the known failures listed below.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { allows, type EngineFactory, type Failure, type Trace } from "../core/index.ts";
import { postgresUnavailable } from "../engines/postgres/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { replayTrace } from "../fuzz/replay.ts";
import { loadTrace } from "../layers/index.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import type { MvccGeometry, MvccObs, MvccOp } from "../models/mvcc/types.ts";
import { MvccOracle } from "../oracles/mvcc.ts";

const dir = "traces/mvcc/isolation";

const indexScans =
  'op 11: recorded-observation: observation differs from the one the trace records; observed {"rolledBack":true}, expected {"ok":true}';
/** Traces whose .out an engine is known not to give, by engine: trace file → its failure (README: "Known failures"). */
const known: Record<"model" | "oracle" | "postgres", Record<string, string>> = {
  // the .out ran with index scans (finer SIREAD locks); the engine turns them off and the model takes a sequential
  // scan's relation lock, so s2's UPDATE fails with 40001 and its COMMIT answers ROLLBACK (the README has the detail)
  model: { "read-only-anomaly-2.1.trace.json": indexScans },
  oracle: {},
  postgres: { "read-only-anomaly-2.1.trace.json": indexScans },
};

/** A line of <spec>.<n>.expected.jsonl: an op and the .out's observation of it, or why the .out has none. */
type Line = { op: MvccOp; obs: MvccObs } | { op: MvccOp; unrecorded: string };

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".trace.json"))
  .sort();
const corpus = files.map((file) => {
  const { trace } = loadTrace(`${dir}/${file}`);
  const lines = readFileSync(`${dir}/${file.replace(/\.trace\.json$/, ".expected.jsonl")}`, "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
  const observations = lines.map((l) => ("obs" in l ? l.obs : undefined));
  // the trace with every observation the .out gives (the runner checks those it is given, and skips the others)
  const full: Trace = { ...trace, expected: observations };
  return { file, trace, lines, observations, full };
});

const why = postgresUnavailable();
if (why) console.log(`skipping the PostgreSQL engine: it ${why}`);

const describeFailure = (f: Failure) =>
  `op ${f.index}: ${f.property}: ${f.message}${"observed" in f ? `; observed ${JSON.stringify(f.observed)}, expected ${JSON.stringify(f.expected)}` : ""}`;

/** Replay every trace on one factory; the failures by trace file. */
async function replayAll(factory: EngineFactory): Promise<Record<string, string>> {
  const failed: Record<string, string> = {};
  for (const { file, full } of corpus) {
    const f = await replayTrace(mvccLayer, full, factory);
    if (f) failed[file] = describeFailure(f);
  }
  return failed;
}

describe("PostgreSQL's isolation specs (traces/mvcc/isolation)", () => {
  test("the corpus is what the README says, and each trace records what its .out gives", () => {
    const readme = readFileSync(`${dir}/README.md`, "utf8");
    const m = /\*\*Translated: (\d+) of (\d+) specs \((\d+) permutations\)\.\*\*/.exec(readme);
    expect(m, "the README's count line").not.toBeNull();
    const specs = new Set(files.map((f) => f.replace(/\.\d+\.trace\.json$/, "")));
    expect(specs.size).toBe(Number(m![1]));
    expect(files.length).toBe(Number(m![3]));
    for (const s of specs)
      expect(
        readme.split("\n").some((line) => line.startsWith(`| ${s} `)),
        s,
      ).toBe(true);
    const failures = readme.slice(readme.indexOf("## Known failures"), readme.indexOf("## Not translated"));
    for (const f of new Set([
      ...Object.keys(known.model),
      ...Object.keys(known.oracle),
      ...Object.keys(known.postgres),
    ]))
      expect(failures, f).toContain(`\`${f}\``);
    for (const { file, trace, lines, observations } of corpus) {
      expect(
        lines.map((l) => l.op),
        file,
      ).toEqual(trace.ops);
      // the trace's own "expected" is the observations up to the first unrecorded one
      const gap = observations.indexOf(undefined);
      expect(trace.expected ?? [], file).toEqual(gap < 0 ? observations : observations.slice(0, gap));
      // every client and key the trace uses is in its geometry
      const g = trace.geometry as MvccGeometry;
      for (const op of trace.ops as MvccOp[]) {
        if ("tx" in op) expect(op.tx, file).toBeLessThanOrEqual(g.txs);
        if ("key" in op) expect(op.key, file).toBeLessThanOrEqual(g.keys);
        if (op.op === "scan") expect(op.hi, file).toBeLessThanOrEqual(g.keys);
      }
    }
  });

  test("the reference model gives every observation the .out shows", async () => {
    expect(await replayAll(await resolveEngine(mvccLayer, "model"))).toEqual(known.model);
  });

  test("the oracle allows every observation the .out shows", () => {
    const failed: Record<string, string> = {};
    for (const { file, trace, observations } of corpus) {
      const oracle = new MvccOracle(trace.geometry as MvccGeometry);
      for (const [i, op] of (trace.ops as MvccOp[]).entries()) {
        const answer = oracle.apply(op);
        const obs = observations[i];
        if (obs === undefined) continue; // the oracle goes on with its own first answer
        if (!allows(answer, obs)) {
          failed[file] = `op ${i}: ${JSON.stringify(obs)} is not allowed by ${JSON.stringify(answer)}`;
          break;
        }
        oracle.chose(obs);
      }
    }
    expect(failed).toEqual(known.oracle);
  });

  test.skipIf(why !== undefined)("a real PostgreSQL server gives every observation the .out shows", async () => {
    const factory = await resolveEngine(mvccLayer, "postgres");
    try {
      expect(await replayAll(factory)).toEqual(known.postgres);
    } finally {
      await factory.dispose?.();
    }
  });
});
