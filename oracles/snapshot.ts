// Eager-copy oracle for the snapshot layer (docs/snapshot.md): no shared nodes, no B+trees. Every tree is a full
// map of key → blocks, each block naming the data extent it lives in (an id and that extent's size in blocks). The
// committed state is a full copy of every tree, the open transaction another; a commit copies the one onto the
// other, an abort the other way, a snapshot or clone copies one tree's map (its blocks keeping their extent ids), and
// an LMDB reader pins a copy of the committed state. Space is computed from extent ids alone. A crash during the
// commit of a transaction that changed something may recover either the last commit or the in-flight one: the
// oracle answers `oneOf`, takes the last by default, and `chose` follows the engine to the in-flight one.
import { type Engine, InputError } from "../core/index.ts";
import {
  SNAPSHOT_OP_FEATURES,
  type SnapshotErrno,
  type SnapshotGeometry,
  type SnapshotObs,
  type SnapshotOp,
  snapshotOpInvalid,
} from "../models/snapshot/types.ts";

/** One data block: its value, and the extent it lives in (counted whole, `size` blocks, by space). */
interface Block {
  readonly v: number;
  readonly ext: number;
  readonly size: number;
}
/** A tree (subvolume, dataset, snapshot, clone, received tree, named database) as a full map. */
interface TreeRec {
  entries: Map<number, Block[]>;
  readonly: boolean;
  /** ZFS: a snapshot, or a head (a dataset, a clone, a received tree). */
  kind: "head" | "snapshot";
  /** A snapshot's source tree (ZFS: its dataset). */
  of?: number;
  /** A clone's origin snapshot, a received tree's base. */
  origin?: number;
  /** The transaction of the commit that made it (a snapshot, clone or received tree). */
  taken?: number;
}
type Trees = Map<number, TreeRec>;

/** What the oracle allows: one observation, or any of several (a crash). */
export type SnapshotAnswer = SnapshotObs | { oneOf: SnapshotObs[] };

/** An error observation, thrown to leave the op at once. */
class Fail {
  constructor(readonly errno: SnapshotErrno) {}
}
const no = (errno: SnapshotErrno): never => {
  throw new Fail(errno);
};
const OK = { ok: true } as const;

/** A full copy of one tree: new maps, new arrays, new blocks. */
const copyTree = (t: TreeRec): TreeRec => ({
  ...t,
  entries: new Map([...t.entries].map(([k, bs]) => [k, bs.map((b) => ({ ...b }))])),
});
/** A full copy of every tree. */
const copyAll = (trees: Trees): Trees => new Map([...trees].map(([id, t]) => [id, copyTree(t)]));
/** The extent ids a tree's blocks use, with their sizes. */
const extents = (t: TreeRec): Map<number, number> =>
  new Map([...t.entries.values()].flat().map((b) => [b.ext, b.size]));

export class SnapshotOracle implements Engine<SnapshotOp, SnapshotAnswer> {
  readonly layer = "snapshot" as const;
  readonly features: ReadonlySet<string> = new Set<string>(Object.values(SNAPSHOT_OP_FEATURES));
  private readonly zfs: boolean;
  private readonly btrfs: boolean;
  /** The last durable commit, and the open transaction's view. */
  private committed: Trees = new Map();
  private current: Trees;
  /** The open transaction's id (the last committed one + 1). */
  private txn = 2;
  /** Whether a write succeeded since the last commit or abort. */
  private dirty = false;
  /** The next data extent id. */
  private nextExt = 1;
  /** LMDB: each active reader slot's copy of the committed state. */
  private readonly readers = new Map<number, Trees>();
  /** After a crash that could recover either commit: the in-flight commit's trees, until chose() or the next op. */
  private inflight: Trees | undefined;

  constructor(readonly geometry: SnapshotGeometry) {
    this.zfs = geometry.flavour === "zfs";
    this.btrfs = geometry.flavour === "btrfs";
    // tree 0 exists from the start: empty, writable, committed in transaction 1
    this.committed.set(0, { entries: new Map(), readonly: false, kind: "head" });
    this.current = copyAll(this.committed);
  }

  apply(op: SnapshotOp): SnapshotAnswer {
    // validation refuses ops of another flavour or outside the geometry before they reach an engine
    const invalid = snapshotOpInvalid(op, this.geometry);
    if (invalid) throw new InputError(`the snapshot oracle cannot run ${JSON.stringify(op)}: ${invalid}`);
    this.inflight = undefined;
    try {
      return this.run(op);
    } catch (e) {
      if (e instanceof Fail) return { error: e.errno };
      throw e;
    }
  }

  /** The engine recovered the in-flight commit where the oracle's default was the last one. */
  chose(observed: unknown): void {
    const recovered = (observed as { recovered?: unknown } | null)?.recovered;
    if (recovered === "inflight" && this.inflight) {
      this.committed = this.inflight;
      this.current = copyAll(this.committed);
      this.txn++;
    }
    this.inflight = undefined;
  }

