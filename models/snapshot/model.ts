// The reference model of copy-on-write B+trees (Rodeh, "B-trees, Shadowing, and Clones", ACM TOS 2008): trees of
// nodes shared lazily by reference counts, shadowing on write, commit by a root flip, crashes at write boundaries,
// and the flavours' rules: LMDB's freelist and readers (mdb.c), Btrfs's generations and extents (ctree.c,
// extent-tree.c, send.c), ZFS's births and deadlists (dsl_dataset.c, dsl_destroy.c, dsl_deadlist.c).
import { type Engine, InputError } from "../../core/index.ts";
import {
  type ExtentImage,
  type MetaImage,
  type NodeImage,
  SNAP_MAX_NODES,
  SNAPSHOT_OP_FEATURES,
  type SnapshotErrno,
  type SnapshotGeometry,
  type SnapshotObs,
  type SnapshotOp,
  type SnapshotState,
  type TreeImage,
} from "./types.ts";

/** An error the store defines, thrown to `apply` (a plain object: no stack trace to capture on every miss). */
export class SnapErrno {
  constructor(readonly errno: SnapshotErrno) {}
}
const fail = (errno: SnapshotErrno): never => {
  throw new SnapErrno(errno);
};

/** A block of a value: [extent id, block within the extent]. */
export type Ref = [number, number];
export interface Node {
  id: number;
  keys: number[];
  /** A leaf's values (one per key); undefined in an inner node. */
  vals?: Ref[][];
  /** ZFS: deleted keys of a leaf, as holes carrying the birth of the delete. */
  holes?: Map<number, number>;
  /** An inner node's children. */
  kids?: number[];
  birth: number;
  refs: number;
  /** After a crash: the block never reached the disk. */
  lost?: boolean;
}
export interface Extent {
  id: number;
  data: number[];
  birth: number;
  refs: number;
  /** After a crash: the data never reached the disk. */
  lost?: boolean;
}
export interface Tree {
  root: number | null;
  readonly: boolean;
  kind: "head" | "snapshot";
  of?: number;
  origin?: number;
  taken?: number;
  lastSnapshot: number;
  deadlist: number[];
}
type Step = string; // "n<id>" | "e<id>" | "meta" | "flush"

const isLeaf = (n: Node): boolean => n.kids === undefined;
const copyTree = (t: Tree): Tree => ({ ...t, deadlist: [...t.deadlist] });
const imageOf = (n: Node): Node => ({
  ...n,
  keys: [...n.keys],
  vals: n.vals?.map((v) => v.map((r) => [...r] as Ref)),
  holes: n.holes && new Map(n.holes),
  kids: n.kids && [...n.kids],
});

export class SnapshotModel implements Engine<SnapshotOp, SnapshotObs, SnapshotState> {
  readonly layer = "snapshot" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect", ...Object.values(SNAPSHOT_OP_FEATURES)]);
  protected readonly flavour: "rodeh" | "lmdb" | "btrfs" | "zfs";
  protected readonly nodes = new Map<number, Node>();
  protected readonly extents = new Map<number, Extent>();
  protected trees = new Map<number, Tree>();
  /** The open transaction's id; the last committed one is txn - 1. */
  protected txn = 2;
  protected dirty = false;
  protected metas: [MetaImage, MetaImage] = [
    { txn: 0, roots: {} },
    { txn: 1, roots: { 0: null } },
  ];
  /** The tree records as of the last commit (what a recovery to it restores). */
  protected committedTrees = new Map<number, Tree>();
  /** What reached the disk: node images and extents by id. */
  protected readonly disk = new Map<number, Node>();
  protected free: number[] = [];
  /** Committed nodes and extents freed in the open transaction: free once it commits. */
  protected pending: number[] = [];
  protected pendingExtents: number[] = [];
  /** LMDB: pages freed by each committed transaction (FREE_DBI's records), and the records loaded for reuse. */
  protected freelist = new Map<number, number[]>();
  protected pghead: number[] = [];
  protected pglast = 0;
  protected readers = new Map<number, { txn: number; roots: Map<number, number | null> }>();
  protected nextId: number;
  protected nextExtent = 1;
  private undo: (() => void)[] = [];
  /** Node and extent ids the open transaction changed (what a rollback restores). */
  private txnNodes = new Set<number>();
  private txnExtents = new Set<number>();
  /** Node and extent ids changed since the last inspect, once one was asked (inspect's `touched`). */
  private marks?: { nodes: Set<number>; extents: Set<number> };
  /** The state the last inspect handed out, and the meta and reader records it was made from. */
  private shown?: SnapshotState;
  private shownMetas: MetaImage[] = [];
  private shownReaders: [number, { txn: number; roots: Map<number, number | null> }][] = [];
  /** Tree records are replaced, never changed: each one's image, kept while the record is the tree's. */
  private treeImages = new Map<Tree, TreeImage>();
  protected readonly counters = { copied: 0, allocated: 0, freed: 0, sendVisited: 0 };
  protected last: SnapshotState["last"] = { copied: [], allocated: [], freed: [] };

  constructor(readonly geometry: SnapshotGeometry) {
    this.flavour = geometry.flavour ?? "rodeh";
    // LMDB's pages 0 and 1 are the two meta pages.
    this.nextId = this.flavour === "lmdb" ? 2 : 1;
    this.trees.set(0, { root: null, readonly: false, kind: "head", lastSnapshot: 0, deadlist: [] });
    this.committedTrees = new Map([...this.trees].map(([k, t]) => [k, copyTree(t)]));
  }

  apply(op: SnapshotOp): SnapshotObs {
    if (op.op === "begin-read" && this.flavour === "lmdb") {
      const run = this.steps(op);
      for (;;) {
        const r = run.next();
        if (r.done) return r.value;
      }
    }
    this.last = { copied: [], allocated: [], freed: [] };
    try {
      return this.perform(op);
    } catch (e) {
      if (e instanceof SnapErrno) return { error: e.errno };
      throw e;
    }
  }

