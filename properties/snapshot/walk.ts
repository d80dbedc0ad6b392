// Reading an inspected snapshot state: what a set of roots reaches, what trees hold, a key's path. The invariants
// and economy bounds share these walks; none of them trusts the engine's own bookkeeping.
import type { NodeImage, SnapshotState } from "../../models/snapshot/types.ts";

export type Roots = Record<string, number | null>;

/** The current trees' roots (the open transaction's view). */
export const currentRoots = (s: SnapshotState): Roots =>
  Object.fromEntries(Object.entries(s.trees).map(([k, t]) => [k, t.root]));

/** The roots of the newest meta slot: the committed state a recovery would find. */
export function committedRoots(s: SnapshotState): Roots {
  const [a, b] = s.metas;
  return (a.txn > b.txn ? a : b).roots;
}

/** Every root a live reader holds (LMDB). */
export const readerRoots = (s: SnapshotState): (number | null)[] =>
  Object.values(s.readerRoots ?? {}).flatMap((r) => Object.values(r));

/** The nodes the roots reach (a node missing from the state is reported, not followed). */
export function reach(s: SnapshotState, roots: Iterable<number | null>): { nodes: Set<number>; missing: number[] } {
  const nodes = new Set<number>();
  const missing: number[] = [];
  const walk = (id: number): void => {
    if (nodes.has(id)) return;
    nodes.add(id);
    const n = s.nodes[id];
    if (!n) missing.push(id);
    else for (const k of n.kids ?? []) walk(k);
  };
  for (const r of roots) if (r !== null) walk(r);
  return { nodes, missing };
}

const memo = new WeakMap<SnapshotState, Map<string, { nodes: Set<number>; missing: number[] }>>();
/**
 * What the state's current trees, committed roots, readers, or all of them reach, worked out once per state: every
 * property reads the same state after an op.
 */
export function reachOf(
  s: SnapshotState,
  which: "current" | "committed" | "all",
): { nodes: Set<number>; missing: number[] } {
  let m = memo.get(s);
  if (!m) {
    m = new Map();
    memo.set(s, m);
  }
  let r = m.get(which);
  if (!r) {
    const roots =
      which === "current"
        ? Object.values(currentRoots(s))
        : which === "committed"
          ? [...Object.values(committedRoots(s)), ...readerRoots(s)]
          : [...Object.values(currentRoots(s)), ...Object.values(committedRoots(s)), ...readerRoots(s)];
    r = reach(s, roots);
    m.set(which, r);
  }
  return r;
}

/** A tree's entries in key order, each value as its blocks' data (undefined where a block is missing). */
export function contents(s: SnapshotState, root: number | null): [number, (number | undefined)[]][] {
  const out: [number, (number | undefined)[]][] = [];
  const walk = (id: number): void => {
    const n = s.nodes[id];
    if (!n || n.lost) return; // a block that never reached the disk holds nothing
    if (n.kids) for (const k of n.kids) walk(k);
    else
      for (const [i, k] of n.keys.entries())
        out.push([k, n.vals![i]!.map(([e, b]) => (s.extents[e]?.lost ? undefined : s.extents[e]?.data[b]))]);
  };
  if (root !== null) walk(root);
  return out;
}

/** Every tree's contents, as one comparable string per state. */
export function allContents(s: SnapshotState, roots: Roots): string {
  return JSON.stringify(
    Object.entries(roots)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([k, r]) => [k, contents(s, r)]),
  );
}

/** The nodes from root to the leaf where key lives or would go. */
export function pathTo(s: SnapshotState, root: number | null, key: number): [number, NodeImage][] {
  const out: [number, NodeImage][] = [];
  let id = root;
  while (id !== null) {
    const n = s.nodes[id];
    if (!n) break;
    out.push([id, n]);
    if (!n.kids) break;
    let i = 0;
    while (i < n.keys.length && key >= n.keys[i]!) i++;
    id = n.kids[i] ?? null;
  }
  return out;
}

/** A node's content as a string (what "written in place" compares). */
export const fingerprint = (n: NodeImage): string =>
  JSON.stringify([n.keys, n.vals ?? null, n.kids ?? null, n.holes ?? null, n.birth]);

/**
 * What is wrong with one node on its own (over capacity, empty, keys for children, keys out of order), or its keys
 * and holes in order: the part of btree-shape that needs no other node.
 */
export function nodeFault(s: SnapshotState, id: number, n: NodeImage): { error: string } | { keys: number[] } {
  const slots = n.kids ? n.kids.length : n.keys.length + (n.holes?.length ?? 0);
  const cap = n.kids ? s.capacity.inner : s.capacity.leaf;
  if (slots > cap) return { error: `node ${id} holds ${slots}, more than ${cap}` };
  if (slots === 0) return { error: `node ${id} is empty` };
  if (n.kids && n.keys.length !== n.kids.length - 1)
    return { error: `inner node ${id} has ${n.keys.length} keys for ${n.kids.length} children` };
  const keys = [...n.keys, ...(n.holes ?? []).map(([k]) => k)].sort((a, b) => a - b);
  for (let i = 1; i < keys.length; i++)
    if (keys[i - 1]! >= keys[i]!) return { error: `node ${id}'s keys are not in order: ${n.keys.join(", ")}` };
  return { keys };
}
