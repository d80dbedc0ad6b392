// Op arbitraries for the mvcc layer: a few clients running short transactions over a few keys, so they collide.
import fc from "fast-check";
import { InnodbModel } from "../../models/mvcc/innodb.ts";
import { MvccModel } from "../../models/mvcc/model.ts";
import { type Level, type MvccGeometry, type MvccOp, pgLevels } from "../../models/mvcc/types.ts";

export function mvccOpKinds(g: MvccGeometry, _features: ReadonlySet<string>): fc.WeightedArbitrary<MvccOp>[] {
  const tx = fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: 1, max: Math.min(2, g.txs) }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: g.txs }) },
  );
  const key = fc.integer({ min: 1, max: g.keys });
  const value = fc.integer({ min: 0, max: 9 });
  return [
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
    ...whereOpKinds(tx, key, value),
    { weight: 3, arbitrary: fc.record({ op: fc.constant("commit" as const), tx }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("abort" as const), tx }) },
    ...(g.flavour === "innodb" ? [] : [{ weight: 1, arbitrary: fc.constant({ op: "vacuum" as const }) }]),
  ];
}

/**
 * Writes by predicate (every flavour): a range of the geometry's keys, half of them narrowed to a value (the values
 * the generators write, so that some rows hold it and some stop holding it while a statement waits).
 */
