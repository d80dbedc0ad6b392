// The snapshot state as a graph: tree roots, meta slots and readers pointing into one store of shared B+tree nodes.
import type { Graph, GraphEdge, GraphGroup, GraphNode } from "../../core/picture.ts";
import type { NodeImage, SnapshotGeometry, SnapshotState } from "./types.ts";

/** Ids from real identity (a tree's number, a node's or extent's id, a meta slot, a reader slot): stable in a trace. */
export const snapshotIds = {
  tree: (t: number | string) => `tree${t}`,
  node: (id: number | string) => `n${id}`,
  extent: (id: number | string) => `e${id}`,
  meta: (slot: number) => `meta${slot}`,
  reader: (r: number | string) => `reader${r}`,
} as const;

/** Entries a leaf's label lists before it says how many more it has. */
const LEAF_LINES = 4;
/** Blocks of a value shown before an ellipsis. */
const VALUE_BLOCKS = 4;
/** Ids a caption's list shows before it says how many more. */
const CAPTION_IDS = 8;

const list = (ids: readonly number[]): string =>
  ids.length > CAPTION_IDS ? `${ids.slice(0, CAPTION_IDS).join(",")},… (${ids.length})` : ids.join(",");

const blocks = (data: readonly (number | string)[]): string =>
  `[${data.length > VALUE_BLOCKS ? `${data.slice(0, VALUE_BLOCKS).join(",")},…` : data.join(",")}]`;

/** A leaf's entries in a few lines: key=[blocks] (a block whose extent is gone or lost shows "?"), then its holes. */
function leafLines(s: SnapshotState, n: NodeImage): string[] {
  const entries = n.keys.map((k, i) => {
    const data = (n.vals?.[i] ?? []).map(([e, b]) => {
      const x = s.extents[e];
      return x && !x.lost ? x.data[b]! : "?";
    });
    return `${k}=${blocks(data)}`;
  });
  const holes = (n.holes ?? []).map(([k, b]) => `${k}: hole@${b}`);
  const all = [...entries, ...holes];
  if (!all.length) return ["(empty)"];
  return all.length > LEAF_LINES ? [...all.slice(0, LEAF_LINES - 1), `… ${all.length - LEAF_LINES + 1} more`] : all;
}

/** Nodes reachable from the given roots (through inner nodes' kids). */
function reach(s: SnapshotState, roots: Iterable<number | null | undefined>): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots].filter((r): r is number => r !== null && r !== undefined);
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const k of s.nodes[id]?.kids ?? []) stack.push(k);
  }
  return seen;
}

const byNumber = <T>(r: Readonly<Record<string, T>>): [number, T][] =>
  Object.entries(r)
    .map(([k, v]): [number, T] => [Number(k), v])
    .sort((a, b) => a[0] - b[0]);

/**
 * Each tree's root entry, pointing at its root node; every node of the store once, with edges to its children, so a
 * node two trees share has two parents ("shared": refs > 1); the meta slots' roots where the open transaction has
 * moved away from them, LMDB's readers' roots ("pinned"), and in the Btrfs flavour the data extents the leaves use.
 */
