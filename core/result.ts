// What a campaign produces: its verdict, the failure it found with its minimized trace, and what it compared.
import type { Graph, TitledPicture } from "./picture.ts";
import type { Failure, Step } from "./property.ts";
import type { Trace } from "./trace.ts";

/** What a lockstep comparison (`--against`) did: ops compared, allowances used, and why comparisons stopped early. */
export interface StructureStats {
  /** Ops after which every view agreed with the reference. */
  compared: number;
  /** Allowance name → how many comparisons it excused. */
  allowed: Record<string, number>;
  /** Reason → how many sequences stopped being compared early because of it. */
  desynced: Record<string, number>;
}

/** Per op kind (an op's `op` field): how many ops ran, how many answered an error or fault, how many were idle. */
export type OpMix = Record<string, { ops: number; errors: number; idle: number }>;

/** An op's kind: its `op` field. */
export const opKindOf = (op: unknown): string =>
  typeof op === "object" && op !== null && typeof (op as { op?: unknown }).op === "string"
    ? (op as { op: string }).op
    : "op";

/** A kind's counts in an op mix, made on first use. */
export function entry(mix: OpMix, kind: string): OpMix[string] {
  let e = mix[kind];
  if (!e) {
    e = { ops: 0, errors: 0, idle: 0 };
    mix[kind] = e;
  }
  return e;
}

/** Count one op: an observation with `error` or `fault` is an error; one with `skipped` did nothing. */
export function tally(mix: OpMix, op: unknown, obs: unknown): void {
  const e = entry(mix, opKindOf(op));
  e.ops++;
  if (typeof obs !== "object" || obs === null) return;
  if ("error" in obs || "fault" in obs) e.errors++;
  else if ("skipped" in obs) e.idle++;
}

/** What a verdict covered, so that "passed" says what it means. */
export interface Coverage {
  /** The properties checked: observational equivalence always, the layer's invariants and economy bounds with `inspect`, the views with `--against`. */
  readonly properties: string[];
  readonly notChecked: { readonly property: string; readonly reason: string }[];
  /** The op mix the engine was given during the search. */
  readonly opKinds: OpMix;
  /** Op kinds never generated: the engine does not offer the feature they need. */
  readonly notGenerated: { readonly feature: string; readonly opKinds: string[] }[];
  /** Fraction of ops that did something (answered neither an error, a fault, nor `skipped`). */
  readonly effective: number;
  /** With `--against`: fraction of ops after which every view was compared with the reference. */
  readonly compared?: number;
  readonly warnings: string[];
}

export interface CampaignResult {
  /** "interrupted" only for what the CLI records of a target Ctrl-C stopped. */
  readonly status: "passed" | "failed" | "engine-failure" | "interrupted";
  readonly engine: string;
  readonly layer: string;
  readonly seed: number;
  readonly runs: number;
  readonly ops: number;
  readonly elapsedMs: number;
  /** How long the search took: until the failing sequence was found, or the whole budget (shrinking not counted). */
  readonly searchMs?: number;
  /** For "failed": the minimized trace and what it violates. */
  readonly trace?: Trace;
  readonly failure?: Failure;
  readonly originalLength?: number;
  /** For "failed": each op of the trace with the engine's and the oracle's observation. */
  readonly steps?: readonly Step[];
  /** The anomaly the failure shows, named by the layer (mvcc: Adya's G0…G2). */
  readonly anomaly?: string;
  /** The engine's state after the failing op, drawn by the layer (when the engine can be inspected). */
  readonly state?: string;
  /**
   * For "failed", where the layer draws pictures: `states[k]` is the state before op `from + k` (and the last, the
   * state after the last op), for the last DRAWN_OPS ops; the engine's when it can be inspected, else the layer
   * model's (`reason` says why); and the trace's own pictures.
   */
  readonly pictures?: {
    readonly source: "engine" | "model";
    readonly reason?: string;
    readonly from: number;
    readonly states: readonly Graph[];
    readonly trace: readonly TitledPicture[];
  };
  /** For "engine-failure": the error, and the trace up to and including the op that broke the engine. */
  readonly engineFailure?: { kind: string; message: string; detail?: string };
  /** What the verdict covered: properties checked and not (and why), the op mix, warnings. */
  readonly checked?: Coverage;
  /**
   * For "failed": `layer[/flavour]:seed:maxOps:path`, fast-check's seed and path to the shrunk counterexample;
   * `cowcheck run --replay TOKEN` (and the campaign's `replay` option) goes straight to it.
   */
  readonly replay?: string;
  /** With `against`: what the lockstep comparison did during the search. */
  readonly structure?: StructureStats;
  /**
   * For a failure only an interleaving shows (`--threads`, docs/races.md): the race program and the failing
   * schedule's steps, thread by thread. The trace then lists the ops in the order they ended, which run one after
   * another need not fail.
   */
  readonly interleaving?: {
    readonly race: string;
    readonly threads: readonly (readonly unknown[])[];
    readonly timeline: readonly {
      readonly thread: number;
      readonly op: number;
      readonly label: string;
      /** The op's observation, on its last step. */
      readonly observed?: unknown;
    }[];
    readonly preemptions: number;
  };
}
