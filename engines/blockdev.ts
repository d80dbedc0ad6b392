// Crash points for any block-device engine, the CrashMonkey method in user space: a loop device stands on the one
// file of a FUSE file system (engines/blockdev/logger.c) that logs every write and flush the loop device sends, in
// order; from that log, the device as a power loss at any point would leave it is rebuilt (crashStates, materialize).
// Everything a logged device makes lives in a private folder below this run's folder (runRoot); its loop device,
// FUSE mount and logger go at close(), at process exit or signal, and (by the watchdog) after SIGKILL.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  constants as fsConstants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import seedrandom from "seedrandom";
import { atProcessEnd, EngineFailure, runRoot } from "../core/index.ts";
import { compiled } from "./build.ts";

const source = fileURLToPath(new URL("./blockdev/logger.c", import.meta.url));
const FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"];
const INSTALL = "apt-get install fuse3 libfuse3-dev";
/** The logger binary's name starts so; the watchdog's kill checks it (a reused pid is left alone). */
const BINARY_PREFIX = "blockdev-logger-";

// ---- can it run here?

let probed: { why: string | undefined } | undefined;

/** Why a logged block device cannot run here (worded to follow "it "), or undefined if it can. Probed once. */
export function blockdevUnavailable(): string | undefined {
  probed ??= { why: probe() };
  return probed.why;
}

const runs = (command: string, args: string[]): boolean =>
  spawnSync(command, args, { stdio: "ignore", timeout: 10_000 }).status === 0;

function probe(): string | undefined {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "needs root (loop devices and mounting need CAP_SYS_ADMIN)";
  if (!runs("cc", ["--version"])) return "needs a C compiler (cc) to build its logger";
  try {
    closeSync(openSync("/dev/fuse", "r+"));
  } catch (e) {
    return `needs FUSE (/dev/fuse: ${(e as NodeJS.ErrnoException).code ?? e}; ${INSTALL})`;
  }
  if (!runs("fusermount3", ["-V"])) return `needs fusermount3 (${INSTALL})`;
  if (!runs("losetup", ["--version"])) return "needs losetup (util-linux)";
  if (!existsSync("/dev/loop-control")) return "needs loop devices (/dev/loop-control; modprobe loop)";
  try {
    blockdevLogger();
  } catch (e) {
    const detail = e instanceof EngineFailure ? (e.detail ?? "") : String(e);
    if (/fuse|pkg-config/i.test(detail))
      return `needs FUSE (/dev/fuse) and libfuse3's headers (${INSTALL}): ${firstLine(detail)}`;
    return `cannot build its logger: ${firstLine(detail) || (e as Error).message}`;
  }
  return undefined;
}

const firstLine = (s: string): string => s.split("\n").find((l) => /error/.test(l)) ?? s.split("\n")[0] ?? "";

/** libfuse3's compiler and linker flags, from pkg-config (empty when it does not know fuse3). */
function fuseFlags(): { cflags: string[]; libs: string[]; error?: string } {
  const r = spawnSync("pkg-config", ["--cflags", "--libs", "fuse3"], { encoding: "utf8" });
  if (r.status !== 0) return { cflags: [], libs: [], error: `pkg-config fuse3: ${r.stderr ?? ""}${r.error ?? ""}` };
  const words = r.stdout.trim().split(/\s+/).filter(Boolean);
  return { cflags: words.filter((w) => !/^-[lL]/.test(w)), libs: words.filter((w) => /^-[lL]/.test(w)) };
}

/** The logger binary, compiled if this source has not been compiled yet. Concurrent callers each rename into place. */
export function blockdevLogger(): string {
  const fuse = fuseFlags();
  if (fuse.error) throw new EngineFailure("start", `libfuse3 not found (${INSTALL})`, fuse.error);
  return compiled({
    source,
    prefix: BINARY_PREFIX,
    flags: [...FLAGS, ...fuse.cflags],
    libs: fuse.libs,
    what: "the block-device logger",
    install: INSTALL,
  });
}

// ---- loop devices

