// What changed between two inspected snapshot states that say what the ops touched (the state's `touched`): the
// nodes each kind of root reaches, kept by reference counts of the pointers from reached nodes, the parents and
// leaf entries of every node and extent, and each subtree's shape. The invariants and economy bounds check only
// what these say changed, and the whole state on a sequence's last op or when a state carries no `touched`.
import type { NodeImage, SnapshotState, TreeImage } from "../../models/snapshot/types.ts";
import { committedRoots, nodeFault } from "./walk.ts";

type Ids = (number | null)[];
type Count = Map<number, Map<number, number>>;

/**
 * The nodes a multiset of roots reaches, by counting: cnt[id] = the roots naming it + the pointers to it from
 * reached nodes (each kid slot once). A node is reached while its count is positive. Exact on a graph without
 * cycles (a store's nodes point only at nodes born no later); a cycle no root reaches stays counted until the
 * next whole check rebuilds the count.
 */
export class Reach {
  readonly cnt = new Map<number, number>();
  /** Ids whose count changed in the last update, each with whether it was reached before it. */
  readonly was = new Map<number, boolean>();
  private roots = new Map<number, number>();
  private rootList: Ids = [];
  private nodes: SnapshotState["nodes"] = {};

  constructor(s: SnapshotState, roots: Ids) {
    this.nodes = s.nodes;
    this.roots = multiset(roots);
    this.rootList = roots;
    for (const [r, n] of this.roots) for (let i = 0; i < n; i++) this.inc(r);
    this.was.clear();
  }

  has(id: number): boolean {
    return this.cnt.has(id);
  }
  /** Whether id was reached before the last update. */
  before(id: number): boolean {
    return this.was.get(id) ?? this.cnt.has(id);
  }

  private note(id: number, c: number): void {
    if (!this.was.has(id)) this.was.set(id, c > 0);
  }
  private inc(id: number): void {
    const c = this.cnt.get(id) ?? 0;
    this.note(id, c);
    this.cnt.set(id, c + 1);
    if (c === 0) for (const k of this.nodes[id]?.kids ?? []) this.inc(k);
  }
  private dec(id: number): void {
    const c = this.cnt.get(id) ?? 0;
    this.note(id, c);
    if (c > 1) {
      this.cnt.set(id, c - 1);
      return;
    }
    this.cnt.delete(id);
    // It leaves holding what it holds now: its new image's pointers (a touched node's were swapped in first).
    if (c === 1) for (const k of this.nodes[id]?.kids ?? []) this.dec(k);
  }

  /**
   * From prev to s, where only the touched nodes' images differ (`relinked`: those whose pointers differ): the
   * reached ones swap their old pointers for their new ones, and the roots change; every increment goes before every decrement, so a node
   * that stays reached never leaves on the way.
   */
  update(prev: SnapshotState, s: SnapshotState, relinked: readonly number[], roots: Ids): void {
    this.was.clear();
    this.nodes = s.nodes;
    const moved = !sameList(this.rootList, roots);
    if (!moved && relinked.length === 0) return;
    const swapped = relinked.filter((id) => this.cnt.has(id));
    const next = moved ? multiset(roots) : this.roots;
    this.rootList = roots;
    for (const id of swapped) for (const k of s.nodes[id]?.kids ?? []) this.inc(k);
    if (moved) for (const [r, n] of next) for (let i = this.roots.get(r) ?? 0; i < n; i++) this.inc(r);
    for (const id of swapped) {
      this.note(id, 1);
      for (const k of prev.nodes[id]?.kids ?? []) this.dec(k);
    }
    if (moved) for (const [r, n] of this.roots) for (let i = next.get(r) ?? 0; i < n; i++) this.dec(r);
    this.roots = next;
  }
}

function multiset(ids: Ids): Map<number, number> {
  const m = new Map<number, number>();
  for (const id of ids) if (id !== null) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

const sameList = (a?: readonly (number | null)[], b?: readonly (number | null)[]): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));
const sameVals = (a?: NodeImage["vals"], b?: NodeImage["vals"]): boolean =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.length === b.length &&
    a.every((v, i) => v.length === b[i]!.length && v.every(([e, k], j) => e === b[i]![j]![0] && k === b[i]![j]![1])));
