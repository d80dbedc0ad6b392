// A campaign: generate op sequences with fast-check, run each through the runner, shrink the first failure
// (fast-check's shrinker, then one-op removal to 1-minimality) and hand back a replayable trace.
import fc from "fast-check";
import {
  type AnyLayer,
  type CampaignResult,
  type EngineFactory,
  EngineFailure,
  type Failure,
  type PropertyKind,
  resolveGeometry,
  type Step,
  type Trace,
  withoutKinds,
} from "../core/index.ts";
import { minimizeWith } from "./minimize.ts";
import { checkWith, emptyStats, renderStateAfter, startEngine } from "./runner.ts";

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
  /** Called as soon as a failure is found, before shrinking: what to keep if the run is interrupted. */
  readonly onFound?: (provisional: CampaignResult) => void;
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
  return fc
    .array(layer.opArbitrary(geometry, features), { minLength: 1, maxLength: maxOps, size: "max" })
    .map((ops) => {
      const seq = [...layer.prelude, ...ops];
      return layer.arrange ? layer.arrange(seq, geometry, features) : seq;
    });
}

/**
 * Search for a failing sequence and shrink the first one found. The factories are borrowed: whoever made them
 * disposes them (the CLI, checkEngine, a worker thread).
 */
export function runCampaign(
  layer: AnyLayer,
  factory: EngineFactory,
  options: CampaignOptions,
): Promise<CampaignResult> {
  return campaign(withoutKinds(layer, options.skip), factory, options.against, options);
}

async function campaign(
  layer: AnyLayer,
  factory: EngineFactory,
  against: EngineFactory | undefined,
  options: CampaignOptions,
): Promise<CampaignResult> {
  const geometry = resolveGeometry(layer, { flavour: options.flavour, engine: factory, user: options.geometry });
  const started = Date.now();
  let runs = 0;
  let ops = 0;
  let features = options.features ?? new Set<string>();
  const stats = against ? emptyStats() : undefined;
  const base = () => ({
    engine: factory.name,
    layer: layer.name,
    seed: options.seed,
    runs,
    ops,
    elapsedMs: Date.now() - started,
    structure: stats,
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
    await probe.close?.();
  } catch (e) {
    if (e instanceof EngineFailure) return broken(e, []);
    throw e;
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
        const failure = await checkWith(layer, geometry, factory, seq, { against, stats });
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
    { seed: options.seed, numRuns: options.runs, interruptAfterTimeLimit: options.timeMs, endOnFailure: true },
  );
  if (crash) return broken(crash.error, crash.seq);
  if (!found) {
    // interrupted before a single run completed is still "no failure found", not an error
    if (search.failed && !search.interrupted)
      throw search.errorInstance ?? new Error("fast-check failed without a counterexample");
    return { ...base(), status: "passed" };
  }
  const first = found;

  // Phase 2, shrink: replay that very run by its path and shrink it, accepting only the same property
  // (so the bug cannot drift to another), with no time limit; an engine failure is "not this failure".
  phase = "shrink";
  shrinking.best = first.seq.length;
  const same = async (seq: unknown[]): Promise<boolean> => {
    shrinking.tried++;
    progress();
    try {
      const yes = (await checkWith(layer, geometry, factory, seq, { against }))?.property === first.failure.property;
      if (yes) shrinking.best = Math.min(shrinking.best, seq.length);
      return yes;
    } catch (e) {
      if (e instanceof EngineFailure) return false;
      throw e;
    }
  };
  const shrink = await fc.check(
    fc.asyncProperty(arbitrary, async (seq) => !(await same(seq))),
    {
      seed: options.seed,
      path: search.counterexamplePath ?? undefined,
      numRuns: 1,
      endOnFailure: false, // that run only
    },
  );
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
  if (!shrink.failed || !shrink.counterexample) return nondeterministic();
  const minimal = await minimizeWith(shrink.counterexample[0] as unknown[], same, layer.simplify?.bind(layer));

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
    if (
      f?.property !== first.failure.property ||
      (failure && (f.index !== failure.index || f.message !== failure.message))
    )
      return nondeterministic();
    failure = f;
    steps = run;
  }
  if (!failure) return nondeterministic();
  const failing = minimal.slice(0, failure.index + 1);
  return {
    ...base(),
    status: "failed",
    trace: traceOf(failing),
    failure,
    originalLength: first.seq.length,
    steps,
    anomaly: layer.classify?.(failing, failure, geometry),
    state: await renderStateAfter(layer, geometry, factory, failing),
  };
}