/** `losetup --find --show`: the loop device now over `file` (buffered, not direct I/O). */
function attachLoop(file: string): string {
  const r = spawnSync("losetup", ["--find", "--show", "--direct-io=off", file], { encoding: "utf8", timeout: 30_000 });
  const device = r.stdout?.trim() ?? "";
  if (r.status !== 0 || !device.startsWith("/dev/"))
    throw new EngineFailure("start", `losetup could not attach ${file}`, `${r.stderr ?? ""}${r.error ?? ""}`);
  return device;
}

/** `losetup -d`; true if done. A device still open (mounted) is only marked to go at its last close. */
const detachLoop = (device: string): boolean => runs("losetup", ["-d", device]);

/** Whether the loop device still has a backing file. */
const loopAttached = (device: string): boolean => existsSync(`/sys/block/${basename(device)}/loop`);

/** A loop device over `file`, detached by detach(), at process end, or by the watchdog after SIGKILL. */
export function loopDevice(file: string): { device: string; detach(): void } {
  const device = attachLoop(file);
  const undo = (): void => void detachLoop(device);
  const forget = atProcessEnd(undo, ["losetup", "-d", device]);
  return {
    device,
    detach: () => {
      forget();
      undo();
    },
  };
}

// ---- logged devices

/** One record of a device's log, in the order the logger received the requests. */
export type LogRecord =
  /** `length` bytes written at `offset`; they sit in the log from byte `at`. */
  | { kind: "write"; offset: number; length: number; at: number }
  /** A flush of the device (fsync of the logger's file): what was written before it is durable. */
  | { kind: "flush" }
  /** A label the caller put in the log (LoggedDevice.mark). */
  | { kind: "mark"; label: string }
  /** A discard or write-zeroes (fallocate on the logger's file): the range reads as zeros afterwards. */
  | { kind: "zero"; offset: number; length: number };

/** Where a log is: a live device, or a log file kept by other means. */
export interface LogSource {
  readonly logPath: string;
  /** The records parsed so far (read from logPath if absent). */
  records?(): LogRecord[];
}

export interface LoggedDevice extends LogSource {
  /** /dev/loopN over the logger's disk file. */
  readonly device: string;
  /** Its private folder (below runRoot()), holding image, log and the FUSE mount point; a good place for a mount. */
  readonly folder: string;
  readonly sizeBytes: number;
  /** The logger's process id. */
  readonly pid: number;
  /** Append a mark after every request the logger has received so far (synchronous; at most 4000 bytes). */
  mark(label: string): void;
  /** The log parsed so far (incrementally: earlier records are not read again). */
  records(): LogRecord[];
  /**
   * Detach the loop device (unmount what stands on it first), unmount the FUSE file system, wait for the logger to
   * end, remove the folder (log included: materialize before). Throws, after cleaning what it can, if a step failed.
   */
  close(): Promise<void>;
}

const HEADER = 24;
const KIND = { 1: "write", 2: "flush", 3: "mark", 4: "zero" } as const;

/** Parses a log incrementally: each call reads only what was appended since the last, up to the last whole record. */
class LogReader {
  private readonly parsed: LogRecord[] = [];
  private pos = 0;
  private readonly header = Buffer.alloc(HEADER);
  constructor(readonly path: string) {}

  records(): LogRecord[] {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [...this.parsed]; // removed by close()
      throw e;
    }
    try {
      const size = fstatSync(fd).size;
      while (this.pos + HEADER <= size) {
        readSync(fd, this.header, 0, HEADER, this.pos);
        const kind = KIND[this.header.readUInt32LE(0) as keyof typeof KIND];
        const offset = Number(this.header.readBigUInt64LE(8));
        const length = Number(this.header.readBigUInt64LE(16));
        const data = kind === "write" || kind === "mark" ? length : 0;
        if (!kind) throw new Error(`${this.path}: unknown record kind ${this.header.readUInt32LE(0)} at ${this.pos}`);
        if (this.pos + HEADER + data > size) break; // being written
        const at = this.pos + HEADER;
        if (kind === "write") this.parsed.push({ kind, offset, length, at });
        else if (kind === "zero") this.parsed.push({ kind, offset, length });
        else if (kind === "flush") this.parsed.push({ kind });
        else {
          const text = Buffer.alloc(length);
          readSync(fd, text, 0, length, at);
          this.parsed.push({ kind, label: text.toString("utf8") });
        }
        this.pos = at + data;
      }
    } finally {
      closeSync(fd);
    }
    return [...this.parsed];
  }
}