const sameHoles = (a: NodeImage, b: NodeImage, births = false): boolean =>
  a.holes === b.holes ||
  (a.holes !== undefined &&
    b.holes !== undefined &&
    a.holes.length === b.holes.length &&
    a.holes.every(([k, t], i) => k === b.holes![i]![0] && (!births || t === b.holes![i]![1])));
/** The same content: what the fingerprint of walk.ts compares, field by field. */
export const sameContent = (a: NodeImage, b: NodeImage): boolean =>
  a.birth === b.birth &&
  sameList(a.keys, b.keys) &&
  sameList(a.kids, b.kids) &&
  sameVals(a.vals, b.vals) &&
  sameHoles(a, b, true);

const add = (index: Count, key: number, holder: number, by: number): void => {
  let m = index.get(key);
  if (!m) {
    m = new Map();
    index.set(key, m);
  }
  const n = (m.get(holder) ?? 0) + by;
  if (n === 0) m.delete(holder);
  else m.set(holder, n);
  if (m.size === 0) index.delete(key);
};

/** The extents a leaf's entries use, each counted once per entry (as the refcounts count them). */
export function entryExtents(n: NodeImage | undefined): number[] {
  const out: number[] = [];
  for (const v of n?.vals ?? []) for (const e of new Set(v.map(([x]) => x))) out.push(e);
  return out;
}

/** A subtree's shape: the keys it spans and its height (undefined: it holds no readable node), or what is wrong. */
export interface Shape {
  error?: string;
  min: number;
  max: number;
  height: number | undefined;
}
const NOTHING: Shape = { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, height: undefined };

/** What changed from the previous state, for the checks of one op. */
export interface Delta {
  prev: SnapshotState;
  /** The touched nodes and extents (the state's `touched`). */
  nodes: readonly number[];
  extents: readonly number[];
  /** The touched nodes whose entries changed (their extents' users changed). */
  revalued: number[];
  /** Reached from the open transaction's trees; from everything (trees, committed roots, readers); from the committed roots and readers. */
  current: Reach;
  all: Reach;
  committed: Reach;
  /** LMDB: each live reader's reach, and whether it began since the previous state. */
  readers: Map<string, { txn: number; reach: Reach; fresh: boolean }>;
  /** Parents of each node, leaf entries using each extent (holder → entries), over every node kept. */
  parents: Count;
  holders: Count;
  /** A subtree's shape (kept until a node in it changes). */
  shape(id: number): Shape;
  /**
   * Nothing the checks read changed: no node or extent touched, and the trees, metas, free lists and readers handed
   * back as they were (an op that failed, or a read). A state the last one's checks passed passes them again.
   */
  still: boolean;
  /** The trees, in the state's order. */
  trees: [string, TreeImage][];
}

const readerRootsOf = (s: SnapshotState, slot: string): Ids => Object.values(s.readerRoots?.[slot] ?? {});
const currentOf = (s: SnapshotState): Ids => {
  const out: Ids = [];
  for (const k in s.trees) out.push(s.trees[k]!.root);
  return out;
};
const committedOf = (s: SnapshotState): Ids => {
  const out: Ids = [];
  const roots = committedRoots(s);
  for (const k in roots) out.push(roots[k]!);
  for (const slot in s.readerRoots) for (const k in s.readerRoots[slot]) out.push(s.readerRoots[slot]![k]!);
  return out;
};

class Tracker {
  private delta?: Delta;
  private shapes = new Map<number, Shape>();
  private last: SnapshotState;
  /** The roots the current trees, the committed state and both hold in the last state. */
  private current: Ids;
  private committed: Ids;
  private all: Ids;
  constructor(initial: SnapshotState) {
    this.last = initial;
    this.current = this.committed = this.all = [];
  }

  /** The delta from the state before s, or undefined when s must be checked whole. */
  advance(s: SnapshotState, full: boolean): Delta | undefined {
    if (s === this.last) return full || !s.touched ? undefined : this.delta;
    const prev = this.last;
    this.last = s;
    if (full || !s.touched) {
      this.delta = undefined;
      return undefined;
    }
    this.delta = this.step(this.delta ?? this.build(prev), prev, s);
    return this.delta;
  }

