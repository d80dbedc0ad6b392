// What a campaign produces: its verdict, the failure it found with its minimized trace, and what it compared.
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

export interface CampaignResult {
  /** "interrupted" only for what the CLI records of a target Ctrl-C stopped. */
  readonly status: "passed" | "failed" | "engine-failure" | "interrupted";
  readonly engine: string;
  readonly layer: string;
  readonly seed: number;
  readonly runs: number;
  readonly ops: number;
  readonly elapsedMs: number;
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
  /** For "engine-failure": the error, and the trace up to and including the op that broke the engine. */
  readonly engineFailure?: { kind: string; message: string; detail?: string };
  /** With `against`: what the lockstep comparison did during the search. */
  readonly structure?: StructureStats;
}
