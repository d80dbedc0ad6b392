// The mvcc layer within its geometry, and the anomaly each failure is named by.
// 1. Every op a campaign generates (prelude and arrange included) and every op of explore's alphabet names only
//    clients 1..txs and keys 1..keys, for one client or more and one key or more, in both flavours.
// 2. A table of hand-made failing histories, one per label: each the shortest history that shows its anomaly and no
//    other, as a buggy engine would fail it (the ops before the last answered as PostgreSQL answers them, checked on
//    the reference model; the last answered wrongly, which the oracle refuses), and the label the layer gives it.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { allows, deepEqual, type Failure, resolveGeometry } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign, sequenceArbitrary } from "../fuzz/campaign.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import { MvccModel } from "../models/mvcc/model.ts";
import { type MvccGeometry, type MvccObs, type MvccOp, mvccGeometrySchema } from "../models/mvcc/types.ts";
import { MvccOracle } from "../oracles/mvcc.ts";

describe("every op stays within the geometry's clients and keys", () => {
  const geometries: MvccGeometry[] = [];
  for (const flavour of ["postgres", "sqlite"] as const)
    for (const txs of [1, 2, 3]) for (const keys of [1, 2, 5]) geometries.push({ keys, txs, flavour });

  /** What an op names beyond the geometry, if anything. */
  const outside = (op: MvccOp, g: MvccGeometry): string | undefined => {
    if ("tx" in op && (op.tx < 1 || op.tx > g.txs)) return `client ${op.tx}`;
    const keys = "key" in op ? [op.key] : op.op === "scan" ? [op.lo, op.hi] : [];
    const key = keys.find((k) => k < 1 || k > g.keys);
    return key === undefined ? undefined : `key ${key}`;
  };
  const check = (ops: readonly MvccOp[], g: MvccGeometry, what: string) => {
    for (const op of ops)
      expect(outside(op, g), `${what}: ${JSON.stringify(op)} in ${JSON.stringify(g)}`).toBeUndefined();
  };

  test("the schema and the geometry rule accept one client and one key, in both flavours", () => {
    expect(mvccGeometrySchema.safeParse({ keys: 1, txs: 1 }).success).toBe(true);
    expect(resolveGeometry(mvccLayer, { user: { txs: 1 } })).toEqual({ keys: 4, txs: 1 });
    expect(resolveGeometry(mvccLayer, { flavour: "sqlite", user: { txs: 1, keys: 1 } })).toEqual({
      keys: 1,
      txs: 1,
      flavour: "sqlite",
    });
  });

  test.each(geometries)(
    "$flavour, $txs client(s), $keys key(s): the prelude, campaigns' sequences, the alphabet",
    (g) => {
      check(mvccLayer.prelude, g, "prelude");
      const alphabet = mvccLayer.alphabet!(g);
      check(alphabet, g, "alphabet");
      expect(new Set(alphabet.map((op) => JSON.stringify(op))).size, "each op of the alphabet once").toBe(
        alphabet.length,
      );
      const clients = new Set(alphabet.flatMap((op) => ("tx" in op ? [op.tx] : [])));
      expect(clients.size, "the alphabet's clients").toBe(Math.min(2, g.txs));
      const sequences = fc.sample(sequenceArbitrary(mvccLayer, g, new Set(["inspect"]), 60), { numRuns: 300, seed: 7 });
      for (const seq of sequences) check(seq as MvccOp[], g, "generated");
      // the sample reaches the geometry's edges: its last client and key
      const ops = sequences.flat() as MvccOp[];
      expect(ops.some((op) => "tx" in op && op.tx === g.txs)).toBe(true);
      expect(ops.some((op) => "key" in op && op.key === g.keys)).toBe(true);
    },
  );

  // update-copies-table needs a second row: the old prelude's rows of client 2 stayed in its shrunk trace
  test.each([
    ["aborted-visible", /^G1a /],
    ["update-copies-table", undefined],
  ] as const)(
    "a campaign with one client keeps to it while it shrinks (%s), and names the mutant's own anomaly",
    async (name, anomaly) => {
      const factory = await resolveEngine(mvccLayer, `mutant:${name}`);
      try {
        const r = await runCampaign(mvccLayer, factory, { seed: 1, runs: 2000, maxOps: 50, geometry: { txs: 1 } });
        expect(r.status).toBe("failed");
        const g = r.trace!.geometry as MvccGeometry;
        expect(g).toMatchObject({ keys: 4, txs: 1 });
        check(r.trace!.ops as MvccOp[], g, "the shrunk trace");
        if (anomaly) expect(r.anomaly).toMatch(anomaly);
        else expect(r.anomaly).toBeUndefined();
      } finally {
        await factory.dispose?.();
      }
    },
  );

  test("explore's alphabet uses key 2 only where it adds reach: the postgres flavour with two keys or more", () => {
    const key2 = (g: MvccGeometry) => mvccLayer.alphabet!(g).some((op) => "key" in op && op.key === 2);
    expect(key2({ keys: 1, txs: 3 })).toBe(false);
    expect(key2({ keys: 2, txs: 3 })).toBe(true);
    expect(key2({ keys: 4, txs: 6, flavour: "sqlite" })).toBe(false);
    // the documented sizes: 15 ops for the default geometry, 13 for the sqlite engine's (docs/sqlite-wal.md)
    expect(mvccLayer.alphabet!(mvccLayer.defaultGeometry).length).toBe(15);
    expect(mvccLayer.alphabet!({ keys: 4, txs: 6, flavour: "sqlite" }).length).toBe(13);
    expect(mvccLayer.alphabet!({ keys: 1, txs: 1 }).length).toBe(10);
  });
});

