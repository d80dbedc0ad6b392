// The snapshot layer's ops on a mounted Btrfs filesystem (engines/btrfs/fs.ts lays it out). Each op maps to what a
// Btrfs user does: put writes a file afresh (truncate, write), patch overwrites one block in place, del unlinks,
// get/scan read, commit is a transaction commit (btrfs_sync_fs), create/drop are subvolume create/delete, snapshot
// and clone are `btrfs subvolume snapshot` (-r or not: create_snapshot commits the transaction with the snapshot in
// it), send is `btrfs send [-p base] | btrfs receive`. A write is written back before the op returns (FIEMAP's sync
// flag, no fsync: nothing goes to the log tree), so each write op is one allocation as in the model, not merged with
// the next in the page cache. The errors the layer defines are checked in the layer's order (docs/snapshot.md).
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Engine, EngineFailure } from "../../core/index.ts";
import type { SnapshotErrno, SnapshotObs, SnapshotOp } from "../../models/snapshot/types.ts";
import {
  BTRFS_BLOCK,
  decodeValue,
  encodeValue,
  keyName,
  keysIn,
  type MountedBtrfs,
  readOnly,
  run,
  treeName,
  treesIn,
} from "./fs.ts";

class Errno {
  constructor(readonly errno: SnapshotErrno) {}
}
const fail = (errno: SnapshotErrno): never => {
  throw new Errno(errno);
};

/** The per-block extents of every key of every tree (FIEMAP), the extents view's raw answer. */
export interface BtrfsExtentsView {
  /** tree → key → each block's [physical block number, whether FIEMAP flags its extent shared]. */
  readonly trees: Record<string, Record<string, [number, boolean][]>>;
  /** Incremental receives Btrfs could not apply (a clone from a base never received), done whole instead. */
  readonly wholeReceives?: number;
}

export class BtrfsEngine implements Engine<SnapshotOp, SnapshotObs> {
  readonly layer = "snapshot";
  static readonly FEATURES = ["extents"] as const;
  readonly features: ReadonlySet<string> = new Set(BtrfsEngine.FEATURES);
  /** Incremental receives done whole (see send): the extents view can no longer pair this sequence's blocks. */
  private wholeReceives = 0;
  /** Called after each op that committed (the crash campaign marks the device's log there). */
  onCommit: ((what: string) => void) | undefined;

  constructor(readonly fs: MountedBtrfs) {}

  /** The engine on a freshly made filesystem: tree 0 created and committed (unmounted if that fails). */
  static start(fs: MountedBtrfs): BtrfsEngine {
    try {
      run("btrfs", ["-q", "subvolume", "create", fs.path(treeName(0))]);
      fs.commit();
    } catch (e) {
      try {
        fs.unmount();
      } catch {
        // still mounted: it stays registered for the process's end; the first failure is the one to report
      }
      throw e;
    }
    return new BtrfsEngine(fs);
  }

  private dir(tree: number): string {
    return this.fs.path(treeName(tree));
  }
  private file(tree: number, key: number): string {
    return join(this.dir(tree), keyName(key));
  }
  /** The tree's subvolume (a received tree's tN is a link to where it was received), or ENOENT. */
  private tree(tree: number): string {
    const d = this.dir(tree);
    if (!existsSync(d)) fail("ENOENT");
    return realpathSync(d);
  }
  private writable(tree: number): string {
    const d = this.tree(tree);
    if (readOnly(d)) fail("EROFS");
    return d;
  }
  private commit(what: string): void {
    this.fs.commit();
    this.onCommit?.(what);
  }

  apply(op: SnapshotOp): SnapshotObs {
    try {
      return this.perform(op);
    } catch (e) {
      if (e instanceof Errno) return { error: e.errno };
      throw e;
    }
  }

