// Economy bounds: copy-on-write must defer. A snapshot copies at most its root; a write copies the shared part of
// one root-to-leaf path and nothing on a path it already owns; reclaim frees exactly what nothing references; LMDB
// grows its file only while readers pin old pages; an incremental send reads only what changed since its base.
// An engine that copies everything up front gives the oracle's answers and fails these.
import { type Property, stateless, stepwise } from "../../core/index.ts";
import type { SnapshotObs, SnapshotOp, SnapshotState } from "../../models/snapshot/types.ts";
import { deltaOf, entryExtents } from "./track.ts";
import { pathTo, reach, reachOf } from "./walk.ts";

const ok = (obs: SnapshotObs): boolean => "ok" in obs;
const QUIET = new Set(["get", "scan", "space", "read", "begin-read", "end-read"]);

const NONE: ReadonlySet<number> = new Set();
/** LMDB: the pages on its free lists (free now, freed by the open transaction, on the freelist); none elsewhere. */
function lmdbFree(s: SnapshotState): ReadonlySet<number> {
  if (s.flavour !== "lmdb") return NONE;
  return new Set([...s.free, ...s.pending, ...Object.values(s.freelist ?? {}).flat()]);
}
/** Whether two states hold the same free lists (an inspect hands back a part that did not change as it was). */
const sameFree = (a: SnapshotState, b: SnapshotState): boolean =>
  a.free === b.free && a.pending === b.pending && a.freelist === b.freelist;

/** Transactions below this one freed pages a new page may reuse (mdb_find_oldest). */
const oldest = (s: SnapshotState): number => Math.min(s.txn - 1, ...Object.values(s.readers ?? {}));

