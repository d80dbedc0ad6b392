// Structural invariants of a copy-on-write B+tree store's inspected state (Rodeh 2008, section 4: "every node's
// reference count equals the number of pointers to it"), the flavours' own rules, and crash atomicity.
import type { Named, Property } from "../../core/index.ts";
import type { SnapshotObs, SnapshotOp, SnapshotState } from "../../models/snapshot/types.ts";
import { added, type Delta, deltaOf, entryExtents, inList, sameContent } from "./track.ts";
import { allContents, committedRoots, contents, currentRoots, fingerprint, nodeFault, reach, reachOf } from "./walk.ts";

const members = [
  {
    name: "refcounts",
    description:
      "a reachable node's count equals the inner nodes and roots pointing at it, an extent's the leaf entries using it (LMDB: every page referenced once)",
  },
  {
    name: "nothing-reachable-free",
    description:
      "no node reachable from a tree, the committed roots or a reader is free or missing, no used extent missing",
  },
  { name: "no-write-in-place", description: "a committed node that stays committed never changes" },
  { name: "births", description: "a child is not born after its parent, nor a leaf's extent after the leaf" },
  {
    name: "btree-shape",
    description:
      "keys in order within their separators, leaves at one depth, no node over capacity, no empty node but an empty root, no inner root with one child",
  },
  { name: "snapshots-immutable", description: "a read-only tree's contents never change" },
  {
    name: "readers-pinned",
    description: "LMDB: no page a live reader reaches is free or reused since the reader began",
  },
  {
    name: "crash-atomic",
    description:
      "after a crash every tree holds exactly the last committed state or the in-flight one, the one recovery said, and it is the in-flight one exactly when its meta write reached the disk",
  },
] as const;

type Check = Named | undefined;
const READS = new Set(["get", "scan", "space", "read", "begin-read", "end-read"]);

function refcounts(s: SnapshotState): Check {
  const { nodes } = reachOf(s, "current");
  const pointers = new Map<number, number>();
  for (const r of Object.values(currentRoots(s))) if (r !== null) pointers.set(r, (pointers.get(r) ?? 0) + 1);
  const uses = new Map<number, number>();
  for (const id of nodes) for (const k of s.nodes[id]?.kids ?? []) pointers.set(k, (pointers.get(k) ?? 0) + 1);
  // LMDB's values live in their pages: a freed page keeps them for readers until it is reused.
  const holders = s.flavour === "lmdb" ? Object.keys(s.nodes).map(Number) : nodes;
  for (const id of holders)
    for (const v of s.nodes[id]?.vals ?? [])
      for (const e of new Set(v.map(([x]) => x))) uses.set(e, (uses.get(e) ?? 0) + 1);
  for (const id of nodes) {
    const n = s.nodes[id];
    if (!n) continue;
    const want = s.flavour === "lmdb" ? 1 : pointers.get(id)!;
    if (s.flavour === "lmdb" && pointers.get(id)! > 1)
      return { property: "refcounts", message: `page ${id} is referenced ${pointers.get(id)} times` };
    if (n.refs !== want)
      return {
        property: "refcounts",
        message: `node ${id} has count ${n.refs}, but ${pointers.get(id)} pointers reach it`,
      };
  }
  if (s.flavour !== "zfs")
    for (const [e, n] of uses) {
      const x = s.extents[e];
      if (x && x.refs !== n)
        return { property: "refcounts", message: `extent ${e} has count ${x.refs}, but ${n} leaf entries use it` };
    }
  return undefined;
}

function nothingReachableFree(s: SnapshotState): Check {
  const { nodes, missing } = reachOf(s, "all");
  if (missing.length)
    return { property: "nothing-reachable-free", message: `node ${missing[0]} is reachable but does not exist` };
  const free = new Set(s.free);
  for (const id of nodes) {
    if (free.has(id)) return { property: "nothing-reachable-free", message: `node ${id} is reachable and free` };
    if (s.nodes[id]!.lost)
      return { property: "nothing-reachable-free", message: `node ${id} is reachable but never reached the disk` };
  }
  const dying = new Set(s.pendingExtents);
  for (const id of reachOf(s, "current").nodes) {
    if (s.pending.includes(id))
      return { property: "nothing-reachable-free", message: `node ${id} is in use and freed by the open transaction` };
    for (const v of s.nodes[id]!.vals ?? [])
      for (const [e] of v) {
        if (!s.extents[e] || s.extents[e]!.lost)
          return { property: "nothing-reachable-free", message: `extent ${e}, used by node ${id}, is gone` };
        if (dying.has(e))
          return {
            property: "nothing-reachable-free",
            message: `extent ${e}, used by node ${id}, is freed by the open transaction`,
          };
      }
  }
  return undefined;
}

