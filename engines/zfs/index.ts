// ZFS (Debian's zfs-fuse 0.7.0, pool version 23) as an engine of the snapshot layer's zfs flavour. The agent
// (engines/zfs/agent.mjs, plain JavaScript on node:*) runs in a mount namespace of its own (unshare -m), with a
// private zfs-fuse daemon and a pool on a sparse image file in a folder below this run's folder (runRoot); it speaks
// the stdio protocol and offers reset (the pool destroyed and made again). Its daemon, mounts and namespace end
// with it however it ends; the folder goes when the factory is disposed, and with the run's folder.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AnyLayer, type EngineFactory, InputError, runFolder, type SystemEngine } from "../../core/index.ts";
import { probedOnce } from "../optional.ts";
import { stdioFactory } from "../stdio.ts";

const agent = fileURLToPath(new URL("./agent.mjs", import.meta.url));
const INSTALL = "apt-get install zfs-fuse";

/** Why zfs-fuse cannot be an engine here (worded to follow "it "), or undefined if it can. Probed once. */
export const zfsUnavailable = probedOnce(() => probe());

function probe(): string | undefined {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "needs root (a mount namespace, tmpfs mounts, a FUSE daemon)";
  for (const tool of ["zfs-fuse", "zfs", "zpool"]) if (!onPath(tool)) return `needs ${tool} (${INSTALL})`;
  if (!onPath("unshare")) return "needs unshare (apt-get install util-linux)";
  if (spawnSync("setpriv", ["--help"], { encoding: "utf8" }).stdout?.includes("--pdeathsig") !== true)
    return "needs setpriv with --pdeathsig (util-linux 2.33 or later), so that its daemon dies with its agent";
  if (!existsSync("/dev/fuse")) return "needs /dev/fuse (the fuse module)";
  // the agent needs a mount namespace of its own: unshare(2) may be refused in a container
  const ns = spawnSync("unshare", ["-m", "--propagation", "private", "true"], { encoding: "utf8" });
  if (ns.status !== 0) return `cannot make a mount namespace (unshare -m: ${(ns.stderr ?? "").trim() || ns.status})`;
  return undefined;
}

/** The program is found on PATH or in the sbin folders (zfs-fuse installs into /sbin). */
function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  return dirs.some((d) => d !== "" && existsSync(join(d, tool)));
}

/** The agent's command line: unshare execs node, so the agent leads the process group (its daemon in it too). */
export const zfsCommand = (folder: string): string =>
  `exec unshare -m --propagation private ${JSON.stringify(process.execPath)} ${JSON.stringify(agent)} ${JSON.stringify(folder)}`;

/** A stdio factory whose agents keep their pools in a folder of their own, removed on dispose. */
export function zfsFactory(layer: AnyLayer, timeoutMs?: number): EngineFactory {
  let folder: { path: string; remove: () => void } | undefined;
  const inner = stdioFactory(
    layer,
    () => {
      folder ??= runFolder("zfs-");
      return zfsCommand(folder.path);
    },
    // a send is several zfs commands, a reset a pool destroyed and made: more than the default 10 s on a loaded machine
    { name: "snapshot:zfs-fuse", timeoutMs: timeoutMs ?? 30_000 },
  );
  return {
    name: inner.name,
    create: (g) => {
      const geometry = g as { flavour?: string; blockSize?: number };
      if (geometry.flavour !== "zfs" || geometry.blockSize !== 4096)
        throw new InputError(
          'the zfs-fuse engine runs the snapshot layer\'s zfs flavour with 4 KiB blocks (recordsize=4k): --geometry \'{"flavour":"zfs","blockSize":4096}\'',
        );
      return inner.create(g);
    },
    fresh: () => inner.fresh?.(),
    async dispose() {
      await inner.dispose?.();
      folder?.remove(); // a later create makes the folder again (the agent makes it if missing)
    },
    fixedGeometry: { flavour: "zfs", blockSize: 4096 },
  };
}

/** The snapshot layer's zfs flavour against zfs-fuse. */
export const zfsEngine: SystemEngine = {
  name: "zfs-fuse",
  description:
    "ZFS by zfs-fuse 0.7.0 (pool v23), a private daemon in a mount namespace of its own, a fresh pool per sequence: trees are datasets, snapshots and clones, keys files (engines/zfs/)",
  unavailable: zfsUnavailable,
  features: () => ({
    offered: ["reset"],
    missing: {
      abort: "ZFS has no transaction a user can roll back: an open txg is synced whatever was written",
      crash: "zfs-fuse cannot be made to lose power partway through a txg sync on request",
      space:
        "ZFS's used and referenced count metadata with the data, and move only once a txg has synced; snapshots' and received trees' exclusive figures are not the model's",
      inspect: "ZFS's block pointers are not the model's nodes (zdb reads a pool in about a second)",
    },
  }),
  fixedGeometry: { flavour: "zfs", blockSize: 4096 },
  factory: (layer, { timeoutMs }) => zfsFactory(layer, timeoutMs),
};
