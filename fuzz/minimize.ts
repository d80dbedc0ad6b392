// Delta debugging (ddmin, Zeller & Hildebrandt 2002): the smallest sequence that still fails the same way,
// 1-minimal (removing any single op makes it pass); and minimizing a trace file the same way.
import {
  type AnyLayer,
  type EngineFactory,
  EngineFailure,
  type Failure,
  resolveGeometry,
  type Trace,
} from "../core/index.ts";
import { checkWith } from "./runner.ts";

export async function minimize<T>(items: readonly T[], fails: (candidate: T[]) => Promise<boolean>): Promise<T[]> {
  let current = [...items];
  let chunks = 2;
  while (current.length >= 2) {
    const size = Math.ceil(current.length / chunks);
    let reduced = false;
    for (let start = 0; start < current.length; start += size) {
      const complement = [...current.slice(0, start), ...current.slice(start + size)];
      if (complement.length > 0 && (await fails(complement))) {
        current = complement;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      chunks = Math.min(chunks * 2, current.length);
    }
  }
  return current;
}

/**
 * ddmin, then the layer's rewrites (e.g. canonical renaming): any rewrite that still fails is taken and
 * minimized again, until none helps.
 */
export async function minimizeWith<T>(
  items: readonly T[],
  fails: (candidate: T[]) => Promise<boolean>,
  simplify?: (items: readonly T[]) => Iterable<T[]>,
): Promise<T[]> {
  let current = await minimize(items, fails);
  let improved = simplify !== undefined;
  while (improved) {
    improved = false;
    for (const candidate of simplify!(current)) {
      if (candidate.length < current.length && (await fails(candidate))) {
        current = await minimize(candidate, fails);
        improved = true;
        break;
      }
    }
  }
  return current;
}

/** What minimizing a trace came to. */
export type TraceMinimization =
  /** The trace passes: nothing to minimize. */
  | { readonly kind: "passes" }
  /** It fails only against its recorded observations; the oracle and every property agree with the engine. */
  | { readonly kind: "recorded-only"; readonly failure: Failure }
  /** The shortest trace that fails the same property, or makes the engine itself fail the same way. */
  | { readonly kind: "property" | "engine"; readonly what: string; readonly trace: Trace; readonly from: number };

/**
 * Shrink a failing trace to a 1-minimal one that fails the same way: the same property, or, for a trace on which
 * the engine itself fails, the same kind of engine failure (crash, hang, protocol…).
 */
export async function minimizeTrace(
  layer: AnyLayer,
  trace: Trace,
  factory: EngineFactory,
  options: { readonly against?: EngineFactory } = {},
): Promise<TraceMinimization> {
  const geometry = resolveGeometry(layer, { engine: factory, user: trace.geometry });
  const run = (ops: readonly unknown[], expected?: readonly unknown[]) =>
    checkWith(layer, geometry, factory, ops, { expected, against: options.against });
  const shrink = async (kind: "property" | "engine", what: string, ops: unknown[], fails: Fails) => {
    const minimal = await minimizeWith(ops, fails, layer.simplify?.bind(layer));
    const note = `${what}: minimized from ${trace.ops.length} ops`;
    return {
      kind,
      what,
      from: trace.ops.length,
      trace: { ...trace, geometry, ops: minimal, expected: undefined, note },
    };
  };
  let recorded: Failure | undefined;
  try {
    recorded = await run(trace.ops, trace.expected);
  } catch (e) {
    if (!(e instanceof EngineFailure)) throw e;
    const crashes = async (c: unknown[]): Promise<boolean> =>
      run(c).then(
        () => false,
        (x: unknown) => x instanceof EngineFailure && x.kind === e.kind,
      );
    // failed before its first op (start, hello, initial inspect): the empty trace is the minimum
    const ops = e.opIndex === undefined ? [] : trace.ops.slice(0, e.opIndex + 1);
    return shrink("engine", `engine failure (${e.kind})`, ops, crashes);
  }
  if (!recorded) return { kind: "passes" };
  // Recorded observations belong to the original ops; deleting ops invalidates them, so minimize keeps the failure
  // against the oracle or a property, which deleting ops preserves.
  const first = recorded.property === "recorded-observation" ? await run(trace.ops) : recorded;
  if (!first) return { kind: "recorded-only", failure: recorded };
  const sameProperty = async (c: unknown[]): Promise<boolean> =>
    run(c).then(
      (f) => f?.property === first.property,
      () => false,
    );
  return shrink("property", first.property, trace.ops.slice(0, first.index + 1), sameProperty);
}

type Fails = (candidate: unknown[]) => Promise<boolean>;
