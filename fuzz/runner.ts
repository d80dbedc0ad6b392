// The generic runner: apply a sequence to an engine and to the oracle, compare observations, check every
// property after every op. It knows nothing about any layer beyond the Layer descriptor.
import {
  type AnyLayer,
  allows,
  type CampaignResult,
  type Checker,
  DRAWN_OPS,
  deepEqual,
  type Engine,
  type EngineFactory,
  EngineFailure,
  type Failure,
  featuresNeeded,
  type Graph,
  InputError,
  isOneOf,
  isPromise,
  type LayerView,
  type OpMix,
  opKindOf,
  type PropertyKind,
  type Step,
  type StructureStats,
  type TitledPicture,
  tally,
} from "../core/index.ts";

export interface SequenceOptions {
  /** Observations the trace itself records: checked too, before the oracle's. */
  readonly expected?: readonly unknown[];
  /** Called after each op (replay prints with it). */
  readonly onStep?: (step: Step) => void;
  /** Skip the structural properties even if the engine can be inspected. */
  readonly noInvariants?: boolean;
  /**
   * A reference engine (the model) run in lockstep: after each op, every view of the layer the engine offers is
   * compared with the reference's state (`cowcheck run --against model`).
   */
  readonly against?: Engine<unknown, unknown>;
  /** Where the lockstep comparison counts what it did. */
  readonly stats?: StructureStats;
  /** Where the op mix is counted (op kinds, errors, idle ops). */
  readonly mix?: OpMix;
}

export const emptyStats = (): StructureStats => ({ compared: 0, allowed: {}, desynced: {} });

function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export function addStats(into: StructureStats, from: StructureStats): StructureStats {
  into.compared += from.compared;
  for (const [k, v] of Object.entries(from.allowed)) bump(into.allowed, k, v);
  for (const [k, v] of Object.entries(from.desynced)) bump(into.desynced, k, v);
  return into;
}

/** The desync reason when the real system answered another of the observations the oracle allows than the model. */
export const OTHER_CHOICE = "other-allowed-observation";

/** An input error raised while running op `i` (a bound of the layer's state the trace crosses), naming the op. */
function atOp(e: InputError, i: number | undefined): InputError {
  return i === undefined || e.message.startsWith("ops[") ? e : new InputError(`ops[${i}]: ${e.message}`);
}

/**
 * What an engine's throw means: an InputError is the user's (an op or geometry the engine refuses: exit 2), as it
 * is; anything else not already an EngineFailure is the engine's own bug, wrapped as one (exit 3).
 */
function asEngineFailure(e: unknown, what: string, opIndex?: number): EngineFailure | InputError {
  if (e instanceof InputError) return atOp(e, opIndex);
  let failure: EngineFailure;
  if (e instanceof EngineFailure) failure = e;
  else {
    const err = e instanceof Error ? e : new Error(String(e));
    failure = new EngineFailure("error", `${what} threw: ${err.message}`, err.stack);
  }
  failure.opIndex ??= opIndex;
  return failure;
}

/**
 * Run one op sequence against `engine` and the layer's oracle. Returns the first failure, or undefined.
 * Throws EngineFailure when the engine itself fails (crash, hang, protocol violation, exception).
 */