function births(s: SnapshotState): Check {
  for (const [id, n] of Object.entries(s.nodes)) {
    if (n.refs === 0) continue;
    for (const k of n.kids ?? []) {
      const c = s.nodes[k];
      if (c && c.birth > n.birth)
        return { property: "births", message: `node ${k} (born ${c.birth}) is a child of node ${id}, born ${n.birth}` };
    }
    for (const v of n.vals ?? [])
      for (const [e] of v) {
        const x = s.extents[e];
        if (x && x.birth > n.birth)
          return {
            property: "births",
            message: `extent ${e} (born ${x.birth}) is used by leaf ${id}, born ${n.birth}`,
          };
      }
  }
  return undefined;
}

function shape(s: SnapshotState, name: string, root: number | null): Check {
  const bad = (message: string): Named => ({ property: "btree-shape", message: `tree ${name}: ${message}` });
  let leafDepth = -1;
  const walk = (id: number, lo: number, hi: number, depth: number): Check => {
    const n = s.nodes[id];
    if (!n || n.lost) return undefined;
    const own = nodeFault(s, id, n);
    if ("error" in own) return bad(own.error);
    for (const k of own.keys) if (k < lo || k >= hi) return bad(`node ${id}'s key ${k} is outside [${lo}, ${hi})`);
    if (!n.kids) {
      if (leafDepth === -1) leafDepth = depth;
      return leafDepth === depth ? undefined : bad(`leaf ${id} at depth ${depth}, another at ${leafDepth}`);
    }
    for (let i = 0; i < n.kids.length; i++) {
      const r = walk(n.kids[i]!, i === 0 ? lo : n.keys[i - 1]!, i === n.keys.length ? hi : n.keys[i]!, depth + 1);
      if (r) return r;
    }
    return undefined;
  };
  if (root === null) return undefined;
  const r = s.nodes[root];
  if (r?.kids && r.kids.length < 2) return bad(`the root ${root} is an inner node with one child`);
  return walk(root, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 0);
}

function readersPinned(s: SnapshotState): Check {
  const free = new Set(s.free);
  for (const [slot, roots] of Object.entries(s.readerRoots ?? {})) {
    const txn = s.readers![slot]!;
    for (const id of reach(s, Object.values(roots)).nodes) {
      if (free.has(id))
        return { property: "readers-pinned", message: `page ${id}, which reader ${slot} reads, is free for reuse` };
      const n = s.nodes[id];
      if (n && n.birth > txn)
        return {
          property: "readers-pinned",
          message: `page ${id}, which reader ${slot} (txn ${txn}) reads, was rewritten in txn ${n.birth}`,
        };
    }
  }
  return undefined;
}

