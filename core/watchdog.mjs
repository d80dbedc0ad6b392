// The watchdog of one cowcheck run (core/cleanup.ts starts it with the run's folder, in a session of its own). It
// reads a pipe from the run: when the pipe closes, the run is gone, however it ended (SIGKILL included). Then it
// undoes what the run's journal still lists: it stops the engine process groups (SIGTERM, and SIGKILL after a grace
// period), runs the undo commands newest first (stop a server, unmount), and removes the run's folder.
// A run killed between doing something and writing it down (a mount made, its journal line not yet written) leaves
// what the journal does not list; so the folder itself says what is left: whatever is mounted below it, loop devices
// over files below it and processes whose command line names it go too.
// Usage: node watchdog.mjs FOLDER [--now]   (--now: the run is already gone; sweep at once)
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const [root, now] = process.argv.slice(2);
if (!root) process.exit(2);

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const alive = (pid) => exists(-pid);

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
  for (const command of [...commands.values()].reverse()) run(command);
  sweepBelow();
  try {
    rmSync(root, { recursive: true, force: true });
  } catch {
    // something below is still busy: the next cowcheck's sweep tries again
  }
  process.exit(0);
}

const run = (argv) => spawnSync(argv[0], argv.slice(1), { stdio: "ignore", timeout: 30_000 }).status === 0;
const below = (path) => path.startsWith(`${root}/`);
// mountinfo escapes space, tab, newline and backslash as \ooo; losetup --raw escapes as \xHH
const unescaped = (s) =>
  s
    .replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)))
    .replace(/\\x([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(Number.parseInt(h, 16)));

/** What the journal did not list: loop devices over files below the folder, mounts (newest first), processes. */
function sweepBelow() {
  // loop devices first: one in use is only marked to go when unmounted, and once the mount its file lies in has gone
  // its file no longer names the folder
  const loops = spawnSync("losetup", ["--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  for (const line of (loops.stdout ?? "").split("\n")) {
    const [device, file] = line.split(" ");
    if (device && file && below(unescaped(file))) run(["losetup", "-d", device]);
  }
  let mounts = [];
  try {
    mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => unescaped(line.split(" ")[4] ?? ""))
      .filter(below);
  } catch {
    // no /proc: nothing to find
  }
  for (const mnt of mounts.reverse()) run(["umount", mnt]) || run(["umount", "-l", mnt]);
  const named = [];
  for (const pid of readdirOr("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)) {
    if (pid === process.pid) continue;
    let cmdline;
    let stat;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone
    }
    if (!cmdline.includes(root) || cmdline.includes("watchdog.mjs")) continue;
    const group = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]); // pgrp
    named.push(group === pid ? -pid : pid); // a group leader (a server, a helper) goes with its group
  }
  for (const target of named) signal(target, "SIGTERM");
  for (let waited = 0; waited < 2000 && named.some(exists); waited += 20) sleep(20);
  for (const target of named) signal(target, "SIGKILL");
}

const readdirOr = (dir) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};
const signal = (target, name) => {
  try {
    process.kill(target, name);
  } catch {
    // gone
  }
};
const exists = (target) => {
  try {
    process.kill(target, 0);
    return true;
  } catch {
    return false;
  }
};

if (now) sweep();
else {
  process.stdin.on("data", () => undefined);
  process.stdin.on("end", sweep);
  process.stdin.on("error", sweep);
  process.stdin.on("close", sweep);
}