/** The records of a log file. */
export const readLog = (logPath: string): LogRecord[] => new LogReader(logPath).records();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
const unref = (x: unknown): void => (x as { unref?: () => void } | null)?.unref?.();

/**
 * A fresh logged block device of `sizeBytes` (zeros before any logged write). The logger runs in a session of its
 * own (a terminal's Ctrl-C does not reach it before the loop device is gone) and ends when our process does (its
 * standard input closes). One cleanup is registered: in process, and as a command for the watchdog: detach the loop
 * device, unmount the FUSE file system lazily, end the logger, in that order; the caller unmounts what it mounted on
 * the device first (register it after this device: undo work runs newest first).
 */
export async function startLoggedDevice(options: { sizeBytes: number }): Promise<LoggedDevice> {
  const { sizeBytes } = options;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0)
    throw new RangeError(`sizeBytes must be a positive multiple of 512, not ${sizeBytes}`);
  const why = blockdevUnavailable();
  if (why) throw new EngineFailure("start", `a logged block device cannot run here: it ${why}`);
  const binary = blockdevLogger();
  const folder = mkdtempSync(join(runRoot(), "blockdev-"));
  const mnt = join(folder, "mnt");
  const logPath = join(folder, "log");
  mkdirSync(mnt);
  const child = spawn(binary, [mnt, join(folder, "image"), String(sizeBytes), logPath], {
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let device: string | undefined;
  let markFd: number | undefined;

  const teardownSync = (): void => {
    if (markFd !== undefined) closeSync(markFd);
    markFd = undefined;
    if (device) detachLoop(device);
    runs("fusermount3", ["-u", "-z", mnt]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    rmSync(folder, { recursive: true, force: true });
  };
  const command = (): string[] => {
    const pid = child.pid ?? 0;
    const kill = `grep -q ${BINARY_PREFIX} /proc/${pid}/cmdline 2>/dev/null && kill ${pid}`;
    const loop = device ? `losetup -d ${device}; ` : "";
    return ["sh", "-c", `${loop}fusermount3 -u -z ${quote(mnt)}; ${kill}`];
  };
  let forget = atProcessEnd(teardownSync, command());

  try {
    await ready(child, () => stderr);
    device = attachLoop(join(mnt, "disk"));
    forget();
    forget = atProcessEnd(teardownSync, command()); // now with the loop device first
    markFd = openSync(join(mnt, "mark"), fsConstants.O_WRONLY);
  } catch (e) {
    forget();
    teardownSync();
    throw e;
  }
  for (const x of [child, child.stdin, child.stdout, child.stderr]) unref(x);

  const reader = new LogReader(logPath);
  const dev = device;
  let closing: Promise<void> | undefined;
  return {
    device: dev,
    folder,
    sizeBytes,
    pid: child.pid!,
    logPath,
    mark(label: string): void {
      if (markFd === undefined) throw new Error(`the logged device ${dev} is closed`);
      const bytes = Buffer.from(`${label}\n`);
      if (bytes.length > 4001) throw new RangeError(`a mark is at most 4000 bytes, not ${bytes.length - 1}`);
      if (writeSync(markFd, bytes) !== bytes.length) throw new Error(`a short write of mark ${label}`);
    },
    records: () => reader.records(),
    close(): Promise<void> {
      closing ??= (async () => {
        const failures: string[] = [];
        if (markFd !== undefined) closeSync(markFd);
        markFd = undefined;
        if (!detachLoop(dev)) failures.push(`losetup -d ${dev} failed`);
        for (let waited = 0; loopAttached(dev) && waited < 2000; waited += 20) await sleep(20);
        if (loopAttached(dev)) failures.push(`${dev} is still in use (unmount what stands on it before close())`);
        let unmounted = runs("fusermount3", ["-u", mnt]);
        for (let waited = 0; !unmounted && waited < 2000; waited += 50) {
          await sleep(50);
          unmounted = runs("fusermount3", ["-u", mnt]);
        }
        if (!unmounted) {
          failures.push(`fusermount3 -u ${mnt} failed: unmounted lazily`);
          runs("fusermount3", ["-u", "-z", mnt]);
        }
        if (child.exitCode === null && child.signalCode === null) {
          child.ref();
          const timer = setTimeout(() => {
            failures.push("the logger did not end after the unmount: killed");
            child.kill("SIGKILL");
          }, 5000);
          await exited;
          clearTimeout(timer);
        }
        forget();
        rmSync(folder, { recursive: true, force: true });
        if (failures.length)
          throw new EngineFailure("error", `closing the logged device ${dev}: ${failures.join("; ")}`);
      })();
      return closing;
    },
  };
}

/** Wait for the logger's "ready" line; a start failure with its stderr if it ends or takes too long. */
function ready(child: ChildProcess, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new EngineFailure("start", `the block-device logger ${why}`, stderr()));
    };
    const timer = setTimeout(() => fail("did not mount its file system within 10 s"), 10_000);
    const ended = (code: number | null, signal: string | null): void =>
      fail(`ended before it was ready (${code ?? signal})`);
    child.on("error", (e) => fail(`could not start: ${e.message}`));
    child.once("exit", ended);
    child.stdout?.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        child.off("exit", ended);
        resolve();
      }
    });
  });
}

