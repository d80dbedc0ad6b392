// Interleavings (docs/races.md): threads of ops whose steps run interleaved. Every schedule up to a bound on
// preemptions runs, fewest preemptions first (iterative context bounding, as CHESS does), each on a fresh engine.
// The judge stays the eager oracle, each op atomic: a schedule passes if some order of the same ops (each thread's
// in program order, an op that ended before another began placed before it) gives every observation the threads
// and the epilogue made (linearizability, as Porcupine checks a history), and every invariant holds after every
// step (a step ends where the real code holds no page-table or page lock: the engine's steps are cut there).

import seedrandom from "seedrandom";
import {
  type AnyLayer,
  allows,
  type Checker,
  type Engine,
  type EngineFactory,
  EngineFailure,
  InputError,
  isOneOf,
  isPromise,
  type OpLock,
  type Program,
  type PropertyKind,
} from "../core/index.ts";
import { startEngine } from "./runner.ts";

/** One step of a schedule: the thread that ran, which of its ops, what the step did, and the op's answer at its end. */
export interface TimelineStep {
  readonly thread: number;
  readonly op: number;
  readonly label: string;
  /** The op's observation, on its last step. */
  readonly observed?: unknown;
}

export interface InterleaveOptions {
  /** The most preemptions (a switch away from a thread that could have gone on) a schedule may have; default 2. */
  readonly preemptions?: number;
  /** The most schedules to run (over every bound); default 100,000. */
  readonly limit?: number;
  /** Then this many PCT runs of this depth (random schedules with priorities, beyond the bound); default none. */
  readonly pct?: { readonly runs: number; readonly depth: number; readonly seed: number };
}

export interface InterleaveFailure {
  readonly property: string;
  readonly kind: PropertyKind;
  readonly message: string;
  /** The schedule's steps in the order they ran. */
  readonly timeline: readonly TimelineStep[];
  /** The thread that ran each step: what `checkSchedule` (and a trace's `interleaving.schedule`) replays. */
  readonly schedule: readonly number[];
  readonly preemptions: number;
  /** What the epilogue's ops observed. */
  readonly epilogue: readonly unknown[];
}

export interface InterleaveResult {
  readonly status: "passed" | "failed";
  /** Schedules run (distinct interleavings). */
  readonly schedules: number;
  /** The bound the schedules reached: every schedule with at most this many preemptions ran. */
  readonly preemptions: number;
  /** The limit stopped it before the bound was done. */
  readonly truncated: boolean;
  readonly failure?: InterleaveFailure;
}

/** A schedule as it ran: its decisions (the threads that could go, the one that went) and what it observed. */
interface Run {
  readonly decisions: { readonly enabled: readonly number[]; readonly chosen: number }[];
  readonly timeline: TimelineStep[];
  /** Per thread, per op: the observation, and the steps at which the op began and ended. */
  readonly ops: { readonly observed: unknown; readonly began: number; readonly ended: number }[][];
  /** What the prelude's and the epilogue's ops observed. */
  readonly prelude: unknown[];
  readonly epilogue: unknown[];
  readonly invariant?: { readonly property: string; readonly message: string };
}

/** Whether two names a lock: equal, or one ending in `*` (a family, as every mm's mmap_lock) names the other. */
const names = (x: string, y: string): boolean =>
  x === y || (x.endsWith("*") && y.startsWith(x.slice(0, -1))) || (y.endsWith("*") && x.startsWith(y.slice(0, -1)));
const conflicts = (a: readonly OpLock[], b: readonly OpLock[]): boolean =>
  a.some((x) => b.some((y) => names(x.name, y.name) && !(x.shared && y.shared)));

const preemptionsOf = (run: Pick<Run, "decisions">, upTo = run.decisions.length): number => {
  let n = 0;
  for (let k = 1; k < upTo; k++) {
    const prev = run.decisions[k - 1]!.chosen;
    const d = run.decisions[k]!;
    if (d.chosen !== prev && d.enabled.includes(prev)) n++;
  }
  return n;
};

