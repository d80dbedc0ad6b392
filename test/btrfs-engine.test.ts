// Btrfs itself as the snapshot layer's btrfs engine (engines/btrfs): fixed op sequences with the observations Btrfs
// must give, its extents view against the model's blocks, a short lockstep run against the model, the crash
// campaign on a logged device with its negative control, and cleanup after the factory, Ctrl-C and SIGKILL. Skipped,
// with the reason printed, where Btrfs, loop devices or FUSE cannot run.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, test } from "vitest";
import { type AnyLayer, type EngineFactory, runRoot } from "../core/index.ts";
import { blockdevUnavailable } from "../engines/blockdev.ts";
import { runBtrfsCrashCampaign } from "../engines/btrfs/crash.ts";
import { btrfsEngine, btrfsUnavailable } from "../engines/btrfs/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkWith } from "../fuzz/runner.ts";
import { loadTrace } from "../layers/index.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { type Ref, SnapshotModel } from "../models/snapshot/model.ts";
import { defaultSnapshotGeometry, type SnapshotObs, type SnapshotOp } from "../models/snapshot/types.ts";
import { type BtrfsExtents, btrfsExtentsView } from "../views/snapshot/btrfs.ts";

const why = btrfsUnavailable();
const crashWhy = why ?? blockdevUnavailable();
if (why) console.log(`skipping the Btrfs engine tests: it ${why}`);
else if (crashWhy) console.log(`skipping the Btrfs crash tests: the logged device ${crashWhy}`);

const layer: AnyLayer = { ...snapshotLayer, views: [btrfsExtentsView], engines: [btrfsEngine] };
const geometry = { ...defaultSnapshotGeometry, flavour: "btrfs", blockSize: 4096 };
const ok = { ok: true } as const;
const error = (e: string): SnapshotObs => ({ error: e }) as SnapshotObs;

/** Mounts and loop devices whose paths lie below a folder. */
const mountsBelow = (folder: string): string[] =>
  readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((l) => l.split(" ")[1]?.startsWith(folder));