  private run(op: SnapshotOp): SnapshotAnswer {
    switch (op.op) {
      case "put": {
        const t = this.writable(op.tree);
        t.entries.set(op.key, this.write(op.data));
        return this.wrote();
      }
      case "patch": {
        const t = this.writable(op.tree);
        const blocks = t.entries.get(op.key) ?? no("NOTFOUND");
        if (op.block >= blocks.length) no("EINVAL");
        // one new one-block extent; the other blocks keep theirs (Btrfs: the old extent stays whole)
        blocks[op.block] = { v: op.value, ext: this.nextExt++, size: 1 };
        return this.wrote();
      }
      case "del": {
        const t = this.writable(op.tree);
        if (!t.entries.has(op.key)) no("NOTFOUND");
        t.entries.delete(op.key);
        return this.wrote();
      }
      case "get": {
        const blocks = this.tree(op.tree).entries.get(op.key) ?? no("NOTFOUND");
        return { data: blocks.map((b) => b.v) };
      }
      case "scan": {
        const sorted = [...this.tree(op.tree).entries].sort(([a], [b]) => a - b);
        return { entries: sorted.map(([k, bs]): [number, number[]] => [k, bs.map((b) => b.v)]) };
      }
      case "commit":
        this.commit();
        return OK;
      case "abort":
        this.current = copyAll(this.committed);
        this.dirty = false;
        return OK;
      case "create":
        if (this.current.has(op.tree)) no("EEXIST");
        this.current.set(op.tree, { entries: new Map(), readonly: false, kind: "head" });
        return this.wrote();
      case "drop": {
        this.tree(op.tree);
        if (op.tree === 0) no("EINVAL");
        // ZFS: a dataset with snapshots, a snapshot with clones (or trees received on it as base) cannot go
        const others = [...this.current.values()];
        if (this.zfs && others.some((o) => (o.kind === "snapshot" && o.of === op.tree) || o.origin === op.tree))
          no("EBUSY");
        this.current.delete(op.tree);
        return this.wrote();
      }
      case "snapshot":
      case "clone": {
        const src = this.tree(op.tree);
        if (this.current.has(op.as)) no("EEXIST");
        // ZFS: no snapshot of a snapshot, no clone of anything but a snapshot
        if (this.zfs && (op.op === "snapshot") === (src.kind === "snapshot")) no("EINVAL");
        // the open transaction and the new tree commit together, in transaction T = the open one
        const { entries } = copyTree(src);
        const made: TreeRec =
          op.op === "snapshot"
            ? { entries, readonly: true, kind: "snapshot", of: op.tree, taken: this.txn }
            : { entries, readonly: false, kind: "head", origin: op.tree, taken: this.txn };
        this.current.set(op.as, made);
        this.dirty = true;
        this.commit();
        return OK;
      }
      case "send":
        this.send(op.snap, op.base, op.as);
        return OK;
      case "space":
        return this.space(op.tree);
      case "begin-read":
        if (this.readers.has(op.reader)) no("EINVAL");
        this.readers.set(op.reader, copyAll(this.committed));
        return OK;
      case "read": {
        const pinned = this.readers.get(op.reader) ?? no("EINVAL");
        const t = pinned.get(op.tree) ?? no("ENOENT");
        const blocks = t.entries.get(op.key) ?? no("NOTFOUND");
        return { data: blocks.map((b) => b.v) };
      }
      case "end-read":
        if (!this.readers.delete(op.reader)) no("EINVAL");
        return OK;
      case "crash": {
        // readers and the open transaction are gone; a transaction that changed nothing writes no meta page
        const dirty = this.dirty;
        const inflight = copyAll(this.current);
        this.readers.clear();
        this.current = copyAll(this.committed);
        this.dirty = false;
        if (!dirty) return { recovered: "last" };
        this.inflight = inflight;
        return { oneOf: [{ recovered: "last" }, { recovered: "inflight" }] };
      }
    }
  }

  /** An existing tree of the open transaction (ENOENT). */
  private tree(id: number): TreeRec {
    return this.current.get(id) ?? no("ENOENT");
  }

  /** An existing writable tree (ENOENT, EROFS). */
  private writable(id: number): TreeRec {
    const t = this.tree(id);
    if (t.readonly) no("EROFS");
    return t;
  }

  /** A successful write: the open transaction changed something. */
  private wrote(): SnapshotObs {
    this.dirty = true;
    return OK;
  }

  /** A value written as a put writes it: Btrfs one extent for all its blocks, the others an extent per block. */
  private write(data: readonly number[]): Block[] {
    if (this.btrfs) {
      const ext = this.nextExt++;
      return data.map((v) => ({ v, ext, size: data.length }));
    }
    return data.map((v) => ({ v, ext: this.nextExt++, size: 1 }));
  }

  /** Publish the open transaction (nothing happens if it changed nothing). */
  private commit(): void {
    if (!this.dirty) return;
    this.committed = copyAll(this.current);
    this.txn++;
    this.dirty = false;
  }

