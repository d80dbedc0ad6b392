// The command line: exit codes, reports, replay of what a run wrote, and clear errors for bad input.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test, vi } from "vitest";
import { main } from "../cli/main.ts";
import { lmdbUnavailable } from "../engines/lmdb/build.ts";
import { registerLayer } from "../layers/index.ts";
import { cellLayer } from "./fixtures/cell-layer.ts";
import { captureOutput, tempDirs } from "./helpers.ts";

registerLayer(cellLayer);

const { out, err } = captureOutput();

const tmp = tempDirs("cowcheck-test-");
const fixture = "test/fixtures/seed-article.trace.json";

describe("cowcheck run", () => {
  test("run --layer mm --engine model --seed 7 exits 0 and writes summary.json and junit.xml", async () => {
    const report = tmp();
    expect(await main(["run", "--layer", "mm", "--engine", "model", "--seed", "7", "--report", report])).toBe(0);
    const summary = JSON.parse(readFileSync(join(report, "summary.json"), "utf8"));
    expect(summary.status).toBe("passed");
    expect(summary.targets[0]).toMatchObject({ engine: "model", status: "passed", seed: 7, runs: 3000 });
    expect(readFileSync(join(report, "junit.xml"), "utf8")).toContain('tests="1" failures="0"');
  });

  test("a mutant run exits 1, leaves a shrunk trace that replay reproduces (1) and the model passes (0)", async () => {
    const report = tmp();
    expect(await main(["run", "--layer", "mm", "--engine", "mutant:wp-reuse-shared", "--report", report])).toBe(1);
    const files = readdirSync(report);
    const trace = join(report, files.find((f) => f.endsWith(".trace.json"))!);
    expect(files.some((f) => f.endsWith(".regression.test.ts"))).toBe(true);
    expect(readFileSync(join(report, files.find((f) => f.endsWith(".failure.txt"))!), "utf8")).toMatch(/property: \S+/);
    expect(JSON.parse(readFileSync(trace, "utf8")).ops.length).toBeLessThanOrEqual(10);
    expect(await main(["replay", trace, "--engine", "mutant:wp-reuse-shared"])).toBe(1);
    expect(out.join("\n")).toMatch(/FAILED at op \d+/);
    expect(await main(["replay", trace])).toBe(0);
    expect(readFileSync(join(report, "junit.xml"), "utf8")).toContain("<failure");
    const html = readFileSync(join(report, "report.html"), "utf8");
    expect(html).toContain(
      '<tr class="bad"><td><a href="#mm-mutant_wp-reuse-shared">mm-mutant:wp-reuse-shared</a></td><td>failed</td><td>anon-exclusive-mapped-once</td>',
    );
    expect(html).toContain(
      '<section class="failure" id="mm-mutant_wp-reuse-shared">\n<h2>mm-mutant:wp-reuse-shared</h2>\n<p class="verdict"><b>anon-exclusive-mapped-once</b>',
    );
    expect(html).toMatch(/<pre>property: anon-exclusive-mapped-once/); // the failure in words, as the CLI says it
  });

  test("the mutant zoo as JSON, the only line on stdout: every mutant killed, exit 0", async () => {
    // the one-cell test layer: its zoo is killed in a moment (test/mutants-*.test.ts kill every real layer's zoo)
    expect(await main(["mutants", "--layer", "cell", "--json", "--report", tmp()])).toBe(0);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toEqual([
      {
        layer: "cell",
        name: "write-in-place",
        mimics: cellLayer.mutants[0]!.mimics,
        killed: true,
        msToKill: expect.any(Number),
        runsToKill: expect.any(Number),
        msToFind: expect.any(Number),
        traceLength: 3,
        killedBy: "observational-equivalence",
        expectedKind: null,
        kind: "equivalence",
      },
    ]);
  });

  test("engines lists the model, the oracle, every mutant and stdio", async () => {
    expect(await main(["engines"])).toBe(0);
    const text = out.join("\n");
    for (const e of ["model", "oracle", "mutant:eager-fork", "stdio:"]) expect(text).toContain(e);
  });
});