/**
 * Ops in a short notation: `b1c` BEGIN on client 1 (c READ COMMITTED, r REPEATABLE READ, s SERIALIZABLE), `r1.2`
 * read key 2, `s1.1-3` scan keys 1..3, `i1.2=20` insert, `u1.2=21` and `u1.2+1` update, `d1.2` delete, `c1` commit,
 * `a1` abort, `vacuum`.
 */
function ops(text: string): MvccOp[] {
  const levels = { c: "rc", r: "rr", s: "ser" } as const;
  return text.split(" ").map((w): MvccOp => {
    if (w === "vacuum") return { op: "vacuum" };
    const m = /^([a-z])(\d+)(?:([a-z])|\.(\d+)(?:-(\d+)|([=+])(-?\d+))?)?$/.exec(w);
    if (!m) throw new Error(`bad op ${w}`);
    const [, kind, tx, level, key, hi, how, n] = m;
    const t = Number(tx);
    const k = Number(key);
    switch (kind) {
      case "b":
        return { op: "begin", tx: t, level: levels[level as "c"] };
      case "r":
        return { op: "read", tx: t, key: k };
      case "s":
        return { op: "scan", tx: t, lo: k, hi: Number(hi) };
      case "i":
        return { op: "insert", tx: t, key: k, value: Number(n) };
      case "u":
        return how === "+"
          ? { op: "update", tx: t, key: k, add: Number(n) }
          : { op: "update", tx: t, key: k, value: Number(n) };
      case "d":
        return { op: "delete", tx: t, key: k };
      case "c":
        return { op: "commit", tx: t };
      case "a":
        return { op: "abort", tx: t };
      default:
        throw new Error(`bad op ${w}`);
    }
  });
}

