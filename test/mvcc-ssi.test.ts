// SSI's structure as an invariant of the mvcc layer (properties/mvcc/ssi.ts): the rw-conflicts the model's
// SERIALIZABLE records, written out by hand for histories whose edges are known; the model over generated
// serializable-heavy sequences (fixed seed); and models with an edge dropped, which the invariant kills.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Named } from "../core/index.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import { MvccModel } from "../models/mvcc/model.ts";
import { mvccMutants } from "../models/mvcc/mutants/index.ts";
import { Ssi, type SsiHeap, type Sxact } from "../models/mvcc/ssi.ts";
import { decodeMvccState } from "../models/mvcc/state.ts";
import type { MvccGeometry, MvccOp, MvccState } from "../models/mvcc/types.ts";
import { mvccSsi } from "../properties/mvcc/ssi.ts";
import { campaignOn } from "./helpers.ts";

const g: MvccGeometry = { keys: 4, txs: 3 };
const setup: MvccOp[] = [
  { op: "insert", tx: 9, key: 1, value: 10 },
  { op: "insert", tx: 9, key: 2, value: 20 },
]; // autocommit

/**
 * Short forms: "b1s" BEGIN SERIALIZABLE on client 1 ("b1so" … READ ONLY, "b1r" REPEATABLE READ), "r1.2" read key 2,
 * "i1.2=3" insert, "u1.2=0" update, "d1.2" delete, "c1" commit, "a1" rollback; a statement with no BEGIN before it
 * is autocommit.
 */
function ops(text: string): MvccOp[] {
  return text.split(" ").map((w): MvccOp => {
    const tx = Number(w[1]);
    const key = Number(w.slice(3).split("=")[0]);
    const value = Number(w.split("=")[1]);
    switch (w[0]) {
      case "b":
        return {
          op: "begin",
          tx,
          level: ({ s: "ser", r: "rr", c: "rc" } as const)[w[2] as "s"],
          ...(w[3] === "o" ? { readOnly: true as const } : {}),
        };
      case "r":
        return { op: "read", tx, key };
      case "i":
        return { op: "insert", tx, key, value };
      case "u":
        return { op: "update", tx, key, value };
      case "d":
        return { op: "delete", tx, key };
      case "a":
        return { op: "abort", tx };
      default:
        return { op: "commit", tx };
    }
  });
}

/** The recorded rw-conflicts as "reader>writer" by client (each hand history runs one transaction per client at a time). */
function edges(s: MvccState): string {
  const client = new Map((s.ssi?.sxacts ?? []).map((x) => [x.id, x.tx]));
  return (s.ssi?.sxacts ?? [])
    .flatMap((x) => x.outConflicts.map((w) => `${x.tx}>${client.get(w)}`))
    .sort()
    .join(" ");
}

/** Run a history on a model with the invariant checked after every op: what it reports, and what each op left. */
function run(model: MvccModel, history: readonly MvccOp[], keep = false) {
  for (const op of setup) model.apply(op);
  const checker = mvccSsi.start(model.inspect());
  const after: { obs: unknown; edges: string; state?: MvccState }[] = [];
  for (const [i, op] of history.entries()) {
    const obs = model.apply(op);
    const state = model.inspect();
    const r = checker.after(op, obs, state, false) as Named | undefined;
    if (r) return { failure: { index: i, ...r }, after };
    after.push({ obs, edges: edges(state), ...(keep ? { state: structuredClone(state) } : {}) });
  }
  return { failure: undefined, after };
}

