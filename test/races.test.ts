// The interleaving explorer (fuzz/interleave.ts, docs/races.md) on the mm layer's race programs: the fixed model
// passes every schedule up to the bound, Dirty COW and Huge Dirty COW fail one with a single preemption and no
// sequential order, the locks keep ops apart, and the invariants are checked between steps.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type EngineFactory, InputError, type Program, resolveGeometry } from "../core/index.ts";
import { checkSchedule, interleave, minimizeProgram, pct } from "../fuzz/interleave.ts";
import { replayTrace } from "../fuzz/replay.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { loadTrace, validateTrace } from "../layers/index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry, type MmGeometry, type MmObs, type MmOp } from "../models/mm/types.ts";
import type { SnapshotGeometry } from "../models/snapshot/types.ts";

const g = defaultMmGeometry;
const race = (name: string): Program<MmOp> => mmLayer.races!(g).find((r) => r.name === name)!.program;
const factoryOf = (name: string, create: (geo: MmGeometry) => MmModel): EngineFactory => ({
  name,
  create: (geo) => create(geo as MmGeometry),
});
const model = factoryOf("model", (geo) => new MmModel(geo));
const mutant = (name: string): EngineFactory => {
  const m = mmLayer.mutants.find((x) => x.name === name)!;
  return factoryOf(name, (geo) => m.create(geo) as MmModel);
};

/** Every order of the threads' ops, each atomic, keeping each thread's program order. */
function orders<T>(threads: readonly (readonly T[])[]): T[][] {
  if (threads.every((t) => !t.length)) return [[]];
  return threads.flatMap((t, i) =>
    t.length ? orders(threads.map((u, j) => (j === i ? u.slice(1) : u))).map((rest) => [t[0]!, ...rest]) : [],
  );
}

describe("the race programs", () => {
  test("the reference model passes every schedule up to three preemptions (dirtyc0w: 4, ksm-write-during-merge: 5, huge-zero-dirty-cow: 22)", async () => {
    const counts: Record<string, number> = {};
    for (const { name, program } of mmLayer.races!(g)) {
      const r = await interleave(mmLayer, g, model, program, { preemptions: 3 });
      expect(r.failure?.message, name).toBeUndefined();
      expect(r).toMatchObject({ status: "passed", preemptions: 3, truncated: false });
      counts[name] = r.schedules;
    }
    expect(counts).toEqual({ dirtyc0w: 4, "ksm-write-during-merge": 5, "huge-zero-dirty-cow": 22 });
  });

  test("Dirty COW: the forced write's fault, the MADV_DONTNEED, then its retry, which writes the file", async () => {
    const r = await interleave(mmLayer, g, mutant("dirty-cow"), race("dirtyc0w"));
    expect(r.status).toBe("failed");
    expect(r.failure).toMatchObject({ property: "linearizability", preemptions: 1 });
    // the classic schedule: thread 0 faults (COW), thread 1 zaps, thread 0 retries as a read and writes the file
    expect(r.failure!.timeline.map((s) => [s.thread, s.label])).toEqual([
      [0, "follow_page_mask (write): no page it may use"],
      [0, "faultin_page: write fault"],
      [1, "madvise"],
      [0, "follow_page_mask (read): no page it may use"],
      [0, "faultin_page: read fault"],
      [0, "forceWrite"],
    ]);
    expect(r.failure!.epilogue).toEqual([{ data: [0x2a, 0, 0, 0] }]); // the file
  });

  test("Huge Dirty COW: the huge zero page is written through a PMD a forced read dirtied", async () => {
    const r = await interleave(mmLayer, g, mutant("huge-dirty-cow"), race("huge-zero-dirty-cow"));
    expect(r.failure).toMatchObject({ property: "linearizability", preemptions: 1 });
    expect(r.failure!.timeline.map((s) => s.thread)).toEqual([0, 0, 1, 1, 1, 0]);
    expect(r.failure!.epilogue).toEqual([{ data: [0x2a, 0, 0, 0] }]); // another range of the huge zero page
  });

  test("KSM: a write between write_protect_page and replace_page is lost without the pte_same test", async () => {
    const r = await interleave(mmLayer, g, mutant("ksm-replace-no-pte-same"), race("ksm-write-during-merge"));
    expect(r.failure).toMatchObject({ property: "linearizability", preemptions: 1 });
    // ksmd write-protects both pages, the write faults on page 0 (locked by ksmd: a copy) and stores into the copy,
    // and ksmd replaces the copy
    expect(r.failure!.timeline.map((s) => [s.thread, s.label])).toEqual([
      [0, "write_protect_page: pid 1 page 1"],
      [0, "write_protect_page: pid 1 page 0"],
      [1, "handle_mm_fault: write fault"],
      [1, "write"],
      [0, "ksmScan"],
    ]);
    expect(r.failure!.epilogue).toEqual([{ data: [1, 0, 0, 0] }, { data: [1, 0, 0, 0] }]); // the write is gone
  });

  test("run one op after another, in every order, the mutants pass the race programs: only interleavings kill them", async () => {
    for (const name of ["dirty-cow", "huge-dirty-cow", "ksm-replace-no-pte-same"]) {
      const m = mmLayer.mutants.find((x) => x.name === name)!;
      expect(m.interleaved).toBe(true);
      for (const { program } of mmLayer.races!(g))
        for (const order of orders(program.threads)) {
          const ops = [...program.prelude, ...order, ...program.epilogue];
          expect(
            await checkSequence(mmLayer, g, m.create(g), ops),
            `${name}: ${JSON.stringify(order)}`,
          ).toBeUndefined();
        }
    }
  });
});

