// A Btrfs filesystem on a block device, as the snapshot layer's btrfs engine and crash campaign use it: made with
// mkfs.btrfs, mounted in a folder below this run's folder (runRoot), its trees subvolumes t<N> of the top-level
// subvolume, its keys files k<N> of blockSize-byte blocks, each block filled with its value. What the command-line
// tools do (mkfs, subvolume create/snapshot/delete, sync, send/receive) goes through `btrfs`; the files go through
// node:fs. Mounted with flushoncommit (a commit writes back every dirty file first, as the model's commit publishes
// every write), commit=300 (no timer commit within a sequence) noatime (reads write nothing) and nodiscard (Btrfs turns on async discard by itself where the device offers it:
// a discard would punch holes in the image and log zeros).
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { atProcessEnd, EngineFailure } from "../../core/index.ts";

export const MOUNT_OPTIONS = "flushoncommit,commit=300,noatime,nodiscard";
/** The device's size: room for a few hundred small files in each of a few trees, and Btrfs's own metadata. */
export const DEVICE_BYTES = 256 << 20;
/** Btrfs's sector: a key's block is one sector, so that every block is an extent's block. */
export const BTRFS_BLOCK = 4096;

/** Run a command; its failure is the engine's failure (exit 3), with what it printed. */
export function run(command: string, args: readonly string[], what = `${command} ${args.join(" ")}`): string {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0)
    throw new EngineFailure(
      "error",
      `${what} failed (${r.signal ?? `status ${r.status}`})`,
      `${r.stderr}${r.error ?? ""}`,
    );
  return r.stdout;
}

/** What the reader of a filesystem finds: tree → read-only flag and entries (key → block values). */
export interface FsContent {
  readonly trees: Map<number, { readonly readonly: boolean; readonly entries: Map<number, number[]> }>;
}

export const treeName = (tree: number): string => `t${tree}`;
export const keyName = (key: number): string => `k${key}`;
const numbered = (names: string[], prefix: string): number[] =>
  names
    .filter((n) => new RegExp(`^${prefix}\\d+$`).test(n))
    .map((n) => Number(n.slice(1)))
    .sort((a, b) => a - b);
/** The trees of a mounted filesystem (its names t<N>; others are not the layer's), and the keys of a tree (k<N>). */
export const treesIn = (mnt: string): number[] => numbered(readdirSync(mnt), "t");
export const keysIn = (dir: string): number[] => numbered(readdirSync(dir), "k");

/** A block's value: every byte of it must be the same, or the engine reports what it read (a torn block). */
export function decodeValue(bytes: Buffer, where: string): number[] {
  if (bytes.length % BTRFS_BLOCK !== 0)
    throw new EngineFailure(
      "error",
      `${where} is ${bytes.length} bytes, not a whole number of ${BTRFS_BLOCK}-byte blocks`,
    );
  const out: number[] = [];
  for (let at = 0; at < bytes.length; at += BTRFS_BLOCK) {
    const v = bytes[at]!;
    for (let i = at; i < at + BTRFS_BLOCK; i++)
      if (bytes[i] !== v)
        throw new EngineFailure(
          "error",
          `block ${at / BTRFS_BLOCK} of ${where} is torn (byte 0 is ${v}, byte ${i - at} is ${bytes[i]})`,
        );
    out.push(v);
  }
  return out;
}

export function encodeValue(data: readonly number[]): Buffer {
  const b = Buffer.alloc(data.length * BTRFS_BLOCK);
  for (const [i, v] of data.entries()) b.fill(v, i * BTRFS_BLOCK, (i + 1) * BTRFS_BLOCK);
  return b;
}

/** Whether a path is in a read-only subvolume (btrfs_permission answers EROFS to a write check there). */
export function readOnly(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EROFS") return true;
    throw e;
  }
}

/** Every tree of a mounted filesystem and what it holds (names other than t<N> and k<N> are not the layer's). */
export function readContent(mnt: string): FsContent {
  const trees: FsContent["trees"] = new Map();
  for (const tree of treesIn(mnt)) {
    const dir = join(mnt, treeName(tree));
    const entries = new Map<number, number[]>();
    for (const key of keysIn(dir))
      entries.set(key, decodeValue(readFileSync(join(dir, keyName(key))), `${treeName(tree)}/${keyName(key)}`));
    trees.set(tree, { readonly: readOnly(dir), entries });
  }
  return { trees };
}

/** A mounted Btrfs filesystem, unmounted by `unmount` and however the process ends. */
export class MountedBtrfs {
  private forget: () => void;
  private gone = false;
  private constructor(
    readonly device: string,
    readonly mnt: string,
  ) {
    this.forget = atProcessEnd(() => this.umountNow(), ["umount", mnt]);
  }

  /** mkfs on the device (nodiscard: a loop device's discard punches holes in its file, slowly) and mount it. */
  static make(device: string, mnt: string): MountedBtrfs {
    run("mkfs.btrfs", ["-f", "-q", "-K", device]);
    return MountedBtrfs.mount(device, mnt);
  }

  static mount(device: string, mnt: string, options = MOUNT_OPTIONS): MountedBtrfs {
    mkdirSync(mnt, { recursive: true });
    run("mount", ["-t", "btrfs", "-o", options, device, mnt]);
    return new MountedBtrfs(device, mnt);
  }

  path(...parts: string[]): string {
    return join(this.mnt, ...parts);
  }

  /** A transaction commit (btrfs_sync_fs via BTRFS_IOC_SYNC). */
  commit(): void {
    run("btrfs", ["filesystem", "sync", this.mnt]);
  }

  private umountNow(): void {
    spawnSync("umount", [this.mnt], { stdio: "ignore", timeout: 60_000 });
  }

  /** Unmount (once: later calls do nothing); the process-end undo stays registered until the unmount succeeds. */
  unmount(): void {
    if (this.gone) return;
    run("umount", [this.mnt]);
    this.gone = true;
    this.forget();
    // the device scan list keeps a filesystem it has seen; forget it so that stale entries do not pile up
    spawnSync("btrfs", ["device", "scan", "--forget", this.device], { stdio: "ignore" });
    if (existsSync(this.mnt)) rmdirSync(this.mnt);
  }
}
