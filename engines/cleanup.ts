// Last-resort cleanup for real-system engines (mounts, servers): synchronous work that must run however the process
// ends — exit, SIGINT, SIGTERM. Handlers are installed only while something is registered, and a signal nobody else
// handles keeps its default action, so importing an engine never changes how the process dies.
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