describe("LMDB's reader registration (the snapshot layer's lmdb flavour)", () => {
  const lg = resolveGeometry(snapshotLayer, { flavour: "lmdb" }) as SnapshotGeometry;
  const its7970 = snapshotLayer.races!(lg).find((r) => r.name === "its7970")!.program;
  const snapshotFactory = (name: string): EngineFactory => {
    const m = snapshotLayer.mutants.find((x) => x.name === name);
    return {
      name,
      create: (geo) => (m ? m.create(geo as SnapshotGeometry) : snapshotLayer.model(geo as SnapshotGeometry)),
    };
  };

  test("the reference model passes every schedule of ITS#7970's race up to three preemptions (81)", async () => {
    const r = await interleave(snapshotLayer, lg, snapshotFactory("model"), its7970, { preemptions: 3 });
    expect(r).toMatchObject({ status: "passed", schedules: 81, truncated: false });
  });

  test("generated programs: the model passes 2,000 schedules' worth; they find the race without the named program (seeds 1-3, within 2,000 schedules)", async () => {
    const arbitrary = snapshotLayer.raceArbitrary!(lg, new Set(snapshotLayer.model(lg).features))!;
    const until = async (factory: EngineFactory, seed: number, budget: number) => {
      let schedules = 0;
      for (const program of fc.sample(arbitrary, { seed, numRuns: 10_000 })) {
        const r = await interleave(snapshotLayer, lg, factory, program);
        schedules += r.schedules;
        if (r.failure || schedules >= budget) return r.failure;
      }
      throw new Error("ran out of programs");
    };
    expect((await until(snapshotFactory("model"), 1, 2_000))?.message).toBeUndefined();
    for (const seed of [1, 2, 3])
      expect((await until(snapshotFactory("lmdb-reader-race"), seed * 7919, 2_000))?.property).toBe("readers-pinned");
    // the other flavours have no readers to race
    const btrfs = resolveGeometry(snapshotLayer, { flavour: "btrfs" }) as SnapshotGeometry;
    expect(snapshotLayer.raceArbitrary!(btrfs, new Set(snapshotLayer.model(btrfs).features))).toBeUndefined();
  });

  test("without the retry, a writer that committed twice while the reader registered reuses the pages it reads", async () => {
    const r = await interleave(snapshotLayer, lg, snapshotFactory("lmdb-reader-race"), its7970);
    expect(r.failure).toMatchObject({ property: "readers-pinned", kind: "invariant", preemptions: 1 });
    expect(r.failure!.timeline.map((s) => [s.thread, s.label])).toEqual([
      [0, "read the current meta: txn 2"],
      [1, "put"],
      [1, "commit"],
      [1, "put"],
      [1, "commit"],
      [1, "put"],
      [0, "published txn 2 in reader slot 0"],
      [0, "begin-read"],
    ]);
    // every order of the two threads' ops, each atomic, passes on it
    const m = snapshotLayer.mutants.find((x) => x.name === "lmdb-reader-race")!;
    expect(m.interleaved).toBe(true);
    for (const order of orders(its7970.threads)) {
      const ops = [...its7970.prelude, ...order, ...its7970.epilogue];
      expect(await checkSequence(snapshotLayer, lg, m.create(lg), ops), JSON.stringify(order)).toBeUndefined();
    }
  });
});

