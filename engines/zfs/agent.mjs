// The zfs-fuse engine's agent (engines/zfs/index.ts): speaks cowcheck's JSON-lines protocol (docs/protocol.md) for the
// snapshot layer's zfs flavour, driving a private zfs-fuse daemon (Debian's zfs-fuse 0.7.0, pool version 23).
//
// Started as `exec unshare -m --propagation private node agent.mjs FOLDER`: everything it mounts (tmpfs over the
// daemon's fixed socket, cache and lock folders; the pool's FUSE mounts) lives in its own mount namespace and goes
// with it. The daemon runs under `setpriv --pdeathsig KILL`, so it dies with the agent even when only the agent is
// killed. In FOLDER the agent makes a folder of its own for the pool's image file and mountpoints, removed at exit.
//
// Trees: tree 0 is the dataset POOL/t0; a dataset, clone or received tree N is POOL/tN; a snapshot N of dataset X
// is POOL/tX@tN. Keys are files kN in a dataset's mountpoint, a value's blocks are blockSize bytes each filled
// with the block's value (recordsize 4k: a block is a record). A snapshot is read through a read-only clone of it
// (POOL/rN), made on its first read and destroyed before the snapshot is. ZFS itself decides EINVAL, EBUSY and
// EXDEV (its error messages are mapped); the agent's table decides ENOENT, EEXIST and EROFS (which tree ids exist
// and which are read-only is the agent's mapping).
//
// The rules it follows (measured on this zfs-fuse; docs/snapshot.md, "ZFS as a real engine"): a private daemon in a private mount
// namespace; pools with cachefile=none and atime=off; a mounted filesystem is unmounted before it is destroyed (and
// the destroy retried only on "dataset is busy"); a received dataset is received unmounted (recv -u) and mounted
// after; a commit is `zfs set` of a user property (sync and fsync do not close a txg).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

const POOL = "cowcheck";
const IMAGE_BYTES = 256 * 1024 * 1024;
const COMMAND_TIMEOUT_MS = 30_000;

function die(message) {
  process.stderr.write(`cowcheck zfs agent: ${message}\n`);
  cleanup();
  process.exit(2);
}

// ---- arguments, geometry, namespace

const folder = process.argv[2];
if (!folder) {
  process.stderr.write("usage: node agent.mjs FOLDER (started under unshare -m --propagation private)\n");
  process.exit(2);
}
let geometry = {};
try {
  geometry = JSON.parse(process.env.COWCHECK_GEOMETRY ?? "{}");
} catch {
  process.stderr.write("cowcheck zfs agent: COWCHECK_GEOMETRY is not JSON\n");
  process.exit(2);
}
if (geometry.flavour !== "zfs") {
  process.stderr.write(
    `cowcheck zfs agent: speaks the snapshot layer's zfs flavour only (geometry ${process.env.COWCHECK_GEOMETRY})\n`,
  );
  process.exit(2);
}
const BLOCK = geometry.blockSize ?? 4096;

/** Mounting over the daemon's fixed paths outside a private mount namespace would change the whole machine's. */
function privateNamespace() {
  try {
    const mine = fs.readlinkSync("/proc/self/ns/mnt");
    for (const other of [process.ppid, 1]) {
      try {
        if (fs.readlinkSync(`/proc/${other}/ns/mnt`) === mine) return false;
      } catch {
        // a parent we cannot read: not evidence either way
      }
    }
    return true;
  } catch {
    return false;
  }
}
if (!privateNamespace()) {
  process.stderr.write(
    "cowcheck zfs agent: not in a mount namespace of its own: start it as `unshare -m --propagation private node agent.mjs FOLDER`\n",
  );
  process.exit(2);
}

/**
 * The namespace began as a copy of the machine's mounts, other sessions' FUSE and loop-device mounts included. A
 * copy here keeps their filesystem alive after they unmount theirs (a FUSE daemon waiting for its unmount, a loop
 * device that stays busy) for as long as this agent lives: they are detached here (here only: every mount of this
 * namespace is private; one that is not is left alone). Mounts below the temporary folder go too, except those the
 * agent's own folder lies in.
 */
