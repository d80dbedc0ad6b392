// Bounds (issue 15, defect 1): every size a user controls has a documented bound, checked before work starts (exit
// 2, naming the field), and no op costs more than the state it touches. The traces here hung, ran out of memory or
// took quadratic time before: each now finishes within the test's timeout, which guards a hang, not a speed.
import { closeSync, ftruncateSync, openSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { main } from "../cli/main.ts";
import { MAX_TRACE_BYTES, MAX_TRACE_OPS } from "../core/index.ts";
import { MM_MAX_PAGES } from "../models/mm/types.ts";
import { captureOutput, tempDirs } from "./helpers.ts";

const { err } = captureOutput();
const tmp = tempDirs("cowcheck-bounds-");
const stderr = (): string => err.join("");

/** Replay a trace in process: the exit code, and what it printed to stderr. */
async function replay(layer: string, geometry: object, ops: unknown[]): Promise<{ code: number; stderr: string }> {
  const file = join(tmp(), "t.json");
  writeFileSync(file, JSON.stringify({ cowcheck: 1, layer, geometry, ops }));
  err.length = 0;
  const code = await main(["replay", file, "--quiet"]);
  return { code, stderr: stderr().replaceAll(`${file}: `, "") };
}

/** Heap growth across `run`, after a collection where the test runs with --expose-gc (MB otherwise, roughly). */
async function heapGrowth(run: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().heapUsed;
  await run();
  return (process.memoryUsage().heapUsed - before) / 2 ** 20;
}

describe("sizes past their bound are bad input, refused before any work", () => {
  const scan = (hi: number) => [
    { op: "insert", tx: 1, key: 1, value: 1 },
    { op: "scan", tx: 1, lo: 1, hi },
  ];
  test.each([
    ["postgres", 2 ** 53 - 1],
    ["postgres", 2 ** 32 + 1],
    ["sqlite", 2 ** 53 - 1],
    ["sqlite", 2 ** 31],
  ])("an mvcc scan (%s) up to %d: keys are int4", async (flavour, hi) => {
    const r = await replay("mvcc", { flavour }, scan(hi));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cowcheck: ops\[1\]\.hi: Too big: expected number to be <=2147483647 \(op: /);
  });

  test("mm: a window past 2^24 pages, a pid past 2^20; mvcc: a client past 64; overlay: a container past 64", async () => {
    expect(await replay("mm", { pages: MM_MAX_PAGES + 1 }, [{ op: "spawn" }])).toEqual({
      code: 2,
      stderr: "cowcheck: geometry.pages: Too big: expected number to be <=16777216 (layer mm)\n",
    });
    expect((await replay("mm", {}, [{ op: "exit", pid: 2 ** 20 + 1 }])).stderr).toMatch(
      /^cowcheck: ops\[0\]\.pid: Too big/,
    );
    expect((await replay("mvcc", {}, [{ op: "begin", tx: 65, level: "rc" }])).stderr).toMatch(
      /^cowcheck: ops\[0\]\.tx: Too big: expected number to be <=64/,
    );
    expect((await replay("overlay", {}, [{ op: "umount", c: 65 }])).stderr).toMatch(/^cowcheck: ops\[0\]\.c: Too big/);
  });

  test(`a trace of more than ${MAX_TRACE_OPS} ops, or a file of more than 256 MiB`, async () => {
    const long = await replay(
      "mm",
      {},
      Array.from({ length: MAX_TRACE_OPS + 1 }, () => ({ op: "spawn" })),
    );
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/not a cowcheck trace: ops: Too big: expected array to have <=1000000 items/);
    const file = join(tmp(), "huge.json");
    const fd = openSync(file, "w");
    ftruncateSync(fd, MAX_TRACE_BYTES + 1); // sparse: nothing is written
    closeSync(fd);
    err.length = 0;
    expect(await main(["replay", file])).toBe(2);
    expect(stderr()).toBe(
      `cowcheck: ${file}: ${MAX_TRACE_BYTES + 1} bytes; a trace file is at most ${MAX_TRACE_BYTES} bytes (256 MiB)\n`,
    );
  });

  test("the command line: --max-ops, --workers and explore's --depth", async () => {
    const refused = async (args: string[], says: string) => {
      err.length = 0;
      expect(await main(args)).toBe(2);
      expect(stderr()).toContain(says);
    };
    await refused(["run", "--layer", "mm", "--max-ops", "100001"], "--max-ops");
    await refused(["run", "--layer", "mm", "--workers", String(4 * availableParallelism() + 1)], "--workers");
    await refused(["explore", "--layer", "mm", "--depth", "9"], "--depth");
  });
});