  private perform(op: SnapshotOp): SnapshotObs {
    switch (op.op) {
      case "put": {
        this.writable(op.tree);
        this.write(this.file(op.tree, op.key), encodeValue(op.data), 0, true);
        return { ok: true };
      }
      case "patch": {
        this.writable(op.tree);
        const f = this.file(op.tree, op.key);
        if (!existsSync(f)) fail("NOTFOUND");
        const fd = openSync(f, "r");
        const size = fstatSync(fd).size;
        closeSync(fd);
        if (op.block >= size / BTRFS_BLOCK) fail("EINVAL");
        this.write(f, encodeValue([op.value]), op.block * BTRFS_BLOCK, false);
        return { ok: true };
      }
      case "del": {
        this.writable(op.tree);
        const f = this.file(op.tree, op.key);
        if (!existsSync(f)) fail("NOTFOUND");
        unlinkSync(f);
        return { ok: true };
      }
      case "get": {
        this.tree(op.tree);
        const f = this.file(op.tree, op.key);
        if (!existsSync(f)) fail("NOTFOUND");
        return { data: decodeValue(readFileSync(f), `${treeName(op.tree)}/${keyName(op.key)}`) };
      }
      case "scan": {
        const d = this.tree(op.tree);
        const entries: [number, number[]][] = keysIn(d).map((k) => [
          k,
          decodeValue(readFileSync(join(d, keyName(k))), `${treeName(op.tree)}/${keyName(k)}`),
        ]);
        return { entries };
      }
      case "commit":
        this.commit("commit");
        return { ok: true };
      case "create":
        if (existsSync(this.dir(op.tree))) fail("EEXIST");
        // Not a commit of its own: the superblock's generation moves by two during a create, but a crash after it
        // may still lack the new subvolume (what the campaign found): what came before it is committed, not it.
        run("btrfs", ["-q", "subvolume", "create", this.dir(op.tree)]);
        return { ok: true };
      case "drop": {
        const real = this.tree(op.tree);
        if (op.tree === 0) fail("EINVAL");
        // a received tree's link goes first: a commit between the two steps leaves no link to a deleted subvolume
        const linked = lstatSync(this.dir(op.tree)).isSymbolicLink();
        if (linked) unlinkSync(this.dir(op.tree));
        run("btrfs", ["-q", "subvolume", "delete", real]);
        if (linked) rmdirSync(dirname(real));
        // The deleted tree's blocks go back only once the cleaner has dropped it, after a commit
        // (btrfs_drop_snapshot): wait, so that nothing it shared still counts as shared.
        this.commit("drop");
        run("btrfs", ["-q", "subvolume", "sync", this.fs.mnt]);
        return { ok: true };
      }
      case "snapshot":
      case "clone": {
        const src = this.tree(op.tree);
        if (existsSync(this.dir(op.as))) fail("EEXIST");
        const ro = op.op === "snapshot" ? ["-r"] : [];
        run("btrfs", ["-q", "subvolume", "snapshot", ...ro, src, this.dir(op.as)]);
        this.onCommit?.(op.op);
        return { ok: true };
      }
      case "send":
        return this.send(op.snap, op.base, op.as);
      case "abort":
      case "crash":
      case "space":
      case "begin-read":
      case "read":
      case "end-read":
        throw new EngineFailure("protocol", `the btrfs engine does not run ${op.op} (it is not among its features)`);
    }
  }

  /** Write bytes at an offset (put: into a truncated file) and write them back, without a flush or the log tree. */
  private write(file: string, bytes: Buffer, at: number, truncate: boolean): void {
    const fd = openSync(file, truncate ? "w" : "r+");
    try {
      writeSync(fd, bytes, 0, bytes.length, at);
    } finally {
      closeSync(fd);
    }
    // FIEMAP_FLAG_SYNC: filemap_write_and_wait, so the data gets its extent now (run_delalloc_range).
    run("filefrag", ["-s", file]);
  }

  private send(snap: number, base: number | undefined, as: number): SnapshotObs {
    const s = this.tree(snap);
    const b = base === undefined ? undefined : this.tree(base);
    if (existsSync(this.dir(as))) fail("EEXIST");
    if (readOnly(s) === false || (b !== undefined && !readOnly(b))) fail("EINVAL");
    this.commit("send");
    let into = this.receive(s, b);
    if (typeof into !== "string") {
      // btrfs receive finds a clone source by its received UUID only (cmds/receive.c, process_clone): a stream
      // that clones from a base that was never received itself (a local snapshot) cannot be applied on this
      // filesystem. Such a tree is received whole instead, and the extents view says it can no longer be compared.
      if (b === undefined || !/clone: did not find source subvol/.test(into.stderr))
        throw new EngineFailure("error", `btrfs send | btrfs receive failed (status ${into.status})`, into.stderr);
      this.wholeReceives++;
      into = this.receive(s, undefined);
      if (typeof into !== "string")
        throw new EngineFailure("error", `btrfs send | btrfs receive failed (status ${into.status})`, into.stderr);
    }
    // A read-only subvolume cannot be renamed (EROFS), and a snapshot of it would not be found by its received
    // UUID as a later send's parent or clone source: it stays where it was received, tAS a link to it.
    symlinkSync(join(basename(into), basename(s)), this.dir(as)); // named as the subvolume sent
    this.commit("send");
    return { ok: true };
  }