  private build(s: SnapshotState): Delta {
    const parents: Count = new Map();
    const holders: Count = new Map();
    for (const [k, n] of Object.entries(s.nodes)) {
      const id = Number(k);
      for (const c of n.kids ?? []) add(parents, c, id, 1);
      for (const e of entryExtents(n)) add(holders, e, id, 1);
    }
    this.shapes.clear();
    this.current = currentOf(s);
    this.committed = committedOf(s);
    this.all = [...this.current, ...this.committed];
    const readers = new Map<string, { txn: number; reach: Reach; fresh: boolean }>();
    for (const [slot, txn] of Object.entries(s.readers ?? {}))
      readers.set(slot, { txn, reach: new Reach(s, readerRootsOf(s, slot)), fresh: false });
    return {
      prev: s,
      nodes: [],
      extents: [],
      revalued: [],
      current: new Reach(s, this.current),
      all: new Reach(s, this.all),
      committed: new Reach(s, this.committed),
      readers,
      parents,
      holders,
      shape: (id) => this.shapeOf(s, id),
      still: false,
      trees: Object.entries(s.trees),
    };
  }

  private step(d: Delta, prev: SnapshotState, s: SnapshotState): Delta {
    // an engine may name an id twice: each is looked at once
    const nodes = s.touched!.nodes.length > 1 ? [...new Set(s.touched!.nodes)] : s.touched!.nodes;
    const extents = s.touched!.extents.length > 1 ? [...new Set(s.touched!.extents)] : s.touched!.extents;
    // What each touched node changed: its pointers, its entries, or anything its subtree's shape reads.
    const relinked: number[] = [];
    const revalued: number[] = [];
    const reshaped: number[] = [];
    for (const id of nodes) {
      const was = prev.nodes[id];
      const now = s.nodes[id];
      const kids = !sameList(was?.kids, now?.kids);
      if (kids) relinked.push(id);
      if (!sameVals(was?.vals, now?.vals)) revalued.push(id);
      if (kids || !was || !now || was.lost !== now.lost || !sameList(was.keys, now.keys) || !sameHoles(was, now))
        reshaped.push(id);
    }
    // Every shape above a reshaped node is made again, found through its parents before this change (a node that gains
    // a parent is reached through it: that parent is relinked, so reshaped, itself).
    if (reshaped.length) {
      const seen = new Set<number>();
      const up = (id: number): void => {
        if (seen.has(id)) return;
        seen.add(id);
        this.shapes.delete(id);
        for (const p of d.parents.get(id)?.keys() ?? []) up(p);
      };
      for (const id of reshaped) up(id);
    }
    for (const id of relinked) {
      for (const c of prev.nodes[id]?.kids ?? []) add(d.parents, c, id, -1);
      for (const c of s.nodes[id]?.kids ?? []) add(d.parents, c, id, 1);
    }
    for (const id of revalued) {
      for (const e of entryExtents(prev.nodes[id])) add(d.holders, e, id, -1);
      for (const e of entryExtents(s.nodes[id])) add(d.holders, e, id, 1);
    }
    // An inspected state hands back a part that did not change as it was: the roots are listed again only when the
    // trees, the metas or the readers are new.
    const current = s.trees === prev.trees ? this.current : currentOf(s);
    const committed = s.metas === prev.metas && s.readerRoots === prev.readerRoots ? this.committed : committedOf(s);
    const all = current === this.current && committed === this.committed ? this.all : [...current, ...committed];
    [this.current, this.committed, this.all] = [current, committed, all];
    d.current.update(prev, s, relinked, current);
    d.all.update(prev, s, relinked, all);
    d.committed.update(prev, s, relinked, committed);
    if (s.readers !== prev.readers || s.readerRoots !== prev.readerRoots) {
      const readers = new Map<string, { txn: number; reach: Reach; fresh: boolean }>();
      for (const [slot, txn] of Object.entries(s.readers ?? {})) {
        const old = d.readers.get(slot);
        const roots = readerRootsOf(s, slot);
        if (old && old.txn === txn && sameList(readerRootsOf(prev, slot), roots)) {
          old.reach.update(prev, s, relinked, roots);
          readers.set(slot, { ...old, fresh: false });
        } else readers.set(slot, { txn, reach: new Reach(s, roots), fresh: true });
      }
      if (s.readers) d.readers = readers;
    } else
      for (const [slot, r] of d.readers) {
        r.reach.update(prev, s, relinked, readerRootsOf(s, slot));
        r.fresh = false;
      }
    d.prev = prev;
    d.nodes = nodes;
    d.extents = extents;
    d.revalued = revalued;
    d.shape = (id) => this.shapeOf(s, id);
    d.still =
      nodes.length === 0 &&
      extents.length === 0 &&
      s.trees === prev.trees &&
      s.metas === prev.metas &&
      s.free === prev.free &&
      s.pending === prev.pending &&
      s.pendingExtents === prev.pendingExtents &&
      s.freelist === prev.freelist &&
      s.readers === prev.readers &&
      s.readerRoots === prev.readerRoots;
    if (s.trees !== prev.trees) d.trees = Object.entries(s.trees);
    return d;
  }