  protected perform(op: SnapshotOp): SnapshotObs {
    switch (op.op) {
      case "put":
        this.writable(op.tree);
        this.put(op.tree, op.key, this.newValue(op.data));
        return { ok: true };
      case "patch":
        return this.patch(op.tree, op.key, op.block, op.value);
      case "del":
        this.writable(op.tree);
        if (!this.lookup(this.tree(op.tree).root, op.key)) fail("NOTFOUND");
        this.remove(op.tree, op.key);
        return { ok: true };
      case "get": {
        const v = this.lookup(this.tree(op.tree).root, op.key);
        return v ? { data: this.dataOf(v) } : fail("NOTFOUND");
      }
      case "scan":
        return { entries: this.entries(this.tree(op.tree).root).map(([k, v]) => [k, this.dataOf(v)]) };
      case "commit":
        this.commit();
        return { ok: true };
      case "abort":
        this.rollback();
        return { ok: true };
      case "create":
        if (this.trees.has(op.tree)) fail("EEXIST");
        this.setTree(op.tree, { root: null, readonly: false, kind: "head", lastSnapshot: 0, deadlist: [] });
        return { ok: true };
      case "drop":
        this.drop(op.tree);
        return { ok: true };
      case "snapshot":
      case "clone":
        this.snapshot(op.tree, op.as, op.op === "snapshot");
        return { ok: true };
      case "send":
        this.send(op.snap, op.base, op.as);
        return { ok: true };
      case "space":
        return this.space(op.tree);
      case "begin-read":
        if (this.readers.has(op.reader)) fail("EINVAL");
        this.beginRead(op.reader);
        return { ok: true };
      case "read": {
        const r = this.readers.get(op.reader) ?? fail("EINVAL");
        if (!r.roots.has(op.tree)) fail("ENOENT");
        const v = this.lookup(r.roots.get(op.tree)!, op.key);
        return v ? { data: this.dataOf(v) } : fail("NOTFOUND");
      }
      case "end-read":
        if (!this.readers.delete(op.reader)) fail("EINVAL");
        return { ok: true };
      case "crash":
        return { recovered: this.crash(op.after, op.keep) };
    }
  }

  // ---- the undo log: abort and a crash that loses the open transaction run it backwards ----

  private log(f: () => void): void {
    this.undo.push(f);
  }
  protected setTree(id: number, t: Tree | undefined): void {
    const old = this.trees.get(id);
    this.log(() => (old ? this.trees.set(id, old) : this.trees.delete(id)));
    if (t) this.trees.set(id, t);
    else this.trees.delete(id);
    this.dirty = true;
  }
  /** A node's image changed (or it appeared or went): inspect makes its image again. */
  protected touchNode(id: number): void {
    this.txnNodes.add(id);
    this.marks?.nodes.add(id);
  }
  protected touchExtent(id: number): void {
    this.txnExtents.add(id);
    this.marks?.extents.add(id);
  }
  private setRefs(x: Node | Extent, refs: number): void {
    if ("data" in x) this.touchExtent(x.id);
    else this.touchNode(x.id);
    const old = x.refs;
    this.log(() => {
      x.refs = old;
    });
    x.refs = refs;
  }

  protected tree(id: number): Tree {
    return this.trees.get(id) ?? fail("ENOENT");
  }
  protected writable(id: number): Tree {
    const t = this.tree(id);
    if (t.readonly) fail("EROFS");
    return t;
  }
  protected node(id: number): Node {
    const n = this.nodes.get(id);
    if (!n || n.lost) fail("EIO");
    return n!;
  }

  // ---- allocation ----

  /** A node id: LMDB's mdb_page_alloc (loose pages, then the freelist's old records, then the file's end). */
  protected allocId(): number {
    if (this.free.length === 0 && this.flavour === "lmdb") this.loadFreelist();
    if (this.free.length > 0) {
      const id = this.free.shift()!;
      this.log(() => this.free.unshift(id));
      const old = this.nodes.get(id);
      if (old) {
        // An LMDB page freed earlier, overwritten now: the values it still held go with it.
        this.log(() => this.nodes.set(id, old));
        for (const v of old.vals ?? []) this.releaseValue(v, undefined);
      }
      return id;
    }
    if (this.nextId >= SNAP_MAX_NODES)
      throw new InputError(`the trace grows the store past ${SNAP_MAX_NODES.toLocaleString("en-US")} nodes`);
    const id = this.nextId++;
    this.log(() => {
      this.nextId = id;
    });
    return id;
  }

  /** LMDB: move the freelist records older than the oldest reader into pghead (mdb_page_alloc, mdb_find_oldest). */
  protected loadFreelist(): void {
    const oldest = this.oldestReader();
    for (const t of [...this.freelist.keys()].sort((a, b) => a - b)) {
      if (!this.reusable(t, oldest)) break;
      const pages = this.freelist.get(t)!;
      this.freelist.delete(t);
      const pglast = this.pglast;
      this.log(() => {
        this.freelist.set(t, pages);
        this.pglast = pglast;
      });
      this.pglast = t;
      this.free.push(...pages);
      this.free.sort((a, b) => a - b);
      this.log(() => {
        this.free = this.free.filter((p) => !pages.includes(p));
      });
    }
  }
  /** A record of pages freed by txn t may be reused: t is older than the oldest snapshot anyone reads. */
  protected reusable(t: number, oldest: number): boolean {
    return t < oldest;
  }
  protected oldestReader(): number {
    let oldest = this.txn - 1;
    for (const r of this.readers.values()) oldest = Math.min(oldest, r.txn);
    return oldest;
  }

  protected newNode(content: Pick<Node, "keys" | "vals" | "kids" | "holes">): Node {
    const n: Node = { id: this.allocId(), ...content, birth: this.txn, refs: 1 };
    this.nodes.set(n.id, n);
    this.touchNode(n.id);
    this.log(() => this.nodes.delete(n.id));
    this.counters.allocated++;
    this.last.allocated.push(n.id);
    this.dirty = true;
    return n;
  }

  protected newExtent(data: number[]): Extent {
    const e: Extent = { id: this.nextExtent++, data, birth: this.txn, refs: 0 };
    this.extents.set(e.id, e);
    this.touchExtent(e.id);
    this.log(() => {
      this.extents.delete(e.id);
      this.nextExtent = e.id;
    });
    return e;
  }

  /** A value written by put: Btrfs writes one extent for the whole file range, the others one per block. */
  protected newValue(data: number[]): Ref[] {
    if (this.flavour === "btrfs") {
      const e = this.newExtent([...data]);
      return data.map((_, i) => [e.id, i]);
    }
    return data.map((v) => [this.newExtent([v]).id, 0]);
  }

  protected dataOf(v: Ref[]): number[] {
    return v.map(([e, i]) => {
      const x = this.extents.get(e);
      return !x || x.lost ? fail("EIO") : x.data[i]!;
    });
  }

  /** A node nothing references any more: committed ones wait for the commit, the open transaction's go now. */
  protected freeNode(n: Node): void {
    this.touchNode(n.id);
    this.last.freed.push(n.id);
    this.counters.freed++;
    if (n.birth < this.txn) {
      this.pending.push(n.id);
      this.log(() => this.pending.pop());
      return;
    }
    this.nodes.delete(n.id);
    this.log(() => this.nodes.set(n.id, n));
    if (this.flavour === "lmdb") for (const v of n.vals ?? []) this.releaseValue(v, undefined);
    this.free.push(n.id);
    this.free.sort((a, b) => a - b);
    this.log(() => this.free.splice(this.free.indexOf(n.id), 1));
  }

  // ---- reference counts (Rodeh) ----

