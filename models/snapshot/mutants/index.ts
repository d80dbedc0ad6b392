// The snapshot mutant zoo: the reference model with one deliberate, documented bug each, named after the real bug
// it mimics. The properties must kill every one; `cowcheck mutants --layer snapshot` shows how fast.
import { type Mutant, mutantOf } from "../../../core/index.ts";
import { type Node, type Ref, SnapshotModel, type Tree } from "../model.ts";
import type { SnapshotGeometry, SnapshotObs, SnapshotOp, SnapshotState } from "../types.ts";

type SnapshotMutant = Mutant<SnapshotOp, SnapshotObs, SnapshotState, SnapshotGeometry>;
const mutant = (
  name: string,
  mimics: string,
  Model: new (g: SnapshotGeometry) => SnapshotModel,
  geometry?: Partial<SnapshotGeometry>,
  killedBy?: "economy" | "invariant",
): SnapshotMutant =>
  mutantOf<SnapshotOp, SnapshotObs, SnapshotState, SnapshotGeometry>(name, mimics, Model, killedBy, geometry);

/** Btrfs: a block born in the transaction of the last snapshot counts as unshared (`<` for `<=`). */
class SharedCheckStrict extends SnapshotModel {
  protected override canBeShared(n: Node, t: Tree): boolean {
    return n.birth < t.lastSnapshot;
  }
}

/** Shadowing a shared node without giving its children a reference from the copy. */
class ShadowNoInc extends SnapshotModel {
  protected override shareChildren(_n: Node): void {}
}

/** ZFS: holes carry no birth, so an incremental send never frees a key deleted since its base. */
class HoleBirthZero extends SnapshotModel {
  protected override holeBirth(_birth: number): number {
    return 0;
  }
}

/** ZFS: destroying a snapshot frees blocks born in the previous snapshot's txg too (`<` for `<=`). */
class DestroyStrict extends SnapshotModel {
  protected override diesWithSnapshot(birth: number, prevTxg: number): boolean {
    return birth >= prevTxg;
  }
}

/** ZFS: a block killed in the head is freed when born in the previous snapshot's txg (`>=` for `>`). */
class KillStrict extends SnapshotModel {
  protected override bornAfter(birth: number, prevTxg: number): boolean {
    return birth >= prevTxg;
  }
}

/** LMDB: a live reader's slot left out of mdb_find_oldest (cleared as stale while it still reads). */
class ReaderNotCounted extends SnapshotModel {
  protected override oldestReader(): number {
    return this.txn - 1;
  }
}

/**
 * LMDB's reader registration without ITS#7970's retry (mdb_txn_renew0): the reader publishes the txn id it read and
 * reads the meta it read before publishing, so a writer that looked for the oldest reader in between, and saw
 * none, may have reused the pages that meta names.
 */
class ReaderRace extends SnapshotModel {
  protected override settleReader(reader: number, txn: number, before: Map<number, number | null>): boolean {
    this.readers.set(reader, { txn, roots: before }); // BUG: no second look at the meta
    return true;
  }
}

/** The meta written before the data it names is flushed: a crash can publish roots whose blocks never landed. */
class MetaBeforeFlush extends SnapshotModel {
  protected override order(writes: string[]): string[] {
    return [...writes, "meta", "flush"];
  }
}

/** Blocks freed by the open transaction reused before it commits: the committed tree loses them. */
class ReuseBeforeCommit extends SnapshotModel {
  protected override freeNode(n: Node): void {
    if (n.birth < this.txn) n.birth = this.txn;
    super.freeNode(n);
  }
}

/** Dropping a tree frees its root and forgets the children: they leak. */
class DropNoRecursion extends SnapshotModel {
  protected override decRef(id: number, tree: number | undefined): void {
    const n = this.nodes.get(id)!;
    if (n.refs > 1) {
      super.decRef(id, tree);
      return;
    }
    const kids = n.kids;
    n.kids = undefined;
    n.vals ??= [];
    super.decRef(id, tree);
    n.kids = kids;
  }
}

/** Dropping a tree frees every node it reaches, shared with a snapshot or not. */
class DropFreesShared extends SnapshotModel {
  protected override decRef(id: number, tree: number | undefined): void {
    const n = this.nodes.get(id)!;
    if (n.refs > 1) n.refs = 1;
    super.decRef(id, tree);
  }
}

/** Btrfs send: a value whose base was longer is received over the base's, its tail kept (cloning past a shrunk end of file). */
class SendKeepsTail extends SnapshotModel {
  protected override receiveValue(as: number, key: number, data: number[]): number[] {
    const old = this.lookup(this.trees.get(as)!.root, key);
    return old && old.length > data.length ? [...data, ...this.dataOf(old).slice(data.length)] : data;
  }
}

/** Btrfs space accounted per referenced block, not per extent: a partly overwritten extent shrinks. */
class SpacePerBlock extends SnapshotModel {
  protected override unit(ref: Ref): string {
    return `${ref[0]}:${ref[1]}`;
  }
}