/** The same invariants as the whole checks above, over only what the delta says changed (track.ts). */
function changed(d: Delta, s: SnapshotState): Check {
  if (d.still) return undefined;
  const img = s.nodes;
  const lmdb = s.flavour === "lmdb";
  const { current, all } = d;
  // refcounts: a node whose count, reach or image changed; an extent whose count or users changed
  for (const ids of [current.was.keys(), d.nodes])
    for (const id of ids) {
      const n = img[id];
      if (!n || !current.has(id)) continue;
      const pointers = current.cnt.get(id)!;
      if (lmdb && pointers > 1) return { property: "refcounts", message: `page ${id} is referenced ${pointers} times` };
      if (n.refs !== (lmdb ? 1 : pointers))
        return { property: "refcounts", message: `node ${id} has count ${n.refs}, but ${pointers} pointers reach it` };
    }
  if (s.flavour !== "zfs") {
    const es = new Set(d.extents);
    for (const id of d.revalued)
      for (const e of [...entryExtents(d.prev.nodes[id]), ...entryExtents(img[id])]) es.add(e);
    if (!lmdb)
      for (const [id, was] of current.was)
        if (was !== current.has(id)) for (const e of entryExtents(img[id])) es.add(e);
    for (const e of es) {
      const x = s.extents[e];
      if (!x) continue;
      let uses = 0;
      for (const [h, m] of d.holders.get(e) ?? []) if (lmdb || current.has(h)) uses += m;
      if (uses > 0 && x.refs !== uses)
        return { property: "refcounts", message: `extent ${e} has count ${x.refs}, but ${uses} leaf entries use it` };
    }
  }
  // nothing-reachable-free: a node newly reached, changed or freed; an extent gone or dying under a used leaf
  const freed = added(d.prev.free, s.free);
  for (const ids of [all.was.keys(), d.nodes, freed])
    for (const id of ids) {
      if (!all.has(id)) continue;
      const n = img[id];
      if (!n) return { property: "nothing-reachable-free", message: `node ${id} is reachable but does not exist` };
      if (inList(s.free, id))
        return { property: "nothing-reachable-free", message: `node ${id} is reachable and free` };
      if (n.lost)
        return { property: "nothing-reachable-free", message: `node ${id} is reachable but never reached the disk` };
    }
  const gone = (e: number, id: number): Check =>
    !s.extents[e] || s.extents[e]!.lost
      ? { property: "nothing-reachable-free", message: `extent ${e}, used by node ${id}, is gone` }
      : inList(s.pendingExtents, e)
        ? {
            property: "nothing-reachable-free",
            message: `extent ${e}, used by node ${id}, is freed by the open transaction`,
          }
        : undefined;
  for (const ids of [current.was.keys(), d.nodes, added(d.prev.pending, s.pending)])
    for (const id of ids) {
      if (!current.has(id) || !img[id]) continue;
      if (inList(s.pending, id))
        return {
          property: "nothing-reachable-free",
          message: `node ${id} is in use and freed by the open transaction`,
        };
      for (const v of img[id]!.vals ?? []) for (const [e] of v) if (gone(e, id)) return gone(e, id);
    }
  for (const es of [d.extents, added(d.prev.pendingExtents, s.pendingExtents)])
    for (const e of es)
      for (const h of d.holders.get(e)?.keys() ?? []) if (current.has(h) && gone(e, h)) return gone(e, h);
  // births: a changed node's children and extents, and the parents of a changed node or extent
  const younger = (kind: "node" | "extent", child: number, born: number, parent: number): Check => {
    const p = img[parent];
    if (!p || p.refs === 0 || born <= p.birth) return undefined;
    const what = kind === "node" ? "a child of node" : "used by leaf";
    return { property: "births", message: `${kind} ${child} (born ${born}) is ${what} ${parent}, born ${p.birth}` };
  };
  for (const id of d.nodes) {
    const n = img[id];
    if (!n) continue;
    for (const k of n.kids ?? []) {
      const c = img[k];
      const r = c && younger("node", k, c.birth, id);
      if (r) return r;
    }
    for (const v of n.vals ?? [])
      for (const [e] of v) {
        const x = s.extents[e];
        const r = x && younger("extent", e, x.birth, id);
        if (r) return r;
      }
    for (const p of d.parents.get(id)?.keys() ?? []) {
      const r = younger("node", id, n.birth, p);
      if (r) return r;
    }
  }
  for (const e of d.extents) {
    const x = s.extents[e];
    if (x)
      for (const h of d.holders.get(e)?.keys() ?? []) {
        const r = younger("extent", e, x.birth, h);
        if (r) return r;
      }
  }
  // btree-shape: each tree's root, and the shapes of the subtrees a change reached (kept for the rest)
  for (const [k, t] of d.trees) {
    if (t.root === null) continue;
    const r = img[t.root];
    if (r?.kids && r.kids.length < 2)
      return { property: "btree-shape", message: `tree ${k}: the root ${t.root} is an inner node with one child` };
    const { error } = d.shape(t.root);
    if (error) return { property: "btree-shape", message: `tree ${k}: ${error}` };
  }
  // readers-pinned: what each reader reaches that changed or was freed, everything a reader reaches when it begins
  for (const [slot, r] of d.readers)
    for (const ids of r.fresh ? [r.reach.cnt.keys()] : [r.reach.was.keys(), d.nodes, freed])
      for (const id of ids) {
        if (!r.reach.has(id)) continue;
        if (inList(s.free, id))
          return { property: "readers-pinned", message: `page ${id}, which reader ${slot} reads, is free for reuse` };
        const n = img[id];
        if (n && n.birth > r.txn)
          return {
            property: "readers-pinned",
            message: `page ${id}, which reader ${slot} (txn ${r.txn}) reads, was rewritten in txn ${n.birth}`,
          };
      }
  // no-write-in-place: a changed node committed before and after, with the same birth
  for (const id of d.nodes) {
    const a = d.prev.nodes[id];
    const b = img[id];
    if (a && b && a.birth === b.birth && !sameContent(a, b) && d.committed.before(id) && d.committed.has(id))
      return { property: "no-write-in-place", message: `committed node ${id} changed in place` };
  }
  return undefined;
}

