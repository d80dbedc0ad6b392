// A harness that gates CI: an engine whose state survives its reset is no reproducible failure; interrupts (Ctrl-C,
// SIGTERM) at any phase end with exit 130/143, an interrupted report and nothing left running.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { sweepLeftovers } from "../core/index.ts";
import { linuxCommand, linuxFeatures, linuxUnavailable } from "../engines/linux/index.ts";
import { postgresUnavailable } from "../engines/postgres/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { StdioEngine } from "../engines/stdio.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { ReportWriter } from "../reports/writer.ts";

const made: string[] = [];
const tmp = (): string => {
  const dir = join(tmpdir(), `cowcheck-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const serve = (args: string): string => `stdio:${process.execPath} --import tsx test/fixtures/serve-model.ts ${args}`;

test("a reset that leaks state is a nondeterministic engine, not a property failure: the failure is confirmed on a new process", async () => {
  const factory = await resolveEngine(mmLayer, serve("model reset leaky"));
  try {
    // campaigns one after the other on the same resettable process, as a long run has them: every one after the
    // first starts from what the last left, fails its first op, and shrinks to a one-op trace that a new process
    // passes
    for (const seed of [1, 2, 3]) {
      const r = await runCampaign(mmLayer, factory, { seed, runs: 20, maxOps: 30 });
      expect(r.status, `seed ${seed}`).toBe("engine-failure");
      expect(r.engineFailure?.kind).toBe("nondeterministic");
      expect(r.trace?.ops.length).toBeGreaterThan(0);
    }
  } finally {
    await factory.dispose?.();
  }
});

test("the same model with an honest reset passes", async () => {
  const factory = await resolveEngine(mmLayer, serve("model reset"));
  try {
    const r = await runCampaign(mmLayer, factory, { seed: 1, runs: 20, maxOps: 30 });
    expect(r.failure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
  } finally {
    await factory.dispose?.();
  }
});

// ---- interrupts of the command itself (a child process, as a user or CI runs it)

const node = process.execPath;

/** Processes whose command line holds the marker. */
const alive = (marker: string): string[] =>
  spawnSync("pgrep", ["-f", marker], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);

/** The engine's helper (`sleep …`): a command line that starts with the marker, not the cowcheck that names it. */
const helper = (marker: string): string[] => alive(`^${marker}`);

/** Folders of runs whose process is `pid` (core/cleanup.ts names them cowcheck-run-<pid>-…). */
const runFolders = (pid: number | undefined): string[] =>
  readdirSync(tmpdir()).filter((name) => name.startsWith(`cowcheck-run-${pid}-`));

async function until(what: string | (() => string), ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));

const summaryOf = (dir: string): { status: string } => JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));

function cowcheck(args: readonly string[]): ChildProcess {
  return spawn(node, ["bin/cowcheck.js", ...args, "--quiet"], { stdio: "ignore" });
}

/** A long `cowcheck run` of that engine (below), reporting into `report`. */
const runWithHelper = (marker: string, report: string): ChildProcess =>
  cowcheck(["run", "--layer", "mm", "--engine", withHelper(marker), "--runs", "100000", "--report", report]);

/** A correct engine over stdio whose program starts a helper in its process group (the marker). */
const withHelper = (marker: string): string =>
  `stdio:${marker} & exec ${node} --import tsx test/fixtures/serve-model.ts model reset`;

test.each([
  ["SIGTERM", 143],
  ["SIGINT", 130],
] as const)(
  "%s during a run: exit %i, the report says interrupted, the engine and its helper are gone, and so is the run's folder",
  async (signal, code) => {
    const marker = `sleep 311.${code}`;
    const report = tmp();
    const child = runWithHelper(marker, report);
    await until("the engine's helper", () => helper(marker).length > 0 && existsSync(join(report, "summary.json")));
    child.kill(signal);
    expect(await exited(child)).toEqual({ code, signal: null });
    expect(summaryOf(report).status).toBe("interrupted");
    expect(helper(marker)).toEqual([]);
    expect(runFolders(child.pid)).toEqual([]);
  },
);

test("SIGINT during a run of several in-process targets (side by side on a pool of threads): exit 130, the report interrupted, the targets reported in order and none the pool had not begun", async () => {
  const report = tmp();
  // the mvcc layer's models and mutants: a long budget, so Ctrl-C comes while the pool runs them
  const child = cowcheck(["run", "--layer", "mvcc", "--runs", "100000", "--report", report]);
  await until("the report", () => existsSync(join(report, "summary.json")));
  await new Promise((r) => setTimeout(r, 2000)); // the pool's threads begin their targets (any moment will do)
  child.kill("SIGINT");
  expect(await exited(child)).toEqual({ code: 130, signal: null });
  const summary = JSON.parse(readFileSync(join(report, "summary.json"), "utf8")) as {
    status: string;
    targets: { label: string; status: string; runs: number }[];
  };
  expect(summary.status).toBe("interrupted");
  const labels = summary.targets.map((t) => t.label);
  // the first target (the mvcc model) was being followed: it is there, as far as it got
  expect(labels[0]).toBe("mvcc-model");
  expect(summary.targets[0]!.status).toBe("interrupted");
  expect(summary.targets.length).toBeLessThanOrEqual(availableParallelism()); // those the pool's threads ran, no more
  expect(runFolders(child.pid)).toEqual([]);
});

test("SIGKILL during a run: the run's watchdog ends the engine and its helper and removes the run's folder; the next run marks its report interrupted", async () => {
  const marker = "sleep 311.9";
  const reports = tmp();
  const report = join(reports, "killed");
  const child = runWithHelper(marker, report);
  await until("the engine's helper", () => helper(marker).length > 0 && runFolders(child.pid).length > 0);
  // The folders by name: with pids wrapping (pid_max is 32,768 here), a later process may reuse the pid.
  const folders = runFolders(child.pid);
  child.kill("SIGKILL");
  expect(await exited(child)).toEqual({ code: null, signal: "SIGKILL" });
  const left = (): string[] => [...helper(marker), ...folders.filter((f) => existsSync(join(tmpdir(), f)))];
  await until(
    () => `the watchdog's sweep (still there: ${left().join(", ")})`,
    () => left().length === 0,
  );
  expect(summaryOf(report).status).toBe("running");
  // a report beside it whose run is alive (this process) is left alone
  const live = join(reports, "live");
  await ReportWriter.open(live, ["run"]);
  await ReportWriter.open(join(reports, "next"), ["run"]);
  expect(summaryOf(live).status).toBe("running");
  expect(summaryOf(report)).toMatchObject({
    status: "interrupted",
    interrupted: `its run (pid ${child.pid}) ended without finishing it; marked by a later run`,
  });
  expect(readFileSync(join(report, "report.html"), "utf8")).toContain("<h1>cowcheck: interrupted</h1>");
});

