// The Linux kernel as an mm engine: engines/linux/agent.c, compiled on first use with the system C compiler into
// a cache folder keyed by the source's hash, then spoken to over the stdio protocol like any other engine.

import { spawnSync } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, statfsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EngineFailure, type SystemEngine } from "../../core/index.ts";
import { compiled } from "../build.ts";
import { runGroup } from "../servers.ts";
import { stdioFactory } from "../stdio.ts";

const source = fileURLToPath(new URL("./agent.c", import.meta.url));
const FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"];
/** With liburing's headers (liburing-dev), the agent registers io_uring fixed buffers: writable longterm pins. */
const URING_HEADER = "/usr/include/liburing.h";
const uring = (): { flags: string[]; libs: string[] } =>
  existsSync(URING_HEADER) ? { flags: ["-DCOWCHECK_URING"], libs: ["-luring"] } : { flags: [], libs: [] };

/** The real geometry: 4 KiB pages, 2 MiB huge pages, a 2,048-page window (four 2 MiB regions). */
export const linuxGeometry = { pageSize: 4096, hugeOrder: 9, pages: 2048 };

/** Why the agent cannot run here, or undefined if it can. */
export function linuxUnavailable(): string | undefined {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (spawnSync("cc", ["--version"], { stdio: "ignore" }).status !== 0)
    return "needs a C compiler (cc) to build the agent";
  return undefined;
}

/**
 * What the agent will offer on this machine, and why the rest is missing (its hello is the authority at run
 * time; this mirrors its checks for `cowcheck engines`).
 */
export function linuxFeatures(): { offered: string[]; missing: Record<string, string> } {
  const offered = ["reset", "file", "gup", "range", "mremap"];
  const missing: Record<string, string> = {};
  const thp = readFirstLine("/sys/kernel/mm/transparent_hugepage/enabled");
  if (thp === undefined) missing.thp = "no /sys/kernel/mm/transparent_hugepage (a kernel without THP)";
  else if (!thp.includes("[madvise]"))
    missing.thp = `/sys/kernel/mm/transparent_hugepage/enabled is "${thp}"; the model knows "madvise"`;
  else offered.push("thp");
  const pmdKnob = `/sys/kernel/mm/transparent_hugepage/hugepages-${4 << linuxGeometry.hugeOrder}kB/enabled`;
  if (missing.thp) missing.mthp = "needs THP (see thp)";
  else if (!writable(pmdKnob))
    missing.mthp = "setting a THP size's policy needs write access to /sys/kernel/mm/transparent_hugepage (root)";
  else offered.push("mthp");
  const knobs = ["pages_to_scan", "sleep_millisecs", "smart_scan", "run"].map((k) => `/sys/kernel/mm/ksm/${k}`);
  const sharing = readFirstLine("/sys/kernel/mm/ksm/max_page_sharing");
  if (!knobs.every((k) => writable(k)))
    missing.ksm = "needs write access to /sys/kernel/mm/ksm (root, and a kernel with KSM)";
  else if (sharing !== "256")
    missing.ksm = `/sys/kernel/mm/ksm/max_page_sharing is ${sharing}; the model knows the default, 256`;
  else offered.push("ksm");
  if (process.getuid?.() === 0 && readable("/proc/kpageflags")) offered.push("pagemap");
  else missing.pagemap = "needs root: PFNs in /proc/PID/pagemap and /proc/kpageflags are shown to CAP_SYS_ADMIN only";
  if (!existsSync(URING_HEADER))
    missing.longterm =
      "writable longterm pins are io_uring fixed buffers: needs liburing (apt-get install liburing-dev)";
  else if (readFirstLine("/proc/sys/kernel/io_uring_disabled") === "2")
    missing.longterm = "io_uring is disabled (kernel.io_uring_disabled = 2)";
  else offered.push("longterm");
  const zswap = readFirstLine("/sys/module/zswap/parameters/enabled");
  if (process.getuid?.() !== 0 || !writable("/sys/class/zram-control/hot_add"))
    missing.swap = "MADV_PAGEOUT needs a swap device the agent makes itself: root and zram (/sys/class/zram-control)";
  else if (zswap !== undefined && zswap !== "N" && zswap !== "0")
    missing.swap = "zswap is enabled: swap-in never reads a large folio back (alloc_swap_folio), which the model does";
  else offered.push("swap");
  const hugetlbKnob = `/sys/kernel/mm/hugepages/hugepages-${4 << linuxGeometry.hugeOrder}kB/nr_overcommit_hugepages`;
  if (process.getuid?.() !== 0 || !writable(hugetlbKnob))
    missing.hugetlb = `hugetlb pages come from a pool the agent lets grow on demand: root and ${hugetlbKnob}`;
  else offered.push("hugetlb");
  // proc_mem.force_override= "never" (or "ptrace": only a tracer) refuses the agent's writes through /proc/self/mem
  const override = /proc_mem\.force_override=(\S+)/.exec(readFirstLine("/proc/cmdline") ?? "")?.[1];
  if (override && override !== "always")
    missing.force = `forced writes go through /proc/self/mem, which proc_mem.force_override=${override} refuses`;
  else offered.push("force");
  if (diskDir()) offered.push("disk");
  else
    missing.disk =
      "disk files are O_TMPFILEs on a disk filesystem: $COWCHECK_DISK_DIR, /var/tmp or /tmp must be a writable one (not tmpfs)";
  missing.pin =
    "short-term FOLL_PIN, and read-only longterm pins, held from user space need the gup_test debugfs file (CONFIG_GUP_TEST); not built";
  missing.inspect =
    "the whole model state (refcounts, rmaps, PageAnonExclusive) is not visible from user space: the pagemap view is what Linux shows";
  return { offered, missing };
}

