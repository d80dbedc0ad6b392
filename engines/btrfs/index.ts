// Btrfs, the running kernel's, as an engine of the snapshot layer's btrfs flavour (engines/btrfs/engine.ts maps the
// ops). A factory keeps one loop device over a sparse image file in a folder below this run's folder (runRoot); each
// sequence gets a fresh filesystem on it (mkfs.btrfs, mount, tree 0 created and committed). The mount, the loop
// device and the folder go when the sequence or the factory ends, and however the process ends (core/cleanup.ts:
// the watchdog unmounts and detaches after a SIGKILL; the next start sweeps what a dead watchdog left).
import { spawnSync } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AnyLayer, type EngineFactory, InputError, runFolder, type SystemEngine } from "../../core/index.ts";
import type { SnapshotGeometry } from "../../models/snapshot/types.ts";
import { loopDevice } from "../blockdev.ts";
import { probedOnce } from "../optional.ts";
import { runBtrfsCrashCampaign } from "./crash.ts";
import { BtrfsEngine } from "./engine.ts";
import { DEVICE_BYTES, MountedBtrfs } from "./fs.ts";

const INSTALL = "apt-get install btrfs-progs";

/** Why Btrfs cannot be an engine here (worded to follow "it "), or undefined if it can. Probed once. */
export const btrfsUnavailable = probedOnce(() => probe());

function probe(): string | undefined {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "needs root (loop devices, mount(2), subvolume deletion)";
  let filesystems = "";
  try {
    filesystems = readFileSync("/proc/filesystems", "utf8");
  } catch {
    // below
  }
  if (!/\tbtrfs$/m.test(filesystems)) {
    spawnSync("modprobe", ["btrfs"], { stdio: "ignore" });
    if (!/\tbtrfs$/m.test(readFileSync("/proc/filesystems", "utf8")))
      return "needs the btrfs filesystem (not in /proc/filesystems, and modprobe btrfs did not load it)";
  }
  for (const [tool, pkg] of [
    ["mkfs.btrfs", INSTALL],
    ["btrfs", INSTALL],
    ["losetup", "apt-get install mount"],
    ["filefrag", "apt-get install e2fsprogs"],
  ] as const)
    if (spawnSync(tool, ["--version"], { stdio: "ignore" }).error) return `needs ${tool} (${pkg})`;
  const free = spawnSync("losetup", ["--find"], { encoding: "utf8" });
  if (free.status !== 0) return `needs a free loop device (losetup --find: ${free.stderr.trim()})`;
  return undefined;
}

/** A sparse image file and a loop device over it, in a folder below this run's folder; `remove` undoes both. */
export function loopDisk(bytes: number): { folder: string; device: string; remove: () => void } {
  const dir = runFolder("btrfs-");
  const folder = dir.path;
  const image = join(folder, "image");
  writeFileSync(image, "");
  truncateSync(image, bytes);
  const loop = loopDevice(image);
  return {
    folder,
    device: loop.device,
    remove() {
      loop.detach();
      dir.remove();
    },
  };
}

/** The engine per sequence: a fresh filesystem on the factory's device, tree 0 made and committed. */
export function btrfsFactory(): EngineFactory {
  let disk: ReturnType<typeof loopDisk> | undefined;
  let current: BtrfsEngine | undefined;
  const end = (): void => {
    const e = current;
    current = undefined;
    e?.close();
  };
  return {
    name: "snapshot:btrfs",
    fixedGeometry: { flavour: "btrfs", blockSize: 4096 },
    create(geometry) {
      const g = geometry as SnapshotGeometry;
      if (g.flavour !== "btrfs" || g.blockSize !== 4096)
        throw new InputError(
          'the btrfs engine runs the snapshot layer\'s btrfs flavour with 4 KiB blocks: --geometry \'{"flavour":"btrfs","blockSize":4096}\'',
        );
      end(); // a sequence that ended without closing its engine (an engine failure) gives its mount back first
      disk ??= loopDisk(DEVICE_BYTES);
      const engine = BtrfsEngine.start(MountedBtrfs.make(disk.device, join(disk.folder, "mnt")));
      const close = engine.close.bind(engine);
      engine.close = () => {
        if (current === engine) current = undefined;
        close();
      };
      current = engine;
      return engine;
    },
    dispose() {
      end();
      disk?.remove();
      disk = undefined;
    },
  };
}

export const btrfsEngine: SystemEngine = {
  name: "btrfs",
  description:
    "Btrfs on a loop device, a fresh filesystem per sequence: trees are subvolumes, keys files (engines/btrfs/)",
  unavailable: btrfsUnavailable,
  features: () => ({
    offered: ["extents"],
    missing: {
      abort: "Btrfs has no transaction a user can roll back: the kernel commits what was written",
      crash: "crashes are the crash campaign's (cowcheck crash --layer snapshot --engine btrfs), on a logged device",
      space:
        "qgroups count a subvolume's metadata blocks with its data, and only as of the last commit; the extents view compares the data extents themselves",
    },
  }),
  fixedGeometry: { flavour: "btrfs", blockSize: 4096 },
  views: ["extents"],
  factory: () => btrfsFactory(),
  crashCampaign: (layer: AnyLayer, options) => runBtrfsCrashCampaign(layer, options),
};
