// The one contract every engine meets: reference models, oracles, mutants, stdio programs and real systems.

export type LayerName = "mm" | "overlay" | "snapshot" | "mvcc";

export interface Engine<Op, Obs, State = unknown> {
  readonly layer: LayerName;
  /** e.g. "inspect", "thp", "pin": ops needing a feature the engine lacks are not generated. */
  readonly features: ReadonlySet<string>;
  /** Errors the system defines (SEGV, ENOMEM, 40001…) are observations; a throw means the engine itself failed. */
  apply(op: Op): Obs | Promise<Obs>;
  /** Canonical structural state after the last op, for invariants. Async for engines behind a pipe. */
  inspect?(): State | Promise<State>;
  /** A partial view the layer defines (e.g. mm's "pagemap"), for engines listing it among their features. */
  inspectView?(name: string): unknown | Promise<unknown>;
  close?(): void | Promise<void>;
  /**
   * Oracles only: the engine answered another of the observations this oracle's last `{ oneOf }` allowed. An oracle
   * whose choices change what comes next (a serialization failure ends a transaction) follows the one taken.
   */
  chose?(observed: unknown): void;
}

/** How the runner makes a fresh engine for each sequence. */
export interface EngineFactory {
  readonly name: string;
  create(geometry: unknown): Engine<unknown, unknown> | Promise<Engine<unknown, unknown>>;
  /** Release what the factory keeps between sequences (an idle engine process). */
  dispose?(): void | Promise<void>;
  /** Geometry fields this engine needs unless the user says otherwise (a real system's page size, say). */
  readonly geometry?: Readonly<Record<string, unknown>>;
}

/** How an engine can fail as a program (as opposed to disagreeing with the oracle): exit code 3. */
export type EngineFailureKind = "crash" | "hang" | "protocol" | "error" | "start" | "nondeterministic";

export class EngineFailure extends Error {
  /** Index of the op during which the engine failed (set by the runner). */
  opIndex?: number;
  constructor(
    readonly kind: EngineFailureKind,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "EngineFailure";
  }
}

/** Structural equality of JSON values (observations, states): key order does not matter, array order does. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/** Bad input from the user (a flag, a trace file, an engine name): exit code 2, a message, no stack trace. */
export class InputError extends Error {
  override name = "InputError";
}

/** "ops[3].page: expected number" — a zod issue with its path written the way a reader indexes the JSON. */
export function describeIssue(where: string, issue: { path: readonly PropertyKey[]; message: string }): string {
  const path = issue.path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    where,
  );
  return `${path || "(top level)"}: ${issue.message}`;
}