test("what a run that is gone left behind (its watchdog gone too) is swept by the next one", async () => {
  // a run folder of a process that no longer exists, whose journal lists an engine group and an undo command
  const dead = spawnSync(node, ["-e", "process.pid"]).pid!;
  const dir = join(tmpdir(), `cowcheck-run-${dead}-0-test${process.pid}`);
  mkdirSync(dir);
  const marker = "sleep 311.7";
  const helper = spawn("sh", ["-c", `${marker}`], { detached: true, stdio: "ignore" });
  helper.unref();
  const undone = join(dir, "..", `cowcheck-test-undone-${process.pid}`);
  const journal = [
    { group: helper.pid, alive: true },
    { add: 1, command: ["touch", undone] },
    { add: 2, command: ["touch", `${undone}-removed`] },
    { remove: 2 },
  ];
  writeFileSync(join(dir, "journal"), journal.map((e) => `${JSON.stringify(e)}\n`).join(""));
  await until("the helper", () => alive(marker).length > 0);
  try {
    expect(sweepLeftovers()).toContain(dir);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(undone)).toBe(true); // the command still listed ran
    expect(existsSync(`${undone}-removed`)).toBe(false); // the one forgotten did not
    await until("the helper's end", () => alive(marker).length === 0);
  } finally {
    rmSync(undone, { force: true });
  }
});