/** An eager engine: a snapshot or clone copies the whole tree. Right answers, no sharing. */
class EagerSnapshot extends SnapshotModel {
  protected override copyOf(src: number, readonly: boolean): Tree {
    const t = super.copyOf(src, readonly);
    if (t.root === null) return t;
    const deep = (id: number): number => {
      const n = this.nodes.get(id)!;
      if (!n.kids) return id;
      for (const [i, k] of n.kids.entries()) {
        const c = this.nodes.get(k)!;
        const copy = this.newNode({
          keys: [...c.keys],
          vals: c.vals?.map((v) => v.map((r) => [...r] as Ref)),
          holes: c.holes && new Map(c.holes),
          kids: c.kids && [...c.kids],
        });
        if (c.kids) for (const g of c.kids) this.incRef(g);
        else for (const v of c.vals!) this.incExtents(v);
        this.decRef(k, undefined);
        n.kids[i] = deep(copy.id);
      }
      return id;
    };
    deep(t.root);
    return t;
  }
}

/** A send that walks the whole snapshot instead of skipping what its base shares. */
class SendFullWalk extends SnapshotModel {
  protected override skipShared(): boolean {
    return false;
  }
}

export const snapshotMutants: readonly SnapshotMutant[] = [
  mutant(
    "btrfs-shared-check-strict",
    "btrfs_block_can_be_shared comparing a block's generation with last_snapshot by < instead of <=, so a block born in a snapshot's transaction is treated as exclusive and freed on CoW (the class of \"btrfs: fix unwritten extent buffer after snapshotting a new subvolume\", 2023)",
    SharedCheckStrict,
    { flavour: "btrfs" },
  ),
  mutant(
    "shadow-no-inc",
    "shadowing a shared node without incrementing its children's counts (Rodeh 2008, section 4.1): a later drop frees nodes a snapshot still uses",
    ShadowNoInc,
  ),
  mutant(
    "zfs-hole-birth-zero",
    "holes without a birth txg: an incremental send skips the frees of data deleted since its base (OpenZFS #4050/#4809, illumos 6370/6513)",
    HoleBirthZero,
    { flavour: "zfs" },
  ),
  mutant(
    "zfs-destroy-strict",
    "process_old_cb freeing a deadlist block born in the previous snapshot's txg (< where dsl_destroy.c has <=)",
    DestroyStrict,
    { flavour: "zfs" },
  ),
  mutant(
    "zfs-kill-strict",
    "dsl_dataset_block_kill freeing a block born in the previous snapshot's txg instead of deadlisting it (>= for >)",
    KillStrict,
    { flavour: "zfs" },
  ),
  mutant(
    "lmdb-reader-not-counted",
    "mdb_find_oldest leaving out a live reader's slot (one cleared as stale while its reader still reads): pages the reader reads are reused",
    ReaderNotCounted,
    { flavour: "lmdb" },
  ),
  {
    ...mutant(
      "lmdb-reader-race",
      "mdb_txn_renew0 without ITS#7970's retry: a reader publishes the txn id it read and uses the meta it read before, so a writer that looked for the oldest reader in between reused its pages; only an interleaving kills it",
      ReaderRace,
      { flavour: "lmdb" },
      "invariant",
    ),
    interleaved: true,
  },
  mutant(
    "lmdb-loose-committed-page",
    "mdb_page_loose treating a page of the last commit as loose (dirty), so the write transaction reuses it at once instead of freeing it under its txnid",
    ReuseBeforeCommit,
    { flavour: "lmdb" },
  ),
  mutant(
    "meta-before-flush",
    "the meta (superblock, uberblock) written before the data it names is flushed: a crash publishes roots whose blocks never landed (the no-fdatasync negative control)",
    MetaBeforeFlush,
  ),
  mutant(
    "reuse-before-commit",
    "a block freed by the running transaction reused before that transaction commits (Btrfs keeps freed extents pinned until the commit, unpin_extent_range)",
    ReuseBeforeCommit,
  ),
  mutant(
    "drop-no-recursion",
    "a drop that frees the root it releases but not its children's references: space leaks (snapshot deletion leaks)",
    DropNoRecursion,
  ),
  mutant(
    "drop-frees-shared",
    "a drop that frees every node it reaches whatever its count: a snapshot loses nodes it shares",
    DropFreesShared,
  ),
  mutant(
    "btrfs-send-keeps-tail",
    "an incremental send cloning past a shrunk end of file: the received file keeps the base's tail (btrfs send, send_write/clone after truncation)",
    SendKeepsTail,
    { flavour: "btrfs" },
  ),
  mutant(
    "btrfs-space-per-block",
    "space accounted per referenced block instead of per extent: a partly overwritten extent seems to shrink (Btrfs keeps it whole)",
    SpacePerBlock,
    { flavour: "btrfs" },
  ),
  mutant(
    "eager-snapshot",
    "an eager engine: snapshots and clones copy the whole tree (right answers, no sharing)",
    EagerSnapshot,
    undefined,
    "economy",
  ),
  mutant(
    "send-full-walk",
    "a send that reads the whole snapshot instead of skipping what its base shares (a full send where an incremental one was asked)",
    SendFullWalk,
    undefined,
    "economy",
  ),
];
