// The cowcheck command. Exit codes: 0 every property held (every mutant killed); 1 a property failed (or a
// mutant survived); 2 usage or input error; 3 the engine itself failed (crash, hang, protocol violation).
import { writeFileSync } from "node:fs";
import { isAbsolute, relative } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { engineCatalogue, resolveEngine } from "../engines/resolve.ts";
import { type EngineFactory, EngineFailure, InputError } from "../engines/types.ts";
import type { Progress as CampaignProgress, CampaignResult } from "../fuzz/campaign.ts";
import { explore } from "../fuzz/explore.ts";
import { minimizeWith } from "../fuzz/minimize.ts";
import { runParallelCampaign } from "../fuzz/parallel.ts";
import { allows, checkWith, type Failure, renderStateAfter, type Step, type StructureStats } from "../fuzz/runner.ts";
import { formatTrace, loadTrace } from "../fuzz/trace.ts";
import { findLayer, layers } from "../layers/index.ts";
import { type AnyLayer, withoutKinds } from "../layers/layer.ts";
import type { PropertyKind } from "../properties/types.ts";
import { explainFailure, ReportWriter, type TargetRecord } from "../reports/writer.ts";
import { Progress } from "./progress.ts";

const EXIT = { ok: 0, failed: 1, usage: 2, engine: 3 } as const;

const int =
  (name: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} takes a whole number from ${min} to ${max}`);
    return n;
  };

/** fast-check seeds are 32-bit: a larger seed would silently wrap onto another. */
const MAX_SEED = 0xffff_ffff;

export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 500ms, 60s, 5m (got "${v}")`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  const ms = Math.round(Number(m[1]) * unit);
  if (ms < 1) throw new InvalidArgumentError(`a duration must be at least 1ms (got "${v}")`);
  return ms;
}

function parseKinds(v: string): PropertyKind[] {
  const kinds = v.split(",").map((k) => k.trim());
  for (const k of kinds)
    if (k !== "invariant" && k !== "economy")
      throw new InvalidArgumentError(`--skip takes invariant and/or economy (got "${k}")`);
  return kinds as PropertyKind[];
}

