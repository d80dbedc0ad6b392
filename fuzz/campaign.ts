// A campaign: generate op sequences with fast-check, run each through the runner, minimize the first failure (its
// ops up to the failure, then ddmin and the layer's simplifications to 1-minimality) and hand back a replayable trace.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import {
  type AnyLayer,
  type CampaignResult,
  type Coverage,
  type EngineFactory,
  EngineFailure,
  excerpt,
  type Failure,
  featuresNeeded,
  InputError,
  type LaneEvent,
  type OpMix,
  type Program,
  type PropertyKind,
  resolveGeometry,
  type Step,
  type TitledPicture,
  type Trace,
  withoutKinds,
} from "../core/index.ts";
import { bugSignature } from "./bug.ts";
import { coverageOf, neverGenerated } from "./coverage.ts";
import { interleave, minimizeProgram } from "./interleave.ts";
import { minimizeWith, opValid } from "./minimize.ts";
import { checkWith, drawTrace, emptyStats, startEngine } from "./runner.ts";

/**
 * The default budget of a check, in sequences: what the mutant zoo needs (every mutant is killed within it: `npm
 * run bench` measures the runs each needs over several seeds), with room to spare.
 */
export const DEFAULT_RUNS = 3000;

/** How many times the minimized trace must fail the same way before it is reported as a reproducible failure. */
const CONFIRMATIONS = 5;

export interface CampaignOptions {
  readonly seed: number;
  /** Sequences to run (at most). */
  readonly runs: number;
  /** Longest generated sequence (the layer's prelude comes on top). */
  readonly maxOps: number;
  /** Stop searching after this long; shrinking a failure already found is not time-limited. */
  readonly timeMs?: number;
  /** The user's geometry fields (e.g. {"pages":64}); the geometry rule completes them (core/geometry.ts). */
  readonly geometry?: unknown;
  /** One of the layer's flavours, by name (e.g. mvcc's "sqlite"). */
  readonly flavour?: string;
  /** Property kinds not to check (e.g. ["economy"] for an engine that copies eagerly on purpose). */
  readonly skip?: readonly PropertyKind[];
  /** A reference engine (the model) to compare the engine's views with, op by op (`--against`). */
  readonly against?: EngineFactory;
  /** Restrict generated ops to these features (default: the engine's). */
  readonly features?: ReadonlySet<string>;
  readonly onProgress?: (p: Progress) => void;
  /**
   * fast-check's path to a counterexample (a replay token's last part, `replayToken`): the search runs that one
   * sequence only, so a failure is reproduced without searching again.
   */
  readonly replay?: string;
  /** Called as soon as a failure is found, before shrinking: what to keep if the run is interrupted. */
  readonly onFound?: (provisional: CampaignResult) => void;
  /**
   * Two or more: run the layer's race programs with their threads' steps interleaved (docs/races.md) instead of
   * sequences; `runs` bounds the schedules.
   */
  readonly threads?: number;
}

export interface Progress {
  readonly runs: number;
  readonly ops: number;
  readonly elapsedMs: number;
  readonly phase: "fuzz" | "shrink";
  /** While shrinking: candidates tried, and the shortest failing sequence so far. */
  readonly shrink?: { readonly tried: number; readonly best: number };
}

