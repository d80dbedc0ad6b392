// Traces: the unit users share. A JSON file { cowcheck: 1, layer, geometry, features, seed, ops, expected? }.
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { describeIssue, InputError } from "./errors.ts";
import { resolveGeometry } from "./geometry.ts";
import { excerpt, visible } from "./json.ts";
import type { AnyLayer } from "./layer.ts";

export interface Trace<Op = unknown, Obs = unknown, G = unknown> {
  cowcheck: 1;
  layer: string;
  /** As the file gives it: possibly only some fields, which the geometry rule completes (core/geometry.ts). */
  geometry: G;
  features: string[];
  seed?: number;
  ops: Op[];
  /** Observations the trace records: replay checks them too. */
  expected?: Obs[];
  /** Free text. */
  note?: string;
  /**
   * A failing interleaving (docs/races.md): `ops` is then the prelude, run before the threads; the threads' ops run
   * as `schedule` says (the thread of each step), then the epilogue.
   */
  interleaving?: { threads: Op[][]; epilogue: Op[]; schedule: number[] };
}

/** A trace's size bounds (docs/architecture.md, "Bounds"): ops (and expected observations), and bytes of its file. */
export const MAX_TRACE_OPS = 1_000_000;
export const MAX_TRACE_BYTES = 256 << 20;

