// The cowcheck command. Exit codes: 0 every property held (every mutant killed); 1 a property failed (or a
// mutant survived); 2 usage or input error; 3 the engine itself failed (crash, hang, protocol violation).
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, constants as osConstants } from "node:os";
import { dirname, extname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import {
  type AnyLayer,
  allows,
  type CampaignResult,
  type EngineFactory,
  EngineFailure,
  excerpt,
  type Failure,
  formatTrace,
  InputError,
  type Program,
  type PropertyKind,
  resolveGeometry,
  stopAllGroups,
  visible,
  withoutKinds,
} from "../core/index.ts";
import { engineCatalogue, engineSpecs, resolveEngine } from "../engines/resolve.ts";
import type { Progress as CampaignProgress } from "../fuzz/campaign.ts";
import { DEFAULT_RUNS, parseReplayToken } from "../fuzz/campaign.ts";
import { explore, shortestKill } from "../fuzz/explore.ts";
import { checkSchedule, minimizeProgram } from "../fuzz/interleave.ts";
import { minimizeTrace } from "../fuzz/minimize.ts";
import { CampaignPool, runParallelCampaign } from "../fuzz/parallel.ts";
import { programOf, replayTrace } from "../fuzz/replay.ts";
import { mergeReports } from "../fuzz/shards.ts";
import { layerNamed, layers, loadTrace, threadsKnow } from "../layers/index.ts";
import {
  describeCoverage,
  describeEngineFailure,
  describeStructure,
  explainFailure,
  replayCommand,
  rerunCommand,
  timelineText,
} from "../reports/explain.ts";
import { outcome } from "../reports/page.ts";
import { ReportWriter, type TargetRecord } from "../reports/writer.ts";
import { type Print, silent, stdout } from "./printer.ts";
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

/** --geometry's JSON; the geometry rule (core/geometry.ts) checks its fields. */
function parseGeometry(json: string | undefined): unknown {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json);
  } catch {
    throw new InputError(`--geometry must be JSON, e.g. '{"pages":64}' (got ${json})`);
  }
}

const pickLayers = (name: string | undefined): AnyLayer[] => (name ? [layerNamed(name)] : [...layers]);

/**
 * The factories a command resolved (names are resolved here, at the entry point, with every layer known for the
 * messages): each is disposed once, when its target is done or when the command ends, however it ends.
 */
class Factories {
  private readonly open = new Set<EngineFactory>();

  async resolve(layer: AnyLayer, spec: string, timeoutMs?: number): Promise<EngineFactory> {
    const f = await resolveEngine(layer, spec, { timeoutMs, registry: layers });
    this.open.add(f);
    return f;
  }

  async dispose(f: EngineFactory | undefined): Promise<void> {
    if (f && this.open.delete(f)) await f.dispose?.();
  }

  async disposeAll(): Promise<void> {
    for (const f of [...this.open]) await this.dispose(f);
  }
}