// ---- crash states

/** A state the device may be in after a power loss: which logged writes (and zeroings) reached it. */
export interface CrashState {
  readonly name: string;
  /** Record index: the crash happened just before record `upTo` (every record before it had been issued). */
  readonly upTo: number;
  /** Indices into the records of the write and zero records applied, in log order. */
  readonly writes: readonly number[];
  /** flush: all writes before a flush; prefix: the first k writes; reorder: a subset of a flush epoch's writes. */
  readonly kind: "flush" | "prefix" | "reorder";
}

const changes = (r: LogRecord): boolean => r.kind === "write" || r.kind === "zero";

/**
 * The crash states of a log: (a) at every flush (all writes before it; upTo just after it), (b) with `prefixes`,
 * every prefix of the writes (k = 0 … all), (c) per flush epoch (the writes since the previous flush, the last
 * epoch being those after the last flush) `reorderings` sampled states: a random crash point inside the epoch and a
 * random subset, not a prefix, of the epoch's writes issued before it, over all earlier epochs' writes. States that
 * apply the same writes are given once (the first met, in that order). Deterministic from `seed`.
 */
export function crashStates(
  records: readonly LogRecord[],
  options: { reorderings: number; seed: number; prefixes?: boolean },
): CrashState[] {
  const all: number[] = [];
  records.forEach((r, i) => {
    if (changes(r)) all.push(i);
  });
  const states: CrashState[] = [];
  const seenPrefix = new Set<number>();
  // flush and prefix states apply a prefix of `all`: their lists are made when read, not held
  const prefix = (name: string, upTo: number, count: number, kind: "flush" | "prefix"): void => {
    if (seenPrefix.has(count)) return;
    seenPrefix.add(count);
    states.push({
      name,
      upTo,
      kind,
      get writes() {
        return all.slice(0, count);
      },
    });
  };
  let before = 0; // writes before record i
  let flushes = 0;
  records.forEach((r, i) => {
    if (r.kind === "flush") prefix(`flush-${++flushes}`, i + 1, before, "flush");
    if (changes(r)) before++;
  });
  if (options.prefixes)
    for (let k = 0; k <= all.length; k++) prefix(`prefix-${k}`, k < all.length ? all[k] : records.length, k, "prefix");
  if (options.reorderings > 0) {
    const rng = seedrandom(`blockdev:${options.seed}`);
    let epoch: number[] = [];
    let done = 0; // writes of earlier epochs
    let number = 0;
    const sample = (): void => {
      if (epoch.length >= 2) states.push(...reorderings(epoch, all.slice(0, done), number, options.reorderings, rng));
      done += epoch.length;
      epoch = [];
      number++;
    };
    records.forEach((r, i) => {
      if (changes(r)) epoch.push(i);
      else if (r.kind === "flush") sample();
    });
    sample();
  }
  return states;
}