  protected incRef(id: number): void {
    const n = this.node(id);
    this.setRefs(n, n.refs + 1);
  }
  protected incExtents(v: Ref[]): void {
    for (const e of new Set(v.map(([e]) => e))) {
      const x = this.extents.get(e)!;
      this.setRefs(x, x.refs + 1);
    }
  }
  /** A value no longer referenced from a leaf entry: Rodeh's decrement, or ZFS's block kill. */
  protected releaseValue(v: Ref[], tree: number | undefined, kept: Ref[] = []): void {
    if (this.flavour === "zfs") {
      const still = new Set(kept.map(([e]) => e));
      if (tree !== undefined) for (const e of new Set(v.map(([e]) => e))) if (!still.has(e)) this.killBlock(e, tree);
      return;
    }
    for (const e of new Set(v.map(([e]) => e))) {
      const x = this.extents.get(e)!;
      this.setRefs(x, x.refs - 1);
      if (x.refs === 0) this.freeExtent(x);
    }
  }
  protected freeExtent(x: Extent): void {
    this.touchExtent(x.id);
    // LMDB's values die with the page holding them (when it is reused); the others' wait for the commit.
    if (x.birth < this.txn && this.flavour !== "lmdb") {
      this.pendingExtents.push(x.id);
      this.log(() => this.pendingExtents.pop());
    } else {
      this.extents.delete(x.id);
      this.log(() => this.extents.set(x.id, x));
    }
  }
  /** Drop one reference to a node; at zero, its children lose one too (Rodeh's free). */
  protected decRef(id: number, tree: number | undefined): void {
    const n = this.nodes.get(id)!;
    this.setRefs(n, n.refs - 1);
    if (n.refs > 0) return;
    if (n.kids) for (const k of n.kids) this.decRef(k, tree);
    // An LMDB page keeps its values until it is reused: readers may still read it.
    else if (this.flavour !== "lmdb") for (const v of n.vals!) this.releaseValue(v, tree);
    this.freeNode(n);
  }

  /** Whether a node may be shared, so its count must be consulted (btrfs_block_can_be_shared). */
  protected canBeShared(n: Node, t: Tree): boolean {
    if (this.flavour === "btrfs") return n.birth <= t.lastSnapshot;
    return true;
  }

  /** Private to the open transaction: born in it and referenced once (should_cow_block). */
  protected isPrivate(n: Node, t: Tree): boolean {
    return n.birth === this.txn && !(this.canBeShared(n, t) && n.refs > 1);
  }

  /** Shadow a node for writing: its copy, or itself if private (btrfs_cow_block, update_ref_for_cow; mdb_page_touch). */
  protected shadow(n: Node, t: Tree, tree: number): Node {
    if (this.isPrivate(n, t)) return n;
    const copy = this.newNode({
      keys: [...n.keys],
      vals: n.vals?.map((v) => v.map((r) => [...r] as Ref)),
      holes: n.holes && new Map(n.holes),
      kids: n.kids && [...n.kids],
    });
    this.counters.copied++;
    this.last.copied.push(n.id);
    if (this.canBeShared(n, t) && n.refs > 1) {
      this.shareChildren(n);
      this.setRefs(n, n.refs - 1);
    } else {
      // The old LMDB page keeps its values for readers until it is reused: the copy uses them too.
      if (this.flavour === "lmdb") for (const v of n.vals ?? []) this.incExtents(v);
      this.setRefs(n, 0);
      this.freeNode(n);
    }
    void tree;
    return copy;
  }

  /** Rodeh: the copy of a shared node points at its children too, so each gains a reference (btrfs_inc_ref). */
  protected shareChildren(n: Node): void {
    if (n.kids) for (const k of n.kids) this.incRef(k);
    else for (const v of n.vals!) this.incExtents(v);
  }

  // ---- the B+tree ----

  protected childIndex(n: Node, key: number): number {
    let i = 0;
    while (i < n.keys.length && key >= n.keys[i]!) i++;
    return i;
  }

  protected lookup(root: number | null, key: number): Ref[] | undefined {
    let id = root;
    while (id !== null) {
      const n = this.node(id);
      if (isLeaf(n)) {
        const i = n.keys.indexOf(key);
        return i < 0 ? undefined : n.vals![i];
      }
      id = n.kids![this.childIndex(n, key)]!;
    }
    return undefined;
  }

  protected entries(root: number | null): [number, Ref[]][] {
    const out: [number, Ref[]][] = [];
    const walk = (id: number): void => {
      const n = this.node(id);
      if (isLeaf(n)) for (const [i, k] of n.keys.entries()) out.push([k, n.vals![i]!]);
      else for (const k of n.kids!) walk(k);
    };
    if (root !== null) walk(root);
    return out;
  }

  /** The shadowed root-to-leaf path for key: each node copied unless private, parents repointed. */
  protected path(treeId: number, key: number): Node[] {
    const t = this.trees.get(treeId)!;
    const path: Node[] = [];
    let n = this.shadow(this.node(t.root!), t, treeId);
    if (n.id !== t.root) this.setTree(treeId, { ...t, root: n.id });
    const tt = this.trees.get(treeId)!;
    // Every node of the path may change: the caller edits the leaf, splits and merges edit the parents.
    this.touchNode(n.id);
    path.push(n);
    while (!isLeaf(n)) {
      const i = this.childIndex(n, key);
      const child = this.shadow(this.node(n.kids![i]!), tt, treeId);
      if (child.id !== n.kids![i]) n.kids![i] = child.id;
      this.touchNode(child.id);
      path.push(child);
      n = child;
    }
    return path;
  }

  protected put(treeId: number, key: number, value: Ref[]): void {
    const t = this.trees.get(treeId)!;
    this.incExtents(value);
    if (t.root === null) {
      const leaf = this.newNode({
        keys: [key],
        vals: [value],
        ...(this.flavour === "zfs" ? { holes: new Map() } : {}),
      });
      this.setTree(treeId, { ...t, root: leaf.id });
      return;
    }
    const path = this.path(treeId, key);
    const leaf = path[path.length - 1]!;
    const i = leaf.keys.indexOf(key);
    if (i >= 0) {
      const old = leaf.vals![i]!;
      leaf.vals![i] = value;
      this.releaseValue(old, treeId, value);
    } else {
      const at = this.childIndex(leaf, key);
      leaf.keys.splice(at, 0, key);
      leaf.vals!.splice(at, 0, value);
      leaf.holes?.delete(key);
      this.split(treeId, path);
    }
    this.dirty = true;
  }

  protected patch(treeId: number, key: number, block: number, value: number): SnapshotObs {
    this.writable(treeId);
    const v = this.lookup(this.tree(treeId).root, key) ?? fail("NOTFOUND");
    if (block >= v.length) fail("EINVAL");
    const e = this.newExtent([value]);
    const next = v.map((r, i): Ref => (i === block ? [e.id, 0] : [...r]));
    this.put(treeId, key, next);
    return { ok: true };
  }

  protected size(n: Node): number {
    return isLeaf(n) ? n.keys.length + (n.holes?.size ?? 0) : n.kids!.length;
  }
  protected capacity(n: Node): number {
    return isLeaf(n) ? this.geometry.leafKeys : this.geometry.fanout;
  }