describe("hand-made histories: the recorded rw-conflicts after each op, and the invariant holds", () => {
  // each step: op, the rw-conflicts recorded after it (reader>writer by client), and its answer where it matters
  const histories: [string, [string, string, unknown?][]][] = [
    [
      "write skew: two edges, one each way; the first COMMIT dooms the pivot, whose failure takes them both",
      [
        ["b1s", ""],
        ["b2s", ""],
        ["r1.1", ""],
        ["r2.2", ""],
        ["u1.2=0", "2>1"], // conflict in: 2 holds the SIREAD lock on t
        ["u2.1=0", "1>2 2>1"], // conflict out (2 passes 1's versions) already recorded; conflict in from 1's lock
        ["c1", "1>2 2>1"], // 2 is a pivot into the committer: doomed; edges with an active reader stay
        ["c2", "", { error: "40001" }],
      ],
    ],
    [
      "conflict out only: a read passes a concurrent transaction's uncommitted insert",
      [
        ["b1s", ""],
        ["i1.3=30", ""], // an insert takes no SIREAD lock (no scan), and nobody holds one yet
        ["b2s", ""],
        ["r2.1", "2>1"], // HEAPTUPLE_INSERT_IN_PROGRESS by 1, concurrent
        ["c1", "2>1"], // the reader is active and not READ ONLY: the conflict in stays
        ["c2", ""], // both committed: released (ReleasePredicateLocks)
      ],
    ],
    [
      "read-only anomaly: the READ ONLY reader of a pivot whose out-conflict committed before its snapshot dooms it",
      [
        ["b1s", ""],
        ["b2so", ""],
        ["b3s", ""],
        ["r3.1", ""],
        ["i1.3=50", "3>1"], // conflict in: 3 holds the SIREAD lock
        ["c1", "3>1"],
        ["i3.4=1", "3>1"],
        ["r2.1", "2>3 3>1"], // conflict out to 3's insert: 2 → 3 → 1, 1 committed before 2's snapshot: 3 doomed
        ["c3", "", { error: "40001" }],
        ["c2", "", { ok: true }],
      ],
    ],
    [
      "a reader of a version committed before its snapshot: no edge to its writer, nor from the writer's lock",
      [
        ["b3s", ""],
        ["r3.2", ""], // 3 keeps the oldest snapshot, so committed 1 stays a partner
        ["b1s", ""],
        ["u1.1=11", "3>1"],
        ["c1", "3>1"],
        ["b2s", "3>1"],
        ["r2.1", "3>1"], // 1's old version is dead to 2's snapshot, its new one visible: no conflict
        ["u2.2=0", "3>1 3>2"], // 1's lock: it finished before 2's snapshot xmin, so no conflict in from it
        ["c2", "3>1 3>2"],
        ["c3", ""],
      ],
    ],
    [
      "a committed reader stays a partner of a writer whose snapshot it overlapped",
      [
        ["b1s", ""],
        ["r1.1", ""],
        ["b2s", ""],
        ["r2.2", ""],
        ["i3.4=40", ""], // autocommit: an xid committed while both run
        ["c1", ""], // 1 committed read only, finishedBefore after that xid
        ["u2.1=5", "1>2"], // conflict in from committed 1's lock (2's snapshot xmin precedes 1's finish)
        ["c2", ""], // a conflict in from a committed reader is released at commit
      ],
    ],
    [
      "a rolled-back transaction's edges go at once",
      [
        ["b1s", ""],
        ["b2s", ""],
        ["r1.1", ""],
        ["r2.2", ""],
        ["u1.2=0", "2>1"],
        ["a1", ""],
      ],
    ],
  ];
  test.each(histories)("%s", (_, steps) => {
    const { failure, after } = run(new MvccModel(g), ops(steps.map(([w]) => w).join(" ")));
    expect(failure).toBeUndefined();
    for (const [i, [w, want, obs]] of steps.entries()) {
      expect(after[i]!.edges, `after ${w}`).toBe(want);
      if (obs !== undefined) expect(after[i]!.obs, `answer to ${w}`).toEqual(obs);
    }
  });

  test("the write skew's pivot is doomed, committed partners carry their commit order, SIREAD locks are relation-level", () => {
    const { after } = run(new MvccModel(g), ops("b1s b2s r1.1 r2.2 u1.2=0 u2.1=0 c1"), true);
    const [one, two] = after.at(-1)!.state!.ssi!.sxacts;
    expect(one).toMatchObject({ tx: 1, commitSeqNo: 2, doomed: false, locks: [{ target: "relation" }] });
    expect(two).toMatchObject({ tx: 2, doomed: true, inConflicts: [one!.id], outConflicts: [one!.id] });
    expect(two!.commitSeqNo).toBeUndefined();
  });
});