describe("generated race programs", () => {
  const features = new Set(new MmModel(g).features);
  /** Generated programs explored until one fails or `budget` schedules have run: the programs and schedules spent. */
  async function until(factory: EngineFactory, seed: number, budget: number) {
    let schedules = 0;
    let programs = 0;
    for (const program of fc.sample(mmLayer.raceArbitrary!(g, features)!, { seed, numRuns: 10_000 })) {
      programs++;
      const r = await interleave(mmLayer, g, factory, program);
      schedules += r.schedules;
      if (r.failure || schedules >= budget) return { programs, schedules, failure: r.failure };
    }
    throw new Error("ran out of programs");
  }

  test("the reference model passes every schedule of 2,000 schedules' worth of them", async () => {
    const r = await until(model, 1, 2_000);
    expect(r.failure?.message).toBeUndefined();
    expect(r.programs).toBeGreaterThan(100);
  });

  test("they find Dirty COW and the KSM race without the race corpus (seeds 1-3, within 2,000 schedules)", async () => {
    for (const name of ["dirty-cow", "ksm-replace-no-pte-same"])
      for (const seed of [1, 2, 3]) {
        const r = await until(mutant(name), seed * 7919, 2_000);
        expect(r.failure?.property, `${name}, seed ${seed}`).toBe("linearizability");
      }
  });

  test("a forced write is two events to the judge: its fault's copy-on-write break, then the store", async () => {
    // thread 0's fault copies the file's page; thread 1 writes the file and reads the copy, still without the byte
    const program: Program<MmOp> = {
      prelude: [{ op: "spawn" }, { op: "mmap", pid: 1, page: 0, pages: 1, prot: "r", shared: false, file: 0 }],
      threads: [
        [{ op: "forceWrite", pid: 1, page: 0, cell: 0, value: 9 }],
        [
          { op: "fileWrite", file: 0, page: 0, cell: 1, value: 5 },
          { op: "read", pid: 1, page: 0 },
        ],
      ],
      epilogue: [{ op: "read", pid: 1, page: 0 }],
    };
    expect(await interleave(mmLayer, g, model, program)).toMatchObject({ status: "passed" });
    // judged with each op one atomic event, the read of the copy before its byte has no order that explains it
    const atomic = await interleave({ ...mmLayer, precursor: undefined }, g, model, program);
    expect(atomic.failure?.property).toBe("linearizability");
    expect(atomic.failure!.timeline.map((s) => s.thread)).toEqual([0, 0, 1, 1, 0]);
  });
});

describe("the explorer", () => {
  const forced: MmOp = { op: "forceWrite", pid: 1, page: 0, cell: 0, value: 7 };
  const prelude: MmOp[] = [
    { op: "spawn" },
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 1, prot: "r", shared: false, file: 0 },
  ];

  test("an op that takes a lock another op holds across its steps waits: munmap never runs inside a forced write", async () => {
    const unmap: MmOp = { op: "munmap", pid: 1, page: 0, pages: 1 };
    const same = await interleave(mmLayer, g, model, { prelude, threads: [[forced], [unmap]], epilogue: [] });
    expect(same).toMatchObject({ status: "passed", schedules: 2 }); // before it or after it
    // another process's munmap takes another mmap_lock: it may run between any two steps
    const other = await interleave(mmLayer, g, model, {
      prelude: [...prelude, { op: "mmap", pid: 2, page: 0, pages: 1, prot: "r", shared: false }],
      threads: [[forced], [{ op: "munmap", pid: 2, page: 0, pages: 1 }]],
      epilogue: [],
    });
    expect(other).toMatchObject({ status: "passed", schedules: 4 });
  });

  test("the invariants are checked after every step, not only after every op", async () => {
    // a model whose forced write breaks a frame's count in its middle step and mends it in its last
    class BrokenBetween extends MmModel {
      protected override *forcedSteps(...args: Parameters<MmModel["forcedSteps"]>): Generator<string, MmObs> {
        const run = super.forcedSteps(...args);
        let r = run.next();
        for (let k = 0; !r.done; k++) {
          const frame = [...this.frames.values()].find((f) => !f.zero && f.anon);
          if (k === 1 && frame) frame.refcount += 5;
          yield r.value;
          if (k === 1 && frame) frame.refcount -= 5;
          r = run.next();
        }
        return r.value;
      }
    }
    const broken = factoryOf("broken-between", (geo) => new BrokenBetween(geo));
    const program = { prelude, threads: [[forced]], epilogue: [] };
    // run as one op, nothing is wrong
    expect(await checkSequence(mmLayer, g, new BrokenBetween(g), [...prelude, forced])).toBeUndefined();
    const r = await interleave(mmLayer, g, broken, program);
    expect(r.failure).toMatchObject({ kind: "invariant" });
    expect(r.failure!.timeline.map((s) => s.label)).toEqual([
      "follow_page_mask (write): no page it may use",
      "faultin_page: write fault",
    ]);
  });

  test("PCT reaches past the exhaustive bound: with no preemption allowed, its random priorities still find Dirty COW", async () => {
    const exhaustive = await interleave(mmLayer, g, mutant("dirty-cow"), race("dirtyc0w"), { preemptions: 0 });
    expect(exhaustive).toMatchObject({ status: "passed", schedules: 2 }); // each thread whole, in either order
    const r = await interleave(mmLayer, g, mutant("dirty-cow"), race("dirtyc0w"), {
      preemptions: 0,
      pct: { runs: 50, depth: 2, seed: 1 },
    });
    expect(r.failure).toMatchObject({ property: "linearizability", preemptions: 1 });
    // and the reference model passes PCT's schedules of depth 3
    const clean = await pct(mmLayer, g, model, race("huge-zero-dirty-cow"), { runs: 50, depth: 3, seed: 1 });
    expect(clean.status).toBe("passed");
    expect(clean.schedules).toBeGreaterThan(3);
  });

  test("the prelude's observations are judged too: a wrong answer before the threads start fails the schedule", async () => {
    const program: Program<MmOp> = {
      prelude: [
        { op: "spawn" },
        { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
        { op: "madvise", pid: 1, page: 0, pages: 1, advice: "wipeonfork" },
        { op: "write", pid: 1, page: 0, cell: 0, value: 7 },
        { op: "fork", pid: 1 },
        { op: "read", pid: 2, page: 0 }, // zeros: the child's copy was wiped
      ],
      threads: [[{ op: "read", pid: 1, page: 0 }]],
      epilogue: [],
    };
    expect(await interleave(mmLayer, g, model, program)).toMatchObject({ status: "passed" });
    const r = await interleave(mmLayer, g, mutant("wipeonfork-ignored"), program);
    expect(r.failure?.property).toBe("linearizability");
  });

  test("a schedule limit stops the exploration and says so", async () => {
    const r = await interleave(mmLayer, g, model, race("huge-zero-dirty-cow"), { preemptions: 3, limit: 5 });
    expect(r).toMatchObject({ status: "passed", schedules: 5, truncated: true });
  });
});