function detachForeignMounts() {
  const tmp = `${path.resolve(process.env.TMPDIR || "/tmp")}/`;
  const own = path.resolve(folder);
  const octal = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
  const foreign = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const fields = left.split(" ");
    const where = octal(fields[4]);
    const [fstype, source] = right.split(" ");
    if (fields.slice(6).some((f) => f.startsWith("shared:"))) continue;
    const ancestor = own === where || own.startsWith(`${where}/`) || where === "/";
    if (ancestor) continue;
    if (fstype.startsWith("fuse") || source.startsWith("/dev/loop") || where.startsWith(tmp)) foreign.push(where);
  }
  for (const where of foreign.sort((a, b) => b.length - a.length))
    spawnSync("umount", ["-l", where], { stdio: "ignore" });
}
detachForeignMounts();

fs.mkdirSync(folder, { recursive: true });
const dir = fs.mkdtempSync(path.join(folder, "agent-"));
const image = path.join(dir, "pool.img");
const mnt = path.join(dir, "mnt");
const streamFile = path.join(dir, "stream");
const daemonLog = path.join(dir, "daemon.log");

let daemon; // the zfs-fuse process
let daemonExit; // why it ended, once it has
let cleaned = false;

/** Kill the daemon, drop the pool's mounts (lazily: a dead daemon's mounts answer nothing), remove the folder. */
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (daemon && daemonExit === undefined) {
    try {
      process.kill(daemon.pid, "SIGKILL");
    } catch {
      // gone already
    }
    // wait (briefly) until it is gone, so that its mounts can be detached
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(daemon.pid, 0);
        const state = fs.readFileSync(`/proc/${daemon.pid}/stat`, "utf8").split(") ")[1]?.[0];
        if (state === "Z") break;
      } catch {
        break;
      }
      sleep(5);
    }
  }
  // (a dead FUSE mount's root answers stat with ENOTCONN: no existsSync here)
  const u = spawnSync("umount", ["-l", mnt], { encoding: "utf8" });
  if (u.status !== 0 && !/not mounted|no mount point|not found/.test(u.stderr ?? ""))
    process.stderr.write(`cowcheck zfs agent: umount -l ${mnt}: ${u.stderr}\n`);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    process.stderr.write(`cowcheck zfs agent: removing ${dir}: ${e.message}\n`);
  }
}

/** Kill the daemon and reap it (no zombie outlives the agent), then clean up and exit. */
async function shutdown(code) {
  if (daemon && daemonExit === undefined) {
    const exited = new Promise((resolve) => daemon.once("exit", resolve));
    try {
      process.kill(daemon.pid, "SIGKILL");
    } catch {
      // gone already
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 500))]);
  }
  cleanup();
  process.exit(code);
}

for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => shutdown(0));
process.on("exit", cleanup);

// ---- running zfs and zpool

class Unexpected extends Error {}
class Errno extends Error {
  constructor(errno) {
    super(errno);
    this.errno = errno;
  }
}
const fail = (errno) => {
  throw new Errno(errno);
};

function daemonTail() {
  try {
    const text = fs.readFileSync(daemonLog, "utf8").replace(/^detected: default_permissions\n/gm, "");
    return text.slice(-800).trim();
  } catch {
    return "";
  }
}

function checkDaemon() {
  if (daemonExit !== undefined)
    throw new Unexpected(`the zfs-fuse daemon ended (${daemonExit}); its log: ${daemonTail() || "(empty)"}`);
}

/** Run a command; {status, stdout, stderr}. */
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: COMMAND_TIMEOUT_MS, ...options });
  if (r.error) throw new Unexpected(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "").trim() };
}