/** O_TMPFILE (__O_TMPFILE | O_DIRECTORY), which Node's constants leave out. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/**
 * The agent's disk_dir_offered: the first of $COWCHECK_DISK_DIR, /var/tmp and /tmp on a disk filesystem (not tmpfs
 * or ramfs) where an O_TMPFILE can be made.
 */
function diskDir(): string | undefined {
  const memory = new Set([0x01021994, 0x858458f6]); // TMPFS_MAGIC, RAMFS_MAGIC
  for (const dir of [process.env.COWCHECK_DISK_DIR, "/var/tmp", "/tmp"]) {
    if (!dir) continue;
    try {
      if (memory.has(statfsSync(dir).type)) continue;
      closeSync(openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600));
      return dir;
    } catch {}
  }
  return undefined;
}

function readFirstLine(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").split("\n")[0];
  } catch {
    return undefined;
  }
}

function readable(path: string): boolean {
  return accessible(path, constants.R_OK);
}

function writable(path: string): boolean {
  return accessible(path, constants.W_OK);
}

function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** The agent binary, compiled if this source has not been compiled yet. Concurrent callers each rename into place. */
export function linuxAgent(): string {
  const { flags, libs } = uring();
  return compiled({ source, prefix: "linux-agent-", flags: [...FLAGS, ...flags], libs, what: "the Linux agent" });
}

/**
 * The agent's command line. `exec`: the agent leads its process group, with no shell before it that SIGTERM would end
 * first (the engine's exit then kills the group while the agent is still putting ksmd's knobs back).
 */
export const linuxCommand = (): string => `exec ${JSON.stringify(linuxAgent())}`;

/**
 * A race program of fuzz/mm/races.ts on this kernel, its two threads truly concurrent (the agent's --race): the
 * forced writes made, the other thread's rounds, and the checks that found the file (or the huge zero page) changed.
 */
export async function raceOnKernel(
  name: string,
  attempts: number,
): Promise<{ attempts: number; violations: number; detail: string }> {
  // about 5 µs a forced write here: a minute per ten million, and ten minutes more before it counts as hung
  const timeout = 600_000 + attempts / 100;
  // its own process group, held while it runs: Ctrl-C or a killed run ends it too
  const r = await runGroup([linuxAgent(), "--race", name, String(attempts)], timeout);
  if (r.timedOut)
    throw new EngineFailure("hang", `the agent's race ${name} did not end within ${Math.round(timeout / 1000)} s`);
  if (r.status !== 0) throw new EngineFailure("error", `the agent's race ${name} failed: ${r.stderr.trim()}`);
  let out: { attempts: number; zaps: number; violations: number };
  try {
    out = JSON.parse(r.stdout);
  } catch {
    throw new EngineFailure("protocol", `the agent's race ${name} printed no JSON line`, r.stdout.slice(0, 2000));
  }
  return {
    attempts: out.attempts,
    violations: out.violations,
    detail: `${out.attempts.toLocaleString("en-US")} forced writes against ${out.zaps.toLocaleString("en-US")} rounds of the other thread`,
  };
}

/** The race programs the agent runs truly concurrently (raceOnKernel). */
const KERNEL_RACES = new Set(["dirtyc0w", "huge-zero-dirty-cow"]);

/** The mm layer's real system: one real process per cowcheck pid, spoken to over the stdio protocol. */
export const linuxEngine: SystemEngine = {
  name: "linux",
  description: "the running kernel (engines/linux/agent.c)",
  unavailable: linuxUnavailable,
  features: linuxFeatures,
  geometry: linuxGeometry,
  views: ["pagemap"],
  factory: (layer, { timeoutMs }) =>
    Object.assign(stdioFactory(layer, linuxCommand, { name: "mm:linux", timeoutMs }), {
      race: (name: string, attempts: number) =>
        KERNEL_RACES.has(name)
          ? raceOnKernel(name, attempts)
          : Promise.resolve({ attempts: 0, violations: 0, detail: "not run here" }),
    }),
};