export async function checkSequence(
  layer: AnyLayer,
  geometry: unknown,
  engine: Engine<unknown, unknown>,
  ops: readonly unknown[],
  options: SequenceOptions = {},
): Promise<Failure | undefined> {
  const missing = new Set<string>();
  for (const op of ops) for (const f of featuresNeeded(layer, op)) if (!engine.features.has(f)) missing.add(f);
  if (missing.size) {
    throw new InputError(
      `the ops need feature(s) ${[...missing].join(", ")}, which the engine does not offer (it offers: ${[...engine.features].join(", ") || "none"})`,
    );
  }
  const oracle = layer.oracle(geometry);
  const inspect =
    !options.noInvariants && engine.inspect && engine.features.has("inspect") ? engine.inspect.bind(engine) : undefined;
  let checkers: { name: string; kind: PropertyKind; checker: Checker<unknown, unknown, unknown> }[] = [];
  if (inspect) {
    const initial = await settleEngine(() => inspect(), "inspect");
    checkers = layer.properties.map((p) => ({ name: p.name, kind: p.kind, checker: p.start(initial) }));
  }
  // Economy views (mm's "counters") go with the economy bounds: `--skip economy` (withoutKinds) skips both.
  const economy = layer.properties.some((p) => p.kind === "economy");
  const offered = (layer.views ?? []).filter((v) => engine.features.has(v.name) && (v.kind !== "economy" || economy));
  let against = options.against;
  let views: LayerView<unknown>[] = [];
  if (!against && !engine.features.has("inspect") && offered.some((v) => v.kind === "economy")) {
    // An engine that cannot be inspected but reports its counters is held to the economy bounds through them: the
    // layer's (lazy) model runs in lockstep as the reference, without --against.
    against = layer.model(geometry) as Engine<unknown, unknown>;
    views = offered.filter((v) => v.kind === "economy");
  } else if (against) {
    views = offered;
    if (!views.length)
      throw new InputError(
        `--against compares a view (${(layer.views ?? []).map((v) => v.name).join(", ") || `layer ${layer.name} has none`}), and the engine offers none`,
      );
    if (!against.inspect)
      throw new InputError("--against needs a reference engine that can be inspected, such as model");
  }
  let synced = against !== undefined;
  const stats = options.stats ?? emptyStats();
  const last = ops.length - 1;
  for (let i = 0; i <= last; i++) {
    const op = ops[i];
    if ((i & 15) === 0 && Date.now() - breathed >= 100) await breathe();
    // The hot path: no await unless the engine really is asynchronous.
    let observed: unknown;
    try {
      observed = engine.apply(op);
      if (isPromise(observed)) observed = await observed;
    } catch (e) {
      throw asEngineFailure(e, `op ${i}`, i);
    }
    let expected: unknown;
    try {
      expected = oracle.apply(op);
    } catch (e) {
      throw e instanceof InputError ? atOp(e, i) : e;
    }
    const recorded = options.expected?.[i];
    // An engine that answers a choice (an oracle replayed as the engine) takes the member the trace records, or,
    // where it records none, its first member, if the oracle allows every member.
    if (isOneOf(observed)) {
      const members = observed.oneOf;
      const taken =
        recorded !== undefined
          ? members.find((m) => deepEqual(m, recorded))
          : members.every((m) => allows(expected, m))
            ? members[0]
            : undefined;
      if (taken !== undefined) {
        engine.chose?.(taken);
        observed = taken;
      }
    }
    if (options.mix) tally(options.mix, op, observed);
    options.onStep?.({ index: i, op, observed, expected: recorded ?? expected });
    if (recorded !== undefined && !deepEqual(observed, recorded)) {
      return {
        index: i,
        property: "recorded-observation",
        kind: "equivalence",
        message: "observation differs from the one the trace records",
        observed,
        expected: recorded,
      };
    }
    if (!allows(expected, observed)) {
      const message = isOneOf(expected)
        ? "observation is none of those the oracle allows"
        : "observation differs from the oracle's";
      return { index: i, property: "observational-equivalence", kind: "equivalence", message, observed, expected };
    }
    if (isOneOf(expected)) oracle.chose?.(observed);
    if (against && synced) {
      const step = await lockstep(engine, against, views, op, i, observed, expected, stats);
      if (typeof step === "object") return step;
      synced = step;
    }
    if (inspect) {
      let state: unknown;
      try {
        state = inspect(i !== last);
        if (isPromise(state)) state = await state;
      } catch (e) {
        throw asEngineFailure(e, `inspect after op ${i}`, i);
      }
      const full = i === last;
      for (const c of checkers) {
        let v: ReturnType<typeof c.checker.after>;
        try {
          v = c.checker.after(op, observed, state, full);
        } catch (e) {
          // a property that cannot read the state (a checker's bug, or a state it did not foresee) is that property's
          // failure, reported with the trace like any other, never a crash of the run
          v = `the property could not be checked: ${e instanceof Error ? e.message : String(e)}`;
        }
        if (v)
          return typeof v === "string"
            ? { index: i, property: c.name, kind: c.kind, message: v }
            : { index: i, property: v.property, kind: c.kind, message: v.message };
      }
    }
  }
  return undefined;
}

/**
 * One op of a lockstep comparison: the reference engine applies it too, then every view is compared. Returns a
 * failure, or whether the two are still in step (false once the engine took another legitimate path).
 */
async function lockstep(
  engine: Engine<unknown, unknown>,
  against: Engine<unknown, unknown>,
  views: readonly LayerView<unknown>[],
  op: unknown,
  i: number,
  observed: unknown,
  expected: unknown,
  stats: StructureStats,
): Promise<Failure | boolean> {
  const ref = await settleEngine(() => against.apply(op), `the reference engine at op ${i}`);
  if (!allows(expected, ref)) {
    return {
      index: i,
      property: "reference-observation",
      kind: "equivalence",
      message: "the reference engine's observation differs from the oracle's",
      observed: ref,
      expected,
    };
  }
  if (!deepEqual(ref, observed)) {
    bump(stats.desynced, OTHER_CHOICE);
    return false;
  }
  const refState = await settleEngine(() => against.inspect!(), `inspecting the reference engine after op ${i}`);
  for (const v of views) {
    const seen = await settleEngine(() => engine.inspectView!(v.name), `the ${v.name} view after op ${i}`, i);
    const verdict = v.compare(seen, refState);
    if (verdict.divergence)
      return v.kind === "economy"
        ? {
            index: i,
            property: verdict.divergence.property,
            kind: "economy",
            message: `${verdict.divergence.message}, after op ${i} (${opKindOf(op)})`,
          }
        : {
            index: i,
            property: verdict.divergence.property,
            kind: "structure",
            message: verdict.divergence.message,
          };
    for (const a of verdict.allowed ?? []) bump(stats.allowed, a);
    if (verdict.desync) {
      bump(stats.desynced, verdict.desync);
      return false;
    }
  }
  stats.compared++;
  return true;
}