export function snapshotPicture(s: SnapshotState, _g: SnapshotGeometry): Graph {
  const groups: GraphGroup[] = [{ id: "trees", label: "trees (open transaction)" }];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const newest = s.metas[0].txn >= s.metas[1].txn ? 0 : 1;
  const trees = byNumber(s.trees);
  /** Nodes pointed at, so that a pointer to one the store no longer has still has an end. */
  const pointed = new Set<number>();
  const toNode = (id: number): string => {
    pointed.add(id);
    return snapshotIds.node(id);
  };

  for (const [t, tree] of trees) {
    const kind =
      tree.kind === "snapshot"
        ? `snapshot of ${tree.of ?? "?"}`
        : tree.origin !== undefined
          ? `${tree.readonly ? "read-only snapshot" : "clone"} of ${tree.origin}`
          : tree.readonly
            ? "read-only"
            : "writable";
    const lines = [`tree ${t}`, `${kind}${tree.taken !== undefined ? `, taken txn ${tree.taken}` : ""}`];
    if (tree.root === null) lines.push("empty");
    if (tree.deadlist?.length) lines.push(`deadlist: extents ${list(tree.deadlist)}`);
    nodes.push({
      id: snapshotIds.tree(t),
      label: lines.join("\n"),
      group: "trees",
      ...(tree.readonly ? { marks: ["readonly"] } : {}),
    });
    if (tree.root !== null) edges.push({ from: snapshotIds.tree(t), to: toNode(tree.root) });
  }

  // the meta slots: the newest one's roots (the committed state), drawn where the open transaction's tree no longer
  // starts there
  groups.push({ id: "metas", label: "meta slots" });
  for (const slot of [0, 1]) {
    const m = s.metas[slot]!;
    nodes.push({
      id: snapshotIds.meta(slot),
      label: `meta ${slot}\ntxn ${m.txn}${slot === newest ? " (committed)" : ""}`,
      group: "metas",
    });
    // the older slot's roots are the commit before, whose nodes the newest one may have freed
    if (slot === newest)
      for (const [t, root] of byNumber(m.roots))
        if (root !== null && s.trees[t]?.root !== root)
          edges.push({ from: snapshotIds.meta(slot), to: toNode(root), label: `tree ${t}`, marks: ["committed"] });
  }

  const readers = byNumber(s.readers ?? {});
  if (readers.length) groups.push({ id: "readers", label: "readers" });
  for (const [r, txn] of readers) {
    nodes.push({ id: snapshotIds.reader(r), label: `reader ${r}\ntxn ${txn}`, group: "readers", marks: ["pinned"] });
    for (const [t, root] of byNumber(s.readerRoots?.[r] ?? {}))
      if (root !== null) edges.push({ from: snapshotIds.reader(r), to: toNode(root), label: `tree ${t}` });
  }

  const free = new Set(s.free);
  const pending = new Set(s.pending);
  const onFreelist = new Set(Object.values(s.freelist ?? {}).flat());
  const used = reach(s, [
    ...trees.map(([, t]) => t.root),
    ...Object.values(s.metas[newest].roots),
    ...Object.values(s.readerRoots ?? {}).flatMap((r) => Object.values(r)),
  ]);
  const drawn = new Set<number>();
  for (const [id, n] of byNumber(s.nodes)) {
    drawn.add(id);
    const head = `#${id}${n.kids ? "" : " leaf"}`;
    const body = n.kids ? [`[${n.keys.join(" | ")}]`] : leafLines(s, n);
    const marks = [
      n.refs > 1 ? "shared" : undefined,
      n.lost ? "dead" : undefined,
      pending.has(id) ? "pending" : undefined,
      free.has(id) || onFreelist.has(id) ? "free" : undefined,
      // nothing reaches it and nothing is to reclaim it: lost to the store
      !used.has(id) && !pending.has(id) && !free.has(id) && !onFreelist.has(id) && !n.lost ? "dead" : undefined,
    ].filter((m): m is string => m !== undefined);
    nodes.push({
      id: snapshotIds.node(id),
      label: [head, `born ${n.birth} · refs ${n.refs}${n.lost ? " · LOST" : ""}`, ...body].join("\n"),
      ...(marks.length ? { marks: [...new Set(marks)] } : {}),
    });
    for (const [i, k] of (n.kids ?? []).entries())
      edges.push({
        from: snapshotIds.node(id),
        to: toNode(k),
        label: i === 0 ? `< ${n.keys[0] ?? "∞"}` : `≥ ${n.keys[i - 1]}`,
      });
  }
  // a pointer to a node the store no longer has: drawn, so the edge has an end
  for (const id of [...pointed].filter((p) => !drawn.has(p)).sort((a, b) => a - b))
    nodes.push({ id: snapshotIds.node(id), label: `#${id}\nmissing`, marks: ["dead"] });

  // Btrfs: the data extents, each once, with an edge from every leaf entry that uses it
  if (s.flavour === "btrfs") {
    const extents = byNumber(s.extents);
    if (extents.length) groups.push({ id: "extents", label: "data extents" });
    for (const [id, x] of extents) {
      const marks = [
        (x.refs ?? 0) > 1 ? "shared" : undefined,
        x.lost ? "dead" : undefined,
        s.pendingExtents.includes(id) ? "pending" : undefined,
      ].filter((m): m is string => m !== undefined);
      nodes.push({
        id: snapshotIds.extent(id),
        label: `extent ${id}\n${blocks(x.data)}\nborn ${x.birth}${x.refs !== undefined ? ` · refs ${x.refs}` : ""}`,
        group: "extents",
        ...(marks.length ? { marks } : {}),
      });
    }
    for (const [id, n] of byNumber(s.nodes)) {
      const keysOf = new Map<number, number[]>();
      for (const [i, k] of n.keys.entries())
        for (const [e] of n.vals?.[i] ?? []) {
          const ks = keysOf.get(e) ?? [];
          if (!ks.includes(k)) ks.push(k);
          keysOf.set(e, ks);
        }
      for (const [e, ks] of keysOf)
        if (s.extents[e]) edges.push({ from: snapshotIds.node(id), to: snapshotIds.extent(e), label: ks.join(",") });
    }
  }

  const caption = [
    `${s.flavour}: open txn ${s.txn}${s.dirty ? " (dirty)" : ""}, committed txn ${s.metas[newest].txn}`,
    s.free.length ? `free ${list(s.free)}` : "",
    s.pending.length ? `freed by the open txn ${list(s.pending)}` : "",
    s.pendingExtents.length ? `extents freed by the open txn ${list(s.pendingExtents)}` : "",
    ...byNumber(s.freelist ?? {}).map(([t, p]) => (p.length ? `freelist txn ${t}: ${list(p)}` : "")),
    s.nextPage !== undefined ? `next page ${s.nextPage}` : "",
  ]
    .filter(Boolean)
    .join("; ");
  return { kind: "graph", direction: "TB", groups, nodes, edges, caption };
}