const loopsBelow = (folder: string): string[] =>
  spawnSync("losetup", ["-a"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter((l) => l.includes(folder));

describe.skipIf(why !== undefined)("Btrfs as the snapshot layer's btrfs engine", () => {
  test("ops and errors as Btrfs answers them; the extents view pairs with the model's blocks", async () => {
    const factory = btrfsEngine.factory(layer, {});
    expect(factory.fixedGeometry).toEqual({ flavour: "btrfs", blockSize: 4096 });
    const engine = await factory.create(geometry);
    const model = layer.model(geometry);
    try {
      expect([...engine.features]).toEqual(["extents"]);
      const steps: [SnapshotOp, SnapshotObs][] = [
        [{ op: "put", tree: 0, key: 1, data: [1, 2, 3] }, ok],
        [{ op: "put", tree: 0, key: 2, data: [7] }, ok],
        [{ op: "patch", tree: 0, key: 1, block: 1, value: 9 }, ok],
        [{ op: "patch", tree: 0, key: 1, block: 3, value: 9 }, error("EINVAL")],
        [{ op: "patch", tree: 0, key: 5, block: 0, value: 9 }, error("NOTFOUND")],
        [{ op: "get", tree: 0, key: 1 }, { data: [1, 9, 3] }],
        [{ op: "get", tree: 2, key: 1 }, error("ENOENT")],
        [{ op: "snapshot", tree: 0, as: 1 }, ok],
        [{ op: "snapshot", tree: 0, as: 1 }, error("EEXIST")],
        [{ op: "put", tree: 1, key: 3, data: [1] }, error("EROFS")],
        [{ op: "del", tree: 1, key: 8 }, error("EROFS")],
        [{ op: "clone", tree: 1, as: 2 }, ok],
        [{ op: "patch", tree: 2, key: 1, block: 0, value: 4 }, ok],
        [{ op: "del", tree: 2, key: 2 }, ok],
        [{ op: "send", snap: 2, as: 3 }, error("EINVAL")],
        [{ op: "snapshot", tree: 2, as: 3 }, ok],
        [{ op: "send", snap: 3, base: 1, as: 4 }, ok],
        [{ op: "scan", tree: 4 }, { entries: [[1, [4, 9, 3]]] }],
        [{ op: "send", snap: 3, as: 5 }, ok],
        [{ op: "send", snap: 4, as: 6 }, ok], // a received tree sent on: received under the name it was sent by
        [{ op: "scan", tree: 6 }, { entries: [[1, [4, 9, 3]]] }],
        [{ op: "drop", tree: 6 }, ok],
        [{ op: "drop", tree: 0 }, error("EINVAL")],
        [{ op: "drop", tree: 1 }, ok],
        [{ op: "drop", tree: 1 }, error("ENOENT")],
        [{ op: "create", tree: 1 }, ok],
        [{ op: "create", tree: 1 }, error("EEXIST")],
        [{ op: "scan", tree: 1 }, { entries: [] }],
        [{ op: "commit" }, ok],
      ];
      for (const [op, obs] of steps) {
        expect([op, await engine.apply(op)]).toEqual([op, obs]);
        expect(await model.apply(op)).toEqual(obs);
        const view = btrfsExtentsView.decode(await engine.inspectView!("extents")) as BtrfsExtents;
        expect(btrfsExtentsView.compare(view, await model.inspect!()), JSON.stringify(op)).toEqual({});
      }
      const v = btrfsExtentsView.decode(await engine.inspectView!("extents")) as BtrfsExtents;
      // tree 4 received incrementally from base 1 (dropped since): key 1's blocks 1 and 2 stayed the base's, so they
      // are still tree 0's blocks; block 0 was sent, so it is new data. Tree 5, sent whole, shares nothing.
      const [t0, t4, t5] = [v.trees[0]![1]!, v.trees[4]![1]!, v.trees[5]![1]!];
      expect(t4[1]).toEqual(t0[1]);
      expect(t4[2]).toEqual(t0[2]);
      expect(t4[0]![0]).not.toBe(t0[0]![0]);
      expect(t5.every(([p]) => !t0.some(([q]) => q === p) && !t4.some(([q]) => q === p))).toBe(true);
      // a view that pairs one block of the model with another physical block diverges
      const wrong: BtrfsExtents = structuredClone(v);
      wrong.trees[4]![1]![1] = [t5[1]![0], false];
      expect(btrfsExtentsView.compare(wrong, await model.inspect!()).divergence?.property).toBe("btrfs-same-block");
      const unshared: BtrfsExtents = structuredClone(v);
      unshared.trees[0]![1]![2] = [t0[2]![0], !t0[2]![1]];
      expect(btrfsExtentsView.compare(unshared, await model.inspect!()).divergence?.property).toBe("btrfs-shared");
    } finally {
      await engine.close?.();
      await factory.dispose?.();
    }
    expect(mountsBelow(runRoot())).toEqual([]);
    expect(loopsBelow(runRoot())).toEqual([]);
    expect(readdirSync(runRoot()).filter((n) => n.startsWith("btrfs-"))).toEqual([]);
  });

  test("an incremental receive cloning from a base never received is done whole, and the extents view stops pairing", async () => {
    // the base, taken after a patch, splits the extent the older snapshot sent holds whole: send clones the two
    // unchanged ranges from the base, which btrfs receive looks up by received UUID only, and does not find
    const factory = btrfsEngine.factory(layer, {});
    const engine = await factory.create(geometry);
    const model = layer.model(geometry);
    try {
      const steps: [SnapshotOp, SnapshotObs][] = [
        [{ op: "put", tree: 0, key: 4, data: [9, 5, 5] }, ok],
        [{ op: "snapshot", tree: 0, as: 1 }, ok],
        [{ op: "patch", tree: 0, key: 4, block: 1, value: 8 }, ok],
        [{ op: "snapshot", tree: 0, as: 3 }, ok],
        [{ op: "send", snap: 1, base: 3, as: 2 }, ok],
        [{ op: "scan", tree: 2 }, { entries: [[4, [9, 5, 5]]] }],
      ];
      for (const [op, obs] of steps) {
        expect([op, await engine.apply(op)]).toEqual([op, obs]);
        expect(await model.apply(op)).toEqual(obs);
      }
      const v = btrfsExtentsView.decode(await engine.inspectView!("extents")) as BtrfsExtents;
      expect(v.wholeReceives).toBe(1);
      expect(btrfsExtentsView.compare(v, await model.inspect!()).desync).toMatch(/received UUID only/);
    } finally {
      await engine.close?.();
      await factory.dispose?.();
    }
  });

  test("in lockstep with the model: observations and the extents view after every op", async () => {
    const factory = btrfsEngine.factory(layer, {});
    const against: EngineFactory = { name: "model", create: (g) => layer.model(g) };
    try {
      const r = await runCampaign(layer, factory, { seed: 1, runs: 12, maxOps: 40, against, flavour: "btrfs" });
      expect(r.failure ?? r.engineFailure).toBeUndefined();
      expect(r.status).toBe("passed");
      expect(r.structure?.compared).toBeGreaterThan(200);
    } finally {
      await factory.dispose?.();
    }
  });

  test("the Btrfs findings recorded under traces/snapshot/btrfs replay with the extents view compared", async () => {
    const factory = btrfsEngine.factory(layer, {});
    const model = await resolveEngine(layer, "model");
    try {
      for (const f of readdirSync("traces/snapshot/btrfs")) {
        const { trace } = loadTrace(`traces/snapshot/btrfs/${f}`);
        expect(await checkWith(layer, trace.geometry, factory, trace.ops, { against: model }), f).toBeUndefined();
      }
    } finally {
      await factory.dispose?.();
    }
  });

  test("the extents view catches the model as it was before the finding (a receive re-putting a changed value whole)", async () => {
    class WholeReceive extends SnapshotModel {
      protected override received(_as: number, _key: number, _snap: number, data: number[]): Ref[] {
        return this.newValue(data);
      }
    }
    const factory = btrfsEngine.factory(layer, {});
    const against: EngineFactory = { name: "whole-receive", create: (g) => new WholeReceive(g as never) };
    try {
      const { trace } = loadTrace("traces/snapshot/btrfs/receive-keeps-unchanged-blocks.trace.json");
      const f = await checkWith(layer, trace.geometry, factory, trace.ops, { against });
      expect(f?.property).toBe("btrfs-same-block");
      expect(f?.index).toBe(4);
    } finally {
      await factory.dispose?.();
    }
  });

  describe.skipIf(crashWhy !== undefined)("crash points on a logged device", () => {
    test("every crash state mounts, passes btrfs check and reads as the last committed op or the one in flight", async () => {
      const r = await runBtrfsCrashCampaign(snapshotLayer, { seed: 5, sequences: 2 });
      console.log(`Btrfs crash campaign, seed 5: ${r.states} states, ${r.violations} violations; ${r.detail}`);
      expect(r.examples).toEqual([]);
      expect(r.violations).toBe(0);
      expect(r.states).toBeGreaterThan(60);
      expect(r.detail).toMatch(/[1-9]\d* states recovered the last committed op, [1-9]\d* the op in flight/);
    });

    test("the negative control (a superblock without its tree blocks, a lost superblock) is caught", async () => {
      const r = await runBtrfsCrashCampaign(snapshotLayer, { seed: 5, sequences: 1, negativeControl: true });
      expect(r.states).toBeGreaterThan(0);
      expect(r.violations).toBe(r.states);
      expect(r.kinds.check).toBeGreaterThan(0); // tree blocks missing: btrfs check fails
      expect(r.kinds.state).toBeGreaterThan(0); // an acknowledged commit lost: the state before it
    });
  });

  // ---- interrupts: the command as a user runs it

  const runFolders = (pid: number | undefined): string[] =>
    readdirSync(tmpdir()).filter((name) => name.startsWith(`cowcheck-run-${pid}-`));
  const folderOf = (pid: number | undefined): string => `${tmpdir()}/cowcheck-run-${pid}-`;
  async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
    new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  const start = (args: string[]): ChildProcess =>
    spawn(process.execPath, ["bin/cowcheck.js", ...args, "--quiet"], { stdio: "ignore" });

  test.each([
    ["run", "SIGINT"],
    ["run", "SIGKILL"],
    ["crash", "SIGKILL"],
  ] as const)(
    "%s, then %s with a filesystem mounted: no mount, loop device, logger or folder is left",
    async (command, signal) => {
      if (command === "crash" && crashWhy) return;
      const args =
        command === "run"
          ? ["run", "--layer", "snapshot", "--engine", "btrfs", "--runs", "100000"]
          : ["crash", "--layer", "snapshot", "--engine", "btrfs", "--sequences", "1000"];
      const child = start(args);
      const folder = folderOf(child.pid);
      await until("a mounted filesystem", () => mountsBelow(folder).some((l) => l.includes(" btrfs ")));
      child.kill(signal);
      const end = await exited(child);
      expect(end).toEqual(signal === "SIGINT" ? { code: 130, signal: null } : { code: null, signal: "SIGKILL" });
      await until(
        "the sweep",
        () => mountsBelow(folder).length === 0 && loopsBelow(folder).length === 0 && runFolders(child.pid).length === 0,
        30_000,
      );
      expect(spawnSync("pgrep", ["-f", `blockdev-logger-.*${folder}`]).status).toBe(1); // its arguments name the folder
    },
  );
});