/** The layer registry's module, for worker threads (they import it to find the layer by name). */
const REGISTRY = new URL(`../layers/index${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;

const runId = (): string =>
  `${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${process.pid}`;

/** The version in cowcheck's own package.json, found from this file up. */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "cowcheck") return pkg.version ?? "unknown";
    } catch {
      // not here: one folder up
    }
  }
  return "unknown";
}

interface Target {
  readonly layer: AnyLayer;
  readonly spec: string;
  readonly expect: "pass" | "kill";
  readonly killedBy?: string;
  /** One of the layer's other flavours (the default run checks each model against its oracle). */
  readonly flavour?: string;
  /** Run the layer's race programs, this many threads interleaved (a mutant only an interleaving kills: 2). */
  readonly threads?: number;
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
  /** fast-check's path to a counterexample (`--replay`): the one sequence to run. */
  replayPath?: string;
  /** `--threads`: the layer's race programs, their threads' steps interleaved (docs/races.md). */
  threads?: number;
}

/**
 * Default budgets, in runs only, so the same seed gives the same verdict on any machine: an engine gets
 * DEFAULT_RUNS (3,000) sequences, a mutant of the zoo up to 20,000 to be killed. --time bounds the search by time
 * instead (and replaces the run count when --runs is not given).
 */
const DEFAULT_MODEL_RUNS = DEFAULT_RUNS;
const DEFAULT_MUTANT_RUNS = 20_000;

/**
 * Bounds on the sizes a user controls, checked before any work: a generated sequence is held whole in memory and
 * checked op by op; a worker thread holds its own engines and copy of the code (about 65 MB); explore's sequences
 * grow as the alphabet to the power of the depth (mm: 54,240 at depth 4, 813,615 at depth 5).
 */
const MAX_OPS = 100_000;
const MAX_WORKERS = 4 * Math.max(1, availableParallelism());
const MAX_DEPTH = 8;

/** What Ctrl-C or SIGTERM must still do: each running command registers it here (the report so far). */
let onInterrupt: (() => void) | undefined;

/**
 * Set when SIGINT or SIGTERM arrives, whatever the command is doing: it then ends with 128 + the signal's number,
 * its report marked interrupted, its engines stopped (asked first: an engine may put back what it changed).
 */
let interrupted: { readonly signal: NodeJS.Signals; readonly code: number } | undefined;

const interruptCode = (): number | undefined => interrupted?.code;

/** How long engines get to stop when asked, before they are killed. */
const STOP_GRACE_MS = 2000;

interface Planned extends Target {
  readonly label: string;
  /** The target's name in the report folder. */
  readonly key: string;
  readonly runs: number;
  readonly factory: EngineFactory;
  readonly against?: EngineFactory;
}

const targetName = (t: Target): string => (t.flavour ? `${t.spec} (${t.flavour})` : t.spec);

async function runTargets(
  targets: readonly Target[],
  o: BudgetOptions,
  argv: readonly string[],
  print: Print,
  factories: Factories,
): Promise<{ records: TargetRecord[]; report: ReportWriter }> {
  const shard = o.shard ?? { index: 0, count: 1 };
  const workers = o.workers ?? 1;
  const geometry = parseGeometry(o.geometry);
  // Everything the user typed is checked before a report folder exists.
  const plan: Planned[] = [];
  for (const t of targets) {
    const factory = await factories.resolve(t.layer, t.spec, o.timeout);
    const against = o.against === undefined ? undefined : await factories.resolve(t.layer, o.against, o.timeout);
    resolveGeometry(t.layer, { flavour: t.flavour, engine: factory, user: geometry, source: "--geometry" });
    const defaultRuns =
      o.time !== undefined ? Number.MAX_SAFE_INTEGER : t.expect === "kill" ? DEFAULT_MUTANT_RUNS : DEFAULT_MODEL_RUNS;
    plan.push({
      ...t,
      label: `${t.layer.name} ${targetName(t)}`,
      key: `${t.layer.name}-${t.spec}${t.flavour ? `-${t.flavour}` : ""}`,
      runs: Math.ceil((o.runs ?? defaultRuns) / shard.count),
      factory,
      against,
    });
  }
  const report = await ReportWriter.open(o.report ?? `reports/out/${runId()}`, argv, { shard: o.shard, workers });
  const targetOptions = { against: o.against, geometry: o.geometry };
  const progress = new Progress(o.quiet ?? false);
  const records: TargetRecord[] = [];
  // Targets whose engines are all in-process (models, oracles, mutants) of layers worker threads know run side by side
  // on a pool of threads, one per core: each gives what it gives alone (its own seed and runs), and they are reported
  // in plan order.
  const inProcess = (spec: string | undefined) =>
    spec === undefined || spec === "model" || spec === "oracle" || spec.startsWith("mutant:");
  const side = Math.min(availableParallelism(), plan.length);
  const pool =
    workers === 1 && side > 1 && plan.every((t) => inProcess(t.spec) && threadsKnow(t.layer)) && inProcess(o.against)
      ? new CampaignPool(side)
      : undefined;
  /** The targets started and not yet reported, by their place in the plan. */
  const inflight = new Map<
    number,
    {
      readonly t: Planned;
      readonly started: number;
      progress?: CampaignProgress;
      pending?: CampaignResult;
      readonly result: Promise<CampaignResult>;
    }
  >();
  let current = 0; // the target the progress line follows: the first not reported yet
  onInterrupt = () => {
    progress.done();
    // a failure found but not yet shrunk is kept, unshrunk; otherwise the target is recorded as far as it got (one
    // the pool has not begun yet, not at all)
    for (const [i, { t, started, progress: p, pending }] of [...inflight].sort(([a], [b]) => a - b)) {
      if (i !== current && !p && !pending) continue;
      if (pending) report.add(t.key, t.expect, t.spec, pending, targetOptions);
      else
        report.add(t.key, t.expect, t.spec, {
          status: "interrupted",
          engine: t.spec,
          layer: t.layer.name,
          seed: o.seed,
          runs: p?.runs ?? 0,
          ops: p?.ops ?? 0,
          elapsedMs: Date.now() - started,
        });
    }
    report.finish("interrupted");
    process.stderr.write(`\ninterrupted; report so far: ${report.dir}\n`);
  };
  const launch = (i: number): void => {
    const t = plan[i]!;
    const entry: { progress?: CampaignProgress; pending?: CampaignResult } = {};
    const result = runParallelCampaign(
      t.layer,
      { spec: t.spec, factory: t.factory },
      {
        seed: o.seed,
        firstStream: shard.index * workers,
        workers,
        pool,
        registry: REGISTRY,
        runs: t.runs,
        maxOps: o.maxOps,
        timeMs: o.time,
        replay: o.replayPath,
        skip: o.skip,
        geometry,
        flavour: t.flavour,
        threads: t.threads ?? o.threads,
        timeoutMs: o.timeout,
        against: o.against === undefined ? undefined : { spec: o.against, factory: t.against! },
        onProgress: (p) => {
          entry.progress = p;
          if (i === current) progress.update(p);
        },
        onFound: (provisional) => {
          entry.pending = provisional; // with workers: the lowest stream's
        },
      },
    );
    result.catch(() => undefined); // awaited in order below; one failing early must not go unhandled meanwhile
    inflight.set(i, Object.assign(entry, { t, started: Date.now(), result }));
  };
  try {
    let next = 0;
    for (const [i, t] of plan.entries()) {
      // the pool starts each as soon as one of its threads is free, in plan order; without one, one at a time
      while (next < plan.length && (pool || next <= i)) launch(next++);
      current = i;
      progress.start(t.label, t.runs);
      const entry = inflight.get(i)!;
      if (entry.progress) progress.update(entry.progress);
      const result = await entry.result;
      if (interrupted) break; // the report is written as far as it got; what the stopped engines answered is not news
      inflight.delete(i);
      progress.done();
      await factories.dispose(t.factory);
      await factories.dispose(t.against);
      const rec = report.add(t.key, t.expect, t.spec, result, targetOptions);
      records.push(rec);
      printTarget(rec, t, o, print);
    }
  } catch (e) {
    if (interrupted) return { records, report };
    // an engine that cannot start, a geometry it refuses: the report says the run stopped, the CLI says why
    progress.done();
    report.finish("aborted");
    throw e;
  } finally {
    onInterrupt = undefined;
    await pool?.close();
  }
  if (interrupted) return { records, report };
  report.finish(records.every((r) => r.verdict === "ok") ? "passed" : "failed");
  return { records, report };
}

function printTarget(rec: TargetRecord, t: Target, o: BudgetOptions, print: Print): void {
  const r = rec.result;
  const secs = `${(r.elapsedMs / 1000).toFixed(1)}s`;
  const name = `${r.layer} ${targetName(t)}`.padEnd(36);
  if (r.status === "passed") {
    const what = t.expect === "kill" ? "SURVIVED" : "passed  ";
    print(`${name} ${what} ${r.runs} runs, ${r.ops.toLocaleString("en-US")} ops, ${secs}`);
    if (r.structure) print(indent(describeStructure(r.structure, r.ops)));
    if (r.checked && t.expect === "pass" && !o.quiet) print(indent(describeCoverage(r.checked)));
    return;
  }
  if (r.status === "engine-failure") {
    print(`${name} ENGINE FAILED after ${r.runs} runs: ${r.engineFailure?.message}`);
    if (!o.quiet) print(`${indent(explainFailure(r))}\n  trace so far: ${shown(rec.files[0])}`);
    return;
  }
  const f = r.failure!;
  const mismatch = t.killedBy && f.kind !== t.killedBy ? ` (expected a ${t.killedBy} property)` : "";
  if (t.expect === "kill") {
    print(
      `${name} killed   after ${r.runs} run(s) by ${f.property}${mismatch}, ${r.trace!.ops.length}-op trace, ${secs}`,
    );
    return;
  }
  print(`${name} FAILED   ${f.property} after ${r.runs} run(s), ${secs}`);
  if (!o.quiet) print(indent(explainFailure(r)));
  print(`  trace: ${shown(rec.files[0])}\n  replay: ${replayCommand(shown(rec.files[0]), t.spec, o.against)}`);
  if (r.replay) print(`  rerun without searching: ${rerunCommand(r.replay, t.spec, o.geometry, o.against)}`);
}

/** A path as the user would type it: relative when it lies below the working directory. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
};

const indent = (s: string): string => s.replace(/^/gm, "  ");

/**
 * A failed target as a GitHub Actions workflow command: an error annotation naming the trace (the file a reviewer
 * opens), its title the target and the property, its message the failure (%, CR and LF escaped as the runner reads
 * them; in the properties also ":" and ",").
 */
function githubError(r: TargetRecord): string {
  const data = (v: string): string => v.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const prop = (v: string): string => data(v).replace(/:/g, "%3A").replace(/,/g, "%2C");
  const res = r.result;
  const what =
    r.expect === "kill"
      ? `survived ${res.runs} runs`
      : (res.failure?.property ?? `engine failure (${res.engineFailure?.kind ?? "error"})`);
  const message = res.failure?.message ?? res.engineFailure?.message ?? what;
  const trace = r.files.find((f) => f.endsWith(".trace.json"));
  const file = trace ? `file=${prop(shown(trace))},` : "";
  return `::error ${file}title=${prop(`cowcheck ${r.label}: ${what}`)}::${data(visible(message))}`;
}

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
    .option("--max-ops <n>", `longest generated sequence (at most ${MAX_OPS})`, int("--max-ops", 1, MAX_OPS), 200)
    .option("--time <duration>", "stop generating after this long per target (e.g. 60s, 5m)", parseDuration)
    .option("--geometry <json>", "geometry overrides, e.g. '{\"pages\":64}'")
    .option("--timeout <duration>", "per-message timeout for stdio engines (default 10s)", parseDuration)
    .option("--report <dir>", "report folder (default reports/out/<run-id>)")
    .option("--skip <kinds>", "property kinds not to check, comma-separated: invariant, economy", parseKinds)
    .option(
      "--workers <n>",
      `worker threads per target, one stream each (stream 0 is --seed, the others derived from it); the lowest failing stream decides (at most 4 per CPU: ${MAX_WORKERS} here)`,
      int("--workers", 1, MAX_WORKERS),
    )
    .option(
      "--threads <n>",
      "run the layer's race programs instead of sequences, their threads' steps interleaved in every order up to two preemptions, judged by linearizability (docs/races.md); 1 (the default) runs sequences, each op atomic; --runs bounds the schedules",
      int("--threads", 1, 2),
    )
    .option("--quiet", "no progress, no explanations");
}

interface TraceOptions {
  engine: string;
  timeout?: number;
  against?: string;
}

const AGAINST_HELP =
  "also compare the engine's partial views of its state (mm: pagemap) with this reference engine's state after every op (model)";

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  interrupted = undefined;
  const factories = new Factories();
  const engineHelp = engineSpecs(undefined, layers);
  const program = new Command("cowcheck")
    .description("Property-based conformance and fuzzing harness for copy-on-write engines")
    .version(version(), "-V, --version", "print cowcheck's version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError("(cowcheck --help for usage)");

  const run = program
    .command("run")
    .description(
      "fuzz an engine against its layer's oracle and properties; with no --engine, every layer's model and mutant zoo",
    )
    .option("--layer <layer>", `one layer (${layers.map((l) => l.name).join(", ")})`)
    .option("--engine <spec>", engineHelp)
    .option("--against <spec>", AGAINST_HELP)
    .option(
      "--replay <token>",
      "rerun the counterexample a failure printed (layer[/flavour]:seed:maxOps:path), without searching; give the same --engine and --geometry",
    )
    .addOption(
      new Option(
        "--shard <i/n>",
        "run shard i of n: runs/n sequences, as streams i·workers … i·workers+workers−1 of --seed",
      ).argParser(parseShard),
    )
    .addOption(
      new Option(
        "--reporter <name>",
        "terminal (the default); github (the terminal's, and a GitHub Actions ::error line per failure naming its trace); json or junit (summary.json or junit.xml on stdout, nothing else)",
      )
        .choices(["terminal", "github", "json", "junit"])
        .default("terminal"),
    );
  budgetOptions(run);
  run.action(async (o: BudgetOptions & { layer?: string; engine?: string; replay?: string; reporter: string }) => {
    const file = o.reporter === "json" ? "summary.json" : o.reporter === "junit" ? "junit.xml" : undefined;
    const print: Print = file ? silent : stdout;
    if (file) o = { ...o, quiet: true };
    /** The verdict, as the reporter says it. */
    const finish = (records: TargetRecord[], report: ReportWriter): void => {
      if (file) process.stdout.write(readFileSync(join(report.dir, file), "utf8"));
      else stdout(`report: ${shown(report.dir)}`);
      if (o.reporter === "github") for (const r of records) if (r.verdict === "bad") stdout(githubError(r));
      code = exitFor(records);
    };
    if (o.replay !== undefined) {
      // one target, the token's layer and flavour, its seed and sequence length, one sequence in one stream
      const token = parseReplayToken(o.replay);
      const layer = layerNamed(token.layer);
      if (o.layer && o.layer !== layer.name)
        throw new InputError(`--replay: the token is of layer ${layer.name}, not --layer ${o.layer}`);
      if (token.flavour && !layer.flavours?.some((f) => f.name === token.flavour))
        throw new InputError(`--replay: layer ${layer.name} has no flavour ${token.flavour}`);
      const target: Target = { layer, spec: o.engine ?? "model", expect: "pass", flavour: token.flavour };
      const replay = { ...o, seed: token.seed, maxOps: token.maxOps, runs: 1, workers: 1, replayPath: token.path };
      const { records, report } = await runTargets([target], replay, argv, print, factories);
      if (interruptCode() !== undefined) return;
      if (records[0]?.result.status === "passed")
        print("the token's sequence passes on this engine (fixed, or another engine or geometry than the failure's)");
      finish(records, report);
      return;
    }
    if ((o.threads ?? 1) > 1 && (o.against !== undefined || o.replay !== undefined))
      throw new InputError("--threads runs race programs: it takes neither --against nor --replay");
    const targets: Target[] = [];
    for (const layer of pickLayers(o.layer)) {
      if (o.engine) {
        targets.push({ layer, spec: o.engine, expect: "pass" });
        continue;
      }
      // with --threads, the models of the flavours that have race programs
      const racy = (flavour?: string): boolean =>
        (o.threads ?? 1) < 2 ||
        ((g) =>
          layer.raceArbitrary?.(g, new Set(layer.model(g).features)) !== undefined ||
          (layer.races?.(g).length ?? 0) > 0)(resolveGeometry(layer, { flavour, user: parseGeometry(o.geometry) }));
      if (racy()) targets.push({ layer, spec: "model", expect: "pass" });
      if (!o.geometry)
        for (const f of layer.flavours ?? [])
          if (racy(f.name)) targets.push({ layer, spec: "model", expect: "pass", flavour: f.name });
      // with --threads, only the mutants an interleaving kills (the others are sequences' to kill)
      for (const m of layer.mutants.filter((x) => (o.threads ?? 1) < 2 || x.interleaved))
        targets.push({
          layer,
          spec: `mutant:${m.name}`,
          expect: "kill",
          killedBy: m.killedBy,
          threads: m.interleaved ? 2 : undefined,
        });
    }
    const { records, report } = await runTargets(targets, o, argv, print, factories);
    if (interruptCode() !== undefined) return; // the interrupt said where the report is
    finish(records, report);
  });

  program
    .command("merge")
    .description(
      "merge the report folders of a sharded campaign (run --shard i/n, on as many machines) into one report whose verdict is the unsharded run's (run --workers n·w, w each shard's --workers)",
    )
    .argument("<dirs...>", "the shards' report folders, one per shard, in any order")
    .option("--report <dir>", "where to write the merged report (default reports/out/<id>)")
    .addOption(
      new Option("--reporter <name>", "as for run: terminal, github, json or junit")
        .choices(["terminal", "github", "json", "junit"])
        .default("terminal"),
    )
    .action(async (dirs: string[], o: { report?: string; reporter: string }) => {
      const file = o.reporter === "json" ? "summary.json" : o.reporter === "junit" ? "junit.xml" : undefined;
      const { records, report, status } = await mergeReports(dirs, o.report ?? `reports/out/${runId()}`, argv);
      if (file) process.stdout.write(readFileSync(join(report.dir, file), "utf8"));
      else {
        for (const r of records) {
          const res = r.result;
          const word = outcome(r.expect, res.status);
          const what = (r.verdict === "bad" ? word.toUpperCase() : word).padEnd(8);
          const by = res.failure ? ` by ${res.failure.property} (seed ${res.seed})` : "";
          stdout(`${r.label.padEnd(36)} ${what} ${res.runs} runs, ${res.ops.toLocaleString("en-US")} ops${by}`);
          const trace = r.files.find((f) => f.endsWith(".trace.json"));
          if (r.verdict === "bad" && trace) {
            stdout(`  trace: ${shown(trace)}\n  replay: ${replayCommand(shown(trace), r.engine, r.against)}`);
            if (res.replay)
              stdout(`  rerun without searching: ${rerunCommand(res.replay, r.engine, r.geometry, r.against)}`);
          }
        }
        if (status === "interrupted") stdout(`unfinished: a shard was interrupted before it ran every target`);
        stdout(`merged ${dirs.length} shards; report: ${shown(report.dir)}`);
      }
      // an unfinished target is not an error of the engine's: a warning
      if (o.reporter === "github")
        for (const r of records)
          if (r.result.status === "interrupted")
            stdout(
              `::warning title=cowcheck ${r.label}: unfinished::a shard was interrupted before it finished this target`,
            );
          else if (r.verdict === "bad") stdout(githubError(r));
      code = exitFor(records);
    });

  const mutants = program
    .command("mutants")
    .description("run the mutant zoo: every mutant must be killed")
    .option("--layer <layer>", "one layer")
    .option(
      "--json",
      "print one JSON array of {layer, name, mimics, killed, msToKill, runsToKill, msToFind, traceLength, killedBy, expectedKind, kind}, and shortest with --shortest",
    )
    .option(
      "--shortest <depth>",
      `also explore each mutant's alphabet to this depth (at most ${MAX_DEPTH}) for a shortest counterexample's length (shortest; null where none is that short), to compare the minimized trace with: one explore per mutant, up to a + a² + … + a^depth sequences for an a-op alphabet (mm's 18 ops at depth 5: 2,000,718 sequences, a minute or more per mutant explore does not kill; the whole zoo: about a minute at depth 4, about 20 minutes at depth 5)`,
      int("--shortest", 1, MAX_DEPTH),
    );
  budgetOptions(mutants);
  mutants.action(async (o: BudgetOptions & { layer?: string; json?: boolean; shortest?: number }) => {
    const zoo = pickLayers(o.layer).flatMap((layer) => layer.mutants.map((m) => ({ layer, m })));
    const targets: Target[] = zoo.map(({ layer, m }) => ({
      layer,
      spec: `mutant:${m.name}`,
      expect: "kill",
      killedBy: m.killedBy,
      threads: m.interleaved ? 2 : undefined,
    }));
    // the table (or the JSON array) is the only stdout
    const { records, report } = await runTargets(targets, { ...o, quiet: o.quiet || o.json }, argv, silent, factories);
    // explore's first failure is a shortest counterexample over the layer's alphabet: how long a minimized trace
    // could be (a campaign's ops are richer than the alphabet, so its trace may even be shorter)
    const shortest: (number | null)[] = [];
    if (o.shortest !== undefined && interruptCode() === undefined) {
      const geometry = parseGeometry(o.geometry);
      const progress = new Progress(o.quiet || o.json || false);
      for (const { layer, m } of zoo.slice(0, records.length)) {
        const factory = await factories.resolve(layer, `mutant:${m.name}`, o.timeout);
        progress.start(`${layer.name} mutant:${m.name} explore`, 0);
        shortest.push(
          await shortestKill(layer, factory, o.shortest, {
            geometry,
            onProgress: (p) => progress.note(`depth ${p.depth}, ${p.sequences.toLocaleString("en-US")} sequences`),
          }),
        );
        progress.done();
        await factories.dispose(factory);
        if (interruptCode() !== undefined) break;
      }
    }
    const rows = records.map((r, i) => {
      const { layer, m } = zoo[i]!;
      const f = r.result.failure;
      return {
        layer: layer.name,
        name: m.name,
        mimics: m.mimics,
        killed: r.result.status === "failed",
        msToKill: r.result.status === "failed" ? r.result.elapsedMs : null,
        // the runs and the search time until the failing sequence (shrinking and minimizing not counted)
        runsToKill: r.result.status === "failed" ? r.result.runs : null,
        msToFind: r.result.status === "failed" ? (r.result.searchMs ?? null) : null,
        traceLength: r.result.trace?.ops.length ?? null,
        ...(o.shortest === undefined ? {} : { shortest: shortest[i] ?? null }),
        killedBy: f?.property ?? null,
        expectedKind: m.killedBy ?? null,
        kind: f?.kind ?? null,
      };
    });
    const wrongKind = (x: (typeof rows)[number]): boolean =>
      x.killed && x.expectedKind !== null && x.kind !== x.expectedKind;
    if (o.json) stdout(JSON.stringify(rows));
    else {
      const dash = (n: number | null | undefined): string => (n === null || n === undefined ? "-" : String(n));
      printTable(
        rows.map((x) => [
          x.layer,
          x.name,
          x.killed ? (wrongKind(x) ? `yes, by ${x.kind}!` : "yes") : "NO",
          x.msToKill === null ? "-" : `${x.msToKill} ms`,
          dash(x.traceLength),
          ...(o.shortest === undefined ? [] : [dash(x.shortest)]),
          x.killedBy ?? "-",
          x.mimics,
        ]),
        [
          "layer",
          "mutant",
          "killed",
          "time to kill",
          "trace",
          ...(o.shortest === undefined ? [] : ["shortest"]),
          "killed by",
          "mimics",
        ],
      );
      if (o.shortest !== undefined) {
        const reached = rows.filter((x) => x.shortest != null && x.traceLength !== null);
        const asShort = reached.filter((x) => x.traceLength! <= x.shortest!);
        stdout(
          `minimized as short as explore's shortest (depth ${o.shortest}) or shorter: ${asShort.length} of the ${reached.length} mutants explore reaches`,
        );
      }
      stdout(`report: ${shown(report.dir)}`);
    }
    code = rows.every((x) => x.killed && !wrongKind(x)) ? EXIT.ok : EXIT.failed;
  });

  /** replay and minimize: a trace argument, the engine to run it on, and the stdio timeout. */
  const traceCommand = (name: string, description: string): Command =>
    program
      .command(name)
      .description(description)
      .argument("<trace>", "trace file (JSON)")
      .option("--engine <spec>", engineHelp, "model")
      .option("--against <spec>", AGAINST_HELP)
      .option("--timeout <duration>", "per-message timeout for stdio engines (default 10s)", parseDuration);

  const openTrace = async (file: string, o: TraceOptions) => {
    const { layer, trace } = loadTrace(file);
    const factory = await factories.resolve(layer, o.engine, o.timeout);
    const against = o.against === undefined ? undefined : await factories.resolve(layer, o.against, o.timeout);
    return { layer, trace, factory, against };
  };

  traceCommand("replay", "run a trace against an engine, printing each op and its observation")
    .option("--quiet", "print only the verdict")
    .option("--skip <kinds>", "property kinds not to check, comma-separated: invariant, economy", parseKinds)
    .action(async (file: string, o: TraceOptions & { quiet?: boolean; skip?: PropertyKind[] }) => {
      const { layer, trace, factory, against } = await openTrace(file, o);
      if (trace.interleaving) {
        // a failing interleaving: its schedule, judged as the explorer judges it (docs/races.md)
        if (against) throw new InputError("--against compares views op by op; an interleaving is replayed without it");
        const il = trace.interleaving;
        const program = programOf(trace);
        const geometry = resolveGeometry(layer, { engine: factory, user: trace.geometry });
        const r = await inFile(
          file,
          checkSchedule(withoutKinds(layer, o.skip), geometry, factory, program, il.schedule),
        );
        if (!o.quiet) {
          for (const line of timelineText(`the schedule, ${il.schedule.length} steps`, il.threads, r.timeline))
            stdout(line);
          stdout(`  epilogue: ${r.epilogue.map((x) => JSON.stringify(x)).join(", ")}`);
        }
        if (!r.failure) stdout(`ok: the schedule on ${factory.name}: linearizable, every invariant held`);
        else stdout(`FAILED: ${r.failure.property} (${r.failure.kind}): ${r.failure.message}`);
        code = r.failure ? EXIT.failed : EXIT.ok;
        return;
      }
      const failure = await replayTrace(withoutKinds(layer, o.skip), trace, factory, {
        against,
        onStep: o.quiet
          ? undefined
          : (s) => {
              const mark = allows(s.expected, s.observed) ? "" : `   ✗ expected ${JSON.stringify(s.expected)}`;
              stdout(
                `${String(s.index).padStart(4)}  ${JSON.stringify(s.op)}  →  ${JSON.stringify(s.observed)}${mark}`,
              );
            },
      });
      code = printVerdict(failure, trace.ops.length, factory.name);
    });

  traceCommand(
    "minimize",
    "shrink a failing trace to a 1-minimal one that fails the same way (same property, or same kind of engine failure)",
  )
    .option("--out <file>", "where to write the minimized trace (default: <trace>.min.json)")
    .action(async (file: string, o: TraceOptions & { out?: string }) => {
      const { layer, trace, factory, against } = await openTrace(file, o);
      if (trace.interleaving) {
        // fewest ops (and threads) whose schedules still fail the same way; the schedules come fewest preemptions first
        if (against) throw new InputError("--against compares views op by op; an interleaving is minimized without it");
        const il = trace.interleaving;
        const program = programOf(trace);
        const geometry = resolveGeometry(layer, { engine: factory, user: trace.geometry });
        const first = await inFile(file, checkSchedule(layer, geometry, factory, program, il.schedule));
        if (!first.failure) {
          stdout(`the schedule passes on ${factory.name}: nothing to minimize`);
          return;
        }
        const bound = { preemptions: Math.max(2, first.failure.preemptions) };
        const least = await minimizeProgram(layer, geometry, factory, program, first.failure.property, bound);
        const f = least.result.failure ?? first.failure;
        const p = least.program;
        const out = o.out ?? file.replace(/(\.json)?$/, ".min.json");
        const size = (q: Program) => q.prelude.length + q.threads.flat().length + q.epilogue.length;
        const interleaving = {
          threads: p.threads.map((t) => [...t]),
          epilogue: [...p.epilogue],
          schedule: [...f.schedule],
        };
        writeFileSync(out, formatTrace({ ...trace, geometry, ops: [...p.prelude], interleaving }));
        stdout(`${f.property}: ${size(program)} → ${size(p)} ops in ${p.threads.length} threads, written to ${out}`);
        code = EXIT.failed;
        return;
      }
      const r = await minimizeTrace(layer, trace, factory, { against });
      if (r.kind === "passes") {
        stdout(`the trace passes on ${factory.name}: nothing to minimize`);
        return;
      }
      if (r.kind === "recorded-only") {
        const f = r.failure;
        stdout(
          `the trace fails only against its recorded observations (op ${f.index}: ${JSON.stringify(f.observed)}, recorded ${JSON.stringify(f.expected)}); the oracle and every property agree with the engine, so there is nothing to minimize against`,
        );
        code = EXIT.failed;
        return;
      }
      const out = o.out ?? file.replace(/(\.json)?$/, ".min.json");
      writeFileSync(out, formatTrace(r.trace));
      stdout(`${r.what}: ${r.from} → ${r.trace.ops.length} ops, written to ${out}`);
      code = r.kind === "engine" ? EXIT.engine : EXIT.failed;
    });

  program
    .command("explore")
    .description(
      "every op sequence up to --depth over the layer's small alphabet, shortest first: the shortest counterexample",
    )
    .requiredOption("--layer <layer>", "the layer")
    .requiredOption(
      "--depth <k>",
      `longest sequence (after the prelude; at most ${MAX_DEPTH})`,
      int("--depth", 1, MAX_DEPTH),
    )
    .option("--engine <spec>", engineHelp, "model")
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
        const layer = layerNamed(o.layer);
        const factory = await factories.resolve(layer, o.engine, o.timeout);
        const geometry = parseGeometry(o.geometry);
        resolveGeometry(layer, { engine: factory, user: geometry, source: "--geometry" });
        const progress = new Progress(false);
        progress.start(`${layer.name} ${o.engine} explore`, 0);
        const r = await explore(layer, factory, {
          depth: o.depth,
          geometry,
          onProgress: (p) => progress.note(`depth ${p.depth}, ${p.sequences.toLocaleString("en-US")} sequences`),
        });
        progress.done();
        const prelude = r.prelude ? ` after the ${r.prelude}-op prelude` : "";
        const what = `${r.sequences.toLocaleString("en-US")} sequences of 1 to ${r.depth} ops over a ${r.alphabet}-op alphabet${prelude}, ${(r.elapsedMs / 1000).toFixed(1)}s`;
        if (!r.result) {
          stdout(`${layer.name} ${o.engine}: no counterexample in ${what}`);
          return;
        }
        const report = await ReportWriter.open(o.report ?? `reports/out/${runId()}`, argv);
        const rec = report.add(`${layer.name}-${o.engine}-explore`, "pass", o.engine, r.result);
        report.finish("failed");
        stdout(
          `${layer.name} ${o.engine}: shortest counterexample, ${r.result.trace!.ops.length} ops in all, found among ${what}`,
        );
        stdout(indent(explainFailure(r.result)));
        stdout(`  trace: ${shown(rec.files[0])}`);
        code = EXIT.failed;
      },
    );

  program
    .command("crash")
    .description(
      "a storage engine's crash campaign: every crash state of every commit of random sequences (every prefix of its writes and flushes, and the subsets of its unflushed writes), each recovered by the real system, which must find exactly the last committed state or the in-flight one",
    )
    .requiredOption("--layer <layer>", "the layer")
    .requiredOption("--engine <name>", "a real system that offers a crash campaign (snapshot: lmdb, btrfs)")
    .option("--seed <n>", "seed", int("--seed", 0, MAX_SEED), 1)
    .option("--sequences <n>", "random sequences of transactions", int("--sequences", 1, 100_000), 100)
    .option(
      "--negative-control",
      "run a faulty device or system (lmdb: no data flush; btrfs: a superblock without its tree blocks, a lost superblock): the campaign must find violations (exit 0 when it does)",
    )
    .option("--quiet", "no progress")
    .action(
      async (o: {
        layer: string;
        engine: string;
        seed: number;
        sequences: number;
        negativeControl?: boolean;
        quiet?: boolean;
      }) => {
        const layer = layerNamed(o.layer);
        const system = layer.engines?.find((e) => e.name === o.engine);
        if (!system?.crashCampaign) {
          const offered = (layer.engines ?? []).filter((e) => e.crashCampaign).map((e) => e.name);
          throw new InputError(
            `no crash campaign for engine "${o.engine}" of layer ${layer.name} (${offered.length ? `offered by: ${offered.join(", ")}` : "none offered"})`,
          );
        }
        const why = system.unavailable();
        if (why) throw new InputError(`${o.engine} cannot run here: it ${why}`);
        const began = Date.now();
        let said = began;
        const r = await system.crashCampaign(layer, {
          seed: o.seed,
          sequences: o.sequences,
          negativeControl: o.negativeControl,
          onProgress: (p) => {
            if (o.quiet || Date.now() - said < 10_000) return;
            said = Date.now();
            process.stderr.write(
              `${layer.name} ${o.engine} crash campaign: ${p.sequences}/${o.sequences} sequences, ${p.states.toLocaleString("en-US")} states, ${p.violations} violations, ${Math.round((said - began) / 1000)}s\n`,
            );
          },
        });
        const kinds = Object.entries(r.kinds)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ");
        stdout(
          `${layer.name} ${o.engine} crash campaign${o.negativeControl ? " (negative control)" : ""}, seed ${o.seed}: ${r.states.toLocaleString("en-US")} crash states, ${r.violations.toLocaleString("en-US")} violations${kinds ? ` (${kinds})` : ""}, ${r.msPerState.toFixed(2)} ms per state`,
        );
        stdout(`  ${r.detail}`);
        for (const e of r.examples.slice(0, 5)) stdout(`  ${visible(e)}`);
        if (o.negativeControl) {
          // caught by crash states found wrong, not by answers that differed from the model
          const caught = r.violations > 0;
          stdout(caught ? "  the campaign caught the faulty device" : "  the campaign did NOT catch the faulty device");
          code = caught ? EXIT.ok : EXIT.failed;
        } else code = r.violations > 0 || r.examples.length > 0 ? EXIT.failed : EXIT.ok;
      },
    );

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

  // Ctrl-C or SIGTERM, whatever the command and its phase: write what it registered, ask the engines to stop, give
  // them a moment, then exit (the exit hook kills what is left and undoes what engines set up: core/cleanup.ts). A
  // second signal exits at once.
  const interrupt = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(interrupted.code);
    interrupted = { signal, code: 128 + (osConstants.signals[signal] ?? 2) };
    const code = interrupted.code;
    onInterrupt?.();
    void stopAllGroups(STOP_GRACE_MS).finally(() => process.exit(code));
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    await program.parseAsync(argv, { from: "user" });
    return interruptCode() ?? code;
  } catch (e) {
    const stopped = interruptCode();
    if (stopped !== undefined) return stopped; // what failed was stopped by the interrupt
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof InputError) {
      process.stderr.write(`cowcheck: ${visible(e.message)}\n`);
      return EXIT.usage;
    }
    if (e instanceof EngineFailure) {
      process.stderr.write(`cowcheck: ${describeEngineFailure(e)}\n`);
      return EXIT.engine;
    }
    throw e;
  } finally {
    process.removeListener("SIGINT", interrupt);
    process.removeListener("SIGTERM", interrupt);
    await factories.disposeAll();
  }
}

/** A trace's bad input named by its file, as the trace's validation names it. */
async function inFile<T>(file: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw e instanceof InputError ? new InputError(`${file}: ${e.message}`) : e;
  }
}

function printVerdict(failure: Failure | undefined, n: number, engine: string): number {
  if (!failure) {
    stdout(`ok: ${n} ops on ${engine}, every observation and property held`);
    return EXIT.ok;
  }
  stdout(`FAILED at op ${failure.index}: ${failure.property} (${failure.kind}): ${failure.message}`);
  if (failure.kind === "equivalence")
    stdout(`  observed ${excerpt(failure.observed, 4000)}, expected ${excerpt(failure.expected, 4000)}`);
  return EXIT.failed;
}

function printTable(rows: string[][], head: string[]): void {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  stdout(line(head));
  stdout(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) stdout(line(r));
}
