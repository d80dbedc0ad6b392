// Op arbitraries for the mvcc layer: a few clients running short transactions over a few keys, so they collide.
import fc from "fast-check";
import { pgLevels, type Level, type MvccGeometry, type MvccOp } from "../models/mvcc/types.ts";

export function mvccOpArbitrary(g: MvccGeometry, _features: ReadonlySet<string>): fc.Arbitrary<MvccOp> {
  const tx = fc.oneof({ weight: 2, arbitrary: fc.integer({ min: 1, max: Math.min(2, g.txs) }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: g.txs }) });
  const key = fc.integer({ min: 1, max: g.keys });
  const value = fc.integer({ min: 0, max: 9 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant("begin" as const), tx, level: fc.constantFrom(...pgLevels) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("begin" as const), tx, level: fc.constantFrom(...pgLevels), readOnly: fc.constant(true as const) }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("read" as const), tx, key }) },
    { weight: 2, arbitrary: fc.tuple(tx, key, key).map(([t, a, b]) => ({ op: "scan" as const, tx: t, lo: Math.min(a, b), hi: Math.max(a, b) })) },
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
 * Sequences are arranged as clients use a database: a statement on a client with no open transaction begins one
 * first (at the level of the client's last BEGIN op in the sequence, else READ COMMITTED), and BEGIN on an open
 * one is dropped. What a client's statements wait for is the engine's business: a blocked client's ops come back
 * `skipped`.
 */
export function mvccArrange(ops: MvccOp[], _g: MvccGeometry, _features: ReadonlySet<string>): MvccOp[] {
  const open = new Set<number>();
  const level = new Map<number, Level>();
  const out: MvccOp[] = [];
  for (const op of ops) {
    if (op.op === "vacuum" || op.op === "checkpoint") {
      out.push(op);
      continue;
    }
    if (op.op === "begin") {
      level.set(op.tx, op.level);
      if (open.has(op.tx)) continue;
      open.add(op.tx);
      out.push(op);
      continue;
    }
    if (op.op === "commit" || op.op === "abort") {
      if (!open.delete(op.tx)) continue;
      out.push(op);
      continue;
    }
    if (!open.has(op.tx)) {
      open.add(op.tx);
      out.push({ op: "begin", tx: op.tx, level: level.get(op.tx) ?? (["ser", "rr", "rc"] as const)[op.tx % 3]! });
    }
    out.push(op);
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