describe("READ ONLY safe snapshots (RO_SAFE)", () => {
  const txsOf = (s: MvccState) => (s.ssi?.sxacts ?? []).map((x) => x.tx);
  test("once every read-write transaction beside it ends safely, the next statement releases it", () => {
    const { failure, after } = run(new MvccModel(g), ops("b1s r1.1 b2so r2.1 c1 r2.2 u3.1=5"), true);
    expect(failure).toBeUndefined();
    expect(txsOf(after[3]!.state!)).toEqual([1, 2]); // 2 registered beside 1 (its possible unsafe conflict)
    // 1 committed without writing: 2's snapshot is safe, but 2 stays until its next statement (and keeps 1 kept)
    expect(txsOf(after[4]!.state!)).toEqual([1, 2]);
    expect(txsOf(after[5]!.state!)).toEqual([]); // 2's next statement released it, and 1 overlaps nothing now
    expect(after[6]!.edges).toBe(""); // and an update of what 2 read is no conflict any more
  });
  test("while a read-write transaction beside it runs, it keeps its lock and its conflicts", () => {
    const { failure, after } = run(new MvccModel(g), ops("b1s r1.1 b2so r2.1 r2.2 b3s r3.2 u3.1=5"), true);
    expect(failure).toBeUndefined();
    expect(txsOf(after.at(-1)!.state!)).toEqual([1, 2, 3]);
    expect(after.at(-1)!.edges).toBe("1>3 2>3");
  });
});

// ---- generated histories

const tx = fc.integer({ min: 1, max: g.txs });
const key = fc.integer({ min: 1, max: g.keys });
const value = fc.integer({ min: 0, max: 9 });
/** Mostly serializable transactions, some READ ONLY, among a few others. */
const opArb: fc.Arbitrary<MvccOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("begin" as const),
      tx,
      level: fc.constantFrom<"ser" | "rr" | "rc">("ser", "ser", "ser", "rr", "rc"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("begin" as const),
      tx,
      level: fc.constant("ser" as const),
      readOnly: fc.constant(true as const),
    }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("read" as const), tx, key }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(tx, key, key)
      .map(([t, a, b]): MvccOp => ({ op: "scan", tx: t, lo: Math.min(a, b), hi: Math.max(a, b) })),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("insert" as const), tx, key, value }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("update" as const), tx, key, value }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), tx, key }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("commit" as const), tx }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("abort" as const), tx }) },
  { weight: 1, arbitrary: fc.constant({ op: "vacuum" as const }) },
);

/**
 * As a client would send them: a statement on a client with no transaction begins a serializable one first, a
 * failed one rolls back first, a blocked client sends nothing, BEGIN on an open one and COMMIT on a closed one drop.
 */
function arrange(raw: readonly MvccOp[]): MvccOp[] {
  const m = new MvccModel(g);
  const out: MvccOp[] = [];
  const emit = (o: MvccOp) => {
    out.push(o);
    m.apply(o);
  };
  for (const op of setup) m.apply(op);
  for (const o of raw) {
    if (!("tx" in o)) {
      emit(o);
      continue;
    }
    const s = m.session(o.tx);
    if (o.op === "begin") {
      if (!s.open) emit(o);
    } else if (o.op === "commit" || o.op === "abort") {
      if (s.open && !s.blocked) emit(o);
    } else if (!s.blocked) {
      if (s.failed) emit({ op: "abort", tx: o.tx });
      if (!m.session(o.tx).open) emit({ op: "begin", tx: o.tx, level: "ser" });
      emit(o);
    }
  }
  return out;
}

