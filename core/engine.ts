// The one contract every engine meets: reference models, oracles, mutants, stdio programs and real systems.

export interface Engine<Op, Obs, State = unknown> {
  /** The layer whose ops it runs. */
  readonly layer: string;
  /** e.g. "inspect", "thp", "pin": ops needing a feature the engine lacks are not generated. */
  readonly features: ReadonlySet<string>;
  /** Errors the system defines (SEGV, ENOMEM, 40001…) are observations; a throw means the engine itself failed. */
  apply(op: Op): Obs | Promise<Obs>;
  /**
   * Canonical structural state after the last op, for invariants. Async for engines behind a pipe. With `touched`
   * (the runner's inspect after every op but a sequence's last), only what the ops since the last inspect touched
   * must be current: an engine may hand back the rest as it last inspected it, if its state says what they touched
   * (the overlay model's `touched`); without it, the whole state, current. A state that says what was touched never
   * changes afterwards (the properties that check it keep earlier states to compare with); one that does not may be
   * the engine's live structure (the mm and mvcc models hand theirs back), read by the properties before the next op.
   */
  inspect?(touched?: boolean): State | Promise<State>;
  /** A partial view the layer defines (e.g. mm's "pagemap"), for engines listing it among their features. */
  inspectView?(name: string): unknown | Promise<unknown>;
  close?(): void | Promise<void>;
  /**
   * The op as steps, for interleavings (docs/races.md): each `next()` runs one step, as atomic as the real code is
   * between two points where another thread may run, and yields what it did in a few words; the last answers the
   * observation. Running every step in a row is `apply`. Without it, an op is one step.
   */
  steps?(op: Op): Iterator<string, Obs>;
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
  /**
   * Make the next engine share nothing with earlier ones (a new process, not a reset one). A campaign calls it
   * before confirming a failure, so that state a reset leaves behind cannot pass for a reproducible failure.
   */
  fresh?(): void | Promise<void>;
  /** Geometry fields this engine needs unless the user says otherwise (a real system's page size, say). */
  readonly geometry?: Readonly<Record<string, unknown>>;
  /**
   * Geometry fields this engine cannot run without, over whatever the user gives (a mutant's flavour: it mutates
   * that flavour's model). The geometry rule (core/geometry.ts) puts them last.
   */
  readonly fixedGeometry?: Readonly<Record<string, unknown>>;
  /**
   * A real system's own run of one of the layer's named race programs (docs/races.md), its threads truly concurrent
   * `attempts` times: how many ran, and how many checks found what no order of the ops allows. `--threads` uses it
   * instead of stepping, which a real system cannot.
   */
  race?(name: string, attempts: number): Promise<{ attempts: number; violations: number; detail: string }>;
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
