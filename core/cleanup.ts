// Cleanup however the process ends. Real-system engines register undo work (unmount, stop a server); engine
// processes run in process groups of their own. On a normal exit or a signal this process undoes it itself; for an
// end it cannot see (SIGKILL, a crash of the runtime) a watchdog does: everything that must be undone is written to a
// journal in this run's private folder (runRoot), and the watchdog (core/watchdog.mjs), started with the folder in
// a session of its own, holds a pipe from this process and undoes what the journal still lists when the pipe closes.
// The next cowcheck to start sweeps the folders of runs that are gone, in case their watchdog died too.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, threadId } from "node:worker_threads";

const pending = new Map<() => void, number | undefined>();
const groups = new Set<number>();
let groupListener: ((pid: number, alive: boolean) => void) | undefined;
let hooked = false;
let root: string | undefined;
let nextId = 1;

/** Run folders are named cowcheck-run-<pid>-<thread>-<random> in the system temp folder. */
const ROOT_PREFIX = "cowcheck-run-";

/** What this process must undo at its end, newest first: kill engine groups, then the registered undo work. */
function undoAll(): void {
  killAllGroups();
  for (const f of [...pending.keys()].reverse()) {
    pending.delete(f);
    try {
      f();
    } catch {
      // the rest must run even if one undo fails
    }
  }
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
}

function onSignal(signal: NodeJS.Signals): void {
  // someone else handles it (the CLI stops the engines gracefully, then exits): the exit hook runs then
  if (process.listenerCount(signal) > 1) return;
  undoAll();
  process.off(signal, onSignal);
  process.kill(process.pid, signal); // the default action, as if unheard
}

// Installed with the first thing to undo, so that importing cowcheck changes nothing about how the process dies.
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", undoAll);
  // signals reach the main thread only; a worker's resources go with the helpers and servers it started
  if (isMainThread) for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, onSignal);
}

/** The watchdog script, beside this module (as .mjs in the sources and in the build alike). */
const WATCHDOG = fileURLToPath(new URL("./watchdog.mjs", import.meta.url));

/**
 * This run's private folder (one per thread): what an engine creates on disk goes below it, so that whatever ends
 * the run, the folder and all below it go. Made on first use, with its watchdog.
 */
export function runRoot(): string {
  if (root) return root;
  sweepLeftovers();
  const dir = join(tmpdir(), `${ROOT_PREFIX}${process.pid}-${threadId}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { mode: 0o755 });
  root = dir;
  hook();
  const watchdog = spawn(process.execPath, [WATCHDOG, dir], {
    detached: true, // a session of its own: the terminal's Ctrl-C does not reach it
    stdio: ["pipe", "ignore", "ignore"],
  });
  watchdog.on("error", () => undefined); // without a watchdog, the next start's sweep is the last resort
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.(); // the pipe must not keep this process alive
  return dir;
}

/**
 * A private folder below this run's folder (`prefix` then random characters), removed by `remove`, and with the
 * run's folder however the run ends.
 */
export function runFolder(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(runRoot(), prefix));
  const forget = atProcessEnd(() => rmSync(path, { recursive: true, force: true }));
  return {
    path,
    remove: () => {
      forget();
      rmSync(path, { recursive: true, force: true });
    },
  };
}

function journal(entry: object): void {
  if (root && existsSync(root)) appendFileSync(join(root, "journal"), `${JSON.stringify(entry)}\n`);
}

/**
 * Run `undo` (synchronously) if the process ends before the returned function is called; that call forgets it.
 * `command` is the same undo as a command line (argv), for the watchdog to run if the process dies unseen.
 */
export function atProcessEnd(undo: () => void, command?: readonly string[]): () => void {
  hook();
  let id: number | undefined;
  if (command) {
    runRoot();
    id = nextId++;
    journal({ add: id, command });
  }
  pending.set(undo, id);
  return () => {
    if (!pending.has(undo)) return;
    pending.delete(undo);
    if (id !== undefined) journal({ remove: id });
  };
}

/** An engine process group this thread started (alive) or ended; the onEngineGroup listener hears of it too. */
export function trackGroup(pid: number, alive: boolean): void {
  adoptGroup(pid, alive);
  groupListener?.(pid, alive);
}

/** A group another thread started (alive) or ended: held here too, killed with this process. */
export function adoptGroup(pid: number, alive: boolean): void {
  if (alive) {
    hook();
    runRoot();
    groups.add(pid);
  } else groups.delete(pid);
  journal({ group: pid, alive });
}

/** Whether the group is held (started and not yet killed). */
export function isTracked(pid: number): boolean {
  return groups.has(pid);
}

/** Hear of every group this thread tracks from now on (a worker thread tells the main thread). */
export function onEngineGroup(listener: (pid: number, alive: boolean) => void): void {
  groupListener = listener;
}

export function killGroups(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
    groups.delete(pid);
    journal({ group: pid, alive: false });
  }
}

export function killAllGroups(): void {
  killGroups([...groups]);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Ask every engine group to stop (SIGTERM: an engine may put back what it changed, as the Linux agent restores
 * ksmd's knobs), and wait up to `graceMs` for them to go; what is left is killed at exit.
 */
export async function stopAllGroups(graceMs: number): Promise<void> {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      groups.delete(pid);
    }
  }
  const until = Date.now() + graceMs;
  while ([...groups].some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

const ownerAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Undo what runs that are gone left behind (their watchdog died with them): their engine groups, servers, mounts
 * and folders. Returns the folders swept.
 */
export function sweepLeftovers(): string[] {
  const swept: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return swept;
  }
  for (const name of names) {
    const m = new RegExp(`^${ROOT_PREFIX}(\\d+)-`).exec(name);
    if (!m || ownerAlive(Number(m[1]))) continue;
    const dir = join(tmpdir(), name);
    spawnSync(process.execPath, [WATCHDOG, dir, "--now"], { stdio: "ignore", timeout: 60_000 });
    swept.push(dir);
  }
  return swept;
}