export function sequenceArbitrary(
  layer: AnyLayer,
  geometry: unknown,
  features: ReadonlySet<string>,
  maxOps: number,
): fc.Arbitrary<unknown[]> {
  const op = fc.oneof(...layer.opKinds(geometry, features));
  const random = fc
    .array(op, { minLength: 1, maxLength: maxOps, size: "max" })
    .map((ops) => arranged(layer, geometry, features, [...layer.prelude, ...ops]));
  const seeds = corpusOf(layer, geometry, features, maxOps);
  if (!seeds.length) return random;
  // One sequence in four starts from a scenario of the corpus with random ops spliced in, so the states real test
  // families reach (a pinned page shared after fork, a THP mapped by two processes) are explored further.
  // (the random ops come as one run per gap between the scenario's ops, so shrinking removes them as it removes
  // ops from a random sequence)
  const seeded = fc.constantFrom(...seeds).chain((seed) =>
    fc
      .array(fc.array(op, { maxLength: Math.ceil(maxOps / (seed.length + 1)), size: "max" }), {
        minLength: seed.length + 1,
        maxLength: seed.length + 1,
      })
      .map((gaps) =>
        arranged(
          layer,
          geometry,
          features,
          gaps.flatMap((gap, i) => (i < seed.length ? [...gap, seed[i]] : gap)),
        ),
      ),
  );
  return fc.oneof({ weight: 3, arbitrary: random }, { weight: 1, arbitrary: seeded });
}

const arranged = (layer: AnyLayer, geometry: unknown, features: ReadonlySet<string>, seq: unknown[]): unknown[] =>
  layer.arrange ? layer.arrange(seq, geometry, features) : seq;

/**
 * The layer's corpus scenarios an engine with these features can run, as their op lists; a scenario longer than
 * the longest generated sequence is left out (mm's THP families fill every page of a huge page: 512 writes where
 * a huge page is 2 MiB).
 */
function corpusOf(layer: AnyLayer, geometry: unknown, features: ReadonlySet<string>, maxOps: number): unknown[][] {
  const runnable = (op: unknown): boolean => featuresNeeded(layer, op).every((f) => features.has(f));
  return (layer.corpus?.(geometry) ?? [])
    .filter((s) => s.ops.length <= maxOps && s.ops.every(runnable))
    .map((s) => [...s.ops]);
}

/** The corpus as a campaign runs it first: each scenario arranged like a generated one. */
export function corpusExamples(
  layer: AnyLayer,
  geometry: unknown,
  features: ReadonlySet<string>,
  maxOps: number,
): [unknown[]][] {
  return corpusOf(layer, geometry, features, maxOps).map((ops) => [arranged(layer, geometry, features, ops)]);
}

/**
 * Search for a failing sequence and shrink the first one found. The factories are borrowed: whoever made them
 * disposes them (the CLI, checkEngine, a worker thread).
 */