let breathed = Date.now();
/**
 * Let the event loop turn (signals, timers, worker messages) every 100 ms or so: an engine that answers
 * synchronously (a model, or a real system driven through synchronous calls) would otherwise starve it, and
 * Ctrl-C would wait for the campaign's end. Awaiting only microtasks does not let it turn.
 */
async function breathe(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  breathed = Date.now();
}

/** A fresh engine from the factory; whatever its start throws is an engine failure, or the user's input error. */
export function startEngine(factory: EngineFactory, geometry: unknown): Promise<Engine<unknown, unknown>> {
  return settleEngine(() => factory.create(geometry), `starting ${factory.name}`);
}

async function settleEngine<T>(f: () => T | Promise<T>, what: string, opIndex?: number): Promise<T> {
  try {
    const v = f();
    return isPromise(v) ? await v : v;
  } catch (e) {
    throw asEngineFailure(e, what, opIndex);
  }
}

/**
 * What a failure report draws of a trace: the engine's state after the last op in words, and where the layer draws
 * pictures, the state before each of the last DRAWN_OPS ops and after the last (the engine's; the layer model's when
 * the engine cannot be inspected or its replay fails, with the reason) and the trace's own pictures. Never throws: a
 * picture is a courtesy and must not hide the failure.
 */
export async function drawTrace(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  ops: readonly unknown[],
  steps: readonly Step[],
  failure?: Failure,
): Promise<Pick<CampaignResult, "state" | "pictures">> {
  const draw = layer.picture !== undefined;
  const from = Math.max(0, ops.length - DRAWN_OPS);
  // each state is drawn as soon as it is inspected: a model may answer inspect with its live state
  const replay = async (
    make: () => Engine<unknown, unknown> | Promise<Engine<unknown, unknown>>,
    pictures: boolean,
  ): Promise<{ text?: string; drawn: Graph[]; why?: string }> => {
    const drawn: Graph[] = [];
    let text: string | undefined;
    let engine: Engine<unknown, unknown> | undefined;
    try {
      engine = await make();
      if (!engine.inspect || !engine.features.has("inspect")) return { drawn, why: "it cannot be inspected" };
      const look = async (applied: number): Promise<void> => {
        const words = applied === ops.length && layer.renderState !== undefined;
        if (!words && !(pictures && applied >= from)) return;
        const state = await engine!.inspect!();
        if (words) {
          try {
            text = layer.renderState!(state);
          } catch {
            // a state the layer cannot put in words leaves the report without them
          }
        }
        if (pictures && applied >= from) drawn.push(layer.picture!(state, geometry));
      };
      await look(0);
      for (const [i, op] of ops.entries()) {
        await engine.apply(op);
        await look(i + 1);
      }
      return { text, drawn };
    } catch (e) {
      return { text, drawn, why: `replaying the trace to draw it failed: ${(e as Error)?.message ?? String(e)}` };
    } finally {
      try {
        await engine?.close?.();
      } catch {
        // closing a broken engine is not the report's concern
      }
    }
  };
  const out: { state?: string; pictures?: CampaignResult["pictures"] } = {};
  if (!layer.renderState && !draw) return out;
  const mine = await replay(() => factory.create(geometry), draw);
  out.state = mine.text;
  if (!draw) return out;
  let trace: readonly TitledPicture[] = [];
  try {
    if (failure) trace = layer.tracePictures?.(steps, failure, geometry) ?? [];
  } catch {
    // a trace the layer cannot draw leaves the report without its pictures
  }
  if (mine.why === undefined) out.pictures = { source: "engine", from, states: mine.drawn, trace };
  else {
    const model = await replay(() => layer.model(geometry), true);
    out.pictures = { source: "model", reason: mine.why, from, states: model.why ? [] : model.drawn, trace };
  }
  return out;
}

export interface CheckOptions extends Omit<SequenceOptions, "against"> {
  /** Where the reference engine for a lockstep comparison comes from (`--against model`). */
  readonly against?: EngineFactory;
}

/** Create an engine (and the reference engine, if any), run one sequence, always close them. */
export async function checkWith(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  ops: readonly unknown[],
  options: CheckOptions = {},
): Promise<Failure | undefined> {
  const engine = await startEngine(factory, geometry);
  let against: Engine<unknown, unknown> | undefined;
  try {
    if (options.against) against = await startEngine(options.against, geometry);
    return await checkSequence(layer, geometry, engine, ops, { ...options, against });
  } finally {
    await engine.close?.();
    await against?.close?.();
  }
}
