// Cleanup however the process ends. Real-system engines register synchronous undo work (unmount, stop a server);
// engine processes run in process groups of their own, killed when cowcheck exits.
import { isMainThread } from "node:worker_threads";

const pending = new Set<() => void>();
let on = false;

function runAll(): void {
  for (const f of [...pending]) {
    pending.delete(f);
    f();
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  setHandlers(false);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal); // the default action, as if unheard
}

// Handlers are installed only while something is registered, and a signal nobody else handles keeps its default
// action, so importing an engine never changes how the process dies.
function setHandlers(want: boolean): void {
  if (want === on) return;
  on = want;
  const f = on ? process.on.bind(process) : process.off.bind(process);
  f("exit", runAll);
  // signals reach the main thread only; a worker's resources go with the helpers and servers it started
  if (isMainThread) for (const s of ["SIGINT", "SIGTERM"] as const) f(s, onSignal);
}

/** Run `undo` (synchronously) if the process ends before the returned function is called; that call forgets it. */
export function atProcessEnd(undo: () => void): () => void {
  pending.add(undo);
  setHandlers(true);
  return () => {
    pending.delete(undo);
    setHandlers(pending.size > 0);
  };
}

/**
 * Process groups of engines still running, killed when cowcheck exits however it exits. A worker thread reports
 * its engines' groups to the main thread (onEngineGroup), which adopts them: a terminated worker runs no exit
 * handler of its own.
 */
const groups = new Set<number>();
let groupListener: ((pid: number, alive: boolean) => void) | undefined;
let exitHook = false;

function hold(pid: number, alive: boolean): void {
  if (alive) {
    groups.add(pid);
    if (!exitHook) {
      exitHook = true; // installed with the first group, so that importing cowcheck adds no listener
      process.on("exit", () => killAllGroups());
    }
  } else groups.delete(pid);
}

/** An engine process group this thread started (alive) or ended; the onEngineGroup listener hears of it too. */
export function trackGroup(pid: number, alive: boolean): void {
  hold(pid, alive);
  groupListener?.(pid, alive);
}

/** A group another thread started (alive) or ended: held here too, killed with this process. */
export function adoptGroup(pid: number, alive: boolean): void {
  hold(pid, alive);
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
  }
}

export function killAllGroups(): void {
  killGroups([...groups]);
}