async function settle(v: unknown): Promise<unknown> {
  return isPromise(v) ? await v : v;
}

/**
 * Run one schedule: the decisions in `prefix` first, then the running thread goes on while it can (the lowest
 * thread that can go, when it cannot).
 */
async function runSchedule(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  program: Program,
  prefix: readonly number[],
  given = false,
  /** Past the prefix: the thread to run, of those that can (default: the running one while it can, else the lowest). */
  pick?: (enabled: readonly number[], current: number) => number,
): Promise<Run> {
  const engine = await startEngine(factory, geometry);
  try {
    const prelude: unknown[] = [];
    for (const op of program.prelude) prelude.push(await settle(engine.apply(op)));
    const inspect = engine.inspect && engine.features.has("inspect") ? engine.inspect.bind(engine) : undefined;
    let checkers: { name: string; checker: Checker<unknown, unknown, unknown> }[] = [];
    if (inspect) {
      const initial = await settle(inspect());
      checkers = layer.properties
        .filter((p) => p.kind === "invariant" && (p.appliesTo?.(geometry) ?? true))
        .map((p) => ({ name: p.name, checker: p.start(initial) }));
    }
    const locks = (op: unknown): readonly OpLock[] => layer.locks?.(op) ?? [];
    const threads = program.threads.map((ops) => ({
      ops,
      next: 0,
      step: undefined as Iterator<string, unknown> | undefined,
      began: 0,
    }));
    const run: Run = { decisions: [], timeline: [], ops: program.threads.map(() => []), prelude, epilogue: [] };
    let current = -1;
    for (;;) {
      const held = threads.map((t) => (t.step ? locks(t.ops[t.next]) : []));
      const enabled: number[] = [];
      threads.forEach((t, i) => {
        if (t.next >= t.ops.length) return;
        if (t.step || !held.some((h, j) => j !== i && conflicts(h, locks(t.ops[t.next])))) enabled.push(i);
      });
      if (!enabled.length) {
        if (threads.every((t) => t.next >= t.ops.length)) break;
        throw new Error("interleave: no thread can go on, though one has ops left (a thread mid-op always can)");
      }
      const k = run.decisions.length;
      const chosen =
        k < prefix.length
          ? prefix[k]!
          : pick
            ? pick(enabled, current)
            : enabled.includes(current)
              ? current
              : enabled[0]!;
      if (!enabled.includes(chosen)) {
        // a schedule given to replay that the program cannot take is bad input; one the explorer took, a flake
        if (given)
          throw new InputError(
            `interleaving.schedule[${k}]: thread ${chosen} cannot run then (the threads that can: ${enabled.join(", ")})`,
          );
        throw new EngineFailure("nondeterministic", `a schedule ran differently when repeated (step ${k})`);
      }
      run.decisions.push({ enabled, chosen });
      current = chosen;
      const t = threads[chosen]!;
      const op = t.ops[t.next];
      if (!t.step) t.began = k;
      let r: IteratorResult<string, unknown>;
      if (engine.steps) {
        t.step ??= engine.steps(op);
        r = t.step.next();
      } else r = { done: true, value: await settle(engine.apply(op)) }; // one step
      if (r.done) {
        run.timeline.push({ thread: chosen, op: t.next, label: (op as { op?: string }).op ?? "op", observed: r.value });
        run.ops[chosen]!.push({ observed: r.value, began: t.began, ended: k });
        t.step = undefined;
        t.next++;
      } else run.timeline.push({ thread: chosen, op: t.next, label: r.value });
      if (inspect && checkers.length) {
        const state = await settle(inspect());
        for (const c of checkers) {
          const v = c.checker.after(op, r.done ? r.value : undefined, state, true);
          if (v !== undefined)
            return typeof v === "string"
              ? { ...run, invariant: { property: c.name, message: v } }
              : { ...run, invariant: v };
        }
      }
    }
    for (const op of program.epilogue) run.epilogue.push(await settle(engine.apply(op)));
    return run;
  } finally {
    await engine.close?.();
  }
}

