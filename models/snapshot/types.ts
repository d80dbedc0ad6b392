// The snapshot layer's vocabulary: key-value trees (volumes, subvolumes, datasets, LMDB's named databases) in one
// copy-on-write B+tree store, with transactions, snapshots, clones, drops, incremental send/receive, space queries,
// LMDB's readers and crashes during a commit (docs/snapshot.md).
import { z } from "zod";

export const SNAPSHOT_FLAVOURS = ["lmdb", "btrfs", "zfs"] as const;
export type SnapshotFlavour = (typeof SNAPSHOT_FLAVOURS)[number];

/** Bounds on every geometry field and op number (docs/snapshot.md, "Bounds"), checked by the schema. */
export const SNAP_MAX_KEYS = 1024;
export const SNAP_MAX_TREES = 64;
export const SNAP_MAX_BLOCKS = 16;
export const SNAP_MAX_READERS = 16;
export const SNAP_MAX_VALUE = 255;
/** The nodes and data extents a trace may grow, checked as it grows (exit 2). */
export const SNAP_MAX_NODES = 100_000;

export const snapshotGeometrySchema = z
  .object({
    /** Whose copy-on-write: Rodeh's (absent), LMDB's, Btrfs's or ZFS's (docs/snapshot.md, "Flavours"). */
    flavour: z.enum(SNAPSHOT_FLAVOURS).optional(),
    /** Keys the generator names (0..keys-1). */
    keys: z.number().int().min(1).max(SNAP_MAX_KEYS),
    /** Tree ids (0..trees-1); tree 0 exists from the start and cannot be dropped. */
    trees: z.number().int().min(1).max(SNAP_MAX_TREES),
    /** Entries a leaf holds at most; a fuller leaf splits. */
    leafKeys: z.number().int().min(2).max(256),
    /** Children an inner node holds at most; a fuller one splits. */
    fanout: z.number().int().min(3).max(256),
    /** Data blocks a value has at most (a file of that many blocks). */
    blocks: z.number().int().min(1).max(SNAP_MAX_BLOCKS),
    /** Bytes per data block, for the space figures. */
    blockSize: z
      .number()
      .int()
      .min(1)
      .max(1 << 20),
    /** LMDB's reader slots (0..readers-1). */
    readers: z.number().int().min(0).max(SNAP_MAX_READERS),
  })
  .strict();
export type SnapshotGeometry = z.infer<typeof snapshotGeometrySchema>;

export const defaultSnapshotGeometry: SnapshotGeometry = {
  keys: 10,
  trees: 4,
  leafKeys: 3,
  fanout: 3,
  blocks: 3,
  blockSize: 4096,
  readers: 2,
};

const tree = z
  .number()
  .int()
  .min(0)
  .max(SNAP_MAX_TREES - 1);
const key = z
  .number()
  .int()
  .min(0)
  .max(SNAP_MAX_KEYS - 1);
const value = z.number().int().min(0).max(SNAP_MAX_VALUE);
const reader = z
  .number()
  .int()
  .min(0)
  .max(SNAP_MAX_READERS - 1);

