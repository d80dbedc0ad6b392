// Op arbitraries for the mvcc layer's sqlite flavour: a few clients over a few keys, so they collide; transactions
// that read and hold their snapshots while others commit (so that more than four snapshots need read marks when
// there are six clients or more), writers that take the write lock, and checkpoints of every mode in between.
import fc from "fast-check";
import { checkpointModes, type MvccGeometry, type MvccOp } from "../../models/mvcc/types.ts";
import { alphabetStatements, whereOpKinds } from "./ops.ts";

/**
 * Clients 1..w mostly write, in autocommit or in short transactions; the others mostly read, each in a transaction
 * that keeps its snapshot a long time (one writer at a time: writes spread over every client would mostly be
 * SQLITE_BUSY, and snapshots taken by autocommit reads end at once).
 */
const writers = (g: MvccGeometry): number => Math.max(1, Math.floor(g.txs / 4));

export function walOpKinds(g: MvccGeometry, _features: ReadonlySet<string>): fc.WeightedArbitrary<MvccOp>[] {
  const w = writers(g);
  const any = fc.integer({ min: 1, max: g.txs });
  const writer = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: w }) }, { weight: 1, arbitrary: any });
  const key = fc.integer({ min: 1, max: g.keys });
  const value = fc.integer({ min: 0, max: 9 });
  const on = <T extends object>(tx: fc.Arbitrary<number>, rest: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
    fc.record({ tx, ...rest } as never) as fc.Arbitrary<T & { tx: number }>;
  return [
    { weight: 4, arbitrary: on(any, { op: fc.constant("begin" as const), level: fc.constant("deferred" as const) }) },
    {
      weight: 1,
      arbitrary: on(writer, { op: fc.constant("begin" as const), level: fc.constant("immediate" as const) }),
    },
    { weight: 6, arbitrary: on(any, { op: fc.constant("read" as const), key }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(any, key, key)
        .map(([tx, a, b]) => ({ op: "scan" as const, tx, lo: Math.min(a, b), hi: Math.max(a, b) })),
    },
    { weight: 2, arbitrary: on(writer, { op: fc.constant("insert" as const), key, value }) },
    { weight: 3, arbitrary: on(writer, { op: fc.constant("update" as const), key, value }) },
    { weight: 2, arbitrary: on(writer, { op: fc.constant("update" as const), key, add: fc.constant(1) }) },
    { weight: 1, arbitrary: on(writer, { op: fc.constant("delete" as const), key }) },
    ...whereOpKinds(writer, key, value),
    { weight: 2, arbitrary: on(writer, { op: fc.constant("commit" as const) }) },
    { weight: 1, arbitrary: on(any, { op: fc.constant("commit" as const) }) },
    { weight: 1, arbitrary: on(any, { op: fc.constant("abort" as const) }) },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant("checkpoint" as const), mode: fc.constantFrom(...checkpointModes) }),
    },
  ] as fc.WeightedArbitrary<MvccOp>[];
}

/**
 * Sequences are arranged so that few ops are wasted: BEGIN on a client already in a transaction is dropped, and so
 * are COMMIT and ROLLBACK on one that is not (as far as the sequence itself tells: a BEGIN IMMEDIATE may yet fail
 * with SQLITE_BUSY, and then the engine answers SQLITE_ERROR). A statement on a reading client outside a transaction
 * begins one (DEFERRED) first; on a writing client it runs alone, as SQLite runs it (autocommit): that is how quick
 * commits happen while readers hold their snapshots.
 */
export function walArrange(ops: MvccOp[], g: MvccGeometry, _features: ReadonlySet<string>): MvccOp[] {
  const open = new Set<number>();
  const out: MvccOp[] = [];
  for (const op of ops) {
    if (op.op === "begin") {
      if (open.has(op.tx)) continue;
      open.add(op.tx);
    } else if (op.op === "commit" || op.op === "abort") {
      if (!open.delete(op.tx)) continue;
    } else if ("tx" in op && op.tx > writers(g) && !open.has(op.tx)) {
      open.add(op.tx);
      out.push({ op: "begin", tx: op.tx, level: "deferred" });
    }
    out.push(op);
  }
  return out;
}

/**
 * The sqlite flavour's exploration alphabet: SQLite's two BEGINs (client 1 deferred, the other client immediate), the
 * statements both flavours explore (fuzz/mvcc/ops.ts: clients 1 and 2, or client 1 alone, key 1), and two checkpoint
 * modes. Key 2 adds nothing here: every WAL mutant explore finds, it finds as soon without it.
 */
export function walAlphabet(g: MvccGeometry): MvccOp[] {
  return [
    { op: "begin", tx: 1, level: "deferred" },
    { op: "begin", tx: Math.min(2, g.txs), level: "immediate" },
    ...alphabetStatements(g),
    { op: "checkpoint", mode: "passive" },
    { op: "checkpoint", mode: "truncate" },
  ];
}