const rootWhy = process.getuid?.() !== 0 ? "needs root (mount, losetup)" : undefined;
test.skipIf(rootWhy !== undefined)(
  "what a run made but had not yet written down (killed in between) is found below its folder and swept",
  async () => {
    // a dead run's folder with an empty journal: two mounts (one inside the other), a loop device over a file, a
    // process in a group of its own and one in ours, each naming the folder in its command line
    const dead = spawnSync(node, ["-e", "process.pid"]).pid!;
    const dir = join(tmpdir(), `cowcheck-run-${dead}-0-test${process.pid}`);
    const outer = join(dir, "a b"); // mountinfo escapes the space
    mkdirSync(outer, { recursive: true });
    writeFileSync(join(dir, "journal"), "");
    let device: string | undefined;
    const mounts = (): string[] =>
      readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .filter((l) => l.includes(dir));
    try {
      expect(spawnSync("mount", ["-t", "tmpfs", "none", outer]).status).toBe(0);
      mkdirSync(join(outer, "inner"));
      expect(spawnSync("mount", ["-t", "tmpfs", "none", join(outer, "inner")]).status).toBe(0);
      writeFileSync(join(outer, "inner", "disk"), Buffer.alloc(1 << 20));
      const attach = spawnSync("losetup", ["--find", "--show", join(outer, "inner", "disk")], { encoding: "utf8" });
      expect(attach.status).toBe(0);
      device = attach.stdout.trim();
      const attached = `/sys/block/${device.replace("/dev/", "")}/loop`; // there while attached
      const waiting = ["-e", "setTimeout(() => {}, 311_000)", dir];
      const leader = spawn(node, waiting, { detached: true, stdio: "ignore" });
      const member = spawn(node, waiting, { stdio: "ignore" });
      for (const p of [leader, member]) p.unref();
      expect(mounts()).toHaveLength(2);
      expect(existsSync(attached)).toBe(true);
      expect(sweepLeftovers()).toContain(dir);
      if (!existsSync(attached)) device = undefined; // free now, maybe another test's already: not ours to detach
      expect(mounts()).toEqual([]);
      expect(existsSync(attached)).toBe(false); // (once the tmpfs is gone, losetup would list its file as /disk)
      expect(existsSync(dir)).toBe(false);
      await until("the processes' end", () => alive(dir).length === 0);
    } finally {
      spawnSync("pkill", ["-f", dir]);
      if (device) spawnSync("losetup", ["-d", device]);
      for (const l of mounts().reverse()) spawnSync("umount", ["-l", l.split(" ")[4]!.replaceAll("\\040", " ")]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// ---- real systems: a server being initialised, a server running, ksmd driven by the Linux agent

const pgWhy = postgresUnavailable() ?? (process.env.COWCHECK_PG_URL ? "uses COWCHECK_PG_URL's server" : undefined);

describe.skipIf(pgWhy !== undefined)(`PostgreSQL (${pgWhy ?? "a private server"})`, () => {
  const postgresOf = (pid: number | undefined): string[] => alive(`cowcheck-run-${pid}-`);

  test("Ctrl-C while initdb runs: exit 130, an interrupted report, no initdb or server left, no folder", async () => {
    const report = tmp();
    const child = cowcheck(["run", "--layer", "mvcc", "--engine", "postgres", "--runs", "1000", "--report", report]);
    await until("initdb", () => alive("initdb").length > 0 && alive(`cowcheck-run-${child.pid}-`).length > 0);
    child.kill("SIGINT");
    expect(await exited(child)).toEqual({ code: 130, signal: null });
    expect(summaryOf(report).status).toBe("interrupted");
    await until("the server's end", () => postgresOf(child.pid).length === 0);
    expect(runFolders(child.pid)).toEqual([]);
  });

  test("SIGKILL with the server running: the watchdog stops the server and removes its data", async () => {
    const report = tmp();
    const child = cowcheck(["run", "--layer", "mvcc", "--engine", "postgres", "--runs", "100000", "--report", report]);
    await until("the server", () => alive(`postgres -D ${tmpdir()}/cowcheck-run-${child.pid}-`).length > 0);
    child.kill("SIGKILL");
    await exited(child);
    await until(
      "the watchdog's sweep",
      () => postgresOf(child.pid).length === 0 && runFolders(child.pid).length === 0,
      30_000,
    );
  });
});

const ksmWhy = linuxUnavailable() ?? linuxFeatures().missing.ksm;

/** The processes below `pid` (its children, theirs, …), from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      parent.set(
        Number(d),
        Number(
          readFileSync(`/proc/${d}/stat`, "utf8")
            .replace(/^.*\) /s, "")
            .split(" ")[1],
        ),
      );
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (let frontier = [pid]; frontier.length; ) {
    frontier = [...parent].filter(([, pp]) => frontier.includes(pp)).map(([p]) => p);
    out.push(...frontier);
  }
  return out;
}

describe.skipIf(ksmWhy !== undefined)(`the Linux agent driving ksmd (${ksmWhy ?? "available"})`, () => {
  const KNOBS = ["pages_to_scan", "sleep_millisecs", "smart_scan", "run"];
  const knobs = (): string[] => KNOBS.map((k) => readFileSync(`/sys/kernel/mm/ksm/${k}`, "utf8").trim());
  // as they are between scans: another test file's agents drive ksmd too, under the lock every agent takes to scan
  const settled = (): string[] =>
    spawnSync("flock", ["/run/cowcheck-ksm.lock", "cat", ...KNOBS.map((k) => `/sys/kernel/mm/ksm/${k}`)], {
      encoding: "utf8",
    })
      .stdout.trim()
      .split("\n");

  test("SIGTERM to the agent in the middle of a ksmScan: it puts the knobs back before it goes", async () => {
    const g = { ...mmLayer.defaultGeometry, pageSize: 4096, hugeOrder: 9, pages: 2048 };
    const before = settled();
    for (let trial = 0; trial < 8; trial++) {
      const agent = await StdioEngine.start(mmLayer, g, linuxCommand());
      try {
        await agent.apply({ op: "spawn" });
        await agent.apply({ op: "mmap", pid: 1, page: 0, pages: 64, prot: "rw", shared: false });
        await agent.apply({ op: "madvise", pid: 1, page: 0, pages: 64, advice: "mergeable" });
        for (let page = 0; page < 64; page++) await agent.apply({ op: "write", pid: 1, page, cell: 0, value: 7 });
        const scan = agent.apply({ op: "ksmScan" }).catch((e: Error) => e.message);
        await new Promise((r) => setTimeout(r, trial % 3));
        process.kill(-agent.pid!, "SIGTERM");
        await scan;
        await until("the agent's end", () => !agent.healthy);
        await new Promise((r) => setTimeout(r, 100));
        expect(settled(), `trial ${trial}`).toEqual(before);
        expect(existsSync("/run/cowcheck-ksm.saved")).toBe(false);
      } finally {
        await agent.close();
      }
    }
  });

  test("Ctrl-C in the middle of ksmScans puts ksmd's knobs back, at every moment tried", async () => {
    const ops: unknown[] = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 64, prot: "rw", shared: false },
      { op: "madvise", pid: 1, page: 0, pages: 64, advice: "mergeable" },
      ...Array.from({ length: 64 }, (_, page) => ({ op: "write", pid: 1, page, cell: 0, value: 7 })),
    ];
    for (let i = 0; i < 400; i++)
      ops.push({ op: "write", pid: 1, page: i % 64, cell: 0, value: 7 + (i % 3) }, { op: "ksmScan" });
    const trace = join(tmp(), "ksm.json");
    writeFileSync(
      trace,
      JSON.stringify({ cowcheck: 1, layer: "mm", geometry: { pageSize: 4096, hugeOrder: 9, pages: 2048 }, ops }),
    );
    const before = settled();
    for (let trial = 0; trial < 6; trial++) {
      const child = spawn(node, ["bin/cowcheck.js", "replay", trace, "--engine", "linux", "--quiet"], {
        stdio: "ignore",
      });
      // wait until our agent drives ksmd (its saved file names the settings to put back, and the fast ones are on:
      // another test file's agent may scan too, so ours must be running), then interrupt after a few more moments
      await until("a ksmScan of ours", () => descendants(child.pid!).length > 1 && knobs()[0] !== before[0]);
      await new Promise((r) => setTimeout(r, trial * 7));
      child.kill("SIGINT");
      const end = await exited(child);
      expect([130, 0]).toContain(end.code); // 0: the replay had ended first
      expect(settled(), `trial ${trial}`).toEqual(before);
      expect(existsSync("/run/cowcheck-ksm.saved")).toBe(false);
    }
  });
});
