// zfs-fuse as the snapshot layer's zfs engine (engines/zfs): a fixed sequence with the observations ZFS must give
// (each also the model's), the places where ZFS 0.7.0 answers otherwise, a short campaign against the oracle, and
// that nothing of the engine's (daemon, mounts, folder) outlives it, even when its agent is killed. Skipped, with
// the reason printed, where zfs-fuse cannot run (not Linux, not root, zfs-fuse not installed, no /dev/fuse).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { type AnyLayer, type Engine, type EngineFactory, runRoot } from "../core/index.ts";
import { zfsEngine, zfsUnavailable } from "../engines/zfs/index.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { SnapshotModel } from "../models/snapshot/model.ts";
import { defaultSnapshotGeometry, type SnapshotObs, type SnapshotOp } from "../models/snapshot/types.ts";

const why = zfsUnavailable();
if (why) console.log(`skipping the zfs-fuse engine tests: it ${why}`);

const layer: AnyLayer = { ...snapshotLayer, engines: [...(snapshotLayer.engines ?? []), zfsEngine] };
const geometry = { ...defaultSnapshotGeometry, flavour: "zfs" as const, blockSize: 4096, trees: 10 };
const zfsFolders = (): string[] => readdirSync(runRoot()).filter((n) => n.startsWith("zfs-"));

type Expected = [SnapshotOp, SnapshotObs];
const ok = { ok: true } as const;
const error = (e: string): SnapshotObs => ({ error: e }) as SnapshotObs;

/** Each op's observation from the engine, and the model's for the same op, must both be the expected one. */
async function expectAll(engine: Engine<unknown, unknown>, model: SnapshotModel, steps: Expected[]): Promise<void> {
  for (const [op, obs] of steps) {
    expect([op, model.apply(op)]).toEqual([op, obs]);
    expect([op, await engine.apply(op)]).toEqual([op, obs]);
  }
}