export async function runCampaign(
  registered: AnyLayer,
  factory: EngineFactory,
  options: CampaignOptions,
): Promise<CampaignResult> {
  const layer = withoutKinds(registered, options.skip);
  const against = options.against;
  const geometry = resolveGeometry(layer, { flavour: options.flavour, engine: factory, user: options.geometry });
  const started = Date.now();
  let runs = 0;
  let ops = 0;
  let features = options.features ?? new Set<string>();
  let inspected = false;
  const stats = against ? emptyStats() : undefined;
  const mix: OpMix = {};
  let searchMs: number | undefined;
  // which op kinds a missing feature keeps out costs a sample of sequences: once per campaign, when first asked
  let notGenerated: ReturnType<typeof neverGenerated> | undefined;
  const missingKinds = (): ReturnType<typeof neverGenerated> => {
    notGenerated ??= neverGenerated(layer, geometry, features, (f) => sequenceArbitrary(layer, geometry, f, 50));
    return notGenerated;
  };
  const interleaved = (options.threads ?? 1) > 1;
  const checked = (): Coverage =>
    coverageOf({
      layer: registered,
      geometry,
      features,
      inspected,
      skip: options.skip,
      mix,
      ops,
      structure: stats,
      notGenerated: interleaved ? [] : missingKinds(),
      interleaved,
    });
  const base = () => ({
    engine: factory.name,
    layer: layer.name,
    seed: options.seed,
    runs,
    ops,
    elapsedMs: Date.now() - started,
    searchMs: searchMs ?? Date.now() - started,
    structure: stats,
    checked: checked(),
  });
  const traceOf = (seq: readonly unknown[]): Trace => ({
    cowcheck: 1,
    layer: layer.name,
    geometry,
    features: [...features].sort(),
    seed: options.seed,
    ops: [...seq],
  });
  const broken = (e: EngineFailure, seq: readonly unknown[]): CampaignResult => ({
    ...base(),
    status: "engine-failure",
    // the trace ends with the op during which the engine failed (none, if it failed before the first op)
    trace: traceOf(seq.slice(0, e.opIndex === undefined ? 0 : e.opIndex + 1)),
    engineFailure: {
      kind: e.kind,
      message: e.opIndex === undefined ? e.message : `op ${e.opIndex}: ${e.message}`,
      detail: e.detail,
    },
  });

  try {
    const probe = await startEngine(factory, geometry);
    features = options.features ?? probe.features;
    inspected = probe.inspect !== undefined && probe.features.has("inspect");
    await probe.close?.();
  } catch (e) {
    if (e instanceof EngineFailure) return broken(e, []);
    throw e;
  }

  if ((options.threads ?? 1) > 1) {
    let r: Awaited<ReturnType<typeof raceCampaign>>;
    try {
      r = await raceCampaign(layer, geometry, factory, features, options);
    } catch (e) {
      if (e instanceof EngineFailure) return broken(e, []);
      throw e;
    }
    runs = r.runs;
    ops = r.ops;
    searchMs = Date.now() - started;
    if (!r.found) return { ...base(), status: "passed" };
    return { ...base(), status: "failed", ...r.found };
  }

  let lastReport = 0;
  let phase: Progress["phase"] = "fuzz";
  const shrinking = { tried: 0, best: 0 };
  const progress = (): void => {
    const now = Date.now();
    if (options.onProgress && now - lastReport >= 100) {
      lastReport = now;
      options.onProgress({
        runs,
        ops,
        elapsedMs: now - started,
        phase,
        shrink: phase === "shrink" ? { ...shrinking } : undefined,
      });
    }
  };
  const arbitrary = sequenceArbitrary(layer, geometry, features, options.maxOps);
  const examples = corpusExamples(layer, geometry, features, options.maxOps);

  // Phase 1, search: stop at the first failure (or engine failure); --time bounds this phase only.
  let found: { seq: unknown[]; failure: Failure } | undefined;
  let crash: { error: EngineFailure; seq: unknown[] } | undefined;
  let turn = Date.now();
  const search = await fc.check(
    fc.asyncProperty(arbitrary, async (seq) => {
      runs++;
      ops += seq.length;
      progress();
      // an in-process engine never leaves the microtask queue: give the event loop a turn now and then, so that
      // Ctrl-C (a signal, handled as an event) stops a long run of it at once
      if (Date.now() - turn > 50) {
        await new Promise((r) => setImmediate(r));
        turn = Date.now();
      }
      try {
        const failure = await checkWith(layer, geometry, factory, seq, { against, stats, mix });
        if (!failure) return true;
        found = { seq, failure };
        options.onFound?.({
          ...base(),
          status: "failed",
          trace: traceOf(seq.slice(0, failure.index + 1)),
          failure,
          originalLength: seq.length,
        });
      } catch (e) {
        if (!(e instanceof EngineFailure)) throw e;
        crash = { error: e, seq };
      }
      return false;
    }),
    {
      seed: options.seed,
      numRuns: options.replay ? 1 : options.runs,
      path: options.replay,
      examples,
      interruptAfterTimeLimit: options.timeMs,
      endOnFailure: true,
    },
  );
  searchMs = Date.now() - started;
  if (crash) return broken(crash.error, crash.seq);
  if (!found) {
    // interrupted before a single run completed is still "no failure found", not an error
    if (search.failed && !search.interrupted)
      throw search.errorInstance ?? new Error("fast-check failed without a counterexample");
    return { ...base(), status: "passed" };
  }
  const first = found;

  // Phase 2, shrink: the failing run's ops up to its failure, minimized, accepting only the same bug (the same
  // property, op kind and difference: bugSignature), so minimizing cannot drift to another, with no time limit; an
  // engine failure is "not this failure". (fast-check's own shrinker gave traces of about the same length over the
  // zoo at four times the cost: most of its candidates are long sequences that pass.)
  phase = "shrink";
  shrinking.best = first.seq.length;
  const unshrunk = first.seq.slice(0, first.failure.index + 1);
  const nondeterministic = (): CampaignResult => ({
    ...base(),
    status: "engine-failure",
    trace: traceOf(unshrunk),
    failure: first.failure,
    originalLength: first.seq.length,
    engineFailure: {
      kind: "nondeterministic",
      message: `the engine failed ${first.failure.property} ("${first.failure.message}") at op ${first.failure.index}, but not when the same ops ran again`,
      // what it answered the first time, so the flake can be read without reproducing it
      detail:
        first.failure.observed === undefined
          ? undefined
          : `observed ${JSON.stringify(first.failure.observed)}, expected ${JSON.stringify(first.failure.expected)}`,
    },
  });
  const rerun = async (seq: unknown[]): Promise<Failure | undefined> => {
    try {
      return await checkWith(layer, geometry, factory, seq, { against });
    } catch (e) {
      // an engine failure is another bug; a candidate the layer cannot define (the oracle refuses it) is no trace
      if (e instanceof EngineFailure || e instanceof InputError) return undefined;
      throw e;
    }
  };
  // The same ops up to the failure, again: a failure they do not repeat is no trace. The bug minimizing holds on to is
  // the one they show, ending there: its last op is checked whole, where the search checked only what the op touched
  // (an engine whose record of that misses something can show another property first).
  const target = await rerun(unshrunk);
  if (!target || target.index !== first.failure.index) return nondeterministic();
  const sameAs = (anomaly: boolean) => {
    const signature = bugSignature(layer, geometry, unshrunk, target, anomaly);
    return async (seq: unknown[]): Promise<boolean> => {
      shrinking.tried++;
      progress();
      const f = await rerun(seq);
      const yes = f !== undefined && bugSignature(layer, geometry, seq, f, anomaly) === signature;
      if (yes) shrinking.best = Math.min(shrinking.best, seq.length);
      return yes;
    };
  };
  const same = sameAs(false);
  // Minimizing holds on to the anomaly class too, where the layer names one for the failure and the run shows it.
  const named = layer.classify?.(unshrunk, target, geometry) !== undefined;
  const minimal = await minimizeWith(unshrunk, named ? sameAs(true) : same, layer.simplify?.bind(layer), (op) =>
    opValid(layer, geometry, op),
  );

  // Confirm the minimized trace several times: a flaky engine can fail a short candidate once by chance. The first
  // run is on a fresh engine: a failure that needs what an earlier sequence left behind (a leaky reset) is not one.
  await factory.fresh?.();
  await against?.fresh?.();
  let steps: Step[] = [];
  let failure: Failure | undefined;
  for (let i = 0; i < CONFIRMATIONS; i++) {
    const run: Step[] = [];
    let f: Failure | undefined;
    try {
      f = await checkWith(layer, geometry, factory, minimal, { against, onStep: (step) => run.push(step) });
    } catch (e) {
      if (!(e instanceof EngineFailure)) throw e;
    }
    if (f?.property !== target.property || (failure && (f.index !== failure.index || f.message !== failure.message)))
      return nondeterministic();
    failure = f;
    steps = run;
  }
  if (!failure) return nondeterministic();
  const failing = minimal.slice(0, failure.index + 1);
  return {
    ...base(),
    status: "failed",
    replay: search.counterexamplePath
      ? replayToken(layer.name, options.flavour, options.seed, options.maxOps, search.counterexamplePath)
      : undefined,
    trace: traceOf(failing),
    failure,
    originalLength: first.seq.length,
    steps,
    anomaly: layer.classify?.(failing, failure, geometry),
    ...(await drawTrace(layer, geometry, factory, failing, steps, failure)),
  };
}

