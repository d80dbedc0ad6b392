// The watchdog of one cowcheck run (core/cleanup.ts starts it with the run's folder, in a session of its own). It
// reads a pipe from the run: when the pipe closes, the run is gone, however it ended (SIGKILL included). Then it
// undoes what the run's journal still lists: it stops the engine process groups (SIGTERM, and SIGKILL after a grace
// period), runs the undo commands newest first (stop a server, unmount), and removes the run's folder.
// Usage: node watchdog.mjs FOLDER [--now]   (--now: the run is already gone; sweep at once)
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const [root, now] = process.argv.slice(2);
if (!root) process.exit(2);

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const alive = (pid) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

function sweep() {
  let lines = [];
  try {
    lines = readFileSync(join(root, "journal"), "utf8").split("\n").filter(Boolean);
  } catch {
    // no journal: nothing but the folder
  }
  const groups = new Set();
  const commands = new Map();
  for (const line of lines) {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a line cut short by the run's end
    }
    if (typeof e.group === "number") {
      if (e.alive) groups.add(e.group);
      else groups.delete(e.group);
    } else if (typeof e.add === "number" && Array.isArray(e.command)) commands.set(e.add, e.command);
    else if (typeof e.remove === "number") commands.delete(e.remove);
  }
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      groups.delete(pid);
    }
  }
  for (let waited = 0; waited < 2000 && [...groups].some(alive); waited += 20) sleep(20);
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const command of [...commands.values()].reverse()) {
    spawnSync(command[0], command.slice(1), { stdio: "ignore", timeout: 30_000 });
  }
  rmSync(root, { recursive: true, force: true });
  process.exit(0);
}

if (now) sweep();
else {
  process.stdin.on("data", () => undefined);
  process.stdin.on("end", sweep);
  process.stdin.on("error", sweep);
  process.stdin.on("close", sweep);
}