export const snapshotEconomy: Property<SnapshotOp, SnapshotObs, SnapshotState>[] = [
  stateless(
    "snapshot-copies-root",
    "economy",
    "a snapshot or clone allocates at most one node (a copy of the root) and copies no path",
    (op, obs, s) => {
      if ((op.op !== "snapshot" && op.op !== "clone") || !ok(obs)) return undefined;
      const n = s.last.allocated.length;
      return n > 1 || s.last.copied.length
        ? `${op.op} allocated ${n} nodes and copied ${s.last.copied.length}`
        : undefined;
    },
  ),
  stepwise(
    "write-copies-one-path",
    "economy",
    "a write copies exactly the nodes of its root-to-leaf path it does not own yet (all of it after a commit, none on a path it wrote since), plus at most one new node per level for splits",
    (op, obs, before, s) => {
      if ((op.op !== "put" && op.op !== "patch" && op.op !== "del") || !ok(obs)) return undefined;
      const root = before.trees[op.tree]?.root ?? null;
      const path = pathTo(before, root, op.key);
      const shared = path.filter(([, n]) => n.birth !== before.txn || n.refs > 1).map(([id]) => id);
      const copied = s.last.copied;
      if (copied.length !== shared.length || shared.some((id) => !copied.includes(id)))
        return `${op.op} of key ${op.key} copied [${copied.join(", ")}]; the path's nodes it did not own were [${shared.join(", ")}]`;
      const extra = s.last.allocated.length - copied.length;
      if (extra > (op.op === "del" ? 0 : path.length + 1))
        return `${op.op} allocated ${extra} nodes beyond its copies on a path of ${path.length}`;
      return undefined;
    },
  ),
  {
    name: "reclaim-exact",
    kind: "economy",
    description:
      "every node and extent kept is used by a tree, the committed state or a reader (or is an LMDB page on the freelist): nothing leaks",
    start: (initial) => {
      // the last state's free pages
      let free = { of: initial, pages: lmdbFree(initial) };
      const freeOf = (s: SnapshotState): ReadonlySet<number> => {
        if (free.of !== s) free = { of: s, pages: sameFree(free.of, s) ? free.pages : lmdbFree(s) };
        return free.pages;
      };
      return {
        after(op, obs, s, full) {
          const d = deltaOf(initial, s, full);
          if (d?.still) return undefined;
          if (d) {
            // What left the reach, changed, or left LMDB's free lists; the extents of what changed or left the reach.
            const { all } = d;
            const lmdb = s.flavour === "lmdb";
            const wasFree = freeOf(d.prev);
            const nowFree = freeOf(s);
            const unlisted = nowFree === wasFree ? [] : [...wasFree].filter((id) => !nowFree.has(id));
            const es = new Set(d.extents);
            for (const ids of [all.was.keys(), d.nodes, unlisted])
              for (const id of ids)
                if (s.nodes[id] && !all.has(id) && !nowFree.has(id))
                  return `node ${id} is kept but nothing references it`;
            // an extent's users changed where a leaf's entries did, or a leaf came into or left the reach
            for (const id of d.revalued) for (const e of entryExtents(d.prev.nodes[id])) es.add(e);
            for (const [id, was] of all.was)
              if (was && !all.has(id)) for (const e of entryExtents(s.nodes[id] ?? d.prev.nodes[id])) es.add(e);
            for (const e of es)
              if (s.extents[e] && ![...(d.holders.get(e)?.keys() ?? [])].some((h) => lmdb || all.has(h)))
                return `extent ${e} is kept but nothing references it`;
            return undefined;
          }
          // Reads and failed ops free and allocate nothing: checked at the next op that does, or at the end.
          if (!full && (QUIET.has(op.op) || "error" in obs)) return undefined;
          const used = reachOf(s, "all").nodes;
          const pages = freeOf(s);
          for (const id of Object.keys(s.nodes).map(Number))
            if (!used.has(id) && !pages.has(id)) return `node ${id} is kept but nothing references it`;
          const extents = new Set<number>();
          const holders = s.flavour === "lmdb" ? Object.keys(s.nodes).map(Number) : used;
          for (const id of holders) for (const v of s.nodes[id]?.vals ?? []) for (const [e] of v) extents.add(e);
          for (const e of Object.keys(s.extents).map(Number))
            if (!extents.has(e)) return `extent ${e} is kept but nothing references it`;
          return undefined;
        },
      };
    },
  },
  stepwise(
    "lmdb-reuse-before-growth",
    "economy",
    "LMDB: the file grows only when no freed page may be reused (none freed before the oldest reader and the last commit)",
    (op, _obs, before, s) => {
      if (s.flavour !== "lmdb" || s.nextPage === undefined || s.nextPage <= (before.nextPage ?? 0)) return undefined;
      if (s.txn !== before.txn) return undefined;
      // The pages free for reuse when the op began: any still free now should have been taken first.
      const reusable = [
        ...before.free,
        ...Object.entries(before.freelist ?? {}).flatMap(([t, p]) => (Number(t) < oldest(before) ? p : [])),
      ];
      const stillFree = new Set([...s.free, ...Object.values(s.freelist ?? {}).flat()]);
      const unused = reusable.filter((p) => stillFree.has(p) && !s.last.allocated.includes(p));
      return unused.length
        ? `${op.op} grew the file to ${s.nextPage} pages while pages ${unused.join(", ")} were free for reuse`
        : undefined;
    },
  ),
  stateless(
    "send-reads-changes",
    "economy",
    "an incremental send reads only the snapshot's nodes its base does not share (ZFS: only nodes born after the base)",
    (op, obs, s) => {
      if (op.op !== "send" || !ok(obs) || !s.last.send) return undefined;
      const { births, baseTaken } = s.last.send;
      if (s.flavour === "zfs") {
        const old = births.filter((b) => b <= baseTaken);
        return old.length
          ? `the send read ${old.length} nodes born at or before its base (txn ${baseTaken})`
          : undefined;
      }
      const snap = reach(s, [s.trees[op.snap]?.root ?? null]).nodes;
      const base = reach(s, [op.base === undefined ? null : (s.trees[op.base]?.root ?? null)]).nodes;
      const unshared = [...snap].filter((id) => !base.has(id)).length;
      return births.length > unshared
        ? `the send read ${births.length} nodes of the snapshot; only ${unshared} are not shared with its base`
        : undefined;
    },
  ),
];
