// Traces: the unit users share. A JSON file { cowcheck: 1, layer, geometry, features, seed, ops, expected? }.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeIssue, InputError } from "./errors.ts";
import { resolveGeometry } from "./geometry.ts";
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
}

const envelope = z
  .object({
    cowcheck: z.literal(1),
    layer: z.string(),
    geometry: z.record(z.string(), z.unknown()).optional(),
    features: z.array(z.string()).default([]),
    seed: z.number().int().min(0).max(0xffff_ffff).optional(),
    ops: z.array(z.unknown()),
    expected: z.array(z.unknown()).optional(),
    note: z.string().optional(),
  })
  .strict();

const describe = (where: string, issues: readonly z.core.$ZodIssue[]): string => describeIssue(where, issues[0]);

/**
 * Validate a parsed JSON value as a trace of one of `registry`'s layers; errors name the op index and field. The
 * geometry must be valid once completed from the layer's defaults; it is returned as given.
 */
export function parseTrace(
  json: unknown,
  registry: readonly AnyLayer[],
  source = "trace",
): { layer: AnyLayer; trace: Trace } {
  const env = envelope.safeParse(json);
  if (!env.success) throw new InputError(`${source}: not a cowcheck trace: ${describe("", env.error.issues)}`);
  const t = env.data;
  const layer = registry.find((l) => l.name === t.layer);
  if (!layer) {
    throw new InputError(`${source}: unknown layer "${t.layer}" (known: ${registry.map((l) => l.name).join(", ")})`);
  }
  const given = t.geometry ?? {};
  resolveGeometry(layer, { user: given, source: `${source}: geometry` }); // valid once completed, or an input error
  const ops = t.ops.map((op, i) => {
    const r = layer.opSchema.safeParse(op);
    if (!r.success) {
      throw new InputError(`${source}: ${describe(`ops[${i}]`, r.error.issues)} (op: ${JSON.stringify(op)})`);
    }
    return r.data;
  });
  if (t.expected && t.expected.length > ops.length) {
    throw new InputError(`${source}: more expected observations (${t.expected.length}) than ops (${ops.length})`);
  }
  const expected = t.expected?.map((obs, i) => {
    const r = layer.obsSchema.safeParse(obs);
    if (!r.success) throw new InputError(`${source}: ${describe(`expected[${i}]`, r.error.issues)}`);
    return r.data;
  });
  const trace: Trace = { cowcheck: 1, layer: t.layer, geometry: given, features: t.features, ops };
  if (t.seed !== undefined) trace.seed = t.seed;
  if (expected) trace.expected = expected;
  if (t.note !== undefined) trace.note = t.note;
  return { layer, trace };
}

/** A trace file's JSON, unvalidated; a missing file or bad JSON is an input error. */
export function readTraceFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(`cannot read trace ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: not JSON: ${(e as Error).message}`);
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
