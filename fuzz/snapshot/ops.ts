// Op arbitraries for the snapshot layer: a few trees over a few keys, written in transactions, snapshotted, cloned,
// sent, dropped and crashed, so that shared nodes are shadowed, reclaimed and recovered often.
import fc from "fast-check";
import { SnapshotModel } from "../../models/snapshot/model.ts";
import { SNAPSHOT_OP_FEATURES, type SnapshotGeometry, type SnapshotOp } from "../../models/snapshot/types.ts";

type Kind = SnapshotOp["op"];
const COMMON: [Kind, number][] = [
  ["put", 10],
  ["del", 3],
  ["get", 4],
  ["scan", 2],
  ["commit", 4],
  ["abort", 1],
  ["create", 1],
  ["drop", 1],
  ["crash", 1],
];
const TREES: [Kind, number][] = [
  ["patch", 2],
  ["snapshot", 2],
  ["clone", 1],
  ["send", 2],
  ["space", 2],
];
const READERS: [Kind, number][] = [
  ["begin-read", 2],
  ["read", 4],
  ["end-read", 1],
];

export function snapshotOpKinds(
  g: SnapshotGeometry,
  features: ReadonlySet<string>,
): fc.WeightedArbitrary<SnapshotOp>[] {
  const tree = fc.integer({ min: 0, max: g.trees - 1 });
  const key = fc.integer({ min: 0, max: g.keys - 1 });
  const value = fc.integer({ min: 0, max: 9 });
  const reader = fc.integer({ min: 0, max: Math.max(0, g.readers - 1) });
  const arb: Record<Kind, fc.Arbitrary<SnapshotOp>> = {
    put: fc.record({ op: fc.constant("put"), tree, key, data: fc.array(value, { minLength: 1, maxLength: g.blocks }) }),
    patch: fc.record({
      op: fc.constant("patch"),
      tree,
      key,
      block: fc.integer({ min: 0, max: g.blocks - 1 }),
      value,
    }),
    del: fc.record({ op: fc.constant("del"), tree, key }),
    get: fc.record({ op: fc.constant("get"), tree, key }),
    scan: fc.record({ op: fc.constant("scan"), tree }),
    commit: fc.constant({ op: "commit" }),
    abort: fc.constant({ op: "abort" }),
    create: fc.record({ op: fc.constant("create"), tree }),
    drop: fc.record({ op: fc.constant("drop"), tree }),
    snapshot: fc.record({ op: fc.constant("snapshot"), tree, as: tree }),
    clone: fc.record({ op: fc.constant("clone"), tree, as: tree }),
    send: fc.oneof(
      fc.record({ op: fc.constant("send"), snap: tree, base: tree, as: tree }),
      fc.record({ op: fc.constant("send"), snap: tree, as: tree }),
    ),
    space: fc.record({ op: fc.constant("space"), tree }),
    "begin-read": fc.record({ op: fc.constant("begin-read"), reader }),
    read: fc.record({ op: fc.constant("read"), reader, tree, key }),
    "end-read": fc.record({ op: fc.constant("end-read"), reader }),
    crash: fc.record({
      op: fc.constant("crash"),
      after: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 40 })),
      keep: fc.integer({ min: 0, max: 255 }),
    }),
  } as Record<Kind, fc.Arbitrary<SnapshotOp>>;
  const kinds = [...COMMON, ...(g.flavour === "lmdb" ? (g.readers > 0 ? READERS : []) : TREES)].filter(([k]) => {
    const needs = SNAPSHOT_OP_FEATURES[k as keyof typeof SNAPSHOT_OP_FEATURES];
    return needs === undefined || features.has(needs);
  });
  return kinds.map(([k, weight]) => ({ weight, arbitrary: arb[k] }));
}

/**
 * Sequences are arranged onto the trees that exist at that point (the reference model follows them): an op naming
 * a missing tree is pointed at an existing one, a write at a writable one, a send at read-only ones, a tree an op
 * creates at an unused id, a reader op at a reader in the right state. About one op in five (chosen by its own
 * fields) is left as generated, so the errors stay exercised.
 */