describe("an op costs what exists in its range, not the range", () => {
  const hi = 2 ** 31 - 1;
  const rows = [
    { op: "insert", tx: 1, key: 1, value: 1 },
    { op: "insert", tx: 1, key: 5, value: 5 },
    { op: "insert", tx: 1, key: hi, value: 9 },
  ];
  test.each([
    [
      "postgres, READ COMMITTED and REPEATABLE READ",
      {},
      [
        ...rows,
        { op: "scan", tx: 1, lo: 1, hi },
        { op: "begin", tx: 2, level: "rr" },
        { op: "scan", tx: 2, lo: 1, hi },
        { op: "commit", tx: 2 },
      ],
    ],
    [
      "postgres, SERIALIZABLE (predicate reads of the whole range)",
      {},
      [
        ...rows,
        { op: "begin", tx: 1, level: "ser" },
        { op: "scan", tx: 1, lo: 1, hi },
        { op: "begin", tx: 2, level: "ser" },
        { op: "scan", tx: 2, lo: 1, hi },
        { op: "update", tx: 1, key: 5, value: 6 },
        { op: "update", tx: 2, key: 1, value: 2 },
        { op: "commit", tx: 1 },
        { op: "commit", tx: 2 },
      ],
    ],
    [
      "sqlite",
      { flavour: "sqlite" },
      [
        ...rows,
        { op: "scan", tx: 1, lo: 1, hi },
        { op: "begin", tx: 2, level: "deferred" },
        { op: "scan", tx: 2, lo: 1, hi },
        { op: "commit", tx: 2 },
      ],
    ],
  ])("mvcc scans of every key, 1..2^31-1: %s", async (_, geometry, ops) => {
    expect(await replay("mvcc", geometry, ops)).toEqual({ code: 0, stderr: "" });
  });

  test.each([
    [{ pages: MM_MAX_PAGES }],
    [{ pages: MM_MAX_PAGES, hugeOrder: 1 }],
    [{ pages: MM_MAX_PAGES, hugeOrder: 9, cellsPerPage: 4096 }],
  ])("mm: every range op over the largest window, %j", async (geometry) => {
    const P = MM_MAX_PAGES;
    const all = (advice: string) => ({ op: "madvise", pid: 1, page: 0, pages: P, advice });
    const ops = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: P, prot: "rw", shared: false },
      all("hugepage"),
      all("mergeable"),
      { op: "write", pid: 1, page: 5, cell: 0, value: 7 },
      { op: "write", pid: 1, page: P - 1, cell: 3, value: 7 },
      { op: "write", pid: 1, page: 1000, cell: 3, value: 7 },
      { op: "read", pid: 1, page: 77777 },
      { op: "pin", pid: 1, page: 5, kind: "get", write: false },
      { op: "fork", pid: 1 },
      { op: "write", pid: 2, page: 5, cell: 1, value: 9 },
      { op: "ksmScan" },
      { op: "collapse", pid: 1, page: 1000 },
      { op: "mprotect", pid: 1, page: 0, pages: P, prot: "r" },
      { op: "mprotect", pid: 1, page: 0, pages: P, prot: "rw" },
      all("unmergeable"),
      { ...all("wipeonfork"), pid: 2 },
      { ...all("dontfork"), pid: 2 },
      { op: "fork", pid: 2 },
      all("dontneed"),
      { op: "mmap", pid: 1, page: 0, pages: P, prot: "rw", shared: true },
      { op: "write", pid: 1, page: 123456, cell: 0, value: 1 },
      { op: "fork", pid: 1 },
      { op: "mmap", pid: 2, page: 0, pages: P, prot: "rw", shared: false, file: 0 },
      { op: "write", pid: 2, page: 3, cell: 0, value: 1 },
      { op: "munmap", pid: 1, page: 0, pages: P },
      { op: "exec", pid: 2 },
      { op: "exit", pid: 3 },
      { op: "exit", pid: 1 },
    ];
    let r: { code: number; stderr: string } | undefined;
    const mb = await heapGrowth(async () => {
      r = await replay("mm", geometry, ops);
    });
    expect(r).toEqual({ code: 0, stderr: "" });
    expect(mb).toBeLessThan(256); // a page-by-page walk of the window took 2.1 GB
  });
});

describe("long traces: linear, or bounded", () => {
  test("100,000 spawns (the lowest free pid, found without a scan)", async () => {
    expect(
      await replay(
        "mm",
        {},
        Array.from({ length: 100_000 }, () => ({ op: "spawn" })),
      ),
    ).toEqual({
      code: 0,
      stderr: "",
    });
  });

  test("100,000 updates of one key in the sqlite flavour", async () => {
    const ops = [
      { op: "insert", tx: 1, key: 1, value: 0 },
      ...Array.from({ length: 99_999 }, (_, i) => ({ op: "update", tx: 1, key: 1, value: i % 1000 })),
    ];
    expect(await replay("mvcc", { flavour: "sqlite" }, ops)).toEqual({ code: 0, stderr: "" });
  });

  test("postgres: the heap holds at most 4,096 tuple versions; vacuum keeps a long trace within it", async () => {
    const updates = (n: number, vacuumEvery = 0) => [
      { op: "insert", tx: 1, key: 1, value: 0 },
      ...Array.from({ length: n }, (_, i) =>
        vacuumEvery && i % vacuumEvery === vacuumEvery - 1
          ? { op: "vacuum" }
          : { op: "update", tx: 1, key: 1, value: i % 1000 },
      ),
    ];
    expect(await replay("mvcc", {}, updates(5000))).toEqual({
      code: 2,
      stderr:
        "cowcheck: ops[4096]: the heap would hold more than 4096 tuple versions (the mvcc layer's bound): vacuum the table, or split the trace\n",
    });
    expect(await replay("mvcc", {}, updates(20_000, 100))).toEqual({ code: 0, stderr: "" });
  });
});