/** A zfs/zpool command that must work. */
function must(cmd, ...args) {
  checkDaemon();
  const r = run(cmd, args);
  if (r.status !== 0) {
    checkDaemon();
    throw new Unexpected(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

/** A zfs command whose refusal may be an answer: undefined when it worked, its message when it did not. */
function attempt(...args) {
  checkDaemon();
  const r = run("zfs", args);
  if (r.status === 0) return undefined;
  checkDaemon();
  return r.stderr || `zfs ${args.join(" ")} exited ${r.status}`;
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const mounted = (where) => fs.readFileSync("/proc/self/mounts", "utf8").includes(` ${where} fuse`);

/**
 * Destroy a filesystem. A mounted one is refused "dataset is busy" until its FUSE unmount settles: it is unmounted
 * first and the destroy waits until it has left /proc/mounts (a refusal then mounts it again); "dataset is busy" is
 * still retried, bounded, and is the only message that is.
 */
function destroyFilesystem(name, where) {
  const wasMounted = where !== undefined && mounted(where);
  if (wasMounted) {
    const why = attempt("umount", name);
    if (why !== undefined) throw new Unexpected(`zfs umount ${name}: ${why}`);
    for (let i = 0; i < 200 && mounted(where); i++) sleep(2);
  }
  for (let i = 0; ; i++) {
    const why = attempt("destroy", name);
    if (why === undefined) return undefined;
    if (!/dataset is busy/.test(why) || i >= 100) {
      if (wasMounted) must("zfs", "mount", name);
      return why;
    }
    sleep(10);
  }
}

// ---- the pool

function startDaemon() {
  for (const d of ["/var/run/zfs", "/var/lib/zfs", "/run/lock/zfs"]) {
    fs.mkdirSync(d, { recursive: true });
    const r = run("mount", ["-t", "tmpfs", "-o", "mode=0755,size=1m", "cowcheck-zfs", d]);
    if (r.status !== 0) die(`mount -t tmpfs over ${d}: ${r.stderr}`);
  }
  const log = fs.openSync(daemonLog, "a");
  daemon = spawn(
    "setpriv",
    ["--pdeathsig", "KILL", "zfs-fuse", "--no-daemon", "--no-kstat-mount", "-a", "0", "-e", "0"],
    { stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  daemon.on("exit", (code, signal) => {
    daemonExit = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  daemon.on("error", (e) => {
    daemonExit = `could not start: ${e.message}`;
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = run("zpool", ["list", "-H"]);
    if (r.status === 0) return;
    // the exit event cannot run while this loop blocks: ask the kernel
    try {
      process.kill(daemon.pid, 0);
    } catch {
      die(`the zfs-fuse daemon exited at start; its log: ${daemonTail() || "(empty)"}`);
    }
    if (Date.now() > deadline) die(`the zfs-fuse daemon did not answer within 20 s: ${r.stderr}`);
    sleep(10);
  }
}

function createPool() {
  fs.rmSync(image, { force: true });
  fs.writeFileSync(image, "");
  fs.truncateSync(image, IMAGE_BYTES);
  fs.mkdirSync(mnt, { recursive: true });
  must(
    "zpool",
    "create",
    "-o",
    "cachefile=none",
    "-O",
    "atime=off",
    "-O",
    `recordsize=${BLOCK >= 512 && BLOCK <= 131072 && (BLOCK & (BLOCK - 1)) === 0 ? BLOCK : 4096}`,
    "-m",
    mnt,
    POOL,
    image,
  );
  must("zfs", "create", `${POOL}/t0`);
}

function destroyPool() {
  for (let i = 0; ; i++) {
    checkDaemon();
    const r = run("zpool", ["destroy", POOL]);
    if (r.status === 0) return;
    if (!/busy/.test(r.stderr) || i >= 100) throw new Unexpected(`zpool destroy ${POOL}: ${r.stderr}`);
    sleep(10);
  }
}

// ---- the table: tree id → ZFS name

/**
 * kind "dataset" (a dataset, clone or received tree: a filesystem) or "snapshot"; `of`: a snapshot's dataset;
 * `reader`: a snapshot's read-only clone, once made; `held`: the snapshot a received tree holds (its base, tree
 * `baseTree`), `copy`: its own copy of base (send, below); `readonly`: snapshots and received trees.
 */
let trees = new Map();
let commits = 0;

function resetTable() {
  trees = new Map([[0, { kind: "dataset", name: `${POOL}/t0`, readonly: false }]]);
}

const tree = (id) => trees.get(id) ?? fail("ENOENT");
function writable(id) {
  const t = tree(id);
  if (t.readonly) fail("EROFS");
  return t;
}
const fsName = (id) => `${POOL}/t${id}`;
const holdTag = (id) => `cowcheck-t${id}`;

/** The folder holding tree id's files: its mountpoint, or a snapshot's read-only clone's (made now if need be). */
function folderOf(id) {
  const t = tree(id);
  if (t.kind === "dataset") return path.join(mnt, `t${id}`);
  if (!t.reader) {
    const reader = `${POOL}/r${id}`;
    must("zfs", "clone", "-o", "readonly=on", t.name, reader);
    t.reader = reader;
  }
  return path.join(mnt, `r${id}`);
}

// ---- values as files

function encode(data) {
  const b = Buffer.alloc(data.length * BLOCK);
  data.forEach((v, i) => {
    b.fill(v, i * BLOCK, (i + 1) * BLOCK);
  });
  return b;
}

function decode(b, where) {
  if (b.length === 0 || b.length % BLOCK !== 0)
    throw new Unexpected(`${where} is ${b.length} bytes, not a whole number of ${BLOCK}-byte blocks`);
  const out = [];
  for (let i = 0; i < b.length; i += BLOCK) {
    const v = b[i];
    for (let j = i; j < i + BLOCK; j++)
      if (b[j] !== v) throw new Unexpected(`${where}: block ${i / BLOCK} is not all ${v} (byte ${j - i} is ${b[j]})`);
    out.push(v);
  }
  return out;
}

function readValue(file) {
  try {
    return decode(fs.readFileSync(file), file);
  } catch (e) {
    if (e.code === "ENOENT") return undefined;
    if (e instanceof Unexpected) throw e;
    throw new Unexpected(`reading ${file}: ${e.message}`);
  }
}

function writeFile(file, bytes) {
  try {
    fs.writeFileSync(file, bytes);
  } catch (e) {
    throw new Unexpected(`writing ${file}: ${e.message}`);
  }
}

// ---- ops, with the model's checks in its order (models/snapshot/model.ts)

function perform(op) {
  switch (op.op) {
    case "put": {
      writable(op.tree);
      writeFile(path.join(folderOf(op.tree), `k${op.key}`), encode(op.data));
      return { ok: true };
    }
    case "patch": {
      writable(op.tree);
      const file = path.join(folderOf(op.tree), `k${op.key}`);
      let fd;
      try {
        fd = fs.openSync(file, "r+");
      } catch (e) {
        if (e.code === "ENOENT") fail("NOTFOUND");
        throw new Unexpected(`opening ${file}: ${e.message}`);
      }
      try {
        const size = fs.fstatSync(fd).size;
        if (op.block >= Math.floor(size / BLOCK)) fail("EINVAL");
        fs.writeSync(fd, encode([op.value]), 0, BLOCK, op.block * BLOCK);
      } catch (e) {
        if (e instanceof Errno) throw e;
        throw new Unexpected(`patching ${file}: ${e.message}`);
      } finally {
        fs.closeSync(fd);
      }
      return { ok: true };
    }
    case "del": {
      writable(op.tree);
      const file = path.join(folderOf(op.tree), `k${op.key}`);
      try {
        fs.unlinkSync(file);
      } catch (e) {
        if (e.code === "ENOENT") fail("NOTFOUND");
        throw new Unexpected(`removing ${file}: ${e.message}`);
      }
      return { ok: true };
    }
    case "get": {
      tree(op.tree);
      const data = readValue(path.join(folderOf(op.tree), `k${op.key}`));
      return data ? { data } : fail("NOTFOUND");
    }
    case "scan": {
      tree(op.tree);
      const where = folderOf(op.tree);
      const keys = fs
        .readdirSync(where)
        .map((n) => {
          const m = /^k(\d+)$/.exec(n);
          if (!m) throw new Unexpected(`${where} holds ${n}, which is no key's file`);
          return Number(m[1]);
        })
        .sort((a, b) => a - b);
      const entries = [];
      for (const k of keys) {
        const data = readValue(path.join(where, `k${k}`));
        if (data) entries.push([k, data]);
      }
      return { entries };
    }
    case "commit":
      commit();
      return { ok: true };
    case "create": {
      if (trees.has(op.tree)) fail("EEXIST");
      must("zfs", "create", fsName(op.tree));
      trees.set(op.tree, { kind: "dataset", name: fsName(op.tree), readonly: false });
      return { ok: true };
    }
    case "drop":
      drop(op.tree);
      return { ok: true };
    case "snapshot":
    case "clone":
      snapshot(op.tree, op.as, op.op === "snapshot");
      return { ok: true };
    case "send":
      send(op.snap, op.base, op.as);
      return { ok: true };
    default:
      throw new Unexpected(`this agent does not run ${op.op} (features: reset)`);
  }
}

/** Close the open txg: `zfs set` of a user property syncs one (sync and fsync do not). */
function commit() {
  commits++;
  must("zfs", "set", `cowcheck:commit=${commits}`, POOL);
}

function drop(id) {
  const t = tree(id);
  if (id === 0) fail("EINVAL");
  if (t.kind === "snapshot") {
    // The agent's own read-only clone goes first: it is no clone the model knows of.
    if (t.reader) {
      const why = destroyFilesystem(t.reader, path.join(mnt, `r${id}`));
      if (why) throw new Unexpected(`destroying ${t.reader}, the read-only clone of ${t.name}: ${why}`);
      t.reader = undefined;
    }
    const why = attempt("destroy", t.name);
    if (why !== undefined) {
      if (/has dependent clones/.test(why)) fail("EBUSY");
      // A user hold (a received tree's base) refuses the destroy: EBUSY, ZFS's answer for a held snapshot.
      if (/dataset is busy/.test(why) && [...trees.values()].some((o) => o.held === t.name)) fail("EBUSY");
      throw new Unexpected(`zfs destroy ${t.name}: ${why}`);
    }
  } else {
    const where = path.join(mnt, `t${id}`);
    let why = destroyFilesystem(t.name, where);
    // A received tree's copy of its base is no snapshot the model knows of: it goes with the tree, unless the
    // tree has snapshots of its own (ZFS lists the dataset's snapshots).
    if (why !== undefined && /filesystem has children/.test(why) && t.copy) {
      const snapshots = must("zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-r", t.name).split("\n");
      if (snapshots.filter((n) => n !== "" && n !== t.copy).length === 0) {
        must("zfs", "destroy", t.copy);
        why = destroyFilesystem(t.name, where);
      }
    }
    if (why !== undefined) {
      if (/filesystem has children/.test(why)) fail("EBUSY");
      throw new Unexpected(`zfs destroy ${t.name}: ${why}`);
    }
    if (t.held) must("zfs", "release", holdTag(id), t.held);
  }
  trees.delete(id);
}

function snapshot(src, as, readonly) {
  const s = tree(src);
  if (trees.has(as)) fail("EEXIST");
  if (readonly) {
    // a snapshot of a snapshot names two '@': ZFS refuses it
    const name = `${s.name}@t${as}`;
    const why = attempt("snapshot", name);
    if (why !== undefined) {
      if (/multiple '@' delimiters|operation not applicable/.test(why)) fail("EINVAL");
      throw new Unexpected(`zfs snapshot ${name}: ${why}`);
    }
    trees.set(as, { kind: "snapshot", name, of: src, readonly: true });
  } else {
    const why = attempt("clone", s.name, fsName(as));
    if (why !== undefined) {
      if (/operation not applicable to datasets of this type|not a snapshot/.test(why)) fail("EINVAL");
      throw new Unexpected(`zfs clone ${s.name} ${fsName(as)}: ${why}`);
    }
    trees.set(as, { kind: "dataset", name: fsName(as), readonly: false });
  }
}

/** ZFS's refusals of a send, as the layer's errors; undefined for anything else. */
function sendRefusal(why) {
  if (/argument must be a snapshot/.test(why)) return "EINVAL";
  if (/internal error: Invalid argument/.test(why)) return "EINVAL";
  if (/not an earlier snapshot from the same fs|incremental source must be in same filesystem/.test(why))
    return "EXDEV";
  return undefined;
}

/**
 * `zfs send [-i base] snap` to a file (ZFS decides EINVAL and EXDEV there), then received as the new filesystem
 * POOL/t<as>, unmounted (recv -u), read-only, then mounted:
 * - full: received as a new filesystem, its received snapshot destroyed;
 * - from the origin of snap's dataset (a clone stream): received as a new clone of base, as the model's receive
 *   (whose tree starts as a clone of base), its received snapshot destroyed;
 * - from an earlier snapshot of snap's own dataset: ZFS receives such a stream only into a filesystem whose latest
 *   snapshot is base (not into a clone of base), so base is received first (full), then the stream. The received
 *   tree keeps its copy of base as the snapshot @base (the same guid: to ZFS it is base), from which its own
 *   snapshots are sent when a send names base (the model's received tree has base as its predecessor); and it holds
 *   base (`zfs hold`, as replication tools hold their next send's base): base cannot be destroyed while it lives.
 */
function send(snapId, baseId, as) {
  const snap = tree(snapId);
  const base = baseId === undefined ? undefined : tree(baseId);
  if (trees.has(as)) fail("EEXIST");
  const target = fsName(as);
  const toFile = (args) => {
    checkDaemon();
    const fd = fs.openSync(streamFile, "w");
    try {
      return run("zfs", ["send", ...args], { stdio: ["ignore", fd, "pipe"] });
    } finally {
      fs.closeSync(fd);
    }
  };
  const receive = (what) => {
    checkDaemon();
    const fd = fs.openSync(streamFile, "r");
    try {
      const r = run("zfs", ["recv", "-u", "-F", target], { stdio: [fd, "pipe", "pipe"] });
      if (r.status !== 0) throw new Unexpected(`zfs recv -u -F ${target} (${what}): ${r.stderr}`);
    } finally {
      fs.closeSync(fd);
    }
  };
  // A snapshot of a received tree, sent from that tree's base: from the tree's own copy of base.
  const dataset = snap.kind === "snapshot" ? trees.get(snap.of) : undefined;
  const from = base && dataset?.copy && dataset.baseTree === baseId ? dataset.copy : base?.name;
  const r = toFile(from ? ["-i", from, snap.name] : [snap.name]);
  if (r.status !== 0) {
    checkDaemon();
    const errno = sendRefusal(r.stderr);
    if (errno) fail(errno);
    throw new Unexpected(`zfs send ${from ? `-i ${from} ` : ""}${snap.name}: ${r.stderr}`);
  }
  const sameDataset = from !== undefined && from.split("@")[0] === snap.name.split("@")[0];
  const record = { kind: "dataset", name: target, readonly: true };
  if (sameDataset) {
    // base first, as a full stream, then the incremental one into it
    const incremental = fs.readFileSync(streamFile);
    const full = toFile([from]);
    if (full.status !== 0) throw new Unexpected(`zfs send ${from}: ${full.stderr}`);
    receive(`base ${from}`);
    fs.writeFileSync(streamFile, incremental);
    receive(`from ${from} to ${snap.name}`);
    must("zfs", "destroy", `${target}@${snap.name.split("@")[1]}`);
    const copy = `${target}@base`;
    const received = `${target}@${from.split("@")[1]}`;
    if (received !== copy) must("zfs", "rename", received, copy);
    must("zfs", "hold", holdTag(as), base.name);
    Object.assign(record, { held: base.name, copy, baseTree: baseId });
  } else {
    receive(from ? `from ${from} (the origin) to ${snap.name}` : `${snap.name}, full`);
    must("zfs", "destroy", `${target}@${snap.name.split("@")[1]}`);
  }
  fs.rmSync(streamFile, { force: true });
  must("zfs", "set", "readonly=on", target);
  must("zfs", "mount", target);
  trees.set(as, record);
}

// ---- the protocol

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function handle(request) {
  const id = request.id;
  try {
    if (request.op) {
      try {
        reply({ id, ok: true, obs: perform(request.op) });
      } catch (e) {
        if (e instanceof Errno) reply({ id, ok: true, obs: { error: e.errno } });
        else throw e;
      }
    } else if (request.reset) {
      destroyPool();
      createPool();
      resetTable();
      reply({ id, ok: true });
    } else if (request.inspect !== undefined) {
      reply({
        id,
        ok: false,
        error: { message: "this agent offers no inspect and no views: ZFS's blocks are not the model's nodes" },
      });
    } else
      reply({
        id,
        ok: false,
        error: { message: `a request this agent does not understand: ${JSON.stringify(request)}` },
      });
  } catch (e) {
    const message = e instanceof Unexpected ? e.message : `${e?.stack ?? e}`;
    reply({ id, ok: false, error: { message } });
  }
}

startDaemon();
try {
  createPool();
} catch (e) {
  die(e.message);
}
resetTable();
reply({ hello: { protocol: 1, layer: "snapshot", name: "zfs-fuse", features: ["reset"] } });

const lines = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of lines) {
  if (!line.trim()) continue;
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    reply({ id: -1, ok: false, error: { message: `not JSON: ${line.slice(0, 200)}` } });
    continue;
  }
  if (request.bye) break;
  handle(request);
}
await shutdown(0);