  /** Split overfull nodes bottom-up; a split root gets a new root above it. */
  protected split(treeId: number, path: Node[]): void {
    for (let d = path.length - 1; d >= 0; d--) {
      const n = path[d]!;
      if (this.size(n) <= this.capacity(n)) return;
      let sep: number;
      let right: Node;
      if (isLeaf(n)) {
        // The middle of the leaf's slots (ZFS's holes take slots too) is where the right half starts.
        const slots = [...n.keys, ...(n.holes?.keys() ?? [])].sort((a, b) => a - b);
        sep = slots[Math.ceil(slots.length / 2)]!;
        const mid = n.keys.filter((k) => k < sep).length;
        right = this.newNode({ keys: n.keys.splice(mid), vals: n.vals!.splice(mid) });
        if (n.holes) {
          const holes = [...n.holes];
          right.holes = new Map(holes.filter(([k]) => k >= sep));
          n.holes = new Map(holes.filter(([k]) => k < sep));
        }
      } else {
        const mid = Math.ceil(n.kids!.length / 2);
        sep = n.keys[mid - 1]!;
        right = this.newNode({ keys: n.keys.splice(mid), kids: n.kids!.splice(mid) });
        n.keys.pop();
      }
      if (d === 0) {
        const root = this.newNode({ keys: [sep], kids: [n.id, right.id] });
        this.setTree(treeId, { ...this.trees.get(treeId)!, root: root.id });
        return;
      }
      const parent = path[d - 1]!;
      const at = parent.kids!.indexOf(n.id);
      parent.kids!.splice(at + 1, 0, right.id);
      parent.keys.splice(at, 0, sep);
    }
  }

  protected remove(treeId: number, key: number): void {
    const path = this.path(treeId, key);
    const leaf = path[path.length - 1]!;
    const i = leaf.keys.indexOf(key);
    const [old] = leaf.vals!.splice(i, 1);
    leaf.keys.splice(i, 1);
    this.releaseValue(old!, treeId);
    // ZFS: a hole with the delete's birth (the hole_birth feature), so an incremental send frees the key.
    if (leaf.holes) leaf.holes.set(key, this.txn);
    this.dirty = true;
    // Remove emptied nodes bottom-up; a root with one child is replaced by it.
    for (let d = path.length - 1; d > 0; d--) {
      const n = path[d]!;
      if (this.size(n) > 0) break;
      const parent = path[d - 1]!;
      const at = parent.kids!.indexOf(n.id);
      parent.kids!.splice(at, 1);
      parent.keys.splice(at > 0 ? at - 1 : 0, 1);
      this.setRefs(n, 0);
      this.freeNode(n);
    }
    const t = this.trees.get(treeId)!;
    let root = this.node(t.root!);
    while (!isLeaf(root) && root.kids!.length === 1) {
      // The tree's pointer moves from the root to its only child, which may be shared with another tree: the child
      // gains a reference, the root loses the tree's (and, freed, its pointer to the child).
      const only = root.kids![0]!;
      this.incRef(only);
      this.decRef(root.id, treeId);
      root = this.node(only);
    }
    if (isLeaf(root) && this.size(root) === 0) {
      this.decRef(root.id, treeId);
      this.setTree(treeId, { ...t, root: null });
    } else if (root.id !== t.root) this.setTree(treeId, { ...t, root: root.id });
  }

  // ---- trees: drop, snapshot, clone ----

  protected drop(id: number): void {
    const t = this.tree(id);
    if (id === 0) fail("EINVAL");
    if (this.flavour === "zfs") {
      const others = [...this.trees].filter(([k]) => k !== id).map(([, o]) => o);
      if (t.kind === "head" && others.some((o) => o.kind === "snapshot" && o.of === id)) fail("EBUSY");
      if (others.some((o) => o.origin === id)) fail("EBUSY");
      this.zfsDestroy(id, t);
    }
    this.setTree(id, undefined);
    if (t.root !== null) this.decRef(t.root, this.flavour === "zfs" ? undefined : id);
  }

  /** The transaction of the snapshot before this tree in its dataset's history (ZFS's ds_prev_snap_txg). */
  protected prevTaken(id: number): number {
    const p = this.pred(id);
    return p === undefined ? 0 : this.trees.get(p)!.taken!;
  }

  /** ZFS: a tree's predecessor in its dataset's history (ds_prev_snap_obj). */
  protected pred(id: number): number | undefined {
    const t = this.trees.get(id)!;
    const dataset = t.kind === "snapshot" ? t.of! : id;
    const limit = t.kind === "snapshot" ? t.taken! : Number.POSITIVE_INFINITY;
    let best: number | undefined;
    for (const [k, o] of this.trees)
      if (o.kind === "snapshot" && o.of === dataset && o.taken! < limit && k !== id)
        if (best === undefined || o.taken! > this.trees.get(best)!.taken!) best = k;
    if (best !== undefined) return best;
    const origin = t.kind === "snapshot" ? this.trees.get(dataset)?.origin : t.origin;
    return origin !== undefined && this.trees.has(origin) ? origin : undefined;
  }
  /** ZFS: a snapshot's successor (ds_next_snap_obj): the next snapshot of its dataset, or the dataset. */
  protected succ(id: number): number | undefined {
    const t = this.trees.get(id)!;
    if (t.kind !== "snapshot") return undefined;
    let best: number | undefined;
    for (const [k, o] of this.trees)
      if (o.kind === "snapshot" && o.of === t.of && o.taken! > t.taken!)
        if (best === undefined || o.taken! < this.trees.get(best)!.taken!) best = k;
    return best ?? (this.trees.has(t.of!) ? t.of : undefined);
  }

  /** ZFS's dsl_dataset_block_kill: a block born after the previous snapshot is freed, otherwise deadlisted. */
  protected killBlock(e: number, treeId: number): void {
    const x = this.extents.get(e)!;
    if (this.bornAfter(x.birth, this.prevTaken(treeId))) {
      this.freeExtent(x);
      return;
    }
    const t = this.trees.get(treeId)!;
    this.setTree(treeId, { ...t, deadlist: [...t.deadlist, e] });
  }

  /** ZFS: a killed block born after the previous snapshot's txg is the head's alone (dsl_dataset_block_kill). */
  protected bornAfter(birth: number, prevTxg: number): boolean {
    return birth > prevTxg;
  }
  /** ZFS: a block on the next deadlist dies with the snapshot unless born by the previous one (process_old_cb: <=). */
  protected diesWithSnapshot(birth: number, prevTxg: number): boolean {
    return birth > prevTxg;
  }