describe("a failing interleaving as a trace", () => {
  test("the recorded races replay their schedule: the mutant fails it, the reference model passes", async () => {
    for (const [file, name, property] of [
      ["mm/races/dirty-cow", "dirty-cow", "linearizability"],
      ["mm/races/huge-dirty-cow", "huge-dirty-cow", "linearizability"],
      ["mm/races/ksm-replace-no-pte-same", "ksm-replace-no-pte-same", "linearizability"],
      ["snapshot/races/lmdb-reader-race", "lmdb-reader-race", "readers-pinned"],
    ]) {
      const { layer, trace } = loadTrace(`traces/${file}.trace.json`);
      expect(trace.interleaving!.threads.length).toBe(2);
      const m = layer.mutants.find((x) => x.name === name)!;
      const of = (create: (geo: never) => unknown): EngineFactory => ({
        name,
        create: (geo) => create(geo as never) as never,
      });
      expect(
        (
          await replayTrace(
            layer,
            trace,
            of((geo) => m.create(geo)),
          )
        )?.property,
      ).toBe(property);
      expect(
        await replayTrace(
          layer,
          trace,
          of((geo) => layer.model(geo)),
        ),
      ).toBeUndefined();
    }
  });

  test("a schedule the program cannot take is bad input, naming the step", async () => {
    const program = race("dirtyc0w");
    // thread 1's one op ends in one step: a second step of it cannot be
    await expect(checkSchedule(mmLayer, g, model, program, [1, 1, 0])).rejects.toThrow(
      /interleaving.schedule\[1\]: thread 1 cannot run then/,
    );
    await expect(checkSchedule(mmLayer, g, model, program, [0, 0, 0, 1, 1])).rejects.toBeInstanceOf(InputError);
    // and a schedule that names no thread the trace has is refused when the trace is read
    const { trace } = loadTrace("traces/mm/races/dirty-cow.trace.json");
    const bad = { ...trace, interleaving: { ...trace.interleaving!, schedule: [0, 2] } };
    expect(() => validateTrace(bad, "t.json")).toThrow(/interleaving.schedule\[1\]: thread 2 of 2/);
  });

  test("minimizing a program leaves the ops the failure needs: the dirtyc0w race, from one with ops it does not need", async () => {
    const classic = race("dirtyc0w");
    const padded: Program<MmOp> = {
      prelude: [...classic.prelude, { op: "spawn" }, { op: "read", pid: 1, page: 0 }],
      threads: [
        [{ op: "read", pid: 2, page: 3 }, ...classic.threads[0]!],
        [...classic.threads[1]!, { op: "fileRead", file: 1, page: 0 }],
        [{ op: "ksmScan" }],
      ],
      epilogue: [{ op: "read", pid: 1, page: 0 }, ...classic.epilogue],
    };
    const { program, result } = await minimizeProgram(mmLayer, g, mutant("dirty-cow"), padded, "linearizability");
    expect(result.failure?.property).toBe("linearizability");
    expect(program).toEqual(classic);
  });
});