export function snapshotArrange(ops: SnapshotOp[], g: SnapshotGeometry, _features: ReadonlySet<string>): SnapshotOp[] {
  const model = new SnapshotModel(g);
  const out: SnapshotOp[] = [];
  for (const [i, raw] of ops.entries()) {
    // Which ops stay as generated is a property of the op itself, not of its place.
    const op = asGenerated(raw) ? raw : steer(raw, model, g);
    out.push(op);
    try {
      model.apply(op);
    } catch {
      // The model itself failed on this sequence: the rest goes as generated, and the run reports the failure
      // where the engine (or the model, as the engine) meets it.
      return [...out, ...ops.slice(i + 1)];
    }
  }
  return out;
}

/** One op in five or so, by its own fields. */
function asGenerated(op: SnapshotOp): boolean {
  let h = op.op.length;
  for (const v of Object.values(op)) if (typeof v === "number") h = (h * 31 + v) | 0;
  return ((h % 5) + 5) % 5 === 4;
}

function steer(op: SnapshotOp, model: SnapshotModel, g: SnapshotGeometry): SnapshotOp {
  const trees = model.treeKinds();
  const pick = (t: number, ok: (x: { readonly: boolean; kind: string }, id: number) => boolean): number => {
    const fit = [...trees].filter(([k, x]) => ok(x, k)).map(([k]) => k);
    return fit.length === 0 || fit.includes(t) ? t : fit[t % fit.length]!;
  };
  const unused = (t: number): number => {
    for (let d = 0; d < g.trees; d++) if (!trees.has((t + d) % g.trees)) return (t + d) % g.trees;
    return t;
  };
  const zfs = g.flavour === "zfs";
  // Every tree id in use: a tree is dropped first, so that making trees goes on (and reclaim gets exercised).
  const makes = op.op === "create" || op.op === "snapshot" || op.op === "clone" || op.op === "send";
  if (makes && trees.size >= g.trees)
    return { op: "drop", tree: 1 + ((("as" in op ? op.as : op.tree) ?? 0) % (g.trees - 1)) };
  switch (op.op) {
    case "patch":
    case "del":
    case "get": {
      // Mostly a key the tree holds: a miss is an error that shows little.
      const tree = op.op === "get" ? pick(op.tree, () => true) : pick(op.tree, (x) => !x.readonly);
      const keys = model.keysOf(tree);
      const key = keys.length && !keys.includes(op.key) && op.key % 4 !== 3 ? keys[op.key % keys.length]! : op.key;
      if (op.op !== "patch") return { ...op, tree, key };
      // A block the value has, mostly.
      const length = model.valueLength(tree, key);
      const block = length && op.block >= length && op.value % 4 !== 3 ? op.block % length : op.block;
      return { ...op, tree, key, block };
    }
    case "put":
      return { ...op, tree: pick(op.tree, (x) => !x.readonly) };
    case "scan":
    case "space":
      return { ...op, tree: pick(op.tree, () => true) };
    case "drop":
      // Tree 0 stays; with no other tree, one is made.
      if (trees.size === 1) return { op: "create", tree: unused(op.tree) };
      return {
        ...op,
        tree: op.tree === 0 ? pick(1 + (op.tree % (g.trees - 1)), (_, k) => k !== 0) : pick(op.tree, (_, k) => k !== 0),
      };
    case "create":
      return { ...op, tree: unused(op.tree) };
    case "snapshot":
      return { ...op, tree: pick(op.tree, (x) => !zfs || x.kind === "head"), as: unused(op.as) };
    case "clone":
      return { ...op, tree: pick(op.tree, (x) => (zfs ? x.kind === "snapshot" : true)), as: unused(op.as) };
    case "send": {
      const sendable = (x: { readonly: boolean; kind: string }) => x.readonly && (!zfs || x.kind === "snapshot");
      // Nothing to send yet: take a snapshot to send later.
      if (![...trees.values()].some(sendable)) return steer({ op: "snapshot", tree: op.snap, as: op.as }, model, g);
      const snap = pick(op.snap, sendable);
      const bases = model.sendBases(snap);
      const base =
        op.base === undefined || bases.includes(op.base)
          ? op.base
          : bases.length
            ? bases[op.base % bases.length]
            : undefined;
      return { op: "send", snap, ...(base === undefined ? {} : { base }), as: unused(op.as) };
    }
    case "begin-read":
    case "end-read":
    case "read": {
      const live = model.readerSlots();
      if (op.op === "begin-read") {
        const free = [...Array(g.readers).keys()].filter((r) => !live.includes(r));
        return free.length && live.includes(op.reader) ? { ...op, reader: free[op.reader % free.length]! } : op;
      }
      // A read with no reader open opens one: most reads then read.
      if (live.length === 0) return { op: "begin-read", reader: op.reader };
      const reader = live.includes(op.reader) ? op.reader : live[op.reader % live.length]!;
      if (op.op === "end-read") return { ...op, reader };
      // A tree and a key the reader's own snapshot holds, mostly (not the writer's newer ones).
      const seen = model.readerView(reader);
      const tree = seen.has(op.tree) || seen.size === 0 ? op.tree : [...seen.keys()][op.tree % seen.size]!;
      const keys = seen.get(tree) ?? [];
      const key = keys.length && !keys.includes(op.key) && op.key % 4 !== 3 ? keys[op.key % keys.length]! : op.key;
      return { ...op, reader, tree, key };
    }
    default:
      return op;
  }
}