  /** ZFS: destroying a snapshot (dsl_destroy_snapshot_sync, process_old_cb) or a head (its blocks born since). */
  protected zfsDestroy(id: number, t: Tree): void {
    const prev = this.prevTaken(id);
    if (t.kind === "head") {
      const mine = new Set<number>();
      for (const [, v] of this.entries(t.root)) for (const [e] of v) mine.add(e);
      for (const e of mine) if (this.extents.get(e)!.birth > prev) this.freeExtent(this.extents.get(e)!);
      return;
    }
    const next = this.succ(id);
    if (next === undefined) return;
    const n = this.trees.get(next)!;
    const keep: number[] = [];
    for (const e of n.deadlist) {
      if (this.diesWithSnapshot(this.extents.get(e)!.birth, prev)) this.freeExtent(this.extents.get(e)!);
      else keep.push(e);
    }
    this.setTree(next, { ...n, deadlist: [...keep, ...t.deadlist] });
  }

  /** Snapshot or clone: commit, with a copy of the source's root taking the source's children (btrfs_copy_root). */
  protected snapshot(src: number, as: number, readonly: boolean): void {
    const s = this.tree(src);
    if (this.trees.has(as)) fail("EEXIST");
    if (this.flavour === "zfs" && readonly === (s.kind === "snapshot")) fail("EINVAL");
    this.setTree(as, this.copyOf(src, readonly));
    this.commit();
  }

  protected copyOf(src: number, readonly: boolean): Tree {
    const s = this.trees.get(src)!;
    let root: number | null = null;
    if (s.root !== null) {
      const r = this.node(s.root);
      root = this.newNode({
        keys: [...r.keys],
        vals: r.vals?.map((v) => v.map((x) => [...x] as Ref)),
        holes: r.holes && new Map(r.holes),
        kids: r.kids && [...r.kids],
      }).id;
      if (r.kids) for (const k of r.kids) this.incRef(k);
      else for (const v of r.vals!) this.incExtents(v);
    }
    this.setTree(src, { ...s, lastSnapshot: this.txn });
    const zfsSnap = this.flavour === "zfs" && readonly;
    if (zfsSnap) this.setTree(src, { ...this.trees.get(src)!, deadlist: [] });
    return {
      root,
      readonly,
      kind: zfsSnap ? "snapshot" : "head",
      ...(zfsSnap ? { of: src } : { origin: src }),
      taken: this.txn,
      lastSnapshot: this.txn,
      deadlist: zfsSnap ? [...s.deadlist] : [],
    };
  }

  // ---- send and receive ----

  protected send(snapId: number, baseId: number | undefined, as: number): void {
    const snap = this.tree(snapId);
    const base = baseId === undefined ? undefined : this.tree(baseId);
    if (this.trees.has(as)) fail("EEXIST");
    if (!snap.readonly || (base && !base.readonly)) fail("EINVAL");
    if (this.flavour === "zfs") {
      if (snap.kind !== "snapshot") fail("EINVAL");
      if (baseId !== undefined && !this.history(snapId).includes(baseId)) fail("EXDEV");
    }
    this.commit();
    const changes = this.flavour === "zfs" ? this.zfsStream(snapId, baseId) : this.compareTrees(snapId, baseId);
    const received: Tree =
      baseId === undefined
        ? { root: null, readonly: false, kind: "head", lastSnapshot: 0, deadlist: [] }
        : this.copyOf(baseId, false);
    this.setTree(as, { ...received, readonly: false, origin: baseId, kind: "head" });
    for (const [key, data] of changes) {
      if (data) this.put(as, key, this.received(as, key, snapId, this.receiveValue(as, key, data)));
      else if (this.lookup(this.trees.get(as)!.root, key)) this.remove(as, key);
    }
    const t = this.trees.get(as)!;
    this.setTree(as, { ...t, readonly: true, taken: this.txn });
    this.commit();
  }

