// The logged block device (engines/blockdev): a loop device over a FUSE file whose writes and flushes are logged in
// order, crash states drawn from the log, and images rebuilt from them; then Btrfs made, used and checked on it.
// The log format and the crash states are tested everywhere; the device itself is skipped, with the reason printed,
// where it cannot run (not root, no FUSE or libfuse3 headers, no losetup), and Btrfs where btrfs-progs is missing.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { atProcessEnd, runRoot } from "../core/index.ts";
import {
  blockdevUnavailable,
  type CrashState,
  crashStates,
  type LoggedDevice,
  type LogRecord,
  lastMarkBefore,
  loopDevice,
  materialize,
  readLog,
  startLoggedDevice,
} from "../engines/blockdev.ts";

const why = blockdevUnavailable();
if (why) console.log(`skipping the logged block device tests: it ${why}`);
const btrfsWhy =
  why ?? (spawnSync("mkfs.btrfs", ["--version"]).status === 0 ? undefined : "needs btrfs-progs (mkfs.btrfs)");
if (!why && btrfsWhy) console.log(`skipping the Btrfs end-to-end test: it ${btrfsWhy}`);

const writesOf = (s: CrashState): number[] => [...s.writes];
const indexOf = (records: LogRecord[], kind: LogRecord["kind"], from = 0): number =>
  records.findIndex((r, i) => i >= from && r.kind === kind);
const backingFile = (device: string): string | undefined => {
  try {
    return readFileSync(`/sys/block/${basename(device)}/loop/backing_file`, "utf8").trim();
  } catch {
    return undefined;
  }
};
const mountsUnder = (folder: string): string[] =>
  readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((l) => l.includes(folder));
const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** An image as the writes leave it, built here from the data we wrote. */
function expectedImage(size: number, writes: readonly number[], data: Map<number, [number, Buffer]>): Buffer {
  const image = Buffer.alloc(size);
  for (const i of writes) {
    const [offset, bytes] = data.get(i)!;
    bytes.copy(image, offset);
  }
  return image;
}

// ---- the log format and crash states, without a device

function header(kind: number, offset: number, length: number): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(kind, 0);
  h.writeBigUInt64LE(BigInt(offset), 8);
  h.writeBigUInt64LE(BigInt(length), 16);
  return h;
}