  /** A subtree's shape, from its nodes' images (btree-shape: order, bounds, capacity, one leaf depth). */
  private shapeOf(s: SnapshotState, id: number, path = new Set<number>()): Shape {
    const known = this.shapes.get(id);
    if (known) return known;
    if (path.has(id)) return { ...NOTHING, error: `node ${id} is its own descendant` };
    const n = s.nodes[id];
    let out: Shape;
    if (!n || n.lost) out = NOTHING;
    else {
      path.add(id);
      out = this.shapeOfNode(s, id, n, path);
      path.delete(id);
    }
    this.shapes.set(id, out);
    return out;
  }

  private shapeOfNode(s: SnapshotState, id: number, n: NodeImage, path: Set<number>): Shape {
    const bad = (error: string): Shape => ({ ...NOTHING, error });
    const own = nodeFault(s, id, n);
    if ("error" in own) return bad(own.error);
    const { keys } = own;
    let min = keys[0] ?? Number.POSITIVE_INFINITY;
    let max = keys[keys.length - 1] ?? Number.NEGATIVE_INFINITY;
    if (!n.kids) return { min, max, height: 0 };
    let height: number | undefined;
    for (const [i, k] of n.kids.entries()) {
      const c = this.shapeOf(s, k, path);
      if (c.error) return c;
      const lo = i === 0 ? Number.NEGATIVE_INFINITY : n.keys[i - 1]!;
      const hi = i === n.keys.length ? Number.POSITIVE_INFINITY : n.keys[i]!;
      if (c.min < lo || c.max >= hi)
        return bad(`node ${k}'s key ${c.min < lo ? c.min : c.max} is outside [${lo}, ${hi})`);
      if (c.height !== undefined) {
        if (height !== undefined && height !== c.height + 1)
          return bad(`node ${id}'s children hold leaves at different depths`);
        height = c.height + 1;
      }
      min = Math.min(min, c.min);
      max = Math.max(max, c.max);
    }
    return { min, max, height };
  }
}

const sets = new WeakMap<readonly number[], Set<number>>();
/** Whether a state's id list holds id: searched while short, through a set made once per list beyond. */
export function inList(ids: readonly number[], id: number): boolean {
  if (ids.length <= 16) return ids.includes(id);
  let set = sets.get(ids);
  if (!set) {
    set = new Set(ids);
    sets.set(ids, set);
  }
  return set.has(id);
}
/** The ids in `now` that were not in `was`. */
export const added = (was: readonly number[], now: readonly number[]): readonly number[] => {
  if (was.length === 0 || now.length === 0) return now;
  if (sameList(was, now)) return [];
  return now.filter((id) => !inList(was, id));
};

const trackers = new WeakMap<SnapshotState, Tracker>();
/**
 * The delta of s for the sequence that began at `initial` (one tracker per sequence, shared by the properties: each
 * asks after every op, whatever it then checks), or undefined when s is to be checked whole.
 */
export function deltaOf(initial: SnapshotState, s: SnapshotState, full: boolean): Delta | undefined {
  if (lastTracker?.initial !== initial) {
    let t = trackers.get(initial);
    if (!t) {
      t = new Tracker(initial);
      trackers.set(initial, t);
    }
    lastTracker = { initial, tracker: t };
  }
  return lastTracker.tracker.advance(s, full);
}
/** The tracker asked last (every property asks after every op of the sequence being checked). */
let lastTracker: { initial: SnapshotState; tracker: Tracker } | undefined;