/**
 * A failure's replay token: `layer[/flavour]:seed:maxOps:path`, fast-check's seed and path to the failing run
 * (minimizing it again gives the same trace). A long path (a token of an earlier version, with fast-check's shrink
 * steps, which it still follows) is deflated and written in base64url after a `z`.
 */
export function replayToken(
  layer: string,
  flavour: string | undefined,
  seed: number,
  maxOps: number,
  path: string,
): string {
  const packed = path.length > 40 ? `z${deflateRawSync(path, { level: 9 }).toString("base64url")}` : path;
  return `${layer}${flavour ? `/${flavour}` : ""}:${seed}:${maxOps}:${packed}`;
}

/** A replay token's parts; an InputError naming what is wrong with it. */
export function parseReplayToken(token: string): {
  layer: string;
  flavour?: string;
  seed: number;
  maxOps: number;
  path: string;
} {
  const m = /^([A-Za-z0-9_-]+)(?:\/([A-Za-z0-9_-]+))?:(\d+):(\d+):(\d+(?::\d+)*|z[A-Za-z0-9_-]+)$/.exec(token.trim());
  const bad = (): InputError =>
    new InputError(
      `--replay takes the token a failure printed, layer[/flavour]:seed:maxOps:path, e.g. mm:1:200:57:3:0 (got ${excerpt(token, 200)})`,
    );
  if (!m) throw bad();
  let path = m[5]!;
  if (path.startsWith("z")) {
    try {
      path = inflateRawSync(Buffer.from(path.slice(1), "base64url"), { maxOutputLength: 1 << 24 }).toString();
    } catch {
      throw bad();
    }
    if (!/^\d+(?::\d+)*$/.test(path)) throw bad();
  }
  const seed = Number(m[3]);
  const maxOps = Number(m[4]);
  if (seed > 0xffff_ffff || maxOps < 1 || maxOps > 100_000) throw bad();
  return { layer: m[1]!, flavour: m[2], seed, maxOps, path };
}

