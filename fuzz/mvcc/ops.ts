// Op arbitraries for the mvcc layer: a few clients running short transactions over a few keys, so they collide.
import fc from "fast-check";
import { MvccModel } from "../../models/mvcc/model.ts";
import { type Level, type MvccGeometry, type MvccOp, pgLevels } from "../../models/mvcc/types.ts";

export function mvccOpArbitrary(g: MvccGeometry, _features: ReadonlySet<string>): fc.Arbitrary<MvccOp> {
  const tx = fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: 1, max: Math.min(2, g.txs) }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: g.txs }) },
  );
  const key = fc.integer({ min: 1, max: g.keys });
  const value = fc.integer({ min: 0, max: 9 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant("begin" as const), tx, level: fc.constantFrom(...pgLevels) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("begin" as const),
        tx,
        level: fc.constantFrom(...pgLevels),
        readOnly: fc.constant(true as const),
      }),
    },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("read" as const), tx, key }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(tx, key, key)
        .map(([t, a, b]) => ({ op: "scan" as const, tx: t, lo: Math.min(a, b), hi: Math.max(a, b) })),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("insert" as const), tx, key, value }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("update" as const), tx, key, value }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("update" as const), tx, key, add: fc.constant(1) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), tx, key }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("commit" as const), tx }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("abort" as const), tx }) },
    { weight: 1, arbitrary: fc.constant({ op: "vacuum" as const }) },
  );
}

/**
 * Sequences are arranged as clients use a database, following the reference model's sessions: a statement on a
 * client with no open transaction begins one first (at the level of the client's last BEGIN op in the sequence, else
 * by client number), BEGIN on an open one and COMMIT or ROLLBACK on a closed one are dropped, a client whose
 * transaction failed rolls back before its next statement, and a client waiting on a lock sends nothing. One op in
 * four is left as generated there, so that `skipped` and 25P02 stay exercised. Where the engine takes another
 * allowed path than the model, the ops still run: they only come back `skipped` or 25P02 more often.
 */
export function mvccArrange(ops: MvccOp[], g: MvccGeometry, _features: ReadonlySet<string>): MvccOp[] {
  const model = new MvccModel(g);
  const level = new Map<number, Level>();
  const out: MvccOp[] = [];
  const emit = (op: MvccOp) => {
    out.push(op);
    model.apply(op);
  };
  for (const [i, op] of ops.entries()) {
    if (!("tx" in op)) {
      emit(op);
      continue;
    }
    const s = model.session(op.tx);
    const asGenerated = i % 4 === 3;
    if (op.op === "begin") {
      level.set(op.tx, op.level);
      if (!s.open) emit(op);
      continue;
    }
    if (s.blocked && !asGenerated) continue;
    if (op.op === "commit" || op.op === "abort") {
      if (s.open) emit(op);
      continue;
    }
    if (s.failed && !asGenerated) emit({ op: "abort", tx: op.tx });
    if (!model.session(op.tx).open)
      emit({ op: "begin", tx: op.tx, level: level.get(op.tx) ?? (["ser", "rr", "rc"] as const)[op.tx % 3]! });
    emit(op);
  }
  return out;
}

/** The exploration alphabet: two clients, one key, each kind of statement. */
export function mvccAlphabet(_g: MvccGeometry): MvccOp[] {
  return [
    { op: "begin", tx: 1, level: "rr" },
    { op: "begin", tx: 2, level: "rc" },
    { op: "begin", tx: 1, level: "ser" },
    { op: "begin", tx: 2, level: "ser" },
    { op: "read", tx: 1, key: 1 },
    { op: "read", tx: 2, key: 1 },
    { op: "update", tx: 1, key: 1, add: 1 },
    { op: "update", tx: 2, key: 1, add: 1 },
    { op: "delete", tx: 2, key: 1 },
    { op: "insert", tx: 2, key: 1, value: 5 },
    { op: "commit", tx: 1 },
    { op: "commit", tx: 2 },
    { op: "abort", tx: 2 },
    { op: "vacuum" },
  ];
}
