// The JSON-lines protocol: an external engine is judged exactly like an in-process one, and an engine that
// crashes, hangs, lies about the protocol or reports its own error is an engine failure (exit 3) with the
// trace up to that op saved.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { main } from "../cli/main.ts";
import { EngineFailure } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { checkWith } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { campaignOn, tempDirs } from "./helpers.ts";

const serve = (which: string): string => `stdio:${process.execPath} --import tsx test/fixtures/serve-model.ts ${which}`;
const bad = (mode: string): string => `stdio:${process.execPath} test/fixtures/bad-engine.mjs ${mode}`;
const tmp = tempDirs("cowcheck-stdio-");

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

describe("an engine behind the protocol", () => {
  test("the model served over stdio passes, invariants checked through its JSON state", async () => {
    const r = await campaignOn(mmLayer, serve("model"), {
      seed: 4,
      runs: 4,
      maxOps: 120,
    });
    expect(r.failure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
  });

  test("an engine offering reset serves a whole campaign from one process, and is still judged per sequence", async () => {
    const starts = join(tmp(), "starts");
    process.env.COWCHECK_TEST_STARTS = starts;
    try {
      const ok = await campaignOn(mmLayer, `${serve("model")} reset`, {
        seed: 4,
        runs: 60,
        maxOps: 120,
      });
      expect(ok.status).toBe("passed");
      expect(readFileSync(starts, "utf8").trim().split("\n")).toHaveLength(1);
      const bad = await campaignOn(mmLayer, `${serve("wp-copy-leak")} reset`, {
        seed: 1,
        runs: 60,
        maxOps: 200,
      });
      expect(bad.failure?.property).toBe("refcount-conservation");
      expect(bad.trace!.ops).toHaveLength(5);
    } finally {
      delete process.env.COWCHECK_TEST_STARTS;
    }
  });

  test("a structural mutant served over stdio is caught by the same invariant as in process", async () => {
    const ops = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "fork", pid: 1 },
      { op: "write", pid: 2, page: 0, cell: 0, value: 2 },
    ];
    const f = await checkWith(
      mmLayer,
      mmLayer.defaultGeometry,
      await resolveEngine(mmLayer, serve("wp-copy-leak")),
      ops,
    );
    expect(f).toMatchObject({ index: 4, property: "refcount-conservation" });
  });

  test("the geometry reaches the engine", async () => {
    const g = { ...mmLayer.defaultGeometry, cellsPerPage: 2 };
    const f = await checkWith(
      mmLayer,
      g,
      await resolveEngine(mmLayer, serve("model")),
      [
        { op: "spawn" },
        { op: "mmap", pid: 1, page: 0, pages: 1, prot: "r", shared: false },
        { op: "read", pid: 1, page: 0 },
      ],
      {
        onStep: (s) => s.index === 2 && expect(s.observed).toEqual({ data: [0, 0] }),
      },
    );
    expect(f).toBeUndefined();
  });
});

describe.each([
  ["crash", "crash", /exited \(code 139\)/],
  ["hang", "hang", /did not answer .* within 1000 ms/],
  ["garbage", "protocol", /not JSON/],
  ["wrong-id", "protocol", /answered id \d+ to request \d+/],
  ["bad-obs", "protocol", /with \{"weird":1\}, which is none of the mm observations: \{"ok":true\} \| /],
  ["error", "error", /out of frames/],
  ["long-line", "protocol", /longer than/],
])("an engine that misbehaves (%s)", (mode, kind, message) => {
  // the per-message timeout: short where the hang is the point, else generous (a loaded machine answers late)
  const timeoutMs = mode === "hang" ? 1000 : 30_000;
  test(`is an engine failure of kind ${kind}; the CLI exits 3 and saves the trace up to that op`, async () => {
    const ops = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
      { op: "read", pid: 1, page: 0 },
    ];
    const e = await checkWith(
      mmLayer,
      mmLayer.defaultGeometry,
      await resolveEngine(mmLayer, bad(mode), { timeoutMs }),
      ops,
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineFailure);
    expect((e as EngineFailure).kind).toBe(kind);
    expect((e as EngineFailure).message).toMatch(message);
    expect((e as EngineFailure).opIndex).toBe(1);
    if (mode === "crash") expect((e as EngineFailure).detail).toContain("segmentation fault (simulated)");

    const report = tmp();
    expect(
      await main([
        "run",
        "--layer",
        "mm",
        "--engine",
        bad(mode).slice("stdio:".length).replace(/^/, "stdio:"),
        "--timeout",
        `${timeoutMs}ms`,
        "--runs",
        "3",
        "--report",
        report,
      ]),
    ).toBe(3);
    const summary = JSON.parse(readFileSync(join(report, "summary.json"), "utf8"));
    expect(summary.targets[0].status).toBe("engine-failure");
    const trace = JSON.parse(
      readFileSync(join(report, readdirSync(report).find((f) => f.endsWith(".trace.json"))!), "utf8"),
    );
    expect(trace.ops).toHaveLength(2);
  });
});

test.each([
  ["no-hello", /exited \(code 0\)/],
  ["wrong-layer", /speaks layer "mvcc"/],
])("an engine that fails its handshake (%s) cannot start", async (mode, message) => {
  const e = await checkWith(
    mmLayer,
    mmLayer.defaultGeometry,
    await resolveEngine(mmLayer, bad(mode), { timeoutMs: 30_000 }),
    [{ op: "spawn" }],
  ).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(EngineFailure);
  expect((e as EngineFailure).message).toMatch(message);
});

test("a command that does not exist is reported, exit 3", async () => {
  expect(
    await main(["replay", "test/fixtures/seed-article.trace.json", "--engine", "stdio:/nonexistent/engine-binary"]),
  ).toBe(3);
});

test("minimize shrinks a trace that crashes the engine to the shortest that still crashes it (exit 3)", async () => {
  const dir = tmp();
  const f = join(dir, "crash.json");
  const ops = [{ op: "spawn" }, ...Array.from({ length: 20 }, (_, i) => ({ op: "read", pid: 1, page: i % 16 }))];
  writeFileSync(f, JSON.stringify({ cowcheck: 1, layer: "mm", ops }));
  expect(await main(["minimize", f, "--engine", bad("crash"), "--out", join(dir, "min.json")])).toBe(3);
  // bad-engine answers op 0, then crashes on whatever comes next: two ops are the minimum
  expect(JSON.parse(readFileSync(join(dir, "min.json"), "utf8")).ops).toHaveLength(2);
});
