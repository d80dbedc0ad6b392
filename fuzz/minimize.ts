// Delta debugging (ddmin, Zeller & Hildebrandt 2002): the smallest sequence that still fails the same way,
// 1-minimal (removing any single op makes it pass); then rewrites deletion cannot reach (pairs of ops removed
// together, the layer's rewrites), taken while each makes the trace strictly smaller in one well-founded order;
// and minimizing a trace file the same way.
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
 * The size of a JSON value: each node (value, array, object) counts 1, a number its magnitude rounded up besides, a
 * string and each object key its length, `true` 1. Fewer layer entries, shorter data, lower numbers, fewer
 * optional fields: each makes an op smaller.
 */
export function sizeOf(value: unknown): number {
  switch (typeof value) {
    case "number":
      return 1 + (Number.isFinite(value) ? Math.ceil(Math.abs(value)) : 0);
    case "string":
      return 1 + value.length;
    case "boolean":
      return value ? 2 : 1;
    case "object": {
      let size = 1;
      if (Array.isArray(value)) for (const x of value) size += sizeOf(x);
      else if (value !== null)
        for (const [k, x] of Object.entries(value)) if (x !== undefined) size += k.length + sizeOf(x);
      return size;
    }
    default:
      return 1;
  }
}

/** JSON with object keys sorted: equal for equal values, whatever order their keys were written in. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((x) => (x === undefined ? "null" : canonical(x))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const fields = Object.entries(value)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Where a trace stands in the size order. */
export interface TraceSize {
  /** Ops. */
  readonly length: number;
  /** The ops' total size (`sizeOf`). */
  readonly weight: number;
  /** Its canonical JSON, the last tie-break (lower names, lexicographically). */
  readonly key: string;
}

export function traceSize(ops: readonly unknown[]): TraceSize {
  let weight = 0;
  for (const op of ops) weight += sizeOf(op);
  return { length: ops.length, weight, key: canonical(ops) };
}

/**
 * The size order on traces: fewer ops first, then a smaller total size, then the canonical JSON's lexicographic
 * order. It is total and well-founded: the traces of a given length and weight are finitely many (sizes bound every
 * number, string and key), so no chain of strictly smaller traces is infinite, and minimization taking only strictly
 * smaller ones ends.
 */
export function compareSize(a: TraceSize, b: TraceSize): number {
  if (a.length !== b.length) return a.length - b.length;
  if (a.weight !== b.weight) return a.weight - b.weight;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Candidates considered per round, at most: a layer's rewrites are an iterable, possibly endless. */
export const MAX_CANDIDATES = 20_000;
/** Removing two ops together is tried on sequences up to this long (n·(n−1)/2 candidates per round). */
export const MAX_PAIR_LENGTH = 32;

/**
 * ddmin, then rewrites that deletion cannot reach, until none helps: removing two ops together (a creator and its
 * destroyer: an mmap and its munmap, a begin and its commit), removing one op again (a rewrite may free one), and
 * the layer's `simplify` (pids recomputed after a process is removed, a layer entry dropped, a number lowered). A
 * candidate is taken when it is strictly smaller in the size order (`compareSize`) and still fails; each round tries
 * its candidates smallest first, and one that removes ops is minimized by ddmin again. Termination: each step goes
 * strictly down a well-founded order, and each round looks at finitely many candidates (`MAX_CANDIDATES`). `fails`
 * is asked once per distinct candidate.
 */
export async function minimizeWith<T>(
  items: readonly T[],
  fails: (candidate: T[]) => Promise<boolean>,
  simplify?: (items: readonly T[]) => Iterable<T[]>,
  valid?: (item: T) => boolean,
): Promise<T[]> {
  const known = new Map<string, boolean>();
  // a rewrite keeps the other ops as they were (the same objects): each op is judged once
  const judged = new WeakMap<object, boolean>();
  const isValid = (op: T): boolean => {
    if (!valid) return true;
    if (typeof op !== "object" || op === null) return valid(op);
    let yes = judged.get(op);
    if (yes === undefined) {
      yes = valid(op);
      judged.set(op, yes);
    }
    return yes;
  };
  const test = async (candidate: T[], key = canonical(candidate)): Promise<boolean> => {
    let answer = known.get(key);
    if (answer === undefined) {
      answer = await fails(candidate);
      known.set(key, answer);
    }
    return answer;
  };
  let current = await minimize(items, (c) => test(c));
  for (;;) {
    const here = traceSize(current);
    const pool: { ops: T[]; size: TraceSize }[] = [];
    const seen = new Set<string>();
    let offered = 0;
    const offer = (ops: T[]): boolean => {
      if (++offered > MAX_CANDIDATES) return false;
      const size = traceSize(ops);
      if (compareSize(size, here) < 0 && !seen.has(size.key)) {
        seen.add(size.key);
        pool.push({ ops, size });
      }
      return true;
    };
    const n = current.length;
    const without = (...gone: number[]): T[] => current.filter((_, k) => !gone.includes(k));
    let open = true;
    if (n <= MAX_PAIR_LENGTH)
      for (let i = 0; i < n && open; i++) for (let j = i + 1; j < n && open; j++) open = offer(without(i, j));
    for (let i = 0; i < n && open; i++) open = offer(without(i));
    // the layer's rewrites, or (a layer without any) rewrites of the values of one op; none making an op invalid
    for (const candidate of simplify ? simplify(current) : lowered(current)) {
      if (!open) break;
      if (candidate.every(isValid)) open = offer(candidate);
    }
    pool.sort((a, b) => compareSize(a.size, b.size));
    let next: T[] | undefined;
    for (const { ops, size } of pool) {
      if (await test(ops, size.key)) {
        next = ops;
        break;
      }
    }
    if (!next) return current;
    current = next.length < current.length ? await minimize(next, (c) => test(c)) : next;
  }
}

/**
 * Rewrites any layer's ops admit, as fast-check shrinks the values it generated: a number field of one op made 0,
 * half or one less, a list of numbers one shorter or with an element made 0. A rewrite that makes the op invalid
 * only fails to fail. (Renaming that must hold across ops, a key or a pid in every op that names it, is the
 * layer's `simplify`.)
 */
export function* lowered<T>(ops: readonly T[]): Iterable<T[]> {
  const at = (i: number, op: unknown): T[] => [...ops.slice(0, i), op as T, ...ops.slice(i + 1)];
  for (const [i, op] of ops.entries()) {
    if (typeof op !== "object" || op === null || Array.isArray(op)) continue;
    for (const [k, v] of Object.entries(op)) {
      const put = (x: unknown): T[] => at(i, { ...op, [k]: x });
      if (typeof v === "number" && Number.isInteger(v) && v > 0)
        for (const x of new Set([0, Math.floor(v / 2), v - 1])) if (x < v) yield put(x);
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number")) {
        yield put(v.slice(0, -1));
        for (const [j, x] of v.entries()) if (x !== 0) yield put(v.map((y, n) => (n === j ? 0 : y)));
      }
    }
  }
}

/** Whether an op is one the layer defines in this geometry (its schema and `checkOp`), as a trace file must hold. */
export function opValid(layer: AnyLayer, geometry: unknown, op: unknown): boolean {
  return layer.opSchema.safeParse(op).success && layer.checkOp?.(op, geometry) === undefined;
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
 * the engine itself fails, the same kind of engine failure (crash, hang, protocol…). It goes as far as a campaign's
 * minimization (`minimizeWith`: pairs of ops, and the layer's rewrites that shorten the trace or make an op smaller).
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
    const minimal = await minimizeWith(ops, fails, layer.simplify?.bind(layer), (op) => opValid(layer, geometry, op));
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
