// Properties are checked after every op. Each run gets fresh checkers (they may keep per-run state).

/**
 * What a failure broke: an observation (equivalence), an invariant or economy bound of the inspected state, or
 * (structure) a real system's partial view of its state against the reference model's (`--against`).
 */
export type PropertyKind = "equivalence" | "invariant" | "economy" | "structure";

export interface Checker<Op, Obs, State> {
  /**
   * Called after each op with the engine's state. `full` asks for a check of the whole state rather than of
   * what the op touched (the runner asks for it on the last op of a sequence, and when the state carries no
   * record of what was touched).
   */
  after(op: Op, obs: Obs, state: State, full: boolean): string | Named | undefined;
}

/** A property that checks several named invariants in one pass reports which one failed. */
export interface Named {
  readonly property: string;
  readonly message: string;
}

export interface Property<Op, Obs, State> {
  readonly name: string;
  /** For a property made of several invariants: their names and descriptions. */
  readonly members?: readonly { readonly name: string; readonly description: string }[];
  readonly kind: "invariant" | "economy";
  readonly description: string;
  /** Whether it checks anything under this geometry (a flavour's property passes over the others): absent, always. */
  appliesTo?(geometry: unknown): boolean;
  /** A fresh checker for one run; `initial` is the engine's state before the first op. */
  start(initial: State): Checker<Op, Obs, State>;
}

/** A property that keeps nothing between ops: one check of each op, its observation and the state after it. */
export function stateless<Op, Obs, State>(
  name: string,
  kind: Property<Op, Obs, State>["kind"],
  description: string,
  check: (op: Op, obs: Obs, state: State) => string | undefined,
): Property<Op, Obs, State> {
  return { name, kind, description, start: () => ({ after: (op, obs, state) => check(op, obs, state) }) };
}

/** A property that compares each state with the one before it (the engine's state before the op). */
export function stepwise<Op, Obs, State>(
  name: string,
  kind: Property<Op, Obs, State>["kind"],
  description: string,
  check: (op: Op, obs: Obs, before: State, state: State) => string | undefined,
): Property<Op, Obs, State> {
  return {
    name,
    kind,
    description,
    start(initial) {
      let before = initial;
      return {
        after(op, obs, state) {
          const was = before;
          before = state;
          return check(op, obs, was, state);
        },
      };
    },
  };
}

/** A property that failed after one op of a sequence. */
export interface Failure {
  /** Index of the op after which the property failed. */
  readonly index: number;
  readonly property: string;
  readonly kind: PropertyKind;
  readonly message: string;
  readonly observed?: unknown;
  readonly expected?: unknown;
}

/** One op of a run: what the engine observed, and what the oracle (or the trace's record) expected. */
export interface Step {
  readonly index: number;
  readonly op: unknown;
  readonly observed: unknown;
  readonly expected: unknown;
}