describe("replay and bad input", () => {
  test("the committed seed-article trace replays with its recorded observations", async () => {
    expect(await main(["replay", fixture])).toBe(0);
    expect(out.join("\n")).toContain('{"data":[88]}');
  });

  test("a recorded observation the engine does not give fails replay", async () => {
    const t = JSON.parse(readFileSync(fixture, "utf8"));
    t.expected[9] = { data: [1] };
    const f = join(tmp(), "t.json");
    writeFileSync(f, JSON.stringify(t));
    expect(await main(["replay", f, "--quiet"])).toBe(1);
    expect(out.join("\n")).toContain("recorded-observation");
  });

  test.each([
    ["not JSON", () => "{", /not JSON/],
    ["no ops", (t: Record<string, unknown>) => ({ ...t, ops: undefined }), /not a cowcheck trace: ops/],
    ["unknown layer", (t: Record<string, unknown>) => ({ ...t, layer: "zfs" }), /unknown layer "zfs"/],
    [
      "bad field",
      (t: Record<string, unknown>) => ({
        ...t,
        ops: [{ op: "spawn" }, { op: "write", pid: 1, page: "x", cell: 0, value: 1 }],
      }),
      /ops\[1\]\.page: /,
    ],
    [
      "unknown op",
      (t: Record<string, unknown>) => ({ ...t, ops: [{ op: "spawn" }, { op: "teleport", pid: 1 }] }),
      /ops\[1\]/,
    ],
    [
      "bad geometry",
      (t: Record<string, unknown>) => ({ ...t, geometry: { pageSize: 4096, cellsPerPage: 0, pages: 16 } }),
      /geometry\.cellsPerPage/,
    ],
  ])("a malformed trace (%s) exits 2 with a message, not a stack trace", async (_, mutate, message) => {
    const f = join(tmp(), "bad.json");
    const v = (mutate as (t: Record<string, unknown>) => unknown)(JSON.parse(readFileSync(fixture, "utf8")));
    writeFileSync(f, typeof v === "string" ? v : JSON.stringify(v));
    expect(await main(["replay", f])).toBe(2);
    const e = err.join("");
    expect(e).toMatch(message);
    expect(e).not.toMatch(/\n\s+at /);
  });

  test("a missing file, an unknown engine, an unknown flag, a bad number: exit 2", async () => {
    expect(await main(["replay", "/nonexistent/trace.json"])).toBe(2);
    expect(await main(["replay", fixture, "--engine", "mutant:nope"])).toBe(2);
    expect(err.join("")).toContain('no mutant "nope"');
    expect(await main(["run", "--frobnicate"])).toBe(2);
    expect(await main(["run", "--runs", "-3"])).toBe(2);
    expect(await main(["run", "--layer", "nosuch"])).toBe(2);
  });

  test("minimize shrinks a padded failing trace back to a 1-minimal one", async () => {
    const report = tmp();
    await main(["run", "--layer", "mm", "--engine", "mutant:wp-copy-leak", "--report", report]);
    const trace = JSON.parse(
      readFileSync(join(report, readdirSync(report).find((f) => f.endsWith(".trace.json"))!), "utf8"),
    );
    const padded = {
      ...trace,
      ops: [
        ...trace.ops.slice(0, 1),
        { op: "spawn" },
        { op: "exit", pid: 2 },
        ...trace.ops.slice(1),
        { op: "read", pid: 1, page: 0 },
      ],
    };
    const f = join(report, "padded.json");
    writeFileSync(f, JSON.stringify(padded));
    expect(await main(["minimize", f, "--engine", "mutant:wp-copy-leak", "--out", join(report, "min.json")])).toBe(1);
    expect(JSON.parse(readFileSync(join(report, "min.json"), "utf8")).ops.length).toBe(trace.ops.length);
  });
});

test("the installed bin runs (tsx registration, exit codes pass through)", () => {
  const r = spawnSync(process.execPath, ["bin/cowcheck.js", "replay", fixture, "--quiet"], { encoding: "utf8" });
  expect(r.stdout).toContain("ok: 13 ops");
  expect(r.status).toBe(0);
  const bad = spawnSync(process.execPath, ["bin/cowcheck.js", "replay", "/nonexistent"], { encoding: "utf8" });
  expect(bad.status).toBe(2);
});

test("a failure report shows the ops with observations and a picture of the state at the failing op", async () => {
  const report = tmp();
  expect(
    await main(["run", "--layer", "mm", "--engine", "mutant:wp-copy-stale-rmap", "--report", report, "--quiet"]),
  ).toBe(1);
  const text = readFileSync(join(report, readdirSync(report).find((f) => f.endsWith(".failure.txt"))!), "utf8");
  expect(text).toMatch(/ops → observations:\n\s+0 {2}\{"op":"spawn"\} {2}→ {2}\{"pid":1\}/);
  // the stale rmap is visible: some page maps one frame while another frame's rmap still names it
  expect(text).toMatch(/state after op \d+:/);
  const maps = new Map<string, string>(); // "pid:page" → the frame its PTE maps
  let pid = "";
  for (const line of text.split("\n")) {
    pid = /^\s+pid (\d+) /.exec(line)?.[1] ?? pid;
    const pte = /^\s+page (\d+) → frame (\d+)/.exec(line);
    if (pte) maps.set(`${pid}:${pte[1]}`, pte[2]);
  }
  const stale = [...text.matchAll(/\n {2}frame (\d+) [^\n]*rmap ([^\n]*)/g)].some(([, frame, rmap]) =>
    rmap.split(/\s+/).some((key) => maps.has(key) && maps.get(key) !== frame),
  );
  expect(stale).toBe(true);
});