/**
 * Whether some order of the threads' ops explains the run (see the header): a search over the orders that keep
 * each thread's program order and real time, an oracle replaying each candidate prefix from the prelude. An op
 * whose layer names a precursor (what of it takes effect before it does: a forced write's copy-on-write break) is
 * two events, the precursor placed anywhere from the op's start to the op itself.
 */
function linearizable(layer: AnyLayer, geometry: unknown, program: Program, run: Run): boolean {
  type Event = {
    thread: number;
    i: number;
    pre?: (oracle: Engine<unknown, unknown>) => unknown;
    observed: unknown;
    began: number;
    ended: number;
  };
  const opOf = (e: Event) => program.threads[e.thread]![e.i];
  const all: Event[] = run.ops.flatMap((ops, thread) =>
    ops.flatMap((o, i) => {
      const op: Event = { ...o, thread, i };
      const pre = layer.precursor?.(program.threads[thread]![i]);
      return pre ? [{ ...op, pre }, op] : [op];
    }),
  );
  const hasPre = new Set(all.filter((e) => e.pre).map((e) => `${e.thread}/${e.i}`));
  /** The oracle after the prelude and `order`, each answer allowing what was observed (and the epilogue's, `whole`). */
  const replay = (order: readonly Event[], whole = false): Engine<unknown, unknown> | undefined => {
    const oracle = layer.oracle(geometry);
    const check = (op: unknown, observed: unknown): boolean => {
      const expected = oracle.apply(op);
      if (!allows(expected, observed)) return false;
      if (isOneOf(expected)) oracle.chose?.(observed);
      return true;
    };
    // the prelude's observations are judged too (its ops run one by one before the threads)
    if (!program.prelude.every((op, i) => check(op, run.prelude[i]))) return undefined;
    for (const e of order) {
      if (e.pre) {
        const pre = e.pre(oracle);
        if (pre !== undefined) oracle.apply(pre);
        continue;
      }
      if (!check(opOf(e), e.observed)) return undefined;
    }
    if (whole && !program.epilogue.every((op, i) => check(op, run.epilogue[i]))) return undefined;
    return oracle;
  };
  const placed = (order: readonly Event[], thread: number, i: number, pre: boolean): boolean =>
    order.some((p) => p.thread === thread && p.i === i && !!p.pre === pre);
  const search = (order: Event[]): boolean => {
    if (order.length === all.length) return replay(order, true) !== undefined;
    for (const e of all) {
      if (order.includes(e)) continue;
      // program order: the thread's earlier op is placed (and an op's precursor before it); real time: every op
      // that ended before this one began is placed
      if (e.i > 0 && !placed(order, e.thread, e.i - 1, false)) continue;
      if (!e.pre && hasPre.has(`${e.thread}/${e.i}`) && !placed(order, e.thread, e.i, true)) continue;
      if (all.some((p) => !p.pre && p.ended < e.began && !order.includes(p))) continue;
      const next = [...order, e];
      if (replay(next) && search(next)) return true;
    }
    return false;
  };
  return search([]);
}

const NOT_LINEARIZABLE =
  "no order of the threads' ops, each atomic, gives these observations (the eager oracle's answers in every order each thread's program order and real time allow)";

/** A run's failure: an invariant broken after a step, or (not `linearizable`) observations no order explains. */
function verdictOf(
  run: Run,
  linearizable: boolean,
): { property: string; kind: PropertyKind; message: string } | undefined {
  if (run.invariant) return { ...run.invariant, kind: "invariant" };
  if (!linearizable) return { property: "linearizability", kind: "equivalence", message: NOT_LINEARIZABLE };
  return undefined;
}

