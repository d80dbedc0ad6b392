// Interleavings (docs/races.md): threads of ops whose steps run interleaved. Every schedule up to a bound on
// preemptions runs, fewest preemptions first (iterative context bounding, as CHESS does), each on a fresh engine.
// The judge stays the eager oracle, each op atomic: a schedule passes if some order of the same ops (each thread's
// in program order, an op that ended before another began placed before it) gives every observation the threads
// and the epilogue made (linearizability, as Porcupine checks a history), and every invariant holds after every
// step (a step ends where the real code holds no page-table or page lock: the engine's steps are cut there).
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
  readonly epilogue: unknown[];
  readonly invariant?: { readonly property: string; readonly message: string };
}

const conflicts = (a: readonly OpLock[], b: readonly OpLock[]): boolean =>
  a.some((x) => b.some((y) => x.name === y.name && !(x.shared && y.shared)));

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
): Promise<Run> {
  const engine = await startEngine(factory, geometry);
  try {
    for (const op of program.prelude) await settle(engine.apply(op));
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
    const run: Run = { decisions: [], timeline: [], ops: program.threads.map(() => []), epilogue: [] };
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
        throw new EngineFailure("error", "the threads' ops wait for each other's locks: none can go on");
      }
      const k = run.decisions.length;
      const chosen = k < prefix.length ? prefix[k]! : enabled.includes(current) ? current : enabled[0]!;
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
  type Event = { thread: number; i: number; pre: boolean; observed: unknown; began: number; ended: number };
  const opOf = (e: Event) => program.threads[e.thread]![e.i];
  const all: Event[] = run.ops.flatMap((ops, thread) =>
    ops.flatMap((o, i) => {
      const op: Event = { ...o, thread, i, pre: false };
      return layer.precursor ? [{ ...op, pre: true }, op] : [op];
    }),
  );
  const replay = (order: readonly Event[]): Engine<unknown, unknown> | undefined => {
    const oracle = layer.oracle(geometry);
    for (const op of program.prelude) oracle.apply(op);
    for (const e of order) {
      if (e.pre) {
        const pre = layer.precursor!(opOf(e), oracle);
        if (pre !== undefined) oracle.apply(pre);
        continue;
      }
      const expected = oracle.apply(opOf(e));
      if (!allows(expected, e.observed)) return undefined;
      if (isOneOf(expected)) oracle.chose?.(e.observed);
    }
    return oracle;
  };
  const placed = (order: readonly Event[], thread: number, i: number, pre: boolean): boolean =>
    order.some((p) => p.thread === thread && p.i === i && p.pre === pre);
  const search = (order: Event[]): boolean => {
    if (order.length === all.length) {
      const oracle = replay(order);
      if (!oracle) return false;
      return program.epilogue.every((op, i) => {
        const expected = oracle.apply(op);
        const ok = allows(expected, run.epilogue[i]);
        if (ok && isOneOf(expected)) oracle.chose?.(run.epilogue[i]);
        return ok;
      });
    }
    for (const e of all) {
      if (order.includes(e)) continue;
      // program order: the thread's earlier op is placed (and an op's precursor before it); real time: every op
      // that ended before this one began is placed
      if (e.i > 0 && !placed(order, e.thread, e.i - 1, false)) continue;
      if (!e.pre && layer.precursor && !placed(order, e.thread, e.i, true)) continue;
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
  for (let b = 0; b <= bound; b++) {
    const stack: number[][] = [[]];
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
          if (preemptionsOf(tried) <= b) stack.push(next);
        }
      }
      if (seen.has(key)) continue;
      seen.add(key);
      schedules++;
      const judged = JSON.stringify([run.ops, run.epilogue]);
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
  return { status: "passed", schedules, preemptions: bound, truncated: false };
}