describe("engines as modules, and the version", () => {
  test("--engine ./module.ts loads an engine class from a TypeScript module; every property holds", async () => {
    const report = tmp();
    const args = ["run", "--layer", "mm", "--engine", "./test/fixtures/module-engine.ts", "--runs", "30"];
    expect(await main([...args, "--report", report, "--quiet"])).toBe(0);
    expect(out.join("\n")).toMatch(/mm \.\/test\/fixtures\/module-engine\.ts\s+passed {3}30 runs/);
  });

  test("--engine ./module.mjs loads an engine factory from a JavaScript module; its failure replays with that spec", async () => {
    const report = tmp();
    const args = ["run", "--layer", "mm", "--engine", "./test/fixtures/module-engine.mjs", "--runs", "5"];
    expect(await main([...args, "--report", report, "--quiet"])).toBe(1);
    const text = out.join("\n");
    expect(text).toContain("FAILED   observational-equivalence");
    const replay = /replay: npx cowcheck replay (\S+) --engine (\S+)/.exec(text)!;
    expect(replay[2]).toBe("./test/fixtures/module-engine.mjs");
    expect(await main(["replay", replay[1], "--engine", replay[2], "--quiet"])).toBe(1);
  });

  test("a module that cannot be loaded, or exports no engine, is an input error", async () => {
    expect(await main(["run", "--layer", "mm", "--engine", "./nonexistent-engine.js", "--report", tmp()])).toBe(2);
    expect(err.join("")).toContain("cannot load the engine module ./nonexistent-engine.js");
    expect(await main(["replay", fixture, "--engine", "./test/fixtures/no-engine.mjs"])).toBe(2);
    expect(err.join("")).toContain("no-engine.mjs's default export must be an engine factory");
  });

  test("--version prints the package's version", async () => {
    const version = JSON.parse(readFileSync("package.json", "utf8")).version;
    const writes: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      writes.push(String(s));
      return true;
    });
    expect(await main(["--version"])).toBe(0);
    expect(writes.join("")).toBe(`${version}\n`);
  });
});

describe("cowcheck crash", () => {
  test("an engine without a crash campaign is bad input (exit 2), naming those that offer one", async () => {
    expect(await main(["crash", "--layer", "snapshot", "--engine", "model"])).toBe(2);
    expect(err.join("")).toMatch(/no crash campaign for engine "model" of layer snapshot \(offered by: lmdb, btrfs\)/);
  });

  test.skipIf(lmdbUnavailable() !== undefined)(
    "LMDB: no violation in a small campaign (exit 0); its negative control is caught (exit 0, violations found)",
    async () => {
      expect(await main(["crash", "--layer", "snapshot", "--engine", "lmdb", "--sequences", "4", "--seed", "3"])).toBe(
        0,
      );
      expect(out.join("\n")).toMatch(/snapshot lmdb crash campaign, seed 3: [\d,]+ crash states, 0 violations/);
      out.length = 0;
      const args = ["crash", "--layer", "snapshot", "--engine", "lmdb", "--sequences", "4", "--seed", "3"];
      expect(await main([...args, "--negative-control"])).toBe(0);
      expect(out.join("\n")).toMatch(/[1-9][\d,]* violations [\s\S]*the campaign caught the faulty device/);
    },
  );
});

describe("cowcheck run --threads 2 (docs/races.md)", () => {
  test("a mutant only an interleaving kills: the schedule side by side, drawn as lanes, a trace replay and minimize take", async () => {
    const report = tmp();
    expect(
      await main(["run", "--layer", "mm", "--engine", "mutant:dirty-cow", "--threads", "2", "--report", report]),
    ).toBe(1);
    expect(out.join("\n")).toMatch(/race dirtyc0w: the failing schedule \(1 preemption\(s\)\)/);
    expect(out.join("\n")).toMatch(/forceWrite: faultin_page: write fault +│\n +│ madvise → \{"ok":true\}/);
    const trace = join(report, "mm-mutant_dirty-cow.trace.json");
    const recorded = JSON.parse(readFileSync(trace, "utf8"));
    expect(recorded.interleaving.schedule).toEqual([0, 0, 1, 0, 0, 0]);
    expect(readFileSync(join(report, "report.html"), "utf8")).toMatch(
      /the failing schedule: a lane per thread[\s\S]*<svg[^>]*class="lanes"/,
    );
    expect(await main(["replay", trace, "--engine", "mutant:dirty-cow"])).toBe(1);
    expect(await main(["replay", trace])).toBe(0);
    expect(await main(["minimize", trace, "--engine", "mutant:dirty-cow", "--out", join(report, "min.json")])).toBe(1);
    expect(out.join("\n")).toMatch(/linearizability: 5 → 5 ops in 2 threads/);
    // the same mutant without --threads: sequences, each op atomic, pass
    expect(
      await main(["run", "--layer", "mm", "--engine", "mutant:dirty-cow", "--runs", "300", "--report", tmp()]),
    ).toBe(0);
  });

  test("--threads takes 1 or 2, race programs, and neither --against nor --replay (exit 2 otherwise)", async () => {
    expect(await main(["run", "--layer", "mm", "--threads", "3", "--report", tmp()])).toBe(2);
    expect(await main(["run", "--layer", "mvcc", "--engine", "model", "--threads", "2", "--report", tmp()])).toBe(2);
    expect(err.join("")).toMatch(/layer mvcc has no race programs/);
    const against = ["run", "--layer", "mm", "--threads", "2", "--against", "model", "--report", tmp()];
    expect(await main(against)).toBe(2);
  });
});
