// Allowed choices, for oracles of systems that may choose (the mvcc oracles: a deadlock's victim, a serialization
// failure, the order of statements woken together): the oracle answers `oneOf` every answer a choice at this op
// gives, each computed by running the whole history again with that choice forced at this op, and follows the one the
// engine took (`chose`). Choices grow one decision at a time, breadth first: a decision can open further ones (a
// failure wakes a waiter that may fail too). Where the rules can copy a history, a choice runs again from a checkpoint
// instead of from the first op: a history of its own, brought up to the op before the choice when one is wanted, and
// copied for each choice there. The same answers, without replaying the whole history for every choice
// (test/choices.test.ts holds the two to each other).
import { deepEqual } from "./json.ts";

/** One history's oracle, run with some ops' choices forced. */
export interface History<Op, Obs> {
  apply(op: Op, index: number): Obs;
}

export interface ChoiceRules<Op, Obs, C, H extends History<Op, Obs>> {
  /** A fresh history with these ops' choices forced. */
  history(forced: ReadonlyMap<number, C>): H;
  /** The choice that forces nothing. */
  readonly none: C;
  /** The choices one decision beyond `choice`, given what the op answered with it and the history after it. */
  next(op: Op, obs: Obs, choice: C, history: H): C[];
  /**
   * A copy of `history` (its state after the ops it has run) that goes on with `forced`, sharing nothing with it.
   * Absent: every choice runs the whole history again.
   */
  copy?(history: H, forced: ReadonlyMap<number, C>): H;
}

/**
 * A deep copy of an object made of plain data (numbers, strings, arrays, maps, sets, objects; references shared
 * inside it stay shared, each object keeps its class): what a history's `copy` is made of. structuredClone's copy,
 * but a third of its time on the mvcc oracles' histories (it keeps classes too, which structuredClone drops below the
 * top); a function inside is an error, as there.
 */
export function copyData<T extends object>(x: T): T {
  const made = new Map<object, object>();
  const copy = (v: unknown): unknown => {
    if (typeof v === "function") throw new TypeError("copyData: a function is not data");
    if (typeof v !== "object" || v === null) return v;
    const done = made.get(v);
    if (done) return done;
    if (v instanceof Map) {
      const m = new Map();
      made.set(v, m);
      for (const [k, e] of v) m.set(copy(k), copy(e));
      return m;
    }
    if (v instanceof Set) {
      const s = new Set();
      made.set(v, s);
      for (const e of v) s.add(copy(e));
      return s;
    }
    if (Array.isArray(v)) {
      const a: unknown[] = [];
      made.set(v, a);
      for (const e of v) a.push(copy(e));
      return a;
    }
    const o = Object.create(Object.getPrototypeOf(v)) as Record<string, unknown>;
    made.set(v, o);
    for (const k of Object.keys(v)) o[k] = copy((v as Record<string, unknown>)[k]);
    return o;
  };
  return copy(x) as T;
}

export class Choices<Op, Obs, C, H extends History<Op, Obs>> {
  private readonly log: Op[] = [];
  private forced = new Map<number, C>();
  /** The history the engine's answers have followed so far. */
  history: H;
  /** The other answers the last op allowed, each with the history that gives it. */
  private others: { obs: Obs; forced: Map<number, C>; history: H }[] = [];
  /**
   * With `copy`: a history of the followed choices that has run the ops before `index` (forced alike in every choice
   * at `index` or later), never handed out: choices start from copies of it.
   */
  private checkpoint?: { index: number; history: H };
  /** The choice that forces nothing, as a key among the choices seen. */
  private noneKey?: string;

  constructor(private readonly rules: ChoiceRules<Op, Obs, C, H>) {
    this.history = rules.history(this.forced);
  }

  apply(op: Op): Obs | { oneOf: Obs[] } {
    const index = this.log.push(op) - 1;
    const obs = this.history.apply(op, index);
    this.others = [];
    // most ops open no choice: nothing more is made for them
    const first = this.rules.next(op, obs, this.rules.none, this.history);
    if (!first.length) return obs;
    this.noneKey ??= JSON.stringify(this.rules.none);
    const seen = new Set<string>([this.noneKey]);
    const queue: { choice: C; obs: Obs; history: H; next?: C[] }[] = [
      { choice: this.rules.none, obs, history: this.history, next: first },
    ];
    for (let q = queue.shift(); q; q = queue.shift()) {
      for (const c of q.next ?? this.rules.next(op, q.obs, q.choice, q.history)) {
        const key = JSON.stringify(c);
        if (seen.has(key)) continue;
        seen.add(key);
        const forced = new Map(this.forced).set(index, c);
        const history = this.before(index, forced);
        const alt = history.apply(op, index);
        queue.push({ choice: c, obs: alt, history });
        if (!deepEqual(alt, obs) && !this.others.some((x) => deepEqual(x.obs, alt)))
          this.others.push({ obs: alt, forced, history });
      }
    }
    return this.others.length ? { oneOf: [obs, ...this.others.map((c) => c.obs)] } : obs;
  }

  /**
   * A history with `forced` that has run the ops before `index`: a copy of the checkpoint, brought up to there first;
   * without `copy`, a fresh one that runs them all.
   */
  private before(index: number, forced: ReadonlyMap<number, C>): H {
    const run = (h: H, from: number): void => {
      for (let i = from; i < index; i++) h.apply(this.log[i]!, i);
    };
    if (!this.rules.copy) {
      const h = this.rules.history(forced);
      run(h, 0);
      return h;
    }
    this.checkpoint ??= { index: 0, history: this.rules.history(this.forced) };
    const cp = this.checkpoint;
    run(cp.history, cp.index);
    cp.index = index;
    return this.rules.copy(cp.history, forced);
  }

  /** The engine took another of the answers `apply` allowed: go on from the history that gives it. */
  chose(observed: unknown): void {
    const c = this.others.find((x) => deepEqual(x.obs, observed));
    if (c) {
      [this.forced, this.history] = [c.forced, c.history];
      // the checkpoint goes on with the choice taken (it has not run the op it was taken at)
      const cp = this.checkpoint;
      if (cp) cp.history = this.rules.copy!(cp.history, c.forced);
    }
    this.others = [];
  }
}

/** Every order of `xs`. */
export function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** The choices that run statements woken together in another order than `choice` does (if it sets none yet). */
export function otherOrders<C extends { readonly order?: readonly number[] }>(
  choice: C,
  groups: readonly number[][],
): C[] {
  if (choice.order !== undefined) return [];
  return groups.flatMap((group) =>
    permutations(group)
      .slice(1)
      .map((order) => ({ ...choice, order })),
  );
}