function parseShard(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new InvalidArgumentError(`expected i/n with 0 ≤ i < n (got "${v}")`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

function pickLayers(name: string | undefined): AnyLayer[] {
  if (!name) return [...layers];
  const l = findLayer(name);
  if (!l) throw new InputError(`unknown layer "${name}" (known: ${layers.map((x) => x.name).join(", ")})`);
  return [l];
}

/**
 * The geometry: the layer's defaults, then what the engine needs, then what the user gave; but what a mutant needs
 * (e.g. the mvcc flavour whose model it mutates) is part of the mutant, and comes last.
 */
function geometryFor(
  layer: AnyLayer,
  json: string | undefined,
  engine?: EngineFactory,
  spec?: string,
  flavour?: object,
): unknown {
  let extra: unknown = {};
  if (json) {
    try {
      extra = JSON.parse(json);
    } catch {
      throw new InputError(`--geometry must be JSON, e.g. '{"pages":64}' (got ${json})`);
    }
    if (typeof extra !== "object" || extra === null || Array.isArray(extra))
      throw new InputError(`--geometry must be a JSON object, e.g. '{"pages":64}' (got ${json})`);
  }
  const mutant = spec?.startsWith("mutant:") ? engine?.geometry : undefined;
  const r = layer.geometrySchema.safeParse({
    ...(layer.defaultGeometry as object),
    ...engine?.geometry,
    ...flavour,
    ...(extra as object),
    ...mutant,
  });
  if (!r.success)
    throw new InputError(
      `--geometry for ${layer.name}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  return r.data;
}

const runId = (): string =>
  `${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${process.pid}`;

interface Target {
  readonly layer: AnyLayer;
  readonly spec: string;
  readonly expect: "pass" | "kill";
  readonly killedBy?: string;
  /** One of the layer's other flavours (the default run checks each model against its oracle). */
  readonly flavour?: { readonly name: string; readonly geometry: Readonly<Record<string, unknown>> };
}

interface BudgetOptions {
  seed: number;
  skip?: PropertyKind[];
  workers?: number;
  timeout?: number;
  runs?: number;
  maxOps: number;
  time?: number;
  geometry?: string;
  report?: string;
  shard?: { index: number; count: number };
  quiet?: boolean;
  against?: string;
}

/**
 * Default budgets, in runs only, so the same seed gives the same verdict on any machine: a model gets 1,000
 * sequences, a mutant up to 20,000 to be killed. --time bounds the search by time instead (and replaces the
 * run count when --runs is not given).
 */
const DEFAULT_MODEL_RUNS = 1000;
const DEFAULT_MUTANT_RUNS = 20_000;

/** What Ctrl-C must still do: each running command registers it here (written report, killed engines). */
let onInterrupt: (() => void) | undefined;

interface Planned extends Target {
  readonly label: string;
  /** The target's name in the report folder. */
  readonly key: string;
  readonly geometry: unknown;
  readonly runs: number;
}

async function runTargets(
  targets: Target[],
  o: BudgetOptions,
  argv: readonly string[],
): Promise<{ records: TargetRecord[]; report: ReportWriter }> {
  const shard = o.shard ?? { index: 0, count: 1 };
  const workers = o.workers ?? 1;
  // Everything the user typed is checked before a report folder exists.
  const plan: Planned[] = targets.map((t) => {
    const factory = resolveEngine(t.layer, t.spec);
    if (o.against) resolveEngine(t.layer, o.against); // an unknown reference is a usage error before anything runs
    const defaultRuns =
      o.time !== undefined ? Number.MAX_SAFE_INTEGER : t.expect === "kill" ? DEFAULT_MUTANT_RUNS : DEFAULT_MODEL_RUNS;
    const name = t.flavour ? `${t.spec} (${t.flavour.name})` : t.spec;
    const geometry = geometryFor(t.layer, o.geometry, factory, t.spec, t.flavour?.geometry);
    return {
      ...t,
      label: `${t.layer.name} ${name}`,
      key: `${t.layer.name}-${t.spec}${t.flavour ? `-${t.flavour.name}` : ""}`,
      geometry,
      runs: Math.ceil((o.runs ?? defaultRuns) / shard.count),
    };
  });
  const report = new ReportWriter(o.report ?? `reports/out/${runId()}`, argv);
  const progress = new Progress(o.quiet ?? false);
  const records: TargetRecord[] = [];
  let pending: { t: Planned; result: CampaignResult } | undefined;
  let running: { t: Planned; progress?: CampaignProgress; started: number } | undefined;
  onInterrupt = () => {
    progress.done();
    // a failure found but not yet shrunk is kept, unshrunk; otherwise the target is recorded as far as it got
    if (pending) report.add(pending.t.key, pending.t.expect, pending.t.spec, pending.result);
    else if (running) {
      const { t, progress: p } = running;
      report.add(t.key, t.expect, t.spec, {
        status: "interrupted",
        engine: t.spec,
        layer: t.layer.name,
        seed: o.seed,
        runs: p?.runs ?? 0,
        ops: p?.ops ?? 0,
        elapsedMs: Date.now() - running.started,
      });
    }
    report.finish("interrupted");
    process.stderr.write(`\ninterrupted; report so far: ${report.dir}\n`);
  };
  try {
    for (const t of plan) {
      progress.start(t.label, t.runs);
      running = { t, started: Date.now() };
      const result = await runParallelCampaign(t.layer, t.spec, {
        seed: o.seed,
        firstStream: shard.index * workers,
        workers,
        runs: t.runs,
        maxOps: o.maxOps,
        timeMs: o.time,
        skip: o.skip,
        geometry: t.geometry,
        timeoutMs: o.timeout,
        against: o.against,
        onProgress: (p) => {
          if (running) running.progress = p;
          progress.update(p);
        },
        onFound: (provisional) => (pending = { t, result: provisional }), // with workers: the lowest stream's
      });
      pending = undefined;
      progress.done();
      const rec = report.add(t.key, t.expect, t.spec, result);
      records.push(rec);
      printTarget(rec, t, o.quiet ?? false, o.against);
    }
  } finally {
    onInterrupt = undefined;
  }
  report.finish(records.every((r) => r.verdict === "ok") ? "passed" : "failed");
  return { records, report };
}

function printTarget(rec: TargetRecord, t: Target, quiet: boolean, against?: string): void {
  const r = rec.result;
  const secs = `${(r.elapsedMs / 1000).toFixed(1)}s`;
  const name = `${r.layer} ${t.spec}${t.flavour ? ` (${t.flavour.name})` : ""}`.padEnd(36);
  if (r.status === "passed") {
    const what = t.expect === "kill" ? "SURVIVED" : "passed  ";
    console.log(`${name} ${what} ${r.runs} runs, ${r.ops.toLocaleString("en-US")} ops, ${secs}`);
    if (r.structure) console.log(indent(describeStructure(r.structure, r.ops)));
    return;
  }
  if (r.status === "engine-failure") {
    console.log(`${name} ENGINE FAILED after ${r.runs} runs: ${r.engineFailure?.message}`);
    if (!quiet) console.log(indent(explainFailure(r)), `\n  trace so far: ${shown(rec.files[0])}`);
    return;
  }
  const f = r.failure!;
  const mismatch = t.killedBy && f.kind !== t.killedBy ? ` (expected a ${t.killedBy} property)` : "";
  if (t.expect === "kill") {
    console.log(
      `${name} killed   after ${r.runs} run(s) by ${f.property}${mismatch}, ${r.trace!.ops.length}-op trace, ${secs}`,
    );
    return;
  }
  console.log(`${name} FAILED   ${f.property} after ${r.runs} run(s), ${secs}`);
  if (!quiet) console.log(indent(explainFailure(r)));
  console.log(
    `  trace: ${shown(rec.files[0])}\n  replay: npx cowcheck replay ${shown(rec.files[0])} --engine ${JSON.stringify(t.spec).replace(/^"(\w+)"$/, "$1")}${against ? ` --against ${against}` : ""}`,
  );
}

/** What a lockstep comparison (--against) did, for the run's summary. */
function describeStructure(st: StructureStats, ops: number): string {
  const counts = (m: Record<string, number>): string =>
    Object.entries(m)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  return [
    `structure compared after ${st.compared.toLocaleString("en-US")} of ${ops.toLocaleString("en-US")} ops (${((100 * st.compared) / Math.max(ops, 1)).toFixed(1)}%)`,
    `allowances used: ${counts(st.allowed)}`,
    `sequences compared only in part, by reason: ${counts(st.desynced)}`,
  ].join("\n");
}

/** A path as the user would type it: relative when it lies below the working directory. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
};

const indent = (s: string): string => s.replace(/^/gm, "  ");

function exitFor(records: readonly TargetRecord[]): number {
  if (records.some((r) => r.verdict === "bad" && r.result.status === "engine-failure")) return EXIT.engine;
  return records.every((r) => r.verdict === "ok") ? EXIT.ok : EXIT.failed;
}

function budgetOptions(cmd: Command): void {
  cmd
    .option("--seed <n>", "seed (same seed, same ops, same verdict)", int("--seed", 0, MAX_SEED), 1)
    .option(
      "--runs <n>",
      `sequences per target (default ${DEFAULT_MODEL_RUNS} for an engine, up to ${DEFAULT_MUTANT_RUNS} for a mutant)`,
      int("--runs", 1),
    )
    .option("--max-ops <n>", "longest generated sequence", int("--max-ops", 1), 200)
    .option("--time <duration>", "stop generating after this long per target (e.g. 60s, 5m)", parseDuration)
    .option("--geometry <json>", "geometry overrides, e.g. '{\"pages\":64}'")
    .option("--timeout <duration>", "per-message timeout for stdio engines (default 10s)", parseDuration)
    .option("--report <dir>", "report folder (default reports/out/<run-id>)")
    .option("--skip <kinds>", "property kinds not to check, comma-separated: invariant, economy", parseKinds)
    .option(
      "--workers <n>",
      "worker threads per target, one stream each (stream 0 is --seed, the others derived from it); the lowest failing stream decides",
      int("--workers", 1),
    )
    .option("--quiet", "no progress, no explanations");
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("cowcheck")
    .description("Property-based conformance and fuzzing harness for copy-on-write engines")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError("(cowcheck --help for usage)");

  const run = program
    .command("run")
    .description(
      "fuzz an engine against its layer's oracle and properties; with no --engine, every layer's model and mutant zoo",
    )
    .option("--layer <layer>", `one layer (${layers.map((l) => l.name).join(", ")})`)
    .option("--engine <spec>", ENGINE_HELP)
    .option("--against <spec>", AGAINST_HELP)
    .addOption(
      new Option(
        "--shard <i/n>",
        "run shard i of n: runs/n sequences, as streams i·workers … i·workers+workers−1 of --seed",
      ).argParser(parseShard),
    );
  budgetOptions(run);
  run.action(async (o: BudgetOptions & { layer?: string; engine?: string }) => {
    const targets: Target[] = [];
    for (const layer of pickLayers(o.layer)) {
      if (o.engine) {
        targets.push({ layer, spec: o.engine, expect: "pass" });
        continue;
      }
      targets.push({ layer, spec: "model", expect: "pass" });
      if (!o.geometry)
        for (const flavour of layer.flavours ?? []) targets.push({ layer, spec: "model", expect: "pass", flavour });
      for (const m of layer.mutants)
        targets.push({ layer, spec: `mutant:${m.name}`, expect: "kill", killedBy: m.killedBy });
    }
    const { records, report } = await runTargets(targets, o, argv);
    console.log(`report: ${shown(report.dir)}`);
    code = exitFor(records);
  });

  const mutants = program
    .command("mutants")
    .description("run the mutant zoo: every mutant must be killed")
    .option("--layer <layer>", "one layer")
    .option("--json", "print one JSON array of {layer, name, mimics, killed, msToKill, traceLength}");
  budgetOptions(mutants);
  mutants.action(async (o: BudgetOptions & { layer?: string; json?: boolean }) => {
    const targets: Target[] = pickLayers(o.layer).flatMap((layer) =>
      layer.mutants.map((m) => ({ layer, spec: `mutant:${m.name}`, expect: "kill" as const, killedBy: m.killedBy })),
    );
    const log = console.log;
    console.log = () => undefined; // the table (or the JSON array) is the only stdout
    let run: Awaited<ReturnType<typeof runTargets>>;
    try {
      run = await runTargets(targets, { ...o, quiet: o.quiet || o.json }, argv);
    } finally {
      console.log = log;
    }
    const records = run.records;
    const rows = records.map((r, i) => {
      const t = targets[i];
      const m = t.layer.mutants.find((x) => `mutant:${x.name}` === t.spec)!;
      const f = r.result.failure;
      return {
        layer: t.layer.name,
        name: m.name,
        mimics: m.mimics,
        killed: r.result.status === "failed",
        msToKill: r.result.status === "failed" ? r.result.elapsedMs : null,
        traceLength: r.result.trace?.ops.length ?? null,
        killedBy: f?.property ?? null,
        expectedKind: m.killedBy ?? null,
        kind: f?.kind ?? null,
      };
    });
    const wrongKind = (x: (typeof rows)[number]): boolean =>
      x.killed && x.expectedKind !== null && x.kind !== x.expectedKind;
    if (o.json) console.log(JSON.stringify(rows));
    else {
      printTable(
        rows.map((x) => [
          x.layer,
          x.name,
          x.killed ? (wrongKind(x) ? `yes, by ${x.kind}!` : "yes") : "NO",
          x.msToKill === null ? "-" : `${x.msToKill} ms`,
          x.traceLength === null ? "-" : String(x.traceLength),
          x.killedBy ?? "-",
          x.mimics,
        ]),
        ["layer", "mutant", "killed", "time to kill", "trace", "killed by", "mimics"],
      );
      console.log(`report: ${shown(run.report.dir)}`);
    }
    code = rows.every((x) => x.killed && !wrongKind(x)) ? EXIT.ok : EXIT.failed;
  });

  traceCommand(program, "replay", "run a trace against an engine, printing each op and its observation")
    .option("--quiet", "print only the verdict")
    .option("--skip <kinds>", "property kinds not to check, comma-separated: invariant, economy", parseKinds)
    .action(
      disposing(async (file: string, o: TraceOptions & { quiet?: boolean; skip?: PropertyKind[] }) => {
        const opened = openTrace(file, o);
        const { trace, factory, against } = opened;
        const layer = withoutKinds(opened.layer, o.skip);
        const failure = await checkWith(layer, trace.geometry, factory, trace.ops, {
          expected: trace.expected,
          against,
          onStep: o.quiet
            ? undefined
            : (s) => {
                const mark = allows(s.expected, s.observed) ? "" : `   ✗ expected ${JSON.stringify(s.expected)}`;
                console.log(
                  `${String(s.index).padStart(4)}  ${JSON.stringify(s.op)}  →  ${JSON.stringify(s.observed)}${mark}`,
                );
              },
        });
        code = printVerdict(failure, trace.ops.length, factory.name);
      }),
    );

  traceCommand(
    program,
    "minimize",
    "shrink a failing trace to a 1-minimal one that fails the same way (same property, or same kind of engine failure)",
  )
    .option("--out <file>", "where to write the minimized trace (default: <trace>.min.json)")
    .action(
      disposing(async (file: string, o: TraceOptions & { out?: string }) => {
        const { layer, trace, factory, against } = openTrace(file, o);
        const run = (ops: readonly unknown[], expected?: readonly unknown[]) =>
          checkWith(layer, trace.geometry, factory, ops, { expected, against });
        const write = async (
          what: string,
          ops: unknown[],
          fails: (c: unknown[]) => Promise<boolean>,
        ): Promise<void> => {
          const minimal = await minimizeWith(ops, fails, layer.simplify?.bind(layer));
          const out = o.out ?? file.replace(/(\.json)?$/, ".min.json");
          writeFileSync(
            out,
            formatTrace({
              ...trace,
              ops: minimal,
              expected: undefined,
              note: `${what}: minimized from ${trace.ops.length} ops`,
            }),
          );
          console.log(`${what}: ${trace.ops.length} → ${minimal.length} ops, written to ${out}`);
        };
        let recorded: Failure | undefined;
        try {
          recorded = await run(trace.ops, trace.expected);
        } catch (e) {
          if (!(e instanceof EngineFailure)) throw e;
          // The engine itself fails on this trace: minimize towards the same kind of engine failure.
          const crashes = async (c: unknown[]): Promise<boolean> =>
            run(c).then(
              () => false,
              (x: unknown) => x instanceof EngineFailure && x.kind === e.kind,
            );
          // failed before its first op (start, hello, initial inspect): the empty trace is the minimum
          const ops = e.opIndex === undefined ? [] : trace.ops.slice(0, e.opIndex + 1);
          await write(`engine failure (${e.kind})`, ops, crashes);
          code = EXIT.engine;
          return;
        }
        if (!recorded) {
          console.log(`the trace passes on ${factory.name}: nothing to minimize`);
          return;
        }
        // Recorded observations belong to the original ops; deleting ops invalidates them, so minimize keeps
        // the failure against the oracle or a property, which deleting ops preserves.
        const first = recorded.property === "recorded-observation" ? await run(trace.ops) : recorded;
        if (!first) {
          console.log(
            `the trace fails only against its recorded observations (op ${recorded.index}: ${JSON.stringify(recorded.observed)}, recorded ${JSON.stringify(recorded.expected)}); the oracle and every property agree with the engine, so there is nothing to minimize against`,
          );
          code = EXIT.failed;
          return;
        }
        const sameProperty = async (c: unknown[]): Promise<boolean> =>
          run(c).then(
            (f) => f?.property === first.property,
            () => false,
          );
        await write(first.property, trace.ops.slice(0, first.index + 1), sameProperty);
        code = EXIT.failed;
      }),
    );

  program
    .command("explore")
    .description(
      "every op sequence up to --depth over the layer's small alphabet, shortest first: the shortest counterexample",
    )
    .requiredOption("--layer <layer>", "the layer")
    .requiredOption("--depth <k>", "longest sequence (after the prelude)", int("--depth", 1))
    .option("--engine <spec>", ENGINE_HELP, "model")
    .option("--geometry <json>", "geometry overrides")
    .option("--timeout <duration>", "per-message timeout for stdio engines (default 10s)", parseDuration)
    .option("--report <dir>", "report folder (default reports/out/<run-id>)")
    .action(
      async (o: {
        layer: string;
        depth: number;
        engine: string;
        geometry?: string;
        timeout?: number;
        report?: string;
      }) => {
        const [layer] = pickLayers(o.layer);
        const factory = resolveEngine(layer, o.engine, { timeoutMs: o.timeout });
        try {
          await exploreCommand(layer, factory, o);
        } finally {
          await factory.dispose?.();
        }
      },
    );

  async function exploreCommand(
    layer: AnyLayer,
    factory: EngineFactory,
    o: { depth: number; engine: string; geometry?: string; report?: string },
  ): Promise<void> {
    const geometry = geometryFor(layer, o.geometry, factory, o.engine);
    const progress = new Progress(false);
    progress.start(`${layer.name} ${o.engine} explore`, 0);
    const r = await explore(layer, factory, {
      depth: o.depth,
      geometry,
      onProgress: (p) => progress.note(`depth ${p.depth}, ${p.sequences.toLocaleString("en-US")} sequences`),
    });
    progress.done();
    const prelude = layer.prelude.length ? ` after the ${layer.prelude.length}-op prelude` : "";
    const what = `${r.sequences.toLocaleString("en-US")} sequences of 1 to ${r.depth} ops over a ${r.alphabet}-op alphabet${prelude}, ${(r.elapsedMs / 1000).toFixed(1)}s`;
    if (r.status === "passed") {
      console.log(`${layer.name} ${o.engine}: no counterexample in ${what}`);
      return;
    }
    const report = new ReportWriter(o.report ?? `reports/out/${runId()}`, argv);
    const steps: Step[] = [];
    await checkWith(layer, geometry, factory, r.trace!.ops, { onStep: (step) => steps.push(step) });
    const rec = report.add(`${layer.name}-${o.engine}-explore`, "pass", o.engine, {
      status: "failed",
      engine: factory.name,
      layer: layer.name,
      seed: 0,
      runs: r.sequences,
      ops: 0,
      elapsedMs: r.elapsedMs,
      trace: r.trace,
      failure: r.failure,
      originalLength: r.trace!.ops.length,
      steps,
      state: await renderStateAfter(layer, geometry, factory, r.trace!.ops),
    });
    report.finish("failed");
    console.log(
      `${layer.name} ${o.engine}: shortest counterexample, ${r.trace!.ops.length} ops in all, found among ${what}`,
    );
    console.log(indent(explainFailure(rec.result)));
    console.log(`  trace: ${shown(rec.files[0])}`);
    code = EXIT.failed;
  }

  program
    .command("engines")
    .description("which engines this machine can run, and why not")
    .option("--layer <layer>", "one layer")
    .action((o: { layer?: string }) => {
      const rows: string[][] = [];
      for (const layer of pickLayers(o.layer))
        for (const e of engineCatalogue(layer)) rows.push([layer.name, e.spec, e.available ? "yes" : "no", e.why]);
      printTable(rows, ["layer", "engine", "available", "notes"]);
    });

  // Ctrl-C, whatever the command: finish what it registered, then exit (stdio engines die with the process).
  const interrupt = (): void => {
    onInterrupt?.();
    process.exit(130);
  };
  process.once("SIGINT", interrupt);
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof InputError) {
      process.stderr.write(`cowcheck: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof EngineFailure) {
      process.stderr.write(`cowcheck: engine failure (${e.kind}): ${e.message}\n${e.detail ? `${e.detail}\n` : ""}`);
      return EXIT.engine;
    }
    throw e;
  } finally {
    process.removeListener("SIGINT", interrupt);
  }
}

interface TraceOptions {
  engine: string;
  timeout?: number;
  against?: string;
}

const ENGINE_HELP = 'model | oracle | mutant:NAME | linux | overlayfs | postgres | sqlite | stdio:"CMD"';
const AGAINST_HELP =
  "also compare the engine's partial views of its state (mm: pagemap) with this reference engine's state after every op (model)";

/** replay and minimize: a trace argument, the engine to run it on, and the stdio timeout. */
function traceCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .argument("<trace>", "trace file (JSON)")
    .option("--engine <spec>", ENGINE_HELP, "model")
    .option("--against <spec>", AGAINST_HELP)
    .option("--timeout <duration>", "per-message timeout for stdio engines (default 10s)", parseDuration);
}

/** A trace command's action, releasing the factories it opened (an idle resettable engine) however it ends. */
function disposing<T extends unknown[]>(action: (...args: T) => Promise<void>): (...args: T) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } finally {
      for (const f of disposables.splice(0)) await f.dispose?.();
    }
  };
}

/** Factories opened by the running trace command. */
const disposables: EngineFactory[] = [];

function openTrace(file: string, o: TraceOptions) {
  const { layer, trace } = loadTrace(file);
  const factory = resolveEngine(layer, o.engine, { timeoutMs: o.timeout });
  disposables.push(factory);
  const against = o.against === undefined ? undefined : resolveEngine(layer, o.against, { timeoutMs: o.timeout });
  if (against) disposables.push(against);
  return { layer, trace, factory, against };
}

function printVerdict(failure: Failure | undefined, n: number, engine: string): number {
  if (!failure) {
    console.log(`ok: ${n} ops on ${engine}, every observation and property held`);
    return EXIT.ok;
  }
  console.log(`FAILED at op ${failure.index}: ${failure.property} (${failure.kind}): ${failure.message}`);
  if (failure.kind === "equivalence")
    console.log(`  observed ${JSON.stringify(failure.observed)}, expected ${JSON.stringify(failure.expected)}`);
  return EXIT.failed;
}

function printTable(rows: string[][], head: string[]): void {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}