const envelope = z
  .object({
    cowcheck: z.literal(1),
    layer: z.string(),
    geometry: z.record(z.string(), z.unknown()).optional(),
    features: z.array(z.string()).default([]),
    seed: z.number().int().min(0).max(0xffff_ffff).optional(),
    ops: z.array(z.unknown()).max(MAX_TRACE_OPS),
    expected: z.array(z.unknown()).max(MAX_TRACE_OPS).optional(),
    note: z.string().optional(),
    interleaving: z
      .object({
        threads: z.array(z.array(z.unknown()).max(MAX_TRACE_OPS)).min(1).max(64),
        epilogue: z.array(z.unknown()).max(MAX_TRACE_OPS),
        schedule: z.array(z.number().int().min(0).max(63)).max(MAX_TRACE_OPS),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Deepest nesting a trace's op, observation or geometry may have. No layer's come near it; deeper ones are refused
 * before anything walks them recursively (a layer's recursive schema, a message quoting them).
 */
export const MAX_NESTING = 64;

/** Longest message about one field: an issue's path and text may quote the input (a record's key, a bad value). */
const MAX_ISSUE = 300;
const bounded = (s: string, max: number): string => {
  const v = visible(s.length > max ? s.slice(0, max) : s);
  return v.length > max ? `${v.slice(0, max - 1)}…` : v;
};

const describe = (where: string, issues: readonly z.core.$ZodIssue[]): string =>
  bounded(describeIssue(where, issues[0]), MAX_ISSUE);

/**
 * How deep a JSON value nests, walked without recursion; stops counting past `limit` (so a 100,000-deep value costs
 * no more than a shallow one of the same size).
 */
function nesting(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > deepest) deepest = d;
    if (deepest > limit) return deepest;
    if (typeof v !== "object" || v === null) continue;
    for (const x of Array.isArray(v) ? v : Object.values(v))
      if (typeof x === "object" && x !== null) stack.push([x, d + 1]);
  }
  return deepest;
}

/** Refuse a value nested too deep to validate or quote safely. */
function shallow(value: unknown, where: string, source: string): void {
  if (nesting(value, MAX_NESTING) > MAX_NESTING) {
    throw new InputError(`${source}: ${where}: nested deeper than ${MAX_NESTING} levels`);
  }
}

/** A schema's verdict; a validation that overflows the stack anyway (a layer's recursive schema) is bad input too. */
function validate<T>(schema: z.ZodType<T>, value: unknown, where: string, source: string) {
  try {
    return schema.safeParse(value);
  } catch (e) {
    if (e instanceof RangeError)
      throw new InputError(`${source}: ${where}: too large or too deeply nested to validate`);
    throw e;
  }
}

/**
 * Validate a parsed JSON value as a trace of one of `registry`'s layers; errors name the op index and field. The
 * geometry must be valid once completed from the layer's defaults; it is returned as given.
 */
export function parseTrace(
  json: unknown,
  registry: readonly AnyLayer[],
  source = "trace",
): { layer: AnyLayer; trace: Trace } {
  const env = validate(envelope, json, "(top level)", source);
  if (!env.success) throw new InputError(`${source}: not a cowcheck trace: ${describe("", env.error.issues)}`);
  const t = env.data;
  const layer = registry.find((l) => l.name === t.layer);
  if (!layer) {
    const known = registry.map((l) => l.name).join(", ");
    throw new InputError(`${source}: unknown layer ${bounded(excerpt(t.layer, 60), 60)} (known: ${known})`);
  }
  const given = t.geometry ?? {};
  shallow(given, "geometry", source);
  let geometry: unknown;
  try {
    // valid once completed, or an input error
    geometry = resolveGeometry(layer, { user: given, source: `${source}: geometry` });
  } catch (e) {
    // its message lists every issue, and may quote the keys it did not expect
    throw e instanceof InputError ? new InputError(bounded(e.message, 3 * MAX_ISSUE)) : e;
  }
  const opAt = (op: unknown, where: string): unknown => {
    shallow(op, where, source);
    const r = validate(layer.opSchema, op, where, source);
    if (!r.success) {
      throw new InputError(`${source}: ${describe(where, r.error.issues)} (op: ${bounded(excerpt(op), MAX_ISSUE)})`);
    }
    const why = layer.checkOp?.(r.data, geometry);
    if (why !== undefined) throw new InputError(`${source}: ${where}: ${bounded(why, MAX_ISSUE)}`);
    return r.data;
  };
  const ops = t.ops.map((op, i) => opAt(op, `ops[${i}]`));
  const il = t.interleaving;
  const interleaving = il && {
    threads: il.threads.map((ops, k) => ops.map((op, i) => opAt(op, `interleaving.threads[${k}][${i}]`))),
    epilogue: il.epilogue.map((op, i) => opAt(op, `interleaving.epilogue[${i}]`)),
    schedule: il.schedule,
  };
  const bad = il?.schedule.findIndex((k) => k >= il.threads.length) ?? -1;
  if (il && bad >= 0)
    throw new InputError(
      `${source}: interleaving.schedule[${bad}]: thread ${il.schedule[bad]} of ${il.threads.length}`,
    );
  if (interleaving && t.expected) throw new InputError(`${source}: an interleaving records no expected observations`);
  if (t.expected && t.expected.length > ops.length) {
    throw new InputError(`${source}: more expected observations (${t.expected.length}) than ops (${ops.length})`);
  }
  const expected = t.expected?.map((obs, i) => {
    shallow(obs, `expected[${i}]`, source);
    const r = validate(layer.obsSchema, obs, `expected[${i}]`, source);
    if (!r.success) throw new InputError(`${source}: ${describe(`expected[${i}]`, r.error.issues)}`);
    return r.data;
  });
  const trace: Trace = { cowcheck: 1, layer: t.layer, geometry: given, features: t.features, ops };
  if (t.seed !== undefined) trace.seed = t.seed;
  if (expected) trace.expected = expected;
  if (t.note !== undefined) trace.note = t.note;
  if (interleaving) trace.interleaving = interleaving;
  return { layer, trace };
}

/** A trace file's JSON, unvalidated; a missing file or bad JSON is an input error. */
export function readTraceFile(path: string): unknown {
  let text: string;
  try {
    const bytes = statSync(path).size;
    if (bytes > MAX_TRACE_BYTES)
      throw new InputError(`${path}: ${bytes} bytes; a trace file is at most ${MAX_TRACE_BYTES} bytes (256 MiB)`);
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read trace ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // the parser's message quotes the text around the error
    throw new InputError(`${path}: not JSON: ${bounded((e as Error).message, MAX_ISSUE)}`);
  }
}

/** A trace as a file: header fields first, then one op (and one expected observation) per line. */
export function formatTrace(t: Trace): string {
  const head = Object.entries(t)
    .filter(([k, v]) => k !== "ops" && k !== "expected" && v !== undefined)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const list = (name: string, xs: readonly unknown[]): string =>
    `  ${JSON.stringify(name)}: [\n${xs.map((x) => `    ${JSON.stringify(x)}`).join(",\n")}\n  ]`;
  const body = [...head, list("ops", t.ops), ...(t.expected ? [list("expected", t.expected)] : [])];
  return `{\n${body.join(",\n")}\n}\n`;
}