/** The committed nodes (reached from the newest meta and the readers) and their contents. */
function committedPrints(s: SnapshotState): Map<number, string> {
  const out = new Map<number, string>();
  for (const id of reachOf(s, "committed").nodes) {
    const n = s.nodes[id];
    if (n) out.set(id, fingerprint(n));
  }
  return out;
}

export const snapshotStructure: Property<SnapshotOp, SnapshotObs, SnapshotState> = {
  name: "snapshot-structure",
  kind: "invariant",
  description:
    "refcounts, nothing reachable free, no write in place, births, B+tree shape, immutable snapshots, pinned readers, crash atomicity",
  members,
  start(initial) {
    let prev = initial;
    // The committed nodes' prints at the last whole check (made again from the state before, after checks of deltas).
    let prints: Map<number, string> | undefined = committedPrints(initial);
    let printed = initial;
    const frozen = new Map<string, { taken: number | undefined; root: number | null; contents: string }>();
    return {
      after(op, obs, s, full): Named | undefined {
        const before = prev;
        prev = s;
        const d = deltaOf(initial, s, full);
        if (d) {
          prints = undefined;
          printed = s;
          const found = changed(d, s);
          if (found) return found;
        } else {
          // A read, or an op that failed, changes nothing in a store that works: what one changed anyway is found
          // at the next op that does change something, or at the end.
          if (!full && (READS.has(op.op) || "error" in obs)) return undefined;
          const found =
            refcounts(s) ??
            nothingReachableFree(s) ??
            births(s) ??
            Object.entries(s.trees).reduce<Check>((r, [k, t]) => r ?? shape(s, k, t.root), undefined) ??
            (s.flavour === "lmdb" ? readersPinned(s) : undefined);
          if (found) return found;
          const now = committedPrints(s);
          prints ??= committedPrints(printed);
          for (const [id, p] of now) {
            const was = prints.get(id);
            // A node id freed by one commit and reused by the next (a send commits twice) has a new birth.
            if (was !== undefined && was !== p && printed.nodes[id]?.birth === s.nodes[id]?.birth)
              return { property: "no-write-in-place", message: `committed node ${id} changed in place` };
          }
          prints = now;
          printed = s;
        }
        // A read-only tree's nodes are committed ones: unless its root moves, no-write-in-place covers them.
        for (const k in s.trees) {
          const t = s.trees[k]!;
          if (!t.readonly) continue;
          // a tree id taken again (dropped and made anew) is another tree
          const was = frozen.get(k);
          const same = was !== undefined && was.taken === t.taken;
          if (same && was!.root === t.root && !full) continue;
          const c = JSON.stringify(contents(s, t.root));
          if (!same) frozen.set(k, { taken: t.taken, root: t.root, contents: c });
          else if (was!.contents !== c)
            return { property: "snapshots-immutable", message: `read-only tree ${k} changed` };
        }
        if (op.op === "crash" && "recovered" in obs) {
          const crash = s.last.crash;
          if (!crash) return { property: "crash-atomic", message: "the crash left no record of what reached the disk" };
          if (crash.recovered !== obs.recovered)
            return { property: "crash-atomic", message: `recovery said ${obs.recovered} but found ${crash.recovered}` };
          if (crash.schedule.length && (crash.recovered === "inflight") !== crash.metaDurable)
            return {
              property: "crash-atomic",
              message: `recovered ${crash.recovered} though the in-flight meta ${crash.metaDurable ? "reached" : "did not reach"} the disk`,
            };
          const want = crash.recovered === "inflight" ? currentRoots(before) : committedRoots(before);
          const got = allContents(s, currentRoots(s));
          if (got !== allContents(before, want))
            return {
              property: "crash-atomic",
              message: `after the crash the trees are not the ${crash.recovered === "inflight" ? "in-flight" : "last committed"} state: ${got}`,
            };
        }
        return undefined;
      },
    };
  },
};