  /**
   * The value a receive leaves in `as` (still base's value there) for one snap sent: written afresh, as a put
   * writes it. Btrfs sends only the file extents that changed (send.c, process_extent and is_extent_unchanged): a
   * block base has at the same place stays base's, and each run of the others is written, one extent per run (the
   * writes of a run make one delalloc range).
   */
  protected received(as: number, key: number, snapId: number, data: number[]): Ref[] {
    if (this.flavour !== "btrfs") return this.newValue(data);
    const base = this.lookup(this.trees.get(as)!.root, key);
    const snap = this.lookup(this.trees.get(snapId)!.root, key)!;
    const kept = (i: number): boolean =>
      base !== undefined &&
      i < base.length &&
      (i >= snap.length || (base[i]![0] === snap[i]![0] && base[i]![1] === snap[i]![1]));
    const out: Ref[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length) {
        const e = this.newExtent(run.map((i) => data[i]!));
        for (const [j, i] of run.entries()) out[i] = [e.id, j];
      }
      run = [];
    };
    for (let i = 0; i < data.length; i++) {
      if (!kept(i)) run.push(i);
      else {
        flush();
        out[i] = [...base![i]!];
      }
    }
    flush();
    return out;
  }

  /** What receive writes for a value the stream carries: the value itself. */
  protected receiveValue(_as: number, _key: number, data: number[]): number[] {
    return data;
  }

  /** ZFS: the snapshots an incremental send may start from: earlier ones of the dataset, then the origin's. */
  protected history(snapId: number): number[] {
    const out: number[] = [];
    for (let p = this.pred(snapId); p !== undefined; p = this.pred(p)) out.push(p);
    return out;
  }

  /** Btrfs send (btrfs_compare_trees): skip subtrees the two trees share, compare the items of the rest. */
  protected compareTrees(snapId: number, baseId: number | undefined): [number, number[] | null][] {
    const snapRoot = this.trees.get(snapId)!.root;
    const baseRoot = baseId === undefined ? null : this.trees.get(baseId)!.root;
    const reach = (root: number | null): Set<number> => {
      const seen = new Set<number>();
      const walk = (id: number): void => {
        seen.add(id);
        for (const k of this.node(id).kids ?? []) walk(k);
      };
      if (root !== null) walk(root);
      return seen;
    };
    const inBase = reach(baseRoot);
    const inSnap = reach(snapRoot);
    const births: number[] = [];
    const unshared = (root: number | null, other: Set<number>, visit: boolean): [number, Ref[]][] => {
      const out: [number, Ref[]][] = [];
      const walk = (id: number): void => {
        if (other.has(id) && this.skipShared()) return;
        const n = this.node(id);
        if (visit) births.push(n.birth);
        if (isLeaf(n)) for (const [i, k] of n.keys.entries()) out.push([k, n.vals![i]!]);
        else for (const k of n.kids!) walk(k);
      };
      if (root !== null) walk(root);
      return out;
    };
    const changes = new Map<number, number[] | null>();
    for (const [k, v] of unshared(snapRoot, inBase, true)) {
      const b = this.lookup(baseRoot, k);
      if (!b || !sameBlocks(b, v)) changes.set(k, this.dataOf(v));
    }
    for (const [k] of unshared(baseRoot, inSnap, false)) if (!this.lookup(snapRoot, k)) changes.set(k, null);
    this.counters.sendVisited += births.length;
    this.last.send = { baseTaken: baseId === undefined ? 0 : (this.trees.get(baseId)!.taken ?? 0), births };
    return [...changes].sort((a, b) => a[0] - b[0]);
  }

  /** A send skips the subtrees its base shares (btrfs_compare_trees compares node addresses first; ZFS's traversal prunes by birth). */
  protected skipShared(): boolean {
    return true;
  }

  /** ZFS send (dmu_send, traverse_dataset from the base's txg): nodes born after the base, holes as frees. */
  protected zfsStream(snapId: number, baseId: number | undefined): [number, number[] | null][] {
    const from = baseId === undefined ? 0 : this.trees.get(baseId)!.taken!;
    const births: number[] = [];
    const changes = new Map<number, number[] | null>();
    const walk = (id: number): void => {
      const n = this.node(id);
      if (n.birth <= from && this.skipShared()) return;
      births.push(n.birth);
      if (!isLeaf(n)) {
        for (const k of n.kids!) walk(k);
        return;
      }
      n.keys.forEach((k, i) => {
        const v = n.vals![i]!;
        if (v.some(([e]) => this.extents.get(e)!.birth > from)) changes.set(k, this.dataOf(v));
      });
      for (const [k, birth] of n.holes ?? []) if (this.holeBirth(birth) > from) changes.set(k, null);
    };
    const root = this.trees.get(snapId)!.root;
    if (root !== null) walk(root);
    this.counters.sendVisited += births.length;
    this.last.send = { baseTaken: from, births };
    return [...changes].sort((a, b) => a[0] - b[0]);
  }
  /** The birth a hole carries into a send (the hole_birth feature). */
  protected holeBirth(birth: number): number {
    return birth;
  }

  // ---- space ----

  protected space(id: number): SnapshotObs {
    const t = this.tree(id);
    const bs = this.geometry.blockSize;
    const mine = this.unitsOf(t.root);
    const size = (u: string): number => this.unitBlocks(u) * bs;
    const referenced = [...mine].reduce((s, e) => s + size(e), 0);
    let shared: Set<string>;
    if (this.flavour === "zfs") {
      // dsl_dataset_space / ds_unique_bytes: what neither neighbour in the dataset's history holds.
      shared = new Set();
      for (const n of [this.pred(id), this.succ(id)])
        if (n !== undefined) for (const e of this.unitsOf(this.trees.get(n)!.root)) shared.add(e);
    } else {
      // Btrfs qgroups: an extent is exclusive when no other root reaches it (btrfs_find_all_roots).
      shared = new Set();
      for (const [k, o] of this.trees) if (k !== id) for (const e of this.unitsOf(o.root)) shared.add(e);
    }
    const exclusive = [...mine].filter((e) => !shared.has(e)).reduce((s, e) => s + size(e), 0);
    return { referenced, exclusive };
  }
  /** Space is accounted per extent, each counted whole however little of it is referenced. */
  protected unit(ref: Ref): string {
    return String(ref[0]);
  }
  protected unitBlocks(unit: string): number {
    return unit.includes(":") ? 1 : this.extents.get(Number(unit))!.data.length;
  }
  protected unitsOf(root: number | null): Set<string> {
    const out = new Set<string>();
    for (const [, v] of this.entries(root)) for (const r of v) out.add(this.unit(r));
    return out;
  }

  // ---- readers (LMDB) ----

  protected beginRead(reader: number): void {
    this.readers.set(reader, { txn: this.txn - 1, roots: this.committedRoots() });
  }

  /** The roots the last committed meta names. */
  protected committedRoots(): Map<number, number | null> {
    const roots = new Map<number, number | null>();
    for (const [k, t] of this.committedTrees) roots.set(k, t.root);
    return roots;
  }

  /**
   * Interleavings (docs/races.md): LMDB's begin-read runs as a reader registers (registerReader); every other op is
   * one step.
   */
  *steps(op: SnapshotOp): Generator<string, SnapshotObs> {
    if (op.op !== "begin-read" || this.flavour !== "lmdb") return this.apply(op);
    this.last = { copied: [], allocated: [], freed: [] };
    if (this.readers.has(op.reader)) return { error: "EINVAL" };
    return yield* this.registerReader(op.reader);
  }

  /**
   * mdb_txn_renew0 for a read-only transaction, step by step: read the current meta (ti->mti_txnid), publish its txn
   * id in the reader slot (r->mr_txnid), then read the meta again; where it moved on meanwhile, publish again
   * (ITS#7970's retry). A writer's mdb_find_oldest between the first two steps does not see the reader.
   */
  protected *registerReader(reader: number): Generator<string, SnapshotObs> {
    for (;;) {
      const txn = this.txn - 1;
      const roots = this.committedRoots();
      yield `read the current meta: txn ${txn}`;
      this.readers.set(reader, { txn, roots: new Map() });
      yield `published txn ${txn} in reader slot ${reader}`;
      if (this.settleReader(reader, txn, roots)) return { ok: true };
      yield `the meta is at txn ${this.txn - 1} now: publish again`;
    }
  }

  /**
   * The meta read again after publishing `txn`: where it still names `txn`, the reader takes its roots (the current
   * ones) and is registered; else it must publish again. `_before`: the roots it read before publishing.
   */
  protected settleReader(reader: number, txn: number, _before: Map<number, number | null>): boolean {
    if (this.txn - 1 !== txn) return false;
    this.readers.set(reader, { txn, roots: this.committedRoots() });
    return true;
  }

  // ---- commit, abort, crash ----

  /** The commit's schedule: the open transaction's blocks in id order, a flush, the meta slot, a flush (mdb_txn_commit). */
  protected schedule(): Step[] {
    // what the open transaction made is among what it changed: no need to look at every node
    const steps: Step[] = [];
    const pending = new Set(this.pending);
    for (const id of [...this.txnNodes].sort((a, b) => a - b))
      if (this.nodes.get(id)?.birth === this.txn && !pending.has(id)) steps.push(`n${id}`);
    for (const id of [...this.txnExtents].sort((a, b) => a - b))
      if (this.extents.get(id)?.birth === this.txn) steps.push(`e${id}`);
    return this.order(steps);
  }
  /** Data, then a flush, then the meta, then a flush: the meta never reaches the disk before what it names. */
  protected order(writes: Step[]): Step[] {
    return [...writes, "flush", "meta", "flush"];
  }

  protected commit(): void {
    if (!this.dirty) return;
    for (const step of this.schedule()) this.write(step);
    this.publish();
  }

  /** A block or the meta reaching the disk. */
  protected write(step: Step): void {
    if (step[0] === "n") {
      const n = this.nodes.get(Number(step.slice(1)));
      if (n) this.disk.set(n.id, imageOf(n));
    }
  }

  /** The root flip: the meta slot txn & 1 now names the open transaction's roots (mdb_env_write_meta). */
  protected publish(): void {
    const roots: Record<string, number | null> = {};
    for (const [k, t] of this.trees) roots[k] = t.root;
    this.metas[this.txn & 1] = { txn: this.txn, roots };
    for (const id of this.pending) {
      if (this.flavour === "lmdb") continue;
      this.nodes.delete(id);
      this.touchNode(id);
      this.free.push(id);
    }
    if (this.flavour === "lmdb") {
      if (this.pending.length)
        this.freelist.set(
          this.txn,
          [...this.pending].sort((a, b) => a - b),
        );
      // Pages loaded for reuse and left over go back under the newest record read (mdb_freelist_save).
      if (this.free.length) this.freelist.set(this.pglast, [...(this.freelist.get(this.pglast) ?? []), ...this.free]);
      this.free = [];
    }
    this.free.sort((a, b) => a - b);
    for (const e of this.pendingExtents) {
      this.extents.delete(e);
      this.touchExtent(e);
    }
    this.pending = [];
    this.pendingExtents = [];
    this.committedTrees = new Map([...this.trees].map(([k, t]) => [k, copyTree(t)]));
    this.pglast = 0; // mdb_txn_end: the next transaction reads the freelist from its oldest record again
    this.txn++;
    this.dirty = false;
    this.undo = [];
    this.txnNodes.clear();
    this.txnExtents.clear();
  }

  protected rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo = [];
    this.dirty = false;
    // What the transaction changed is as it was before it: changed again since the last inspect.
    for (const id of this.txnNodes) this.marks?.nodes.add(id);
    for (const id of this.txnExtents) this.marks?.extents.add(id);
    this.txnNodes.clear();
    this.txnExtents.clear();
    // The nodes the open transaction allocated were never written: their ids are free again.
  }

  /** Which steps reach the disk when power is lost after `after` steps, keeping `keep`'s unflushed writes. */
  protected durable(steps: Step[], after: number, keep: number): Set<Step> {
    const done = steps.slice(0, after);
    const lastFlush = done.lastIndexOf("flush");
    const out = new Set<Step>(done.slice(0, lastFlush + 1).filter((s) => s !== "flush"));
    let bit = 0;
    for (const s of done.slice(lastFlush + 1)) if ((keep >> bit++) & 1) out.add(s);
    return out;
  }

  protected crash(after: number, keep: number): "last" | "inflight" {
    this.readers.clear();
    if (!this.dirty) {
      this.rollback();
      this.last.crash = { schedule: [], durable: [], metaDurable: false, recovered: "last" };
      return "last";
    }
    const steps = this.schedule();
    const durable = this.durable(steps, after, keep);
    const written = steps.filter((s) => s[0] === "n").map((s) => Number(s.slice(1)));
    const reached = written.filter((id) => durable.has(`n${id}`));
    const images = new Map(reached.map((id) => [id, imageOf(this.nodes.get(id)!)]));
    const metaDurable = durable.has("meta");
    const lostExtents = steps.filter((s) => s[0] === "e" && !durable.has(s)).map((s) => Number(s.slice(1)));
    const recovered = metaDurable ? "inflight" : "last";
    // What was on disk before for the blocks that did not make it (a reused block's old image), or nothing.
    const before = new Map(written.map((id) => [id, this.disk.get(id)]));
    if (metaDurable) this.publish();
    else this.rollback();
    for (const [id, img] of images) this.disk.set(id, img);
    // Recovery reads the blocks the recovered roots reach: a block not written, or overwritten, reads as it is on disk.
    const reach = this.reachable([...this.trees.values()].map((t) => t.root));
    if (metaDurable)
      for (const e of lostExtents)
        if (this.extents.has(e)) {
          this.extents.get(e)!.lost = true;
          this.marks?.extents.add(e);
        }
    for (const id of written) {
      this.marks?.nodes.add(id); // the transaction is over: not one of its changes, one since the last inspect
      if (!reach.has(id)) continue;
      const img = durable.has(`n${id}`) ? images.get(id) : before.get(id);
      const n = this.nodes.get(id);
      if (!n) continue;
      if (!img) n.lost = true;
      else if (!(metaDurable && durable.has(`n${id}`))) Object.assign(n, imageOf(img), { refs: n.refs, id });
    }
    this.last.crash = {
      schedule: steps,
      durable: [...durable].filter((s) => s[0] === "n").map((s) => Number(s.slice(1))),
      metaDurable,
      recovered,
    };
    return recovered;
  }

  protected reachable(roots: (number | null)[]): Set<number> {
    const seen = new Set<number>();
    const walk = (id: number): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const n = this.nodes.get(id);
      if (n && !n.lost) for (const k of n.kids ?? []) walk(k);
    };
    for (const r of roots) if (r !== null) walk(r);
    return seen;
  }

  // ---- for the generator ----

  /** The trees the open transaction sees, with their kinds. */
  treeKinds(): Map<number, { readonly: boolean; kind: "head" | "snapshot" }> {
    return new Map([...this.trees].map(([k, t]) => [k, { readonly: t.readonly, kind: t.kind }]));
  }
  /** The keys a tree holds in the open transaction. */
  keysOf(tree: number): number[] {
    const t = this.trees.get(tree);
    try {
      return t ? this.entries(t.root).map(([k]) => k) : [];
    } catch {
      return [];
    }
  }
  /** How many blocks key's value has in tree, or undefined. */
  valueLength(tree: number, key: number): number | undefined {
    try {
      return this.lookup(this.trees.get(tree)?.root ?? null, key)?.length;
    } catch {
      return undefined;
    }
  }
  /** The trees an incremental send of snap may start from (ZFS: earlier snapshots in its history). */
  sendBases(snap: number): number[] {
    if (this.flavour === "zfs") return this.trees.get(snap)?.kind === "snapshot" ? this.history(snap) : [];
    return [...this.trees].filter(([k, t]) => t.readonly && k !== snap).map(([k]) => k);
  }
  /** The trees a reader's snapshot holds, with their keys. */
  readerView(reader: number): Map<number, number[]> {
    const r = this.readers.get(reader);
    const out = new Map<number, number[]>();
    for (const [tree, root] of r?.roots ?? []) {
      try {
        out.set(
          tree,
          this.entries(root).map(([k]) => k),
        );
      } catch {
        out.set(tree, []);
      }
    }
    return out;
  }
  readerSlots(): number[] {
    return [...this.readers.keys()];
  }

  // ---- inspect ----

  /**
   * The state. With `touched` (the runner's inspect after every op but a sequence's last), only the images of the
   * nodes and extents changed since the last inspect are made again, the others handed back as they were, and the
   * state's `touched` says which.
   */
  inspect(touched?: boolean): SnapshotState {
    const incremental = touched === true && this.marks !== undefined && this.shown !== undefined;
    const was = incremental ? this.shown : undefined;
    // A part of the state that did not change since the last inspect is handed back as it was (states are never
    // changed once handed out), so that the properties can tell it at a glance.
    let nodes: Record<string, NodeImage>;
    let extents: Record<string, ExtentImage>;
    if (was) {
      nodes = patched(was.nodes, this.marks!.nodes, this.nodes, (n) => this.nodeImage(n));
      extents = patched(was.extents, this.marks!.extents, this.extents, (e) => this.extentImage(e));
    } else {
      nodes = {};
      for (const [id, n] of this.nodes) nodes[id] = this.nodeImage(n);
      extents = {};
      for (const [id, e] of this.extents) extents[id] = this.extentImage(e);
    }
    const changed = was ? { nodes: [...this.marks!.nodes], extents: [...this.marks!.extents] } : undefined;
    if (this.marks) {
      this.marks.nodes.clear();
      this.marks.extents.clear();
    } else this.marks = { nodes: new Set(), extents: new Set() };
    const trees = this.treesImage(was);
    const [m0, m1] = this.metas;
    const state: SnapshotState = {
      flavour: this.flavour,
      txn: this.txn,
      capacity: was?.capacity ?? { leaf: this.geometry.leafKeys, inner: this.geometry.fanout },
      dirty: this.dirty,
      nodes,
      extents,
      trees,
      // meta records are replaced, never changed
      metas:
        was && this.shownMetas[0] === m0 && this.shownMetas[1] === m1
          ? was.metas
          : [
              { txn: m0.txn, roots: { ...m0.roots } },
              { txn: m1.txn, roots: { ...m1.roots } },
            ],
      free: sameOrCopy(was?.free, this.free),
      pending: sameOrCopy(was?.pending, this.pending),
      pendingExtents: sameOrCopy(was?.pendingExtents, this.pendingExtents),
      counters: { ...this.counters },
      last: this.last,
    };
    this.shownMetas = [m0, m1];
    if (this.flavour === "lmdb") {
      state.freelist = this.freelistImage(was?.freelist);
      // a reader's record is replaced, never changed
      let sameReaders = was?.readers !== undefined && this.readers.size === this.shownReaders.length;
      if (sameReaders) {
        let i = 0;
        for (const [r, x] of this.readers) {
          const [r0, x0] = this.shownReaders[i++]!;
          if (r0 !== r || x0 !== x) sameReaders = false;
        }
      }
      if (sameReaders) {
        state.readers = was!.readers;
        state.readerRoots = was!.readerRoots;
      } else {
        const readers = [...this.readers];
        state.readers = Object.fromEntries(readers.map(([r, x]) => [r, x.txn]));
        state.readerRoots = Object.fromEntries(readers.map(([r, x]) => [r, Object.fromEntries(x.roots)]));
        this.shownReaders = readers;
      }
      state.nextPage = this.nextId;
    }
    if (changed) state.touched = changed;
    this.shown = state;
    return state;
  }

  /** The trees' images: a tree record is replaced, never changed, so each one's image is kept while it is the tree's. */
  private treesImage(was: SnapshotState | undefined): Record<string, TreeImage> {
    // the last state's trees, if every tree is still the record it was made from
    if (was && this.treeImages.size === this.trees.size) {
      let same = true;
      for (const [id, t] of this.trees) {
        const img = this.treeImages.get(t);
        if (img === undefined || img !== was.trees[id]) same = false;
      }
      if (same) return was.trees;
    }
    const trees: Record<string, TreeImage> = {};
    const treeImages = new Map<Tree, TreeImage>();
    for (const [id, t] of this.trees) {
      const img = this.treeImages.get(t) ?? this.treeImage(t);
      treeImages.set(t, img);
      trees[id] = img;
    }
    this.treeImages = treeImages;
    return trees;
  }

  /** LMDB's freelist records, the last state's where every record holds what it held. */
  private freelistImage(was: Record<string, number[]> | undefined): Record<string, number[]> {
    if (was !== undefined && Object.keys(was).length === this.freelist.size) {
      let same = true;
      for (const [t, p] of this.freelist) if (!sameNums(was[t], p)) same = false;
      if (same) return was;
    }
    const out: Record<string, number[]> = {};
    for (const [t, p] of this.freelist) out[t] = sameOrCopy(was?.[t], p);
    return out;
  }

  private treeImage(t: Tree): TreeImage {
    const img: TreeImage = { root: t.root, readonly: t.readonly, kind: t.kind };
    if (t.of !== undefined) img.of = t.of;
    if (t.origin !== undefined) img.origin = t.origin;
    if (t.taken !== undefined) img.taken = t.taken;
    if (this.flavour === "btrfs") img.lastSnapshot = t.lastSnapshot;
    if (this.flavour === "zfs") img.deadlist = [...t.deadlist];
    return img;
  }

  private nodeImage(n: Node): NodeImage {
    // the schema's order of fields, for whoever reads the JSON
    const img = { keys: [...n.keys] } as NodeImage;
    if (n.vals) img.vals = n.vals.map((v) => v.map((r) => [r[0], r[1]] as Ref));
    if (n.kids) img.kids = [...n.kids];
    if (n.holes) img.holes = [...n.holes].sort((a, b) => a[0] - b[0]);
    img.birth = n.birth;
    img.refs = n.refs;
    if (n.lost) img.lost = true;
    return img;
  }
  private extentImage(e: Extent): ExtentImage {
    const img: ExtentImage = { data: [...e.data], birth: e.birth };
    if (this.flavour !== "zfs") img.refs = e.refs;
    if (e.lost) img.lost = true;
    return img;
  }
}