/**
 * One schedule of the program, as `schedule` (the thread of each step) says, judged as `interleave` judges: what a
 * trace's `interleaving` replays. The factory is borrowed.
 */
export async function checkSchedule(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  program: Program,
  schedule: readonly number[],
): Promise<{ timeline: readonly TimelineStep[]; epilogue: readonly unknown[]; failure?: InterleaveFailure }> {
  const run = await runSchedule(layer, geometry, factory, program, schedule, true);
  if (run.decisions.length < schedule.length && !run.invariant)
    throw new InputError(
      `interleaving.schedule: ${schedule.length} steps, but the program's threads ended after ${run.decisions.length}`,
    );
  const f = verdictOf(run, run.invariant ? true : linearizable(layer, geometry, program, run));
  const ran = run.decisions.map((d) => d.chosen);
  return {
    timeline: run.timeline,
    epilogue: run.epilogue,
    failure: f && {
      ...f,
      timeline: run.timeline,
      schedule: ran,
      preemptions: preemptionsOf(run),
      epilogue: run.epilogue,
    },
  };
}

/**
 * A 1-minimal program that still fails `interleave` by the same property: one op at a time is left out (of the
 * prelude, a thread, the epilogue) while the failure stays; a thread left without ops goes. The factory is borrowed.
 */
export async function minimizeProgram(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  program: Program,
  property: string,
  options: InterleaveOptions = {},
): Promise<{ program: Program; result: InterleaveResult }> {
  let best = program;
  let result = await interleave(layer, geometry, factory, program, options);
  const parts = (p: Program): (readonly unknown[])[] => [p.prelude, ...p.threads, p.epilogue];
  const without = (p: Program, part: number, i: number): Program => {
    const all = parts(p).map((ops, k) => (k === part ? ops.filter((_, j) => j !== i) : ops));
    const threads = all.slice(1, -1).filter((t) => t.length);
    return { prelude: all[0]!, threads, epilogue: all.at(-1)! };
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let part = 0; part < parts(best).length && !changed; part++)
      for (let i = parts(best)[part]!.length - 1; i >= 0 && !changed; i--) {
        const candidate = without(best, part, i);
        if (!candidate.threads.length) continue;
        let r: InterleaveResult;
        try {
          r = await interleave(layer, geometry, factory, candidate, options);
        } catch (e) {
          if (e instanceof EngineFailure) continue; // not this failure
          throw e;
        }
        if (r.failure?.property !== property) continue;
        [best, result, changed] = [candidate, r, true];
      }
  }
  return { program: best, result };
}

/**
 * Every schedule of the program with at most `preemptions` preemptions, fewest first: the first that fails is
 * returned. The factory is borrowed.
 */
