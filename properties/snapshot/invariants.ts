// Structural invariants of a copy-on-write B+tree store's inspected state (Rodeh 2008, section 4: "every node's
// reference count equals the number of pointers to it"), the flavours' own rules, and crash atomicity.
import type { Named, Property } from "../../core/index.ts";
import type { SnapshotObs, SnapshotOp, SnapshotState } from "../../models/snapshot/types.ts";
import { allContents, committedRoots, contents, currentRoots, fingerprint, reach, reachOf } from "./walk.ts";

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
    const slots = n.kids ? n.kids.length : n.keys.length + (n.holes?.length ?? 0);
    const cap = n.kids ? s.capacity.inner : s.capacity.leaf;
    if (slots > cap) return bad(`node ${id} holds ${slots}, more than ${cap}`);
    if (slots === 0) return bad(`node ${id} is empty`);
    if (n.kids && n.keys.length !== n.kids.length - 1)
      return bad(`inner node ${id} has ${n.keys.length} keys for ${n.kids.length} children`);
    const keys = [...n.keys, ...(n.holes ?? []).map(([k]) => k)].sort((a, b) => a - b);
    for (let i = 0; i < keys.length; i++) {
      if (i > 0 && keys[i - 1]! >= keys[i]!) return bad(`node ${id}'s keys are not in order: ${n.keys.join(", ")}`);
      if (keys[i]! < lo || keys[i]! >= hi) return bad(`node ${id}'s key ${keys[i]} is outside [${lo}, ${hi})`);
    }
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
    let prints = committedPrints(initial);
    let printed = initial;
    const frozen = new Map<string, { root: number | null; contents: string }>();
    return {
      after(op, obs, s, full): Named | undefined {
        const before = prev;
        prev = s;
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
        for (const [id, p] of now) {
          const was = prints.get(id);
          // A node id freed by one commit and reused by the next (a send commits twice) has a new birth.
          if (was !== undefined && was !== p && printed.nodes[id]?.birth === s.nodes[id]?.birth)
            return { property: "no-write-in-place", message: `committed node ${id} changed in place` };
        }
        prints = now;
        printed = s;
        // A read-only tree's nodes are committed ones: unless its root moves, no-write-in-place covers them.
        for (const [k, t] of Object.entries(s.trees)) {
          if (!t.readonly) continue;
          const key = `${k}:${t.taken ?? ""}`;
          const was = frozen.get(key);
          if (was && was.root === t.root && !full) continue;
          const c = JSON.stringify(contents(s, t.root));
          if (was === undefined) frozen.set(key, { root: t.root, contents: c });
          else if (was.contents !== c)
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