/**
 * The images by id: `was` with the marked ids' images made again. Where a marked id is gone, the record is made anew
 * from the live ones instead of deleting from a copy (a delete turns a record into a dictionary, slow to copy at every
 * inspect after it).
 */
function patched<T, I>(
  was: Record<string, I>,
  marks: ReadonlySet<number>,
  live: ReadonlyMap<number, T>,
  image: (x: T) => I,
): Record<string, I> {
  if (marks.size === 0) return was;
  let gone = false;
  for (const id of marks) if (!live.has(id)) gone = true;
  const out: Record<string, I> = gone ? {} : { ...was };
  if (gone) for (const [id, x] of live) out[id] = marks.has(id) ? image(x) : was[id]!;
  else for (const id of marks) out[id] = image(live.get(id)!);
  return out;
}

/** Whether `was` holds what `now` holds. */
const sameNums = (was: readonly number[] | undefined, now: readonly number[]): boolean =>
  was !== undefined && was.length === now.length && was.every((x, i) => x === now[i]);

/** `was` if it holds what `now` holds, else a copy of `now`. */
const sameOrCopy = (was: number[] | undefined, now: readonly number[]): number[] =>
  sameNums(was, now) ? was! : [...now];

/** The same blocks: the same extents at the same places. */
export function sameBlocks(a: Ref[], b: Ref[]): boolean {
  return a.length === b.length && a.every((r, i) => r[0] === b[i]![0] && r[1] === b[i]![1]);
}