  /** send {snap, base?, as}: commit, then receive `as` in a commit of its own. */
  private send(snapId: number, baseId: number | undefined, as: number): void {
    const snap = this.tree(snapId);
    const base = baseId === undefined ? undefined : this.tree(baseId);
    if (this.current.has(as)) no("EEXIST");
    if (!snap.readonly || (base && !base.readonly)) no("EINVAL");
    if (this.zfs && snap.kind !== "snapshot") no("EINVAL");
    if (this.zfs && baseId !== undefined && !this.history(snap).has(baseId)) no("EXDEV");
    this.commit();
    // the received tree: base's entries, where snap has the very same blocks for the key; a fresh put elsewhere
    const got: TreeRec = { entries: new Map(), readonly: true, kind: "head", taken: this.txn };
    if (baseId !== undefined) got.origin = baseId;
    for (const [k, blocks] of snap.entries) got.entries.set(k, this.receive(base?.entries.get(k), blocks));
    this.current.set(as, got);
    this.dirty = true;
    this.commit();
  }

  /**
   * What a receive leaves for a key snap has, over what base had: base's blocks if they are the very same; else a
   * fresh put. Btrfs compares block by block (send.c, is_extent_unchanged): a block base has at the same place
   * stays base's, and each run of the others is written afresh, one extent per run.
   */
  private receive(had: Block[] | undefined, blocks: Block[]): Block[] {
    const same = (i: number): boolean =>
      had !== undefined && i < had.length && had[i]!.ext === blocks[i]!.ext && had[i]!.v === blocks[i]!.v;
    if (!this.btrfs)
      return had?.length === blocks.length && blocks.every((_, i) => same(i))
        ? had.map((b) => ({ ...b }))
        : this.write(blocks.map((b) => b.v));
    const out: Block[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length) out.push(...this.write(run));
      run = [];
    };
    blocks.forEach((b, i) => {
      if (!same(i)) run.push(b.v);
      else {
        flush();
        out.push({ ...had![i]! });
      }
    });
    flush();
    return out;
  }

  /** ZFS: the snapshots an incremental send of `snap` may start from (snap's dataset's history before it). */
  private history(snap: TreeRec): Set<number> {
    const out = new Set<number>();
    let dataset = snap.of;
    let before = snap.taken ?? 0;
    while (dataset !== undefined) {
      // the dataset's snapshots taken before the limit
      for (const [id, t] of this.current)
        if (t.kind === "snapshot" && t.of === dataset && (t.taken ?? 0) < before) out.add(id);
      // then its origin snapshot and the origin's dataset's snapshots before it
      const origin = this.current.get(dataset)?.origin;
      const o = origin === undefined ? undefined : this.current.get(origin);
      if (origin === undefined || !o) break;
      out.add(origin);
      dataset = o.of;
      before = o.taken ?? 0;
    }
    return out;
  }

  /** space {tree}: referenced and exclusive bytes of its distinct extents, each counted whole. */
  private space(id: number): SnapshotObs {
    const mine = extents(this.tree(id));
    const others = this.zfs ? this.neighbours(id) : [...this.current].filter(([o]) => o !== id).map(([, t]) => t);
    const shared = new Set(others.flatMap((t) => [...extents(t).keys()]));
    const bytes = (exts: [number, number][]) => this.geometry.blockSize * exts.reduce((sum, [, size]) => sum + size, 0);
    return { referenced: bytes([...mine]), exclusive: bytes([...mine].filter(([e]) => !shared.has(e))) };
  }

  /** ZFS: the tree's predecessor and successor in its dataset's history, those that still exist. */
  private neighbours(id: number): TreeRec[] {
    const t = this.tree(id);
    const dataset = t.kind === "snapshot" ? t.of : id;
    const snaps = [...this.current.values()]
      .filter((s) => s.kind === "snapshot" && s.of === dataset && dataset !== undefined)
      .sort((a, b) => (a.taken ?? 0) - (b.taken ?? 0));
    const head = dataset === undefined ? undefined : this.current.get(dataset);
    const originOf = (d: TreeRec | undefined) => (d?.origin === undefined ? undefined : this.current.get(d.origin));
    let pred: TreeRec | undefined;
    let succ: TreeRec | undefined;
    if (t.kind === "snapshot") {
      // a snapshot: the previous snapshot (else the dataset's origin), the next one (else the dataset itself)
      pred = snaps.filter((s) => (s.taken ?? 0) < (t.taken ?? 0)).at(-1) ?? originOf(head);
      succ = snaps.find((s) => (s.taken ?? 0) > (t.taken ?? 0)) ?? head;
    } else {
      // a head (a received tree's origin is its base): the latest snapshot, else the origin; no successor
      pred = snaps.at(-1) ?? originOf(t);
    }
    return [pred, succ].filter((x): x is TreeRec => x !== undefined);
  }
}