export const snapshotOpSchema = z.discriminatedUnion("op", [
  /** Write `data` (one value per block) as key's value in tree's open transaction: a new extent. */
  z.object({ op: z.literal("put"), tree, key, data: z.array(value).min(1).max(SNAP_MAX_BLOCKS) }).strict(),
  /** Overwrite block `block` of key's value with `value` (a partial overwrite: Btrfs keeps the old extent whole). */
  z
    .object({
      op: z.literal("patch"),
      tree,
      key,
      block: z
        .number()
        .int()
        .min(0)
        .max(SNAP_MAX_BLOCKS - 1),
      value,
    })
    .strict(),
  z.object({ op: z.literal("del"), tree, key }).strict(),
  /** Read key as the open transaction sees it. */
  z.object({ op: z.literal("get"), tree, key }).strict(),
  /** Every entry of tree, in key order, as the open transaction sees it. */
  z.object({ op: z.literal("scan"), tree }).strict(),
  /** Publish the open transaction by a root flip (nothing happens if it changed nothing). */
  z.object({ op: z.literal("commit") }).strict(),
  /** Drop the open transaction's changes. */
  z.object({ op: z.literal("abort") }).strict(),
  /** Make an empty tree (a subvolume, a dataset, a named database) in the open transaction. */
  z.object({ op: z.literal("create"), tree }).strict(),
  /** Remove a tree and reclaim what only it referenced, in the open transaction. */
  z.object({ op: z.literal("drop"), tree }).strict(),
  /** Commit, taking a read-only snapshot `as` of tree in that commit. */
  z.object({ op: z.literal("snapshot"), tree, as: tree }).strict(),
  /** Commit, taking a writable clone `as` of tree in that commit (ZFS: of a snapshot only). */
  z.object({ op: z.literal("clone"), tree, as: tree }).strict(),
  /**
   * Commit, send snapshot `snap` (incrementally from snapshot `base`, if given) and receive it as the read-only
   * tree `as` (a clone of `base` with the stream applied, or a fresh tree), committed.
   */
  z.object({ op: z.literal("send"), snap: tree, base: tree.optional(), as: tree }).strict(),
  /** Referenced and exclusive bytes of tree's data, as the open transaction sees it (docs/snapshot.md, "Space"). */
  z.object({ op: z.literal("space"), tree }).strict(),
  /** LMDB: a read-only transaction in slot `reader`, pinning the last committed state. */
  z.object({ op: z.literal("begin-read"), reader }).strict(),
  /** LMDB: read key of tree as reader's transaction sees it. */
  z.object({ op: z.literal("read"), reader, tree, key }).strict(),
  z.object({ op: z.literal("end-read"), reader }).strict(),
  /**
   * Commit the open transaction, and lose power after `after` steps of the commit's schedule (its block writes and
   * flushes); of the writes issued since the last flush before that point, those whose bit is set in `keep` reach
   * the disk (bit i: the i-th such write). Then recover from what is on disk.
   */
  z
    .object({
      op: z.literal("crash"),
      after: z.number().int().min(0).max(1_000_000),
      keep: z
        .number()
        .int()
        .min(0)
        .max(2 ** 31 - 1),
    })
    .strict(),
]);
export type SnapshotOp = z.infer<typeof snapshotOpSchema>;
export type SnapshotOpKind = SnapshotOp["op"];

/**
 * Ops an engine runs only if it lists the feature (docs/snapshot.md, "Features"): a real system may have no
 * transaction a user can roll back, no way to lose power on request, or no space figures in the model's terms.
 */
export const SNAPSHOT_OP_FEATURES = { abort: "abort", crash: "crash", space: "space" } as const;
export const snapshotOpFeature = (op: SnapshotOp): string | undefined =>
  SNAPSHOT_OP_FEATURES[op.op as keyof typeof SNAPSHOT_OP_FEATURES];

/**
 * ENOENT: no such tree (for the transaction or reader); NOTFOUND: no such key; EROFS: a write to a read-only tree;
 * EEXIST: a tree id in use; EINVAL: an op the tree's kind or the reader's state forbids (ZFS: a snapshot of a
 * snapshot, a clone of a writable tree; sending a writable tree; a block past the value's end; a reader slot in the
 * wrong state; dropping tree 0); EBUSY: ZFS's destroy of a snapshot with clones or a dataset with snapshots; EXDEV:
 * ZFS's incremental send from a base that is not an earlier snapshot of the same dataset; EIO: a node or extent that
 * did not reach the disk before a crash.
 */
export const SNAPSHOT_ERRORS = ["ENOENT", "NOTFOUND", "EROFS", "EEXIST", "EINVAL", "EBUSY", "EXDEV", "EIO"] as const;
export type SnapshotErrno = (typeof SNAPSHOT_ERRORS)[number];