/**
 * `--threads`: every race program of the layer the engine has the features for, then generated ones, through the
 * interleaving explorer (every schedule up to two preemptions, fewest first), until `runs` schedules have run.
 */
async function raceCampaign(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  features: ReadonlySet<string>,
  options: CampaignOptions,
): Promise<{
  runs: number;
  ops: number;
  found?: Pick<CampaignResult, "trace" | "failure" | "interleaving" | "pictures" | "originalLength">;
}> {
  let runs = 0;
  let ops = 0;
  /** A trace of a race program: its prelude as the ops, the rest and the schedule as its interleaving. */
  const traceOf = (p: Program, schedule: readonly number[], note: string): Trace => ({
    cowcheck: 1,
    layer: layer.name,
    geometry,
    features: [...features].sort(),
    seed: options.seed,
    ops: [...p.prelude],
    note,
    interleaving: { threads: p.threads.map((t) => [...t]), epilogue: [...p.epilogue], schedule: [...schedule] },
  });
  const usable = (p: Program): boolean =>
    [...p.prelude, ...p.threads.flat(), ...p.epilogue].every((op) =>
      featuresNeeded(layer, op).every((f) => features.has(f)),
    );
  function* programs(): Generator<{ name: string; program: Program }> {
    yield* (layer.races?.(geometry) ?? []).filter((r) => usable(r.program));
    const arbitrary = layer.raceArbitrary?.(geometry, features);
    if (!arbitrary) return;
    for (let batch = 0; ; batch++) {
      const drawn = fc.sample(arbitrary, { seed: (options.seed * 7919 + batch) | 0, numRuns: 100 });
      for (const [i, program] of drawn.entries()) yield { name: `generated #${batch * 100 + i}`, program };
    }
  }
  if (factory.race) {
    // a real system: each named race it can run with its threads truly concurrent, --runs times
    for (const { name, program } of layer.races?.(geometry) ?? []) {
      if (!usable(program)) continue;
      const r = await factory.race(name, options.runs);
      if (!r.attempts) continue; // a race this system does not run
      runs += r.attempts;
      ops += r.attempts * program.threads.flat().length;
      options.onProgress?.({ runs, ops, elapsedMs: 0, phase: "fuzz" });
      if (r.violations)
        return {
          runs,
          ops,
          found: {
            trace: traceOf(program, [], `race ${name}, its threads truly concurrent: ${r.detail}`),
            failure: {
              index: program.prelude.length,
              property: "linearizability",
              kind: "equivalence",
              message: `${r.violations} check(s) found what no order of the ops allows (${r.detail})`,
            },
          },
        };
    }
    return { runs, ops };
  }
  const started = Date.now();
  let tried = 0;
  for (const { name, program } of programs()) {
    tried++;
    if (options.timeMs !== undefined && Date.now() - started >= options.timeMs) break;
    const all = [...program.prelude, ...program.threads.flat(), ...program.epilogue];
    // every schedule up to two preemptions, then ten PCT runs of depth 4 (up to three preemptions, at random)
    const pct = { runs: 10, depth: 4, seed: options.seed };
    const r = await interleave(layer, geometry, factory, program, { limit: Math.max(1, options.runs - runs), pct });
    runs += r.schedules;
    ops += r.schedules * all.length;
    options.onProgress?.({ runs, ops, elapsedMs: 0, phase: "fuzz" });
    if (r.failure) {
      // the fewest ops that still fail so (the schedules already come fewest preemptions first)
      const bound = { limit: options.runs, preemptions: Math.max(2, r.failure.preemptions) };
      const least = await minimizeProgram(layer, geometry, factory, program, r.failure.property, bound);
      const p = least.program;
      const f = least.result.failure ?? r.failure;
      const size = (q: typeof program) => q.prelude.length + q.threads.flat().length + q.epilogue.length;
      return {
        runs,
        ops,
        found: {
          trace: traceOf(
            p,
            f.schedule,
            `race ${name}: a failing interleaving of ${p.threads.length} threads (${f.preemptions} preemption(s)); replay runs its schedule`,
          ),
          failure: { index: p.prelude.length, property: f.property, kind: f.kind, message: f.message },
          originalLength: size(program),
          interleaving: {
            race: name,
            threads: p.threads,
            timeline: f.timeline,
            preemptions: f.preemptions,
          },
          pictures: { source: "engine", from: 0, states: [], trace: [timelinePicture(p, f.timeline)] },
        },
      };
    }
    if (runs >= options.runs) break;
  }
  if (!tried) throw new InputError(`--threads: layer ${layer.name} has no race programs for this engine's features`);
  return { runs, ops };
}

/** A failing schedule drawn: a lane per thread, each op an interval over the steps it took, each step marked. */
export function timelinePicture(
  program: Program,
  timeline: readonly { readonly thread: number; readonly op: number; readonly label: string }[],
): TitledPicture {
  const lanes = program.threads.map((ops, t) => {
    const events: LaneEvent[] = [];
    ops.forEach((op, i) => {
      const at = timeline.flatMap((s, k) => (s.thread === t && s.op === i ? [k] : []));
      if (!at.length) return;
      const name = (op as { op?: string }).op ?? "op";
      events.push({ at: at[0]!, until: at.at(-1)!, label: JSON.stringify(op) });
      for (const k of at) if (timeline[k]!.label !== name) events.push({ at: k, label: timeline[k]!.label });
    });
    return { id: `thread-${t}`, label: `thread ${t}`, events };
  });
  return {
    title: "the failing schedule: a lane per thread, a column per step",
    picture: { kind: "lanes", lanes, caption: "each op spans the steps it took; another thread ran in the gaps" },
  };
}