/** The ops `explore` enumerates: enough to snapshot, write, send, drop and crash one small tree. */
export function snapshotAlphabet(g: SnapshotGeometry): SnapshotOp[] {
  const common: SnapshotOp[] = [
    { op: "put", tree: 0, key: 0, data: [1, 2] },
    { op: "put", tree: 0, key: 1, data: [3] },
    { op: "del", tree: 0, key: 0 },
    { op: "commit" },
    // Power lost after three steps, the third of them kept: a meta written before the flush would land.
    { op: "crash", after: 3, keep: 4 },
  ];
  if (g.flavour === "lmdb")
    return [...common, { op: "begin-read", reader: 0 }, { op: "read", reader: 0, tree: 0, key: 0 }];
  const flavoured: SnapshotOp[] =
    g.flavour === "btrfs"
      ? [
          { op: "patch", tree: 0, key: 0, block: 1, value: 4 },
          { op: "space", tree: 0 },
        ]
      : g.flavour === "zfs"
        ? [{ op: "space", tree: 1 }]
        : [];
  return [
    ...common,
    { op: "snapshot", tree: 0, as: 1 },
    { op: "get", tree: 1, key: 0 },
    { op: "drop", tree: 1 },
    { op: "send", snap: 1, as: 2 },
    ...flavoured,
  ];
}

/**
 * Rewrites of a failing sequence that removing ops cannot reach (minimize.ts): a key, tree or reader renamed to a
 * lower one the sequence does not use, a crash that keeps one of its unflushed writes fewer. The layer adds the values
 * of one op lowered as for any layer (minimize.ts `lowered`: shorter and lower values, a crash a step earlier).
 */
export function* snapshotSimplifications(ops: readonly SnapshotOp[]): Iterable<SnapshotOp[]> {
  const rename = (field: "key" | "tree" | "reader", lowest: number): Iterable<SnapshotOp[]> => {
    const fields = field === "tree" ? (["tree", "as", "snap", "base"] as const) : ([field] as const);
    const used = new Set<number>();
    for (const op of ops) for (const f of fields) if (f in op) used.add((op as unknown as Record<string, number>)[f]!);
    const out: SnapshotOp[][] = [];
    for (const from of [...used].sort((a, b) => b - a)) {
      let to = lowest;
      while (to < from && used.has(to)) to++;
      if (to >= from) continue;
      out.push(
        ops.map((op) => {
          const copy: Record<string, unknown> = { ...op };
          for (const f of fields) if (copy[f] === from) copy[f] = to;
          return copy as SnapshotOp;
        }),
      );
    }
    return out;
  };
  yield* rename("key", 0);
  yield* rename("tree", 1); // tree 0 exists from the start and cannot be dropped: never renamed to or from
  yield* rename("reader", 0);
  for (const [i, op] of ops.entries())
    if (op.op === "crash")
      for (let b = 0; 1 << b <= op.keep && b < 31; b++)
        if ((op.keep >> b) & 1) yield [...ops.slice(0, i), { ...op, keep: op.keep & ~(1 << b) }, ...ops.slice(i + 1)];
}