export async function interleave(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  program: Program,
  options: InterleaveOptions = {},
): Promise<InterleaveResult> {
  if (!program.threads.length) throw new InputError("an interleaving needs at least one thread");
  const bound = options.preemptions ?? 2;
  const limit = options.limit ?? 100_000;
  const seen = new Set<string>();
  const verdicts = new Map<string, boolean>();
  let schedules = 0;
  // each prefix is run once, in the round of its preemptions (a branch has at least its parent's): so every
  // schedule runs once, those with fewer preemptions first (CHESS's iterative context bounding, without re-runs)
  const rounds: number[][][] = Array.from({ length: bound + 1 }, () => []);
  rounds[0]!.push([]);
  for (let b = 0; b <= bound; b++) {
    const stack = rounds[b]!;
    while (stack.length) {
      const prefix = stack.pop()!;
      const run = await runSchedule(layer, geometry, factory, program, prefix);
      const chosen = run.decisions.map((d) => d.chosen);
      const key = chosen.join(",");
      const preemptions = preemptionsOf(run);
      // a schedule cut short by an invariant has fewer decisions: its alternatives further on are never reached
      for (let k = run.decisions.length - 1; k >= prefix.length; k--) {
        for (const alt of run.decisions[k]!.enabled) {
          if (alt === chosen[k]) continue;
          const next = [...chosen.slice(0, k), alt];
          const tried = { decisions: next.map((c, i) => ({ chosen: c, enabled: run.decisions[i]!.enabled })) };
          const p = preemptionsOf(tried);
          if (p <= bound) rounds[Math.max(p, b)]!.push(next);
        }
      }
      if (seen.has(key)) continue;
      seen.add(key);
      schedules++;
      const judged = JSON.stringify([run.prelude, run.ops, run.epilogue]);
      let ok = run.invariant ? true : verdicts.get(judged);
      if (ok === undefined) {
        ok = linearizable(layer, geometry, program, run);
        verdicts.set(judged, ok);
      }
      const failure = verdictOf(run, ok);
      if (failure)
        return {
          status: "failed",
          schedules,
          preemptions: b,
          truncated: false,
          failure: { ...failure, timeline: run.timeline, schedule: chosen, preemptions, epilogue: run.epilogue },
        };
      if (schedules >= limit) return { status: "passed", schedules, preemptions: b, truncated: true };
    }
  }
  if (!options.pct) return { status: "passed", schedules, preemptions: bound, truncated: false };
  const r = await pct(layer, geometry, factory, program, options.pct, seen);
  return { ...r, schedules: schedules + r.schedules, preemptions: bound };
}

/**
 * PCT (Burckhardt, Kothari, Musuvathi and Nagarakatte, ASPLOS 2010), for what lies beyond the exhaustive bound: each
 * run gives the threads random distinct priorities and picks `depth - 1` steps at which the running thread drops
 * below every other; the highest-priority thread that can go always goes. One run finds a bug of that depth with
 * probability at least 1/(n·k^(depth-1)) for n threads and k steps. Schedules already in `seen` are not judged again.
 */
export async function pct(
  layer: AnyLayer,
  geometry: unknown,
  factory: EngineFactory,
  program: Program,
  options: { readonly runs: number; readonly depth: number; readonly seed: number },
  seen = new Set<string>(),
): Promise<InterleaveResult> {
  const random = seedrandom(`cowcheck pct ${options.seed}`);
  const n = program.threads.length;
  let steps = (await runSchedule(layer, geometry, factory, program, [])).decisions.length;
  let schedules = 0;
  for (let i = 0; i < options.runs; i++) {
    // priorities depth … depth+n-1, shuffled; change point j (1 … depth-1) lowers the running thread to depth - j
    const priority = Array.from({ length: n }, (_, t) => options.depth + t);
    for (let t = n - 1; t > 0; t--) {
      const u = Math.floor(random() * (t + 1));
      [priority[t], priority[u]] = [priority[u]!, priority[t]!];
    }
    const changes = new Map<number, number>();
    for (let j = 1; j < options.depth; j++) changes.set(Math.floor(random() * Math.max(1, steps)), options.depth - j);
    let k = 0;
    const pick = (enabled: readonly number[], current: number): number => {
      const lower = changes.get(k++);
      if (lower !== undefined && current >= 0) priority[current] = lower;
      return enabled.reduce((best, t) => (priority[t]! > priority[best]! ? t : best));
    };
    const run = await runSchedule(layer, geometry, factory, program, [], false, pick);
    steps = Math.max(steps, run.decisions.length);
    const chosen = run.decisions.map((d) => d.chosen);
    const key = chosen.join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    schedules++;
    const failure = verdictOf(run, run.invariant ? true : linearizable(layer, geometry, program, run));
    if (failure)
      return {
        status: "failed",
        schedules,
        preemptions: preemptionsOf(run),
        truncated: false,
        failure: {
          ...failure,
          timeline: run.timeline,
          schedule: chosen,
          preemptions: preemptionsOf(run),
          epilogue: run.epilogue,
        },
      };
  }
  return { status: "passed", schedules, preemptions: 0, truncated: false };
}