  /** `btrfs send [-p base] snap | btrfs receive` into a folder of its own (the received subvolume takes snap's name). */
  private receive(snap: string, base: string | undefined): string | { status: number | null; stderr: string } {
    const into = mkdtempSync(this.fs.path(".recv-"));
    const parent = base === undefined ? [] : ["-p", base];
    // the paths go as arguments, not inside the script
    const r = spawnSync(
      "bash",
      [
        "-o",
        "pipefail",
        "-c",
        'into=$1; shift; btrfs send -q "$@" | btrfs receive -q "$into"',
        "bash",
        into,
        ...parent,
        snap,
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    if (r.status === 0) return into;
    const partial = join(into, basename(snap));
    if (existsSync(partial)) run("btrfs", ["-q", "subvolume", "delete", partial]);
    rmdirSync(into);
    return { status: r.status, stderr: r.stderr };
  }

  /** The extents view: FIEMAP of every key of every tree (written back first: the sync flag). */
  inspectView(name: string): BtrfsExtentsView {
    if (name !== "extents") throw new EngineFailure("protocol", `the btrfs engine has no view "${name}"`);
    const files: string[] = [];
    const trees: BtrfsExtentsView["trees"] = {};
    for (const t of treesIn(this.fs.mnt)) {
      trees[t] = {};
      for (const k of keysIn(this.dir(t))) files.push(this.file(t, k));
    }
    const whole = this.wholeReceives > 0 ? { wholeReceives: this.wholeReceives } : {};
    if (files.length === 0) return { trees, ...whole };
    for (const [file, blocks] of fiemap(files)) {
      const m = /\/t(\d+)\/k(\d+)$/.exec(file)!;
      trees[m[1]!]![m[2]!] = blocks;
    }
    return { trees, ...whole };
  }

  close(): void {
    this.fs.unmount();
  }
}

/**
 * FIEMAP of each file through filefrag (-v: each extent with its flags; -s: written back first), block by block:
 * the physical block each logical block maps to, and whether the extent is shared (FIEMAP_EXTENT_SHARED).
 */
export function fiemap(files: readonly string[]): Map<string, [number, boolean][]> {
  const out = new Map<string, [number, boolean][]>();
  let current: [number, boolean][] | undefined;
  for (const line of run("filefrag", ["-v", "-s", ...files]).split("\n")) {
    const head = /^File size of (.*) is (\d+) /.exec(line);
    if (head) {
      current = Array.from<[number, boolean]>({ length: Number(head[2]) / BTRFS_BLOCK });
      out.set(head[1]!, current);
      continue;
    }
    const ext = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+)\.\.\s*(\d+):\s+(\d+):\s*(?:(\d+):)?\s*(\S*)\s*$/.exec(line);
    if (!ext || !current) continue;
    const [logical, last, physical] = [Number(ext[1]), Number(ext[2]), Number(ext[3])];
    const flags = (ext[7] ?? "").split(",");
    // written back first (-s), a key's blocks are allocated, not inline, not compressed: anything else is news
    const odd = flags.filter((f) => ["unknown_loc", "delalloc", "inline", "encoded", "not_aligned"].includes(f));
    if (odd.length) throw new EngineFailure("error", `FIEMAP flags a key's extent ${odd.join(",")}`, line);
    for (let l = logical; l <= last; l++) current[l] = [physical + (l - logical), flags.includes("shared")];
  }
  for (const [file, blocks] of out)
    if (blocks.some((b) => b === undefined))
      throw new EngineFailure("error", `FIEMAP left blocks of ${file} unmapped (a hole in a key's file)`);
  return out;
}