export function whereOpKinds(
  tx: fc.Arbitrary<number>,
  key: fc.Arbitrary<number>,
  value: fc.Arbitrary<number>,
): fc.WeightedArbitrary<MvccOp>[] {
  const where = fc
    .record({ tx, a: key, b: key, eq: fc.option(value, { nil: undefined }) })
    .map(({ tx, a, b, eq }) => ({ tx, lo: Math.min(a, b), hi: Math.max(a, b), ...(eq === undefined ? {} : { eq }) }));
  const set = fc.oneof(
    value.map((v) => ({ value: v })),
    fc.constant({ add: 1 }),
  );
  return [
    { weight: 2, arbitrary: fc.tuple(where, set).map(([w, s]) => ({ op: "updateWhere" as const, ...w, ...s })) },
    { weight: 1, arbitrary: where.map((w) => ({ op: "deleteWhere" as const, ...w })) },
  ];
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
  const model = g.flavour === "innodb" ? new InnodbModel(g) : new MvccModel(g);
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

/**
 * The statements both flavours explore: clients 1 and 2 (client 1 alone when the geometry has one client), key 1,
 * each kind of statement once or twice. Explore sends ops as they are (no arrange), so they name only clients and
 * keys the geometry has, and the layer's prelude (client 1, key 1) is all the table holds at first.
 */
export function alphabetStatements(g: MvccGeometry): MvccOp[] {
  const other = Math.min(2, g.txs);
  return distinct([
    { op: "read", tx: 1, key: 1 },
    { op: "read", tx: other, key: 1 },
    { op: "update", tx: 1, key: 1, add: 1 },
    { op: "update", tx: other, key: 1, add: 1 },
    { op: "delete", tx: other, key: 1 },
    { op: "insert", tx: other, key: 1, value: 5 },
    { op: "commit", tx: 1 },
    { op: "commit", tx: other },
    { op: "abort", tx: other },
  ]);
}

/**
 * The PostgreSQL flavour's exploration alphabet: each level's BEGIN and the statements above; with two keys or more,
 * an insert of key 2 too, so that the table can hold a second row (an update that copies every row is found at depth
 * 2; without it explore cannot see one); and VACUUM. Small on purpose: explore runs alphabet^depth sequences.
 */
export function mvccAlphabet(g: MvccGeometry): MvccOp[] {
  const other = Math.min(2, g.txs);
  return distinct([
    { op: "begin", tx: 1, level: "rr" },
    { op: "begin", tx: other, level: "rc" },
    { op: "begin", tx: 1, level: "ser" },
    { op: "begin", tx: other, level: "ser" },
    ...alphabetStatements(g),
    ...(g.keys >= 2 ? [{ op: "insert", tx: other, key: 2, value: 20 } as const] : []),
    ...(g.flavour === "innodb" ? [] : [{ op: "vacuum" } as const]),
  ]);
}

/** The ops, each once (in the order of its first occurrence): with one client, clients 1 and 2 are the same. */
function distinct(ops: MvccOp[]): MvccOp[] {
  const seen = new Set<string>();
  return ops.filter((op) => {
    const key = JSON.stringify(op);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Minimization rewrites (fuzz/minimize.ts takes one that still fails and is smaller in its size order), for both
 * flavours:
 * - a creator and a destroyer together: a BEGIN and the COMMIT or ROLLBACK that ends it (its statements then run
 *   alone, autocommitted, where they were, or, for a COMMIT, where it was), or the whole transaction (its BEGIN,
 *   statements and end, which need not be adjacent);
 * - smaller ops: a client renamed to a lower number no op names (or two clients swapped, the first named becoming
 *   the lower), a key renamed likewise everywhere, a lower key in one statement, a value nearer 0, READ ONLY dropped.
 */
export function* mvccSimplifications(ops: readonly MvccOp[]): Iterable<MvccOp[]> {
  const without = (gone: ReadonlySet<number>): MvccOp[] => ops.filter((_, i) => !gone.has(i));
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.op !== "begin") continue;
    const mine = new Set([i]);
    let end: number | undefined;
    for (let j = i + 1; j < ops.length && end === undefined; j++) {
      const p = ops[j]!;
      if (!("tx" in p) || p.tx !== o.tx) continue;
      mine.add(j);
      if (p.op === "commit" || p.op === "abort") end = j;
    }
    if (end !== undefined) yield without(new Set([i, end]));
    if (mine.size > 2 || end === undefined) yield without(mine);
    // a committed transaction's statements run alone where it committed: what it wrote becomes visible there
    if (end !== undefined && ops[end]!.op === "commit" && mine.size > 2) {
      const statements = [...mine].filter((j) => j !== i && j !== end).map((j) => ops[j]!);
      yield ops.flatMap((p, j) => (j === end ? statements : mine.has(j) ? [] : [p]));
    }
  }
  const lowerNumber = (value: number, min: number): number[] =>
    [...new Set([min, Math.floor((min + value) / 2), value - 1])].filter((x) => x >= min && x < value);
  const nearerZero = (v: number): number[] =>
    v < 0 ? lowerNumber(-v, 0).map((x) => (x === 0 ? 0 : -x)) : lowerNumber(v, 0);
  const clients = new Set(ops.flatMap((o) => ("tx" in o ? [o.tx] : [])));
  for (const t of clients) {
    for (const u of lowerNumber(t, 1))
      if (!clients.has(u)) yield ops.map((o) => ("tx" in o && o.tx === t ? { ...o, tx: u } : o));
    // two clients swapped: as heavy, but the first client named is the lower
    for (const u of clients)
      if (u < t) yield ops.map((o) => ("tx" in o && (o.tx === t || o.tx === u) ? { ...o, tx: o.tx === t ? u : t } : o));
  }
  const keysOf = (o: MvccOp): number[] => ("key" in o ? [o.key] : "lo" in o ? [o.lo, o.hi] : []);
  const keys = new Set(ops.flatMap(keysOf));
  const renamed = (o: MvccOp, from: number, to: number): MvccOp =>
    "key" in o
      ? o.key === from
        ? { ...o, key: to }
        : o
      : "lo" in o
        ? { ...o, lo: o.lo === from ? to : o.lo, hi: o.hi === from ? to : o.hi }
        : o;
  for (const k of keys) for (const l of lowerNumber(k, 1)) if (!keys.has(l)) yield ops.map((o) => renamed(o, k, l));
  const at = (i: number, op: MvccOp): MvccOp[] => [...ops.slice(0, i), op, ...ops.slice(i + 1)];
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if ("key" in o) for (const key of lowerNumber(o.key, 1)) yield at(i, { ...o, key });
    if ("lo" in o) {
      for (const hi of lowerNumber(o.hi, o.lo)) yield at(i, { ...o, hi });
      for (const lo of lowerNumber(o.lo, 1)) yield at(i, { ...o, lo });
    }
    if ((o.op === "updateWhere" || o.op === "deleteWhere") && o.eq !== undefined) {
      const { eq, ...rest } = o;
      yield at(i, rest);
      for (const e of nearerZero(eq)) yield at(i, { ...o, eq: e });
    }
    if ((o.op === "insert" || o.op === "update" || o.op === "updateWhere") && o.value !== undefined)
      for (const value of nearerZero(o.value)) yield at(i, { ...o, value });
    if ((o.op === "update" || o.op === "updateWhere") && o.add !== undefined)
      for (const add of nearerZero(o.add)) yield at(i, { ...o, add });
    if (o.op === "begin" && o.readOnly) {
      const { readOnly: _, ...rest } = o;
      yield at(i, rest);
    }
  }
}