const histories = fc.array(opArb, { maxLength: 100, size: "max" }).map(arrange);
const holds = (make: () => MvccModel) => (history: MvccOp[]) => run(make(), history).failure === undefined;

test("the model holds the invariant over generated serializable-heavy histories (fast-check seed 20240611)", () => {
  let edgesSeen = 0;
  fc.assert(
    fc.property(histories, (history) => {
      const r = run(new MvccModel(g), history);
      edgesSeen += r.after.filter((a) => a.edges).length;
      return r.failure === undefined;
    }),
    { seed: 20240611, numRuns: 1000 },
  );
  expect(edgesSeen).toBeGreaterThan(10_000); // the histories do build conflicts
});

/** ReleasePredicateLocks releasing every conflict in at commit, not only those from committed and READ ONLY readers. */
class ReleasesAllConflictsIn extends MvccModel {
  protected override newSsi(heap: SsiHeap): Ssi {
    return new (class extends Ssi {
      override release(me: Sxact, commit: boolean): void {
        super.release(me, commit);
        if (!commit) return;
        for (const r of [...me.inConflicts]) {
          r.outConflicts.delete(me);
          me.inConflicts.delete(r);
        }
      }
    })(heap);
  }
}

describe("a model with an edge dropped is killed by the invariant", () => {
  const noConflictOut = mvccMutants.find((m) => m.name === "ssi-no-conflict-out")!;

  test("ssi-no-conflict-out: the read past a concurrent insert records no conflict out", () => {
    const { failure } = run(noConflictOut.create(g) as MvccModel, ops("b1s i1.3=30 b2s r2.1"));
    expect(failure).toMatchObject({ index: 3, property: "ssi-rw-conflicts" });
    expect(failure!.message).toMatch(/^missing T2 \(client 2\) →rw T1 \(client 1\) \(conflict out: /);
  });

  test("a commit that releases an active reader's conflict in", () => {
    const { failure } = run(new ReleasesAllConflictsIn(g), ops("b1s i1.3=30 b2s r2.1 c1"));
    expect(failure).toMatchObject({ index: 4, property: "ssi-rw-conflicts" });
  });

  test.each([
    ["ssi-no-conflict-out", () => noConflictOut.create(g) as MvccModel],
    ["releases-all-conflicts-in", () => new ReleasesAllConflictsIn(g)],
  ])("%s fails over the same generated histories", (_, make) => {
    const r = fc.check(fc.property(histories, holds(make)), { seed: 20240611, numRuns: 1000 });
    expect(r.failed).toBe(true);
  });

  test("in the mutant zoo, ssi-no-conflict-out is killed by it (seed 1)", async () => {
    const r = await campaignOn(mvccLayer, "mutant:ssi-no-conflict-out", { seed: 1, runs: 2000, maxOps: 100 });
    expect(r.failure?.property).toBe("ssi-rw-conflicts");
  });
});

describe("states without SSI bookkeeping are not judged", () => {
  test("an engine's state without `ssi` decodes, and the invariant reports nothing on it", () => {
    const m = new MvccModel(g);
    const checker = mvccSsi.start(decodeMvccState({ ...m.inspect(), ssi: undefined }));
    for (const op of ops("b1s b2s r1.1 r2.2 u1.2=0 u2.1=0")) {
      const obs = m.apply(op);
      const { ssi: _, ...without } = m.inspect();
      expect(checker.after(op, obs, decodeMvccState(without), false)).toBeUndefined();
    }
  });

  test("no-ssi registers no transaction: nothing to derive (the oracle kills it)", () => {
    const noSsi = mvccMutants.find((x) => x.name === "no-ssi")!.create(g) as MvccModel;
    const { failure, after } = run(noSsi, ops("b1s b2s r1.1 r2.2 u1.2=0 u2.1=0 c1 c2"), true);
    expect(failure).toBeUndefined();
    expect(after.at(-1)!.obs).toEqual({ ok: true });
    expect(after.every((a) => a.state!.ssi?.sxacts.length === 0)).toBe(true);
  });
});