/** Up to `count` distinct non-prefix subsets of an epoch's writes, over `base` (the earlier epochs' writes). */
function reorderings(
  epoch: readonly number[],
  base: readonly number[],
  number: number,
  count: number,
  rng: () => number,
): CrashState[] {
  const out: CrashState[] = [];
  const seen = new Set<string>();
  for (let tries = 0; out.length < count && tries < count * 20 + 20; tries++) {
    const issued = 2 + Math.floor(rng() * (epoch.length - 1)); // the crash follows the epoch's write `issued`-1
    const chosen: number[] = [];
    for (let j = 0; j < issued; j++) if (rng() < 0.5) chosen.push(j);
    if (chosen.length === 0 || chosen[chosen.length - 1] === chosen.length - 1) continue; // a prefix
    const key = chosen.join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      name: `reorder-${number}-${out.length}`,
      upTo: epoch[issued - 1] + 1,
      writes: [...base, ...chosen.map((j) => epoch[j])],
      kind: "reorder",
    });
  }
  return out;
}

/** The label of the last mark before record `upTo` (the op a crash there fell in), if any. */
export function lastMarkBefore(records: readonly LogRecord[], upTo: number): string | undefined {
  for (let i = Math.min(upTo, records.length) - 1; i >= 0; i--) {
    const r = records[i];
    if (r.kind === "mark") return r.label;
  }
  return undefined;
}

// ---- images

const CHUNK = 1 << 20;

/**
 * Write `image`, a sparse file of `sizeBytes`, holding the device as `state` leaves it: zeros, then the state's
 * writes (and zeroings) applied in log order, their data read from the log.
 */
export function materialize(source: LogSource, state: CrashState, image: string, sizeBytes: number): void {
  const records = source.records?.() ?? readLog(source.logPath);
  const log = openSync(source.logPath, "r");
  try {
    const out = openSync(image, "w");
    try {
      ftruncateSync(out, sizeBytes);
      const buf = Buffer.allocUnsafe(CHUNK);
      let zeros: Buffer | undefined;
      const written: [number, number][] = []; // ranges written so far: all else is still a hole
      for (const i of state.writes) {
        const r = records[i];
        if (!r || (r.kind !== "write" && r.kind !== "zero"))
          throw new RangeError(`crash state ${state.name}: record ${i} is not a write (${r?.kind ?? "none"})`);
        if (r.offset + r.length > sizeBytes)
          throw new RangeError(`crash state ${state.name}: record ${i} ends past ${sizeBytes} bytes`);
        if (r.kind === "write") {
          for (let done = 0; done < r.length; ) {
            const n = readSync(log, buf, 0, Math.min(CHUNK, r.length - done), r.at + done);
            if (n === 0) throw new Error(`${source.logPath}: the data of record ${i} is cut short`);
            writeAll(out, buf.subarray(0, n), r.offset + done);
            done += n;
          }
          written.push([r.offset, r.offset + r.length]);
        } else {
          zeros ??= Buffer.alloc(CHUNK);
          const end = r.offset + r.length;
          for (const [a, b] of written) {
            for (let p = Math.max(a, r.offset); p < Math.min(b, end); p += CHUNK)
              writeAll(out, zeros.subarray(0, Math.min(CHUNK, Math.min(b, end) - p)), p);
          }
        }
      }
    } finally {
      closeSync(out);
    }
  } finally {
    closeSync(log);
  }
}

function writeAll(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
}