/** Processes (pid → command line) whose command line mentions this run's folder: the agents and nothing else. */
function processesOf(root: string): Map<number, { comm: string; ppid: number; cmdline: string }> {
  const out = new Map<number, { comm: string; ppid: number; cmdline: string }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
      out.set(Number(name), { comm, ppid, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return new Map([...out].filter(([, p]) => p.cmdline.includes(root) || out.get(p.ppid)?.cmdline.includes(root)));
}

/** The agents of this run's zfs folders and their zfs-fuse daemons (children of an agent). */
function ours(): { agents: number[]; daemons: number[] } {
  const procs = processesOf(join(runRoot(), "zfs-"));
  const agents = [...procs].filter(([, p]) => p.cmdline.includes("agent.mjs")).map(([pid]) => pid);
  const daemons = [...procs].filter(([, p]) => p.comm === "zfs-fuse" && agents.includes(p.ppid)).map(([pid]) => pid);
  return { agents, daemons };
}

const alive = (pid: number): boolean => {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
};
async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
/** Mounts this process can see under the run's folder (the agents' are in namespaces of their own). */
const zfsMounts = (): string[] =>
  readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .filter((l) => l.includes(runRoot()));

describe.skipIf(why !== undefined)("zfs-fuse as the snapshot layer's zfs engine", () => {
  test("ops, errors, clones and sends, as ZFS answers them (and the model)", async () => {
    const factory = zfsEngine.factory(layer, {});
    expect(factory.fixedGeometry).toEqual({ flavour: "zfs", blockSize: 4096 });
    try {
      const engine = await factory.create(geometry);
      const model = new SnapshotModel(geometry);
      expect([...engine.features]).toEqual(["reset"]);
      await expectAll(engine, model, [
        [{ op: "put", tree: 0, key: 1, data: [1, 2, 3] }, ok],
        [{ op: "get", tree: 0, key: 1 }, { data: [1, 2, 3] }],
        [{ op: "patch", tree: 0, key: 1, block: 1, value: 9 }, ok],
        [{ op: "patch", tree: 0, key: 1, block: 3, value: 9 }, error("EINVAL")],
        [{ op: "patch", tree: 0, key: 2, block: 0, value: 9 }, error("NOTFOUND")],
        [{ op: "del", tree: 0, key: 2 }, error("NOTFOUND")],
        [{ op: "get", tree: 0, key: 2 }, error("NOTFOUND")],
        [{ op: "put", tree: 5, key: 1, data: [1] }, error("ENOENT")],
        [{ op: "scan", tree: 5 }, error("ENOENT")],
        [{ op: "create", tree: 0 }, error("EEXIST")],
        [{ op: "drop", tree: 0 }, error("EINVAL")],
        [{ op: "drop", tree: 5 }, error("ENOENT")],
        [{ op: "commit" }, ok],
        // snapshots are read-only; no snapshot of a snapshot, no clone of a dataset
        [{ op: "snapshot", tree: 0, as: 1 }, ok],
        [{ op: "snapshot", tree: 0, as: 1 }, error("EEXIST")],
        [{ op: "snapshot", tree: 1, as: 2 }, error("EINVAL")],
        [{ op: "clone", tree: 0, as: 2 }, error("EINVAL")],
        [{ op: "put", tree: 1, key: 3, data: [7] }, error("EROFS")],
        [{ op: "del", tree: 1, key: 1 }, error("EROFS")],
        [{ op: "patch", tree: 1, key: 1, block: 0, value: 1 }, error("EROFS")],
        // a clone is writable and starts as its snapshot; the snapshot keeps its content
        [{ op: "clone", tree: 1, as: 2 }, ok],
        [{ op: "put", tree: 2, key: 3, data: [7] }, ok],
        [{ op: "put", tree: 0, key: 1, data: [4] }, ok],
        [{ op: "get", tree: 1, key: 1 }, { data: [1, 9, 3] }],
        [
          { op: "scan", tree: 2 },
          {
            entries: [
              [1, [1, 9, 3]],
              [3, [7]],
            ],
          },
        ],
        [{ op: "get", tree: 0, key: 1 }, { data: [4] }],
        // an incremental send from the clone's origin (a clone stream): received read-only
        [{ op: "snapshot", tree: 2, as: 3 }, ok],
        [{ op: "send", snap: 3, base: 1, as: 4 }, ok],
        [
          { op: "scan", tree: 4 },
          {
            entries: [
              [1, [1, 9, 3]],
              [3, [7]],
            ],
          },
        ],
        [{ op: "put", tree: 4, key: 5, data: [5] }, error("EROFS")],
        // an incremental send within one dataset: a delete and a new value travel
        [{ op: "del", tree: 0, key: 1 }, ok],
        [{ op: "put", tree: 0, key: 5, data: [5, 5] }, ok],
        [{ op: "snapshot", tree: 0, as: 5 }, ok],
        [{ op: "send", snap: 5, base: 1, as: 6 }, ok],
        [{ op: "scan", tree: 6 }, { entries: [[5, [5, 5]]] }],
        // a snapshot of the received tree, sent from the received tree's base
        [{ op: "snapshot", tree: 6, as: 7 }, ok],
        [{ op: "send", snap: 7, base: 1, as: 8 }, ok],
        [{ op: "scan", tree: 8 }, { entries: [[5, [5, 5]]] }],
        [{ op: "drop", tree: 8 }, ok],
        // send's refusals
        [{ op: "send", snap: 1, base: 5, as: 8 }, error("EXDEV")], // base later than snap
        [{ op: "send", snap: 3, base: 5, as: 8 }, error("EXDEV")], // base of another dataset
        [{ op: "send", snap: 0, as: 8 }, error("EINVAL")], // not a snapshot
        [{ op: "send", snap: 5, base: 0, as: 8 }, error("EINVAL")], // a writable base
        [{ op: "send", snap: 5, as: 6 }, error("EEXIST")],
        [{ op: "send", snap: 9, as: 8 }, error("ENOENT")],
        // EBUSY: a snapshot with clones or received trees on it, a dataset with snapshots
        [{ op: "drop", tree: 1 }, error("EBUSY")],
        [{ op: "drop", tree: 2 }, error("EBUSY")],
        [{ op: "drop", tree: 6 }, error("EBUSY")],
        [{ op: "drop", tree: 7 }, ok],
        [{ op: "drop", tree: 6 }, ok],
        [{ op: "drop", tree: 1 }, error("EBUSY")], // the clone 2 and the received 4 still
        [{ op: "drop", tree: 4 }, ok],
        [{ op: "drop", tree: 1 }, error("EBUSY")],
        [{ op: "drop", tree: 3 }, ok],
        [{ op: "drop", tree: 2 }, ok],
        [{ op: "drop", tree: 1 }, ok],
        // a full send; the received tree can be snapshotted, not cloned
        [{ op: "send", snap: 5, as: 1 }, ok],
        [{ op: "scan", tree: 1 }, { entries: [[5, [5, 5]]] }],
        [{ op: "snapshot", tree: 1, as: 2 }, ok],
        [{ op: "clone", tree: 1, as: 3 }, error("EINVAL")],
        [{ op: "drop", tree: 1 }, error("EBUSY")],
        [{ op: "drop", tree: 2 }, ok],
        [{ op: "drop", tree: 1 }, ok],
      ]);
      await engine.close?.();
      // reset: a fresh pool, tree 0 empty
      const again = await factory.create(geometry);
      await expectAll(again, new SnapshotModel(geometry), [
        [{ op: "scan", tree: 0 }, { entries: [] }],
        [{ op: "scan", tree: 5 }, error("ENOENT")],
      ]);
      await again.close?.();
    } finally {
      await factory.dispose?.();
    }
    expect(zfsFolders()).toEqual([]);
  });

  test("where ZFS 0.7.0 answers other than the model (docs/snapshot.md, the zfs-fuse engine)", async () => {
    const factory = zfsEngine.factory(layer, {});
    try {
      const engine = await factory.create(geometry);
      const model = new SnapshotModel(geometry);
      await expectAll(engine, model, [
        [{ op: "put", tree: 0, key: 1, data: [1] }, ok],
        [{ op: "snapshot", tree: 0, as: 1 }, ok],
        [{ op: "snapshot", tree: 0, as: 2 }, ok],
        [{ op: "clone", tree: 2, as: 3 }, ok],
        [{ op: "snapshot", tree: 3, as: 4 }, ok],
        [{ op: "send", snap: 2, as: 5 }, ok],
      ]);
      // A base earlier than the clone's origin: the model's history runs up the origin chain (as OpenZFS's
      // dsl_dataset_is_before does); zfs 0.7.0's send takes the origin itself or a snapshot of the same dataset.
      const before: SnapshotOp = { op: "send", snap: 4, base: 1, as: 6 };
      expect(model.apply({ ...before, as: 9 })).toEqual(ok);
      expect(await engine.apply(before)).toEqual(error("EXDEV"));
      // A base that is no snapshot but read-only (a received tree): the model says EXDEV, ZFS EINVAL.
      const notSnapshot: SnapshotOp = { op: "send", snap: 4, base: 5, as: 6 };
      expect(model.apply(notSnapshot)).toEqual(error("EXDEV"));
      expect(await engine.apply(notSnapshot)).toEqual(error("EINVAL"));
      await engine.close?.();
    } finally {
      await factory.dispose?.();
    }
  });

  test("answers as the oracle on a short campaign", async () => {
    const factory = zfsEngine.factory(layer, {});
    try {
      const r = await runCampaign(layer, factory, { seed: 3, runs: 12, maxOps: 40, flavour: "zfs" });
      expect(r.failure ?? r.engineFailure).toBeUndefined();
      expect(r.status).toBe("passed");
      expect(r.ops).toBeGreaterThan(100);
    } finally {
      await factory.dispose?.();
    }
    expect(zfsFolders()).toEqual([]);
  });

  test("nothing outlives the engine: after dispose, and after its agent is killed", async () => {
    const before = ours();
    expect(before.agents).toEqual([]);
    // dispose: the agent ends on bye, its daemon with it
    let factory: EngineFactory = zfsEngine.factory(layer, {});
    let engine = await factory.create(geometry);
    expect(await engine.apply({ op: "put", tree: 0, key: 0, data: [1] })).toEqual(ok);
    let live = ours();
    expect(live.agents).toHaveLength(1);
    expect(live.daemons).toHaveLength(1);
    // the pool's mounts are in the agent's own mount namespace, not in this one
    const agent = live.agents[0]!;
    expect(readlinkSync(`/proc/${agent}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
    const agentMounts = readFileSync(`/proc/${agent}/mounts`, "utf8").split("\n");
    expect(agentMounts.some((l) => l.includes(" fuse.zfs "))).toBe(true);
    // other sessions' FUSE and loop-device mounts are detached in its namespace (a copy would keep them alive)
    expect(agentMounts.filter((l) => /^\/dev\/loop| fuse/.test(l) && !l.includes(" fuse.zfs "))).toEqual([]);
    expect(zfsMounts()).toEqual([]);
    await engine.close?.();
    await factory.dispose?.();
    await until("the agent and its daemon to end", () => [...live.agents, ...live.daemons].every((p) => !alive(p)));
    expect(ours()).toEqual({ agents: [], daemons: [] });
    expect(zfsFolders()).toEqual([]);

    // SIGKILL of the agent alone: its daemon dies with it (pdeathsig), and its namespace and mounts with both
    factory = zfsEngine.factory(layer, {});
    engine = await factory.create(geometry);
    expect(await engine.apply({ op: "snapshot", tree: 0, as: 1 })).toEqual(ok);
    live = ours();
    expect(live.daemons).toHaveLength(1);
    process.kill(live.agents[0]!, "SIGKILL");
    await until("the daemon to die with its agent", () => [...live.agents, ...live.daemons].every((p) => !alive(p)));
    await expect(engine.apply({ op: "scan", tree: 0 })).rejects.toThrow();
    await engine.close?.();
    expect(zfsFolders()).toHaveLength(1); // the image is left in the folder, which dispose removes
    await factory.dispose?.();
    expect(ours()).toEqual({ agents: [], daemons: [] });
    expect(zfsMounts()).toEqual([]);
    expect(zfsFolders()).toEqual([]);
  });
});