describe("a block-device log and its crash states", () => {
  it("parses every record kind, leaves a record cut short for later, and rebuilds images with zeroings", () => {
    const dir = mkdtempSync(join(tmpdir(), "cowcheck-blockdev-test-"));
    try {
      const a = Buffer.alloc(4096, 0xaa);
      const b = Buffer.alloc(4096, 0xbb);
      const log = join(dir, "log");
      const whole = Buffer.concat([
        header(3, 0, 2),
        Buffer.from("op"),
        header(1, 4096, a.length),
        a,
        header(2, 0, 0),
        header(1, 0, b.length),
        b,
        header(4, 2048, 4096), // zeros over the end of b and the start of a
      ]);
      writeFileSync(log, Buffer.concat([whole, header(1, 0, 4096), Buffer.alloc(100)])); // the last cut short
      const records = readLog(log);
      expect(records).toEqual([
        { kind: "mark", label: "op" },
        { kind: "write", offset: 4096, length: 4096, at: 24 + 2 + 24 },
        { kind: "flush" },
        { kind: "write", offset: 0, length: 4096, at: 24 + 2 + 24 + 4096 + 24 + 24 },
        { kind: "zero", offset: 2048, length: 4096 },
      ]);
      const states = crashStates(records, { reorderings: 5, seed: 1, prefixes: true });
      expect(states.map((s) => [s.kind, s.upTo, writesOf(s)])).toEqual([
        ["flush", 3, [1]],
        ["prefix", 1, []],
        ["prefix", 4, [1, 3]],
        ["prefix", 5, [1, 3, 4]],
        ["reorder", 5, [1, 4]], // the zeroing reached the disk, the write of b before it did not
      ]);
      const image = join(dir, "image");
      const last = states.find((s) => s.name === "prefix-3")!;
      materialize({ logPath: log }, last, image, 16384);
      const want = Buffer.alloc(16384);
      a.copy(want, 4096);
      b.copy(want, 0);
      want.fill(0, 2048, 6144);
      expect(readFileSync(image).equals(want)).toBe(true);
      expect(lastMarkBefore(records, last.upTo)).toBe("op");
      expect(lastMarkBefore(records, 0)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("samples distinct reorderings per flush epoch, over all earlier epochs, deterministically from the seed", () => {
    const w = (offset: number): LogRecord => ({ kind: "write", offset, length: 512, at: 0 });
    const records: LogRecord[] = [w(0), w(1), w(2), w(3), w(4), w(5), { kind: "flush" }, w(6), w(7), w(8)];
    const states = crashStates(records, { reorderings: 12, seed: 42 });
    expect(states.filter((s) => s.kind === "flush").map((s) => [s.upTo, writesOf(s)])).toEqual([
      [7, [0, 1, 2, 3, 4, 5]],
    ]);
    expect(states.some((s) => s.kind === "prefix")).toBe(false);
    const reorders = states.filter((s) => s.kind === "reorder");
    const keys = reorders.map((s) => s.writes.join(","));
    expect(new Set(keys).size).toBe(keys.length);
    const first = reorders.filter((s) => s.writes.every((i) => i < 6));
    const second = reorders.filter((s) => s.writes.some((i) => i > 6));
    expect(first).toHaveLength(12); // 6 writes: plenty of non-prefix subsets
    // the second epoch (3 writes) has 4 non-prefix subsets: {8}, {9}, {7,9}, {8,9}
    expect(second.map((s) => s.writes.slice(6).join(",")).sort()).toEqual(["7,9", "8", "8,9", "9"]);
    for (const s of reorders) {
      const epoch = s.writes.every((i) => i < 6) ? [0, 1, 2, 3, 4, 5] : [7, 8, 9];
      const base = epoch[0] === 0 ? [] : [0, 1, 2, 3, 4, 5];
      expect(s.writes.slice(0, base.length)).toEqual(base);
      const chosen = s.writes.slice(base.length);
      expect(chosen.every((i) => epoch.includes(i) && i < s.upTo)).toBe(true);
      expect(s.upTo).toBeLessThanOrEqual(epoch[epoch.length - 1] + 1);
      expect(chosen).toEqual([...chosen].sort((x, y) => x - y));
      expect(chosen).not.toEqual(epoch.slice(0, chosen.length)); // not a prefix
    }
    expect(crashStates(records, { reorderings: 12, seed: 42 })).toEqual(states);
    const other = crashStates(records, { reorderings: 12, seed: 43 });
    expect(other.map((s) => s.name)).toEqual(states.map((s) => s.name));
    expect(other.map(writesOf)).not.toEqual(states.map(writesOf));
  });
});

// ---- the device

describe.skipIf(why !== undefined)("a logged block device (loop over a FUSE file)", () => {
  it("loopDevice attaches a file and detach() lets it go", () => {
    const file = join(mkdtempSync(join(runRoot(), "blockdev-test-")), "file");
    writeFileSync(file, Buffer.alloc(1 << 20));
    const loop = loopDevice(file);
    try {
      expect(loop.device).toMatch(/^\/dev\/loop\d+$/);
      expect(backingFile(loop.device)).toBe(file);
    } finally {
      loop.detach();
    }
    expect(backingFile(loop.device)).not.toBe(file);
    rmSync(join(file, ".."), { recursive: true, force: true });
  });

  it("logs O_DIRECT writes with their data, flushes and marks in order; crash states and images follow; close() leaves nothing", async () => {
    const size = 4 << 20;
    const d = await startLoggedDevice({ sizeBytes: size });
    const { device, folder, pid } = d;
    let closed = false;
    try {
      expect(device).toMatch(/^\/dev\/loop\d+$/);
      expect(backingFile(device)).toBe(join(folder, "mnt", "disk"));
      expect(mountsUnder(folder)).toHaveLength(1);
      expect(processAlive(pid)).toBe(true);
      // attaching the loop device may flush it, but writes nothing
      expect(d.records().every((r) => r.kind === "flush")).toBe(true);

      const data = new Map<number, [number, Buffer]>(); // record index → offset, bytes
      const write = (offset: number, length: number): Buffer => {
        const bytes = randomBytes(length);
        const file = join(folder, "chunk");
        writeFileSync(file, bytes);
        execFileSync("dd", [
          `if=${file}`,
          `of=${device}`,
          `bs=${length}`,
          `seek=${offset}`,
          "count=1",
          "oflag=direct,seek_bytes",
          "status=none",
        ]);
        return bytes;
      };
      d.mark("a");
      const A = write(0, 4096);
      const B = write(65536, 8192);
      const C = write(4096, 4096);
      d.mark("b");
      const fd = openSync(device, "r+");
      fsyncSync(fd);
      closeSync(fd);
      d.mark("c");
      const D = write(8192, 4096);
      const E = write(0, 4096); // over A
      d.mark("d");

      const records = d.records();
      const start = records.findIndex((r) => r.kind === "mark");
      const k = (i: number): number => start + i;
      expect(records.slice(start)).toEqual([
        { kind: "mark", label: "a" },
        { kind: "write", offset: 0, length: 4096, at: expect.any(Number) },
        { kind: "write", offset: 65536, length: 8192, at: expect.any(Number) },
        { kind: "write", offset: 4096, length: 4096, at: expect.any(Number) },
        { kind: "mark", label: "b" },
        { kind: "flush" },
        { kind: "mark", label: "c" },
        { kind: "write", offset: 8192, length: 4096, at: expect.any(Number) },
        { kind: "write", offset: 0, length: 4096, at: expect.any(Number) },
        { kind: "mark", label: "d" },
      ]);
      const written: [number, Buffer][] = [
        [k(1), A],
        [k(2), B],
        [k(3), C],
        [k(7), D],
        [k(8), E],
      ];
      const log = openSync(d.logPath, "r");
      for (const [i, bytes] of written) {
        const r = records[i] as Extract<LogRecord, { kind: "write" }>;
        const got = Buffer.alloc(r.length);
        readSync(log, got, 0, r.length, r.at);
        expect(got.equals(bytes)).toBe(true);
        data.set(i, [r.offset, bytes]);
      }
      closeSync(log);

      const states = crashStates(records, { reorderings: 10, seed: 7, prefixes: true });
      // attaching flushed the device here: a flush state with no writes, which the empty prefix repeats
      const firstFlush = indexOf(records, "flush");
      const attachFlush = firstFlush < start;
      expect(states.filter((s) => s.kind === "flush").map((s) => [s.upTo, writesOf(s)])).toEqual([
        ...(attachFlush ? [[firstFlush + 1, []]] : []),
        [k(6), [k(1), k(2), k(3)]],
      ]);
      // prefixes, less those a flush state already gives
      expect(states.filter((s) => s.kind === "prefix").map((s) => [s.name, s.upTo, writesOf(s)])).toEqual([
        ...(attachFlush ? [] : [["prefix-0", k(1), []]]),
        ["prefix-1", k(2), [k(1)]],
        ["prefix-2", k(3), [k(1), k(2)]],
        ["prefix-4", k(8), [k(1), k(2), k(3), k(7)]],
        ["prefix-5", records.length, [k(1), k(2), k(3), k(7), k(8)]],
      ]);
      // the first epoch's non-prefix subsets ({B}, {C}, {A,C}, {B,C}); the second's ({E}) over the first epoch
      const reorders = states.filter((s) => s.kind === "reorder");
      expect(reorders.map((s) => writesOf(s).join(",")).sort()).toEqual(
        [[k(2)], [k(3)], [k(1), k(3)], [k(2), k(3)], [k(1), k(2), k(3), k(8)]].map((w) => w.join(",")).sort(),
      );
      expect(lastMarkBefore(records, k(6))).toBe("b");
      expect(lastMarkBefore(records, k(2))).toBe("a");
      expect(lastMarkBefore(records, records.length)).toBe("d");

      // every state's image, byte for byte; the state with every write is the logger's own image
      const image = join(folder, "crash.img");
      let ms = 0;
      for (const s of states) {
        const t = performance.now();
        materialize(d, s, image, size);
        ms += performance.now() - t;
        expect(statSync(image).size).toBe(size);
        expect(readFileSync(image).equals(expectedImage(size, s.writes, data)), s.name).toBe(true);
      }
      expect(statSync(image).blocks * 512).toBeLessThan(size); // sparse
      materialize(d, states.find((s) => s.name === "prefix-5")!, image, size);
      expect(readFileSync(image).equals(readFileSync(join(folder, "image")))).toBe(true);
      console.log(`materialize: ${(ms / states.length).toFixed(2)} ms per image of ${states.length}`);

      await d.close();
      closed = true;
    } finally {
      if (!closed) await d.close();
    }
    expect(backingFile(device) ?? "").not.toContain(folder);
    expect(
      execFileSync("losetup", ["-a"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.includes(folder)),
    ).toEqual([]);
    expect(mountsUnder(folder)).toEqual([]);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(folder)).toBe(false);
    await d.close(); // again: nothing more to do
  });
});

describe.skipIf(btrfsWhy !== undefined)("Btrfs on a logged block device", () => {
  it("mkfs, mount, write, sync, umount: the log has writes and flushes; the image at the last flush passes btrfs check", async () => {
    const size = 128 << 20; // mkfs.btrfs wants about 109 MiB at least
    const d: LoggedDevice = await startLoggedDevice({ sizeBytes: size });
    try {
      d.mark("mkfs");
      execFileSync("mkfs.btrfs", ["-f", "-K", d.device], { stdio: "ignore" });
      d.mark("mkfs done");
      const mnt = join(d.folder, "fs");
      mkdirSync(mnt);
      execFileSync("mount", ["-t", "btrfs", d.device, mnt]);
      const unmount = (): void => void spawnSync("umount", [mnt]);
      const forget = atProcessEnd(unmount, ["umount", "-l", mnt]);
      try {
        d.mark("write");
        writeFileSync(join(mnt, "f"), randomBytes(100_000));
        d.mark("sync");
        execFileSync("btrfs", ["filesystem", "sync", mnt]);
        d.mark("umount");
      } finally {
        forget();
        unmount();
        spawnSync("btrfs", ["device", "scan", "--forget", d.device], { stdio: "ignore" });
      }
      d.mark("end");

      const records = d.records();
      const after = (label: string): number => records.findIndex((r) => r.kind === "mark" && r.label === label);
      const count = (kind: LogRecord["kind"], from = 0, to = records.length): number =>
        records.slice(from, to).filter((r) => r.kind === kind).length;
      expect(count("write", after("mkfs"), after("mkfs done"))).toBeGreaterThan(0);
      expect(count("flush", after("mkfs"), after("mkfs done"))).toBeGreaterThan(0);
      expect(count("write", after("sync"), after("umount"))).toBeGreaterThan(0);
      expect(count("flush", after("sync"), after("umount"))).toBeGreaterThan(0);
      const writes = records.filter((r) => r.kind === "write");
      console.log(
        `btrfs: ${records.length} records: ${writes.length} writes (${writes.reduce((n, w) => n + w.length, 0)} bytes, ` +
          `the largest ${Math.max(...writes.map((w) => w.length))}), ${count("flush")} flushes, ${count("zero")} zeroings`,
      );

      const states = crashStates(records, { reorderings: 0, seed: 0 });
      const flushes = states.filter((s) => s.kind === "flush");
      const check = (s: CrashState): { ok: boolean; ms: number; out: string } => {
        const image = join(d.folder, `${s.name}.img`);
        const t = performance.now();
        materialize(d, s, image, size);
        const ms = performance.now() - t;
        const r = spawnSync("btrfs", ["check", "--readonly", image], { encoding: "utf8" });
        rmSync(image);
        const out = `${r.stderr}${r.stdout}`.split("\n").find((l) => /error|no valid/i.test(l)) ?? "";
        return { ok: r.status === 0, ms, out };
      };
      const last = check(flushes[flushes.length - 1]);
      expect(last.ok, last.out).toBe(true);
      // the first flush once mkfs has returned: a committed mkfs, plus whatever the mount wrote before the flush
      const firstAfter = flushes.find((s) => s.upTo > after("mkfs done"))!;
      const afterMkfs = check(firstAfter);
      expect(afterMkfs.ok, afterMkfs.out).toBe(true);
      // observed, not asserted: mid-mkfs flushes fail until mkfs writes the real superblock magic at its end
      const during = flushes.filter((s) => s.upTo > after("mkfs") && s.upTo < after("mkfs done"));
      const verdicts = during.map((s) => ({ name: s.name, ...check(s) }));
      console.log(
        `btrfs check of the flush states within mkfs: ${verdicts.map((v) => `${v.name} ${v.ok ? "ok" : `fails (${v.out.trim()})`}`).join("; ")}`,
      );
      console.log(`materialize: ${last.ms.toFixed(1)} ms for the last flush state`);
    } finally {
      await d.close();
    }
  });
});
