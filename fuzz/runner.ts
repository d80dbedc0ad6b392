// The generic runner: apply a sequence to an engine and to the oracle, compare observations, check every
// property after every op. It knows nothing about any layer beyond the Layer descriptor.
import { EngineFailure, InputError, isPromise, type Engine, type EngineFactory } from "../engines/types.ts";
import type { AnyLayer } from "../layers/layer.ts";
import type { Checker, PropertyKind } from "../properties/types.ts";

export interface Failure {
  /** Index of the op after which the property failed. */
  readonly index: number;
  readonly property: string;
  readonly kind: PropertyKind;
  readonly message: string;
  readonly observed?: unknown;
  readonly expected?: unknown;
}

export interface Step {
  readonly index: number;
  readonly op: unknown;
  readonly observed: unknown;
  readonly expected: unknown;
}

export interface SequenceOptions {
  /** Observations the trace itself records: checked too, before the oracle's. */
  readonly expected?: readonly unknown[];
  /** Called after each op (replay prints with it). */
  readonly onStep?: (step: Step) => void;
  /** Skip the structural properties even if the engine can be inspected. */
  readonly noInvariants?: boolean;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * Whether an observation is what the oracle allows: equal to it, or, where the oracle answers
 * `{ oneOf: [...] }` (Linux may legitimately choose), equal to one of the choices.
 */
export function allows(expected: unknown, observed: unknown): boolean {
  return isOneOf(expected) ? expected.oneOf.some((e) => deepEqual(e, observed)) : deepEqual(expected, observed);
}

export function isOneOf(v: unknown): v is { oneOf: unknown[] } {
  return typeof v === "object" && v !== null && "oneOf" in v && Array.isArray(v.oneOf) && Object.keys(v).length === 1;
}

/** Wrap anything an engine throws that is not already an EngineFailure (an in-process engine's own bug). */
function asEngineFailure(e: unknown, what: string, opIndex?: number): EngineFailure {
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
  const missing = new Set(ops.map((op) => layer.requires?.(op)).filter((f): f is string => f !== undefined && !engine.features.has(f)));
  if (missing.size) {
    throw new InputError(`the ops need feature(s) ${[...missing].join(", ")}, which the engine does not offer (it offers: ${[...engine.features].join(", ") || "none"})`);
  }
  const oracle = layer.oracle(geometry);
  const inspect = !options.noInvariants && engine.inspect && engine.features.has("inspect") ? engine.inspect.bind(engine) : undefined;
  let checkers: { name: string; kind: PropertyKind; checker: Checker<unknown, unknown, unknown> }[] = [];
  if (inspect) {
    const initial = await settleEngine(() => inspect(), "inspect");
    checkers = layer.properties.map((p) => ({ name: p.name, kind: p.kind, checker: p.start(initial) }));
  }
  const last = ops.length - 1;
  for (let i = 0; i <= last; i++) {
    const op = ops[i];
    // The hot path: no await unless the engine really is asynchronous.
    let observed: unknown;
    try {
      observed = engine.apply(op);
      if (isPromise(observed)) observed = await observed;
    } catch (e) {
      throw asEngineFailure(e, `op ${i}`, i);
    }
    const expected = oracle.apply(op) as unknown;
    const recorded = options.expected?.[i];
    options.onStep?.({ index: i, op, observed, expected: recorded ?? expected });
    if (recorded !== undefined && !deepEqual(observed, recorded)) {
      return { index: i, property: "recorded-observation", kind: "equivalence", message: "observation differs from the one the trace records", observed, expected: recorded };
    }
    if (!allows(expected, observed)) {
      const message = isOneOf(expected) ? "observation is none of those the oracle allows" : "observation differs from the oracle's";
      return { index: i, property: "observational-equivalence", kind: "equivalence", message, observed, expected };
    }
    if (inspect) {
      let state: unknown;
      try {
        state = inspect();
        if (isPromise(state)) state = await state;
      } catch (e) {
        throw asEngineFailure(e, `inspect after op ${i}`, i);
      }
      const full = i === last;
      for (const c of checkers) {
        const v = c.checker.after(op, observed, state, full);
        if (v) return typeof v === "string" ? { index: i, property: c.name, kind: c.kind, message: v } : { index: i, property: v.property, kind: c.kind, message: v.message };
      }
    }
  }
  return undefined;
}

async function settleEngine<T>(f: () => T | Promise<T>, what: string): Promise<T> {
  try {
    const v = f();
    return isPromise(v) ? await v : v;
  } catch (e) {
    throw asEngineFailure(e, what);
  }
}

/** The engine's state after running `ops`, rendered by the layer (for failure reports); undefined if it cannot say. */
export async function renderStateAfter(layer: AnyLayer, geometry: unknown, factory: EngineFactory, ops: readonly unknown[]): Promise<string | undefined> {
  if (!layer.renderState) return undefined;
  let engine: Engine<unknown, unknown> | undefined;
  try {
    engine = await factory.create(geometry);
    if (!engine.inspect || !engine.features.has("inspect")) return undefined;
    for (const op of ops) await engine.apply(op);
    return layer.renderState(await engine.inspect());
  } catch {
    return undefined; // a picture is a courtesy: never let it hide the failure itself
  } finally {
    await engine?.close?.();
  }
}

/** Create an engine, run one sequence, always close the engine. */
export async function checkWith(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  ops: readonly unknown[],
  options?: SequenceOptions,
): Promise<Failure | undefined> {
  const engine = await settleEngine(() => factory.create(geometry), `starting ${factory.name}`);
  try {
    return await checkSequence(layer, geometry, engine, ops, options);
  } finally {
    await engine.close?.();
  }
}
