// What the harness review found, pinned: process groups die, Ctrl-C keeps what was found, --time never cuts
// shrinking, an engine failure while shrinking or a nondeterministic engine never replaces or loses the
// failure, and bad arguments are usage errors.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { main } from "../cli/main.ts";
import { type Engine, type EngineFactory, EngineFailure } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { streamSeed } from "../fuzz/parallel.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry, MmOp } from "../models/mm/types.ts";
import { tempDirs } from "./helpers.ts";

const tmp = tempDirs("cowcheck-robust-");
const node = process.execPath;
const alive = (marker: string): string[] =>
  spawnSync("pgrep", ["-f", marker], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);

describe("in process", () => {
  beforeEach(() => {
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterEach(() => vi.restoreAllMocks());

  test("helpers an engine starts in its process group are killed with it", async () => {
    const marker = "sleep 307.5";
    expect(
      await main([
        "run",
        "--layer",
        "mm",
        "--engine",
        `stdio:${marker} & exec ${node} test/fixtures/bad-engine.mjs ok`,
        "--runs",
        "2",
        "--report",
        tmp(),
      ]),
    ).toBe(1);
    expect(alive(marker)).toEqual([]);
  });

  test("--time bounds the search only: the shrunk trace is the same as without a limit", async () => {
    const f = await resolveEngine(mmLayer, "mutant:wp-copy-leak");
    const unlimited = await runCampaign(mmLayer, f, { seed: 1, runs: 2000, maxOps: 200 });
    const timed = await runCampaign(mmLayer, f, { seed: 1, runs: 2000, maxOps: 200, timeMs: 200 });
    expect(timed.trace).toEqual(unlimited.trace);
  });

  test("an engine failure during shrinking does not replace the property failure", async () => {
    // The mutant, crashing on a write of 1 to page 0: deterministic per sequence, and exactly where the
    // shrinker drives writes, so shrink candidates crash while the search (seed 1) never meets one.
    const crashes = (op: MmOp): boolean => op.op === "write" && op.value === 1 && op.page === 0 && op.cell === 0;
    const factory: EngineFactory = {
      name: "crashes-on-value-1",
      create: (g) => {
        const inner = mmLayer.mutants.find((m) => m.name === "wp-copy-leak")!.create(g as MmGeometry);
        return {
          layer: "mm",
          features: inner.features,
          inspect: () => inner.inspect!(),
          apply: (op: MmOp) => {
            if (crashes(op)) throw new EngineFailure("crash", "simulated crash on a write of 1");
            return inner.apply(op);
          },
        } satisfies Engine<MmOp, unknown>;
      },
    };
    let unshrunk: unknown[] = [];
    // The base ops only: with pins on, a 3-op unshare path kills the mutant without any write.
    const features = new Set(["inspect"]);
    const r = await runCampaign(mmLayer, factory, {
      seed: 1,
      runs: 2000,
      maxOps: 200,
      features,
      onFound: (f) => (unshrunk = f.trace!.ops),
    });
    expect(unshrunk.length).toBeGreaterThan(0); // the premise: the search found the failure…
    expect((unshrunk as MmOp[]).some(crashes)).toBe(false); // …without meeting a crash
    expect(r.status).toBe("failed");
    expect(r.failure?.property).toBe("refcount-conservation");
    expect((r.trace!.ops as MmOp[]).some(crashes)).toBe(false);
    expect(r.trace!.ops.length).toBe(5);
  });

  test("a counterexample that does not fail again is a nondeterministic engine, with the original trace kept", async () => {
    let found = false;
    const factory: EngineFactory = {
      name: "flaky",
      create: (g) =>
        found
          ? mmLayer.model(g as MmGeometry)
          : mmLayer.mutants.find((m) => m.name === "wp-copy-leak")!.create(g as MmGeometry),
    };
    const r = await runCampaign(mmLayer, factory, { seed: 1, runs: 2000, maxOps: 200, onFound: () => (found = true) });
    expect(r.status).toBe("engine-failure");
    expect(r.engineFailure?.kind).toBe("nondeterministic");
    expect(r.failure?.property).toBe("refcount-conservation");
    expect(r.trace!.ops.length).toBe(r.failure!.index + 1);
  });

  test("a flaky engine is reported as nondeterministic, not as a reproducible failure", async () => {
    let execs = 0;
    const factory: EngineFactory = {
      name: "flaky-exec",
      create: (g) => {
        const inner = new MmModel(g as MmGeometry);
        return {
          layer: "mm",
          features: inner.features,
          inspect: () => inner.inspect(),
          // every other exec fails: a 1-op trace can fail once by chance, never five times in a row
          apply: (op: MmOp) => (op.op === "exec" && ++execs % 2 === 0 ? { error: "ENOMEM" as const } : inner.apply(op)),
        } satisfies Engine<MmOp, unknown>;
      },
    };
    const r = await runCampaign(mmLayer, factory, { seed: 1, runs: 200, maxOps: 200 });
    expect(r.status).toBe("engine-failure");
    expect(r.engineFailure?.kind).toBe("nondeterministic");
  });

  test("shrinking replays only the failing run: a failure that does not reproduce is not swapped for another", async () => {
    let found = false;
    let created = 0;
    // fails during the search; then the first engine (the replay) is correct and every later one fails again
    const factory: EngineFactory = {
      name: "flaky-once",
      create: (g) => {
        const correct = found && created++ === 0;
        return correct
          ? mmLayer.model(g as MmGeometry)
          : mmLayer.mutants.find((m) => m.name === "wp-copy-leak")!.create(g as MmGeometry);
      },
    };
    const r = await runCampaign(mmLayer, factory, { seed: 1, runs: 2000, maxOps: 200, onFound: () => (found = true) });
    expect(r.engineFailure?.kind).toBe("nondeterministic");
  });

  test("workers stopped after a lower stream fails leave no engine helpers behind", async () => {
    const marker = "sleep 307.25";
    const engine = `stdio:${marker} & exec ${node} --import tsx test/fixtures/serve-model.ts fork-parent-writable reset`;
    expect(await main(["run", "--layer", "mm", "--engine", engine, "--workers", "2", "--report", tmp()])).toBe(1);
    expect(alive(marker)).toEqual([]);
  });

  test("minimize of a failure before the first op writes the empty trace", async () => {
    const dir = tmp();
    const out = join(dir, "min.json");
    expect(
      await main([
        "minimize",
        "test/fixtures/seed-article.trace.json",
        "--engine",
        `stdio:${node} test/fixtures/bad-engine.mjs no-hello`,
        "--out",
        out,
      ]),
    ).toBe(3);
    expect(JSON.parse(readFileSync(out, "utf8")).ops).toEqual([]);
  });

  test("an engine failure ends the search at once, even under --time", async () => {
    const r = await runCampaign(
      mmLayer,
      await resolveEngine(mmLayer, `stdio:${node} test/fixtures/bad-engine.mjs crash`),
      {
        seed: 1,
        runs: Number.MAX_SAFE_INTEGER,
        maxOps: 200,
        timeMs: 5000,
      },
    );
    expect(r.status).toBe("engine-failure");
    expect(r.runs).toBe(1);
  });

  test("an engine that fails before its first op leaves an empty trace", async () => {
    const factory: EngineFactory = {
      name: "bad-inspect",
      create: (g) =>
        Object.assign(new MmModel(g as MmGeometry), {
          inspect: () => {
            throw new Error("no state");
          },
        }),
    };
    const r = await runCampaign(mmLayer, factory, { seed: 1, runs: 10, maxOps: 50 });
    expect(r.status).toBe("engine-failure");
    expect(r.trace!.ops).toEqual([]);
    expect(r.engineFailure!.message).toContain("no state");
  });

  test("a regression test is valid TypeScript whatever the engine command contains", async () => {
    const report = tmp();
    await main([
      "run",
      "--layer",
      "mm",
      "--engine",
      `stdio:${node} test/fixtures/bad-engine.mjs "ok" # "quoted" \\ back`,
      "--runs",
      "2",
      "--report",
      report,
    ]);
    const file = readFileSync(
      join(report, readdirSync(report).find((f) => f.endsWith(".regression.test.ts"))!),
      "utf8",
    );
    const out = ts.transpileModule(file, {
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext },
    });
    expect(out.diagnostics).toEqual([]);
  });

  test("bad arguments are usage errors, and no report folder is created for them", async () => {
    const report = join(tmp(), "never");
    expect(await main(["run", "--geometry", '{"pages":1}', "--report", report])).toBe(2);
    expect(await main(["run", "--geometry", "null", "--report", report])).toBe(2);
    expect(await main(["run", "--geometry", '"abc"', "--report", report])).toBe(2);
    expect(await main(["run", "--time", "0", "--report", report])).toBe(2);
    expect(await main(["run", "--timeout", "0ms", "--report", report])).toBe(2);
    expect(await main(["run", "--seed", "4294967296", "--report", report])).toBe(2);
    expect(existsSync(report)).toBe(false);
  });

  test("minimize says so when a trace fails only against its recorded observations", async () => {
    const t = JSON.parse(readFileSync("test/fixtures/seed-article.trace.json", "utf8"));
    t.expected[0] = { pid: 2 };
    const f = join(tmp(), "t.json");
    writeFileSync(f, JSON.stringify(t));
    expect(await main(["replay", f, "--quiet"])).toBe(1);
    expect(await main(["minimize", f])).toBe(1);
  });

  test("a trace without geometry runs on the layer's default", async () => {
    const t = JSON.parse(readFileSync("test/fixtures/seed-article.trace.json", "utf8"));
    delete t.geometry;
    delete t.expected;
    const f = join(tmp(), "t.json");
    writeFileSync(f, JSON.stringify(t));
    expect(await main(["replay", f, "--quiet"])).toBe(0);
  });

  test("stream seeds: stream 0 is the seed itself; other streams do not collide with neighbouring seeds", () => {
    expect(streamSeed(7, 0)).toBe(7);
    const seen = new Set<number>();
    for (let seed = 0; seed < 64; seed++) for (let k = 0; k < 8; k++) seen.add(streamSeed(seed, k));
    expect(seen.size).toBe(64 + 64 * 7 - 0); // all distinct
  });
});

test("Ctrl-C during shrinking writes the failure already found and kills the engine", async () => {
  const report = tmp();
  const marker = "bad-engine.mjs slow-wrong";
  const child = spawn(
    node,
    [
      "bin/cowcheck.js",
      "run",
      "--layer",
      "mm",
      "--engine",
      `stdio:${node} test/fixtures/${marker}`,
      "--report",
      report,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  // without a terminal, progress says at once when shrinking starts: interrupt then, however slow the machine
  let said = "";
  child.stderr!.on("data", (d: Buffer) => {
    said += d.toString();
  });
  for (const end = Date.now() + 60_000; !said.includes("shrinking:"); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() > end) throw new Error(`waited 60 s for shrinking to start; stderr: ${said}`);
  child.kill("SIGINT");
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  expect(code).toBe(130);
  const summary = JSON.parse(readFileSync(join(report, "summary.json"), "utf8"));
  expect(summary.status).toBe("interrupted");
  expect(summary.targets[0]).toMatchObject({
    status: "failed",
    failure: { property: "observational-equivalence", index: 0 },
  });
  expect(alive(marker)).toEqual([]);
});

test("replay, minimize and explore with a resettable engine exit, leaving no engine behind", () => {
  const engine = `stdio:${node} --import tsx test/fixtures/serve-model.ts model reset`;
  const cli = (...args: string[]) =>
    spawnSync(node, ["bin/cowcheck.js", ...args], { encoding: "utf8", timeout: 30_000 });
  const replay = cli("replay", "test/fixtures/seed-article.trace.json", "--quiet", "--engine", engine);
  expect(replay.signal).toBeNull();
  expect(replay.status).toBe(0);
  const explore = cli("explore", "--layer", "mm", "--depth", "1", "--engine", engine, "--report", tmp());
  expect(explore.signal).toBeNull();
  expect(explore.status).toBe(0);
  expect(alive("serve-model.ts model reset")).toEqual([]);
});

test("ops needing a feature the engine does not offer are an input error naming it, not an engine failure", async () => {
  const { checkSequence } = await import("../fuzz/runner.ts");
  const { MmModel } = await import("../models/mm/model.ts");
  const inner = new MmModel(mmLayer.defaultGeometry);
  const noPins = { layer: "mm" as const, features: new Set(["inspect", "thp"]), apply: (op: MmOp) => inner.apply(op) };
  const ops: MmOp[] = [{ op: "spawn" }, { op: "pinRead", handle: 1 }];
  await expect(checkSequence(mmLayer, mmLayer.defaultGeometry, noPins, ops)).rejects.toThrow(
    /need feature\(s\) gup, which the engine does not offer \(it offers: inspect, thp\)/,
  );
});

test("a property that throws is reported as that property's failure, with the op, not as a crash of the run", async () => {
  const { checkSequence } = await import("../fuzz/runner.ts");
  const layer = {
    ...mmLayer,
    properties: [
      {
        name: "fragile",
        kind: "invariant" as const,
        description: "throws on the second op",
        start: () => {
          let n = 0;
          return {
            after: () => {
              if (++n === 2) throw new TypeError("cannot read 'x' of undefined");
              return undefined;
            },
          };
        },
      },
    ],
  };
  const g = mmLayer.defaultGeometry as MmGeometry;
  const ops: MmOp[] = [{ op: "spawn" }, { op: "fork", pid: 1 }, { op: "exit", pid: 2 }];
  const f = await checkSequence(layer, g, new MmModel(g), ops);
  expect(f).toMatchObject({ index: 1, property: "fragile", kind: "invariant" });
  expect(f!.message).toMatch(/could not be checked: cannot read 'x' of undefined/);
});