const data = z.array(value);
export const snapshotObsSchema = z.union([
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ data }).strict(),
  z.object({ entries: z.array(z.tuple([key, data])) }).strict(),
  z.object({ referenced: z.number().int().min(0), exclusive: z.number().int().min(0) }).strict(),
  z.object({ recovered: z.enum(["last", "inflight"]) }).strict(),
  z.object({ error: z.enum(SNAPSHOT_ERRORS) }).strict(),
]);
export type SnapshotObs = z.infer<typeof snapshotObsSchema>;

/** Ops of one flavour only: why op cannot run in geometry g, or undefined. */
export function snapshotOpInvalid(op: SnapshotOp, g: SnapshotGeometry): string | undefined {
  const lmdb = g.flavour === "lmdb";
  const lmdbOnly = op.op === "begin-read" || op.op === "read" || op.op === "end-read";
  const notLmdb = ["patch", "snapshot", "clone", "send", "space"].includes(op.op);
  if (lmdbOnly && !lmdb) return `${op.op} is an op of the lmdb flavour (geometry {"flavour":"lmdb"})`;
  if (notLmdb && lmdb) return `${op.op} is not an op of the lmdb flavour (LMDB has no snapshots, clones or extents)`;
  if ("tree" in op && op.tree >= g.trees) return `tree ${op.tree} is outside the geometry's trees (0..${g.trees - 1})`;
  if ("as" in op && op.as >= g.trees) return `tree ${op.as} is outside the geometry's trees (0..${g.trees - 1})`;
  if ("key" in op && op.key >= g.keys) return `key ${op.key} is outside the geometry's keys (0..${g.keys - 1})`;
  if ("reader" in op && op.reader >= g.readers)
    return `reader ${op.reader} is outside the geometry's readers (0..${g.readers - 1})`;
  if (op.op === "put" && op.data.length > g.blocks) return `a value has at most ${g.blocks} blocks in this geometry`;
  return undefined;
}

// ---- the inspected state (what `inspect` answers; docs/snapshot.md, "State") ----

const id = z.number().int().min(0);
export const nodeSchema = z
  .object({
    /** Keys in order: a leaf's entries, or an inner node's separators (one fewer than its children). */
    keys: z.array(z.number().int()),
    /** A leaf's entries' values: each block as [extent id, block within it]. */
    vals: z.array(z.array(z.tuple([id, id]))).optional(),
    /** An inner node's children. */
    kids: z.array(id).optional(),
    /** ZFS: a leaf's deleted keys, each with the birth of its delete (a hole's birth). */
    holes: z.array(z.tuple([z.number().int(), z.number().int().min(0)])).optional(),
    /** After a crash: the block never reached the disk. */
    lost: z.literal(true).optional(),
    /** The transaction that wrote it. */
    birth: z.number().int().min(0),
    /** Rodeh's reference count: the parents and roots pointing at it (LMDB: always 1). */
    refs: z.number().int().min(0),
  })
  .strict();
export type NodeImage = z.infer<typeof nodeSchema>;

export const extentSchema = z
  .object({
    data: z.array(value),
    birth: z.number().int().min(0),
    /** After a crash: the data never reached the disk. */
    lost: z.literal(true).optional(),
    /** The leaf entries pointing at it (Btrfs's extent references; Rodeh's count for data); not kept by ZFS. */
    refs: z.number().int().min(0).optional(),
  })
  .strict();
export type ExtentImage = z.infer<typeof extentSchema>;

export const treeSchema = z
  .object({
    /** The root in the open transaction (null: an empty tree). */
    root: id.nullable(),
    readonly: z.boolean(),
    /** ZFS: a dataset (head) or a snapshot of one; the other flavours' trees are all heads. */
    kind: z.enum(["head", "snapshot"]),
    /** ZFS: the dataset a snapshot was taken of; Btrfs: the source of a snapshot or clone. */
    of: z.number().int().optional(),
    /** ZFS: a clone's origin snapshot. */
    origin: z.number().int().optional(),
    /** The transaction of the commit that took this snapshot or clone. */
    taken: z.number().int().optional(),
    /** Btrfs: the last transaction in which a snapshot of this tree was taken (btrfs_root_last_snapshot). */
    lastSnapshot: z.number().int().optional(),
    /** ZFS: blocks killed while this was the head (dsl_deadlist), as extent ids. */
    deadlist: z.array(id).optional(),
  })
  .strict();