describe("each anomaly's shortest failing history is named by it", () => {
  // [label, history (its last op fails), what the buggy engine answers, what PostgreSQL answers, the label's pattern]
  const cases: [string, string, MvccObs, MvccObs, RegExp][] = [
    // T2 overwrites T1's uncommitted write instead of waiting: a write dependency on a running transaction
    ["G0 dirty write", "i2.1=10 b1c u1.1=11 u2.1=12", { count: 1 }, { blocked: true }, /^G0 \(dirty write\)/],
    // T2 reads a row of T1, which rolled back
    ["G1a aborted read", "b1c i1.1=11 a1 r2.1", { values: [11] }, { values: [] }, /^G1a \(aborted read\)/],
    // T2 reads T1's first version of the row, which T1 replaced before it committed
    ["G1b intermediate read", "b1c i1.1=11 u1.1=12 c1 r2.1", { values: [11] }, { values: [12] }, /^G1b /],
    // T2 waits to overwrite T1's row (a write dependency T1 → T2 once T1 commits: READ COMMITTED follows the update
    // chain), and T1 reads T2's uncommitted row (a read dependency T2 → T1): a cycle of write and read dependencies
    [
      "G1c circular information flow",
      "i1.1=10 i1.2=20 b1c u1.1=11 b2c u2.2=21 u2.1=12 r1.2",
      { values: [21] },
      { values: [20] },
      /^G1c \(circular information flow\)/,
    ],
    // a read of an uncommitted write whose writer may yet commit, roll back or write again: not yet G1a, G1b or G1c
    ["G1 dirty read", "b1c i1.1=11 r2.1", { values: [11] }, { values: [] }, /^G1 \(dirty read\)/],
    // T2 saw T1's update, then the version T1 replaced: the transaction it observed vanished
    ["OTV observed transaction vanishes", "i1.1=10 u1.1=11 b2c r2.1 r2.1", { values: [10] }, { values: [11] }, /^OTV /],
    // Hermitage's form: T2 sees one of T1's two writes, then not the other
    [
      "OTV, one write of two",
      "i1.1=10 i1.2=20 b1c u1.1=11 u1.2=19 c1 b2c r2.1 r2.2",
      { values: [20] },
      { values: [19] },
      /^OTV /,
    ],
    // the version T2's snapshot read was vacuumed away once T1 had replaced it
    ["OTV by vacuum", "i1.1=10 b2r r2.1 u1.1=11 vacuum r2.1", { values: [] }, { values: [10] }, /^OTV .*vacuum/],
    // T1's predicate read found nothing; a row T2 inserted and committed since then matches its next one
    ["PMP predicate-many-preceders", "b1r s1.1-2 i2.1=10 s1.1-2", { rows: [[1, 10]] }, { rows: [] }, /^PMP /],
    // T1 read the row, T2 changed it and committed, T1 overwrites T2's change
    ["P4 lost update", "i2.1=10 b1r r1.1 u2.1=11 u1.1=12", { count: 1 }, { error: "40001" }, /^P4 \(lost update\)/],
    // T1 read the row, T2 replaced it and committed, T1 reads T2's version: T1 →rw T2 →wr T1
    [
      "G-single read skew",
      "i2.1=10 b1r r1.1 u2.1=11 r1.1",
      { values: [11] },
      { values: [10] },
      /^G-single .*replaced a version it had read/,
    ],
    // Hermitage's form, over two rows
    [
      "G-single read skew, two rows",
      "i2.1=10 i2.2=20 b1r r1.1 b2c u2.1=12 u2.2=18 c2 r1.2",
      { values: [18] },
      { values: [20] },
      /^G-single .*replaced a version it had read/,
    ],
    // without the earlier read there is no cycle yet (Adya's snapshot-isolation terms: G-SIa, interference); the
    // snapshot moved all the same, and it is named with the anomaly that read would have made
    ["G-single, no earlier read", "i2.1=10 b1r r1.2 u2.1=11 r1.1", { values: [11] }, { values: [10] }, /^G-single /],
    // T1's update finds the row T2 deleted after T1's snapshot gone: nothing is lost, T1 saw T2's delete
    [
      "G-single, an update sees a delete",
      "i2.1=10 b1r r1.1 d2.1 u1.1=12",
      { count: 0 },
      { error: "40001" },
      /^G-single /,
    ],
    // a version replaced before the snapshot, by a transaction it has not seen (G-SIb, missed effects)
    ["G-single, a stale read", "i1.1=10 u1.1=11 r2.1", { values: [10] }, { values: [11] }, /^G-single .*stale/],
    // each reads the row the other writes, both commit: two item anti-dependencies
    [
      "G2-item write skew",
      "i1.1=10 i1.2=20 b1s b2s r1.2 r2.1 u1.1=11 u2.2=21 c1 c2",
      { ok: true },
      { error: "40001" },
      /^G2-item \(write skew\)/,
    ],
    // a scan of rows that exist is an item read like any other: no phantom, still G2-item
    [
      "G2-item, through a scan",
      "i1.1=10 i1.2=20 b1s b2s s1.2-2 r2.1 u1.1=11 u2.2=21 c1 c2",
      { ok: true },
      { error: "40001" },
      /^G2-item \(write skew\)/,
    ],
    // each one's scan misses the row the other inserts, both commit: predicate anti-dependencies
    [
      "G2 anti-dependency cycle",
      "b1s b2s s1.1-2 s2.1-2 i1.1=10 i2.2=20 c1 c2",
      { ok: true },
      { error: "40001" },
      /^G2 \(anti-dependency cycle\)/,
    ],
    // T1 reads the row it has just updated and gets the old version
    [
      "read-your-own-writes: an update",
      "i2.1=10 b1c u1.1=11 r1.1",
      { values: [10] },
      { values: [11] },
      /^not an Adya anomaly: it did not see its own write/,
    ],
    ["read-your-own-writes: an insert", "b1c i1.1=11 r1.1", { values: [] }, { values: [11] }, /^not an Adya anomaly/],
    [
      "read-your-own-writes: a delete",
      "i2.1=10 b1c d1.1 r1.1",
      { values: [10] },
      { values: [] },
      /^not an Adya anomaly/,
    ],
    ["read-your-own-writes: a write", "b1c i1.1=11 u1.1+1", { count: 0 }, { count: 1 }, /^not an Adya anomaly/],
    // a serialization failure where the history has no cycle
    ["a needless serialization failure", "b1s r1.1 c1", { error: "40001" }, { ok: true }, /^no anomaly/],
  ];

  test.each(cases)("%s", (_, text, observed, expected, named) => {
    const history = ops(text);
    const g: MvccGeometry = { keys: 2, txs: 2 };
    const [model, oracle] = [new MvccModel(g), new MvccOracle(g)];
    for (const [i, op] of history.entries()) {
      const [obs, allowed] = [model.apply(op), oracle.apply(op)];
      expect(allows(allowed, obs), `the model at step ${i}`).toBe(true);
      if (i === history.length - 1) {
        // PostgreSQL's answer, and the wrong one the oracle refuses
        expect(obs, "the model's last answer").toEqual(expected);
        expect(deepEqual(observed, expected)).toBe(false);
        expect(allows(allowed, observed), "the oracle refuses the buggy answer").toBe(false);
      }
      oracle.chose(obs);
    }
    const failure: Failure = {
      index: history.length - 1,
      property: "observational-equivalence",
      kind: "equivalence",
      message: "",
      observed,
      expected,
    };
    expect(mvccLayer.classify!(history, failure, g)).toMatch(named);
  });
});