export type TreeImage = z.infer<typeof treeSchema>;

export const metaSchema = z
  .object({ txn: z.number().int().min(0), roots: z.record(z.string(), id.nullable()) })
  .strict();
export type MetaImage = z.infer<typeof metaSchema>;

export const snapshotStateSchema = z
  .object({
    flavour: z.enum(["rodeh", ...SNAPSHOT_FLAVOURS]),
    /** The open transaction's id (the last committed one + 1). */
    txn: z.number().int().min(1),
    /** The geometry's node capacities: entries per leaf, children per inner node. */
    capacity: z.object({ leaf: z.number().int().min(1), inner: z.number().int().min(2) }).strict(),
    /** Whether the open transaction changed anything. */
    dirty: z.boolean(),
    nodes: z.record(z.string(), nodeSchema),
    extents: z.record(z.string(), extentSchema),
    /** Trees as the open transaction sees them. */
    trees: z.record(z.string(), treeSchema),
    /** The two meta slots (LMDB's meta pages, a superblock's two copies): the newest valid one is the committed state. */
    metas: z.tuple([metaSchema, metaSchema]),
    /** Nodes (LMDB: pages) free for reuse now. */
    free: z.array(id),
    /** Committed nodes the open transaction freed: free once it commits (LMDB: its freelist record). */
    pending: z.array(id),
    /** Extents the open transaction freed: gone once it commits. */
    pendingExtents: z.array(id),
    /** LMDB: pages freed by each transaction, not yet reusable (txn → pages). */
    freelist: z.record(z.string(), z.array(id)).optional(),
    /** LMDB: live readers (slot → the transaction they pinned) and the roots they read from. */
    readers: z.record(z.string(), z.number().int()).optional(),
    readerRoots: z.record(z.string(), z.record(z.string(), id.nullable())).optional(),
    /** LMDB: the file's next page number (its size in pages). */
    nextPage: z.number().int().min(0).optional(),
    /** Cumulative counts: nodes copied by shadowing, nodes and extents allocated, freed. */
    counters: z
      .object({
        copied: z.number().int().min(0),
        allocated: z.number().int().min(0),
        freed: z.number().int().min(0),
        /** Nodes visited by sends in the snapshot they sent. */
        sendVisited: z.number().int().min(0),
      })
      .strict(),
    /** What the last op did (for the economy bounds): nodes copied, nodes visited by a send and their births. */
    last: z
      .object({
        copied: z.array(id),
        allocated: z.array(id),
        freed: z.array(id),
        /** A send's base transaction and the births of the nodes it read from the snapshot. */
        send: z.object({ baseTaken: z.number().int(), births: z.array(z.number().int()) }).optional(),
        /** A crash: the schedule's steps, how far it went, which writes reached the disk, what recovery found. */
        crash: z
          .object({
            /** "n<id>" a node's write, "e<id>" an extent's, "meta", "flush". */
            schedule: z.array(z.string()),
            durable: z.array(z.number().int()),
            metaDurable: z.boolean(),
            recovered: z.enum(["last", "inflight"]),
          })
          .optional(),
      })
      .strict(),
    /**
     * The nodes and extents the ops since the last inspect changed (made, freed, rewritten, recounted), where every
     * other node's and extent's image is the one the last inspect gave: properties check what these reach, and
     * everything on a sequence's last op. Optional: a state without it is checked whole.
     */
    touched: z
      .object({ nodes: z.array(id), extents: z.array(id) })
      .strict()
      .optional(),
  })
  .strict();
export type SnapshotState = z.infer<typeof snapshotStateSchema>;
