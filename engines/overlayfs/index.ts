// A real OverlayFS mount of the running kernel as an overlay engine. Each engine owns a private tmpfs mounted on a
// fresh directory in the run's folder (runRoot): image layers (layers/N), and per container its upper and work directories
// (cC/uK, cC/wK) and its mount point (cC/m). The ops on a container's files, and what node:fs lacks (mount, umount2,
// mknod, renameat2, *xattr, truncate(2), the raw dump of an upper directory), go to engines/overlayfs/helper.c,
// which runs each op on a container with its mount as the root directory (symlinks resolve inside it). The helper is
// compiled on first use into a cache folder like the Linux agent: one long-lived process per engine speaking a line
// protocol. Nothing stays mounted: close() unmounts, and so do process exit, SIGINT and
// SIGTERM, and the helper itself when its parent goes away (end of its input).
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  constants as fsConstants,
  lchownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import type { Socket } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  atProcessEnd,
  type Engine,
  type EngineFactory,
  EngineFailure,
  runRoot,
  type SystemEngine,
} from "../../core/index.ts";
import {
  ERRNOS,
  type Errno,
  type LayerEntry,
  type MountOptions,
  type OpenFlag,
  OVERLAY_FEATURES,
  type OverlayObs,
  type OverlayOp,
  type RawEntry,
  type Stat,
  type UpperView,
} from "../../models/overlay/types.ts";
import { compiled } from "../build.ts";
import { probedOnce } from "../optional.ts";

const source = fileURLToPath(new URL("./helper.c", import.meta.url));
const FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"];
const PREFIX = "cowcheck-overlayfs-";

/**
 * The fs.protected_* sysctls the model's permission rules assume (the kernel's defaults): links in sticky
 * world-writable directories followed and files there opened as anywhere else, hard links refused to a non-owner
 * who may not read and write the file. They are machine-wide, so `credentials` is offered only where they hold.
 */
const PROTECTED = { protected_symlinks: "0", protected_regular: "0", protected_fifos: "0", protected_hardlinks: "1" };

/** Why ops as other users cannot be compared here, or undefined. */
function credentialsMissing(): string | undefined {
  for (const [knob, want] of Object.entries(PROTECTED)) {
    let have: string;
    try {
      have = readFileSync(`/proc/sys/fs/${knob}`, "utf8").trim();
    } catch {
      continue; // a kernel without the knob behaves as its default
    }
    if (have !== want) return `fs.${knob} is ${have}; the model assumes ${want}`;
  }
  return undefined;
}

/** Why this machine's kernel cannot be compared with ops as other users (fs.protected_*), or undefined. */
export const credentialsWhy = credentialsMissing();
export const overlayfsFeatures: readonly string[] = [
  ...OVERLAY_FEATURES.filter((f) => f !== "credentials" || !credentialsWhy),
  "upper",
];

// ---- can it run here?

/** Why a real OverlayFS mount cannot be an engine here (to follow "it "), or undefined if it can. Probed once. */
export const overlayfsUnavailable = probedOnce(() => probeUnavailable());

function probeUnavailable(): string | undefined {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "needs root (mount(2) and the trusted.overlay.* xattrs need CAP_SYS_ADMIN)";
  if (spawnSync("cc", ["--version"], { stdio: "ignore" }).status !== 0)
    return "needs a C compiler (cc) to build its helper";
  if (!hasOverlay()) {
    spawnSync("modprobe", ["overlay"], { stdio: "ignore" });
    if (!hasOverlay())
      return "needs the overlay filesystem (not in /proc/filesystems, and modprobe overlay did not load it)";
  }
  let binary: string;
  try {
    binary = overlayfsHelper();
  } catch (e) {
    return `cannot build its helper (${(e as Error).message})`;
  }
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), `${PREFIX}probe-`));
  } catch (e) {
    return `cannot make a directory under ${tmpdir()} (${(e as Error).message})`;
  }
  try {
    const r = spawnSync(binary, ["probe", dir], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0)
      return (
        r.stdout ||
        `${r.stderr ?? ""}${r.error ?? ""}` ||
        `its probe exited with ${r.status ?? r.signal}`
      ).trim();
    return undefined;
  } finally {
    try {
      rmdirSync(dir);
    } catch {
      // still mounted (the probe failed to unmount): leave it rather than remove what is on it
    }
  }
}

function hasOverlay(): boolean {
  try {
    return /\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8"));
  } catch {
    return false;
  }
}

/** The helper binary, compiled if this source has not been compiled yet. Concurrent callers each rename into place. */
export function overlayfsHelper(): string {
  return compiled({ source, prefix: "overlayfs-helper-", flags: FLAGS, what: "the OverlayFS helper" });
}

/** How the resolver makes an engine per sequence ("overlay:overlayfs"). */
export function overlayfsFactory(): EngineFactory {
  let binary: string | undefined;
  return {
    name: "overlay:overlayfs",
    create: () => {
      binary ??= overlayfsHelper();
      return OverlayfsEngine.start(binary);
    },
  };
}

// ---- errors

/** An errno from the helper, shaped like node's own errors (a `code`). */
class SysError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name);

const isErrno = (code: unknown): code is Errno => (ERRNOS as readonly unknown[]).includes(code);

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof EngineFailure || typeof code !== "string" ? undefined : code;
}

// ---- the helper process

type Reply =
  | { ok: true }
  | { errno: number }
  | { fail: string }
  | { xattrs: Record<string, string> }
  | { dump: unknown[][] }
  | { data: string }
  | { names: string[] }
  | { target: string }
  | { lstat: Answers["lstat"] };
type Answers = {
  xattrs: Record<string, string>;
  data: string;
  names: string[];
  target: string;
  lstat: {
    type: "dir" | "file" | "symlink" | "other";
    mode: number;
    size: number;
    nlink: number;
    ino: number;
    uid: number;
    gid: number;
  };
};

/** The part of a reply a request must answer with. */
function reply<K extends keyof Answers>(r: Reply, key: K): Answers[K] {
  if (!(key in r))
    throw new EngineFailure("protocol", `the OverlayFS helper answered without "${key}"`, JSON.stringify(r));
  return (r as unknown as Answers)[key];
}

class Helper {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private buffer = "";
  private stderr = "";
  private gone: string | undefined;

  constructor(binary: string) {
    this.child = spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("latin1");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => this.onData(chunk));
    this.child.stderr.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.child.stdin.on("error", () => undefined); // a dead helper is reported by "exit"
    this.child.on("error", (e) => this.onGone(`could not run the OverlayFS helper: ${e.message}`));
    this.child.on("exit", (code, signal) => this.onGone(`the OverlayFS helper exited (${signal ?? `status ${code}`})`));
    this.idle();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.gone === undefined;
  }

  /** One request: the command and its arguments (sent as hex). */
  request(command: string, ...args: (string | number)[]): Promise<Reply> {
    if (this.gone) return Promise.reject(new EngineFailure("crash", this.gone, this.stderr));
    const line = [command, ...args.map((a) => Buffer.from(String(a), "latin1").toString("hex"))].join(" ");
    this.busy();
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${line}\n`);
    });
  }

  /** A request that must succeed or fail with an errno (thrown as a SysError). */
  async call(command: string, ...args: (string | number)[]): Promise<Reply> {
    const r = await this.request(command, ...args);
    if ("errno" in r) throw new SysError(errnoNames.get(r.errno) ?? `errno ${r.errno}`);
    if ("fail" in r) throw new EngineFailure("protocol", `the OverlayFS helper refused "${command}": ${r.fail}`);
    return r;
  }

  /** End its input: it exits (unmounting its tmpfs if still mounted). */
  async end(): Promise<void> {
    if (this.gone) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.busy();
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGTERM"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** At exit or on a signal: it unmounts its tmpfs lazily and exits. */
  terminate(): void {
    if (!this.gone) this.child.kill("SIGTERM");
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const waiter = this.pending.shift();
      if (!waiter) continue;
      try {
        waiter.resolve(JSON.parse(line) as Reply);
      } catch {
        waiter.reject(
          new EngineFailure("protocol", "the OverlayFS helper answered a line that is not JSON", line.slice(0, 500)),
        );
      }
    }
    if (this.pending.length === 0) this.idle();
  }

  private onGone(why: string): void {
    this.gone ??= why;
    for (const w of this.pending.splice(0)) w.reject(new EngineFailure("crash", why, this.stderr));
  }

  // The helper keeps the event loop alive only while a request waits: an engine nobody closed does not keep the
  // process running (its exit handler unmounts).
  private busy(): void {
    this.child.ref();
    (this.child.stdout as unknown as Socket).ref();
  }

  private idle(): void {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as Socket).unref?.();
  }
}

// ---- the engine

interface Container {
  readonly layers: readonly number[];
  readonly options: MountOptions;
  /** Relative to the engine's root. */
  readonly upper: string;
  readonly work: string;
}

const RENAME_FLAGS = { noreplace: 1, exchange: 2 } as const;
const ACCESS_BITS = { rdonly: fsConstants.O_RDONLY, wronly: fsConstants.O_WRONLY, rdwr: fsConstants.O_RDWR } as const;
const OPEN_FLAG_BITS: Record<OpenFlag, number> = {
  creat: fsConstants.O_CREAT,
  excl: fsConstants.O_EXCL,
  trunc: fsConstants.O_TRUNC,
  append: fsConstants.O_APPEND,
  directory: fsConstants.O_DIRECTORY,
  nofollow: fsConstants.O_NOFOLLOW,
};

export class OverlayfsEngine implements Engine<OverlayOp, OverlayObs> {
  readonly layer = "overlay" as const;
  readonly features: ReadonlySet<string> = new Set(overlayfsFeatures);
  private readonly containers = new Map<number, Container>();
  private layerCount = 0;
  /** st_ino values in the order the sequence first saw them (`ino`). */
  private readonly inos = new Map<number, number>();
  private serial = 0;
  private closed = false;

  /** Drops the last-resort cleanup once close() has done it. */
  private forget: () => void = () => undefined;

  private constructor(
    /** The private tmpfs: absolute; the helper's working directory. */
    readonly root: string,
    private readonly helper: Helper,
  ) {}

  /** A fresh engine: a new directory with a private tmpfs on it. */
  static async start(binary: string): Promise<OverlayfsEngine> {
    const root = mkdtempSync(join(runRoot(), "overlayfs-"));
    const helper = new Helper(binary);
    const engine = new OverlayfsEngine(root, helper);
    // if this process dies unseen, its watchdog unmounts the tmpfs (core/cleanup.ts)
    engine.forget = atProcessEnd(() => engine.abandon(), ["umount", "-l", root]);
    try {
      await helper.call("root", root);
      mkdirSync(join(root, "layers"));
    } catch (e) {
      await engine.close().catch(() => undefined);
      if (e instanceof EngineFailure) throw e;
      throw new EngineFailure("start", `cannot mount a tmpfs on ${root}: ${codeOf(e) ?? (e as Error).message}`);
    }
    return engine;
  }

  async apply(op: OverlayOp): Promise<OverlayObs> {
    if (this.closed) throw new EngineFailure("error", "the OverlayFS engine is closed");
    try {
      return await this.perform(op);
    } catch (e) {
      const code = codeOf(e);
      if (isErrno(code)) return { error: code };
      if (e instanceof EngineFailure) throw e;
      throw new EngineFailure(
        "error",
        `${op.op}: ${code ?? (e as Error).message} (not an errno the overlay layer knows)`,
        (e as Error).stack,
      );
    }
  }

  async inspectView(name: string): Promise<UpperView> {
    if (name !== "upper")
      throw new EngineFailure("error", `the OverlayFS engine has no view "${name}" (it has "upper")`);
    const cs = [...this.containers.entries()].sort(([a], [b]) => a - b);
    const view: UpperView = {};
    if (cs.length === 0) return view;
    const r = await this.helper.call("dump", ...cs.map(([, c]) => c.upper));
    if (!("dump" in r) || r.dump.length !== cs.length)
      throw new EngineFailure("protocol", "the OverlayFS helper answered a dump of the wrong shape");
    cs.forEach(([n, c], i) => {
      view[String(n)] = r.dump[i]!.map((e) => rawEntry(e, c.upper)).sort((a, b) =>
        a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
      );
    });
    return view;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let problem: string | undefined;
    try {
      if (this.helper.alive) {
        for (const c of this.containers.keys())
          await this.helper.call("umount", this.mountPoint(c)).catch((e) => {
            problem ??= `umount c${c}: ${codeOf(e) ?? e}`;
          });
        this.containers.clear();
        await this.helper.call("unroot").catch((e) => {
          problem ??= `unmount the tmpfs: ${codeOf(e) ?? e}`;
        });
      }
    } finally {
      await this.helper.end().catch(() => undefined);
      this.forget();
      if (mounted(this.root)) lazyUnmount(this.root);
      removeRoot(this.root);
    }
    if (mounted(this.root))
      throw new EngineFailure("error", `could not unmount ${this.root}${problem ? ` (${problem})` : ""}`);
  }

  /** Synchronous last resort at exit or on a signal: detach the whole tree, remove the directory. */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.helper.terminate();
    lazyUnmount(this.root);
    removeRoot(this.root);
  }

  // ---- ops

  private async perform(op: OverlayOp): Promise<OverlayObs> {
    switch (op.op) {
      case "layer":
        return this.buildLayer(op.entries);
      case "mount":
        if (this.containers.has(op.c)) return { error: "EBUSY" };
        if (op.layers.some((l) => l < 1 || l > this.layerCount)) return { error: "EINVAL" };
        return this.mount(op.c, op.layers, { redirectDir: op.redirectDir, index: op.index, metacopy: op.metacopy });
      case "umount": {
        const c = this.containers.get(op.c);
        if (!c) return { error: "EINVAL" };
        await this.unmount(op.c);
        this.drop(c);
        return { ok: true };
      }
      case "remount": {
        const c = this.containers.get(op.c);
        if (!c) return { error: "EINVAL" };
        await this.unmount(op.c);
        try {
          await this.helper.call("mount", this.mountPoint(op.c), mountData(c));
        } catch (e) {
          throw new EngineFailure("error", `remount c${op.c}: ${codeOf(e) ?? (e as Error).message}`);
        }
        this.containers.set(op.c, c);
        return { ok: true };
      }
      case "commit": {
        const c = this.containers.get(op.c);
        if (!c) return { error: "EINVAL" };
        await this.unmount(op.c);
        const id = ++this.layerCount;
        renameSync(this.abs(c.upper), this.abs(`layers/${id}`));
        rmSync(this.abs(c.work), { recursive: true, force: true });
        const obs = await this.mount(op.c, [id, ...c.layers], c.options);
        if ("error" in obs)
          throw new EngineFailure(
            "error",
            `commit: remounting c${op.c} on layers ${[id, ...c.layers].join(", ")} failed (${obs.error})`,
          );
        return { layer: id };
      }
      default:
        break;
    }
    if (!this.containers.has(op.c)) return { error: "EINVAL" };
    // every path op runs with the mount as its root directory: a symlink's ".." stops there, as the model says
    const who = op as { uid?: number; gid?: number };
    const at = (command: string, ...args: (string | number)[]) =>
      this.helper.call("in", this.mountPoint(op.c), who.uid ?? 0, who.gid ?? 0, command, ...args);
    switch (op.op) {
      case "mkdir":
      case "create":
        await at(op.op, op.path, op.mode);
        break;
      case "write":
        await at("write", op.path, op.at, op.data);
        break;
      case "append":
        await at("append", op.path, op.data);
        break;
      case "open": {
        const flags = (op.flags ?? []).reduce((f, x) => f | OPEN_FLAG_BITS[x], ACCESS_BITS[op.access]);
        const r = await at(
          "open",
          op.path,
          flags,
          op.mode ?? 0o644,
          op.write === undefined ? 0 : 1,
          op.write ?? "",
          op.read ? 1 : 0,
        );
        return "data" in r ? { data: r.data } : { ok: true };
      }
      case "truncate":
        await at("truncate", op.path, op.size);
        break;
      case "unlink":
      case "rmdir":
        await at(op.op, op.path);
        break;
      case "rename":
        await at("rename", op.from, op.to, op.flags ? RENAME_FLAGS[op.flags] : 0);
        break;
      case "link":
        await at("link", op.from, op.to);
        break;
      case "symlink":
        await at("symlink", op.target, op.path);
        break;
      case "chmod":
        await at("chmod", op.path, op.mode);
        break;
      case "setxattr":
        await at("setxattr", op.path, op.name, op.value, 1);
        break;
      case "readlink":
        return { target: reply(await at("readlink", op.path), "target") };
      case "read":
        return { data: reply(await at("read", op.path), "data") };
      case "readdir":
        return { names: reply(await at("readdir", op.path || "."), "names").sort() };
      case "stat": {
        // lstat as the op's user; the xattrs as root (reading user.* would need read permission: stat observes them)
        const asRoot = (command: string, ...args: (string | number)[]) =>
          this.helper.call("in", this.mountPoint(op.c), 0, 0, command, ...args);
        return { stat: await this.stat(at, asRoot, op.path || ".") };
      }
      case "ino": {
        // every layer is on the engine's one tmpfs, whose inode numbers are never reused while it is mounted
        const ino = reply(await at("lstat", op.path || "."), "lstat").ino;
        if (!this.inos.has(ino)) this.inos.set(ino, this.inos.size);
        return { ino: this.inos.get(ino)! };
      }
    }
    return { ok: true };
  }

  private async stat(
    at: (command: string, ...args: (string | number)[]) => Promise<Reply>,
    asRoot: (command: string, ...args: (string | number)[]) => Promise<Reply>,
    path: string,
  ): Promise<Stat> {
    const st = reply(await at("lstat", path), "lstat");
    const mode = st.mode & 0o7777;
    const owner = st.uid || st.gid ? { uid: st.uid, gid: st.gid } : {};
    if (st.type === "symlink") return { type: "symlink", mode, size: st.size, ...owner }; // nlink: regular files only
    if (st.type === "other")
      throw new EngineFailure(
        "error",
        `stat ${path}: neither a file, a directory nor a symlink (mode ${st.mode.toString(8)})`,
      );
    const x = reply(await asRoot("xattrs", path), "xattrs");
    const xattrs = Object.keys(x).length > 0 ? { xattrs: sortedKeys(x) } : {};
    if (st.type === "dir") return { type: "dir", mode, ...xattrs, ...owner };
    return { type: "file", mode, size: st.size, nlink: st.nlink, ...xattrs, ...owner };
  }

  /** All or nothing: EINVAL for a name used twice, a missing parent directory, a link to anything but a file. */
  private async buildLayer(entries: readonly LayerEntry[]): Promise<OverlayObs> {
    const kinds = new Map<string, "dir" | "file" | "other">();
    for (const e of entries) {
      const slash = e.path.lastIndexOf("/");
      if (kinds.has(e.path) || (slash >= 0 && kinds.get(e.path.slice(0, slash)) !== "dir")) return { error: "EINVAL" };
      if (e.type === "link" && kinds.get(e.to) !== "file") return { error: "EINVAL" };
      kinds.set(e.path, e.type === "dir" ? "dir" : e.type === "file" || e.type === "link" ? "file" : "other");
    }
    const id = this.layerCount + 1;
    const dir = `layers/${id}`;
    mkdirSync(this.abs(dir));
    chmodSync(this.abs(dir), 0o755);
    try {
      for (const e of entries) {
        const at = this.abs(`${dir}/${e.path}`);
        switch (e.type) {
          case "dir":
            mkdirSync(at);
            lchownSync(at, e.uid ?? 0, e.gid ?? 0); // before chmod: chown clears set-id bits
            chmodSync(at, e.mode ?? 0o755);
            if (e.opaque) await this.helper.call("setxattr", `${dir}/${e.path}`, "trusted.overlay.opaque", "y", 0);
            break;
          case "file":
            writeFileSync(at, Buffer.from(e.data, "latin1"), { flag: "wx" });
            lchownSync(at, e.uid ?? 0, e.gid ?? 0);
            chmodSync(at, e.mode ?? 0o644);
            break;
          case "symlink":
            symlinkSync(e.target, at);
            lchownSync(at, e.uid ?? 0, e.gid ?? 0);
            break;
          case "whiteout":
            await this.helper.call("mknod", `${dir}/${e.path}`);
            break;
          case "link":
            linkSync(this.abs(`${dir}/${e.to}`), at);
            break;
        }
      }
    } catch (e) {
      rmSync(this.abs(dir), { recursive: true, force: true });
      if (e instanceof EngineFailure) throw e;
      throw new EngineFailure(
        "error",
        `layer: building ${dir} failed (${codeOf(e) ?? (e as Error).message}) though its entries are valid`,
      );
    }
    this.layerCount = id;
    return { layer: id };
  }

  private async mount(n: number, layers: readonly number[], options: MountOptions): Promise<OverlayObs> {
    const k = ++this.serial;
    const c: Container = { layers: [...layers], options: { ...options }, upper: `c${n}/u${k}`, work: `c${n}/w${k}` };
    mkdirSync(this.abs(`c${n}`), { recursive: true });
    for (const d of [c.upper, c.work]) {
      mkdirSync(this.abs(d));
      chmodSync(this.abs(d), 0o755);
    }
    if (!existsSync(this.abs(this.mountPoint(n)))) mkdirSync(this.abs(this.mountPoint(n)));
    const data = mountData(c);
    try {
      await this.helper.call("mount", this.mountPoint(n), data);
    } catch (e) {
      this.drop(c);
      // EINVAL: conflicting options (metacopy=on,redirect_dir=off); ELOOP: a lower dir named twice ("conflicting
      // lowerdir path"), which the layer's contract calls EINVAL
      if (codeOf(e) === "EINVAL" || codeOf(e) === "ELOOP") return { error: "EINVAL" };
      throw new EngineFailure("error", `mount -t overlay -o ${data}: ${codeOf(e) ?? (e as Error).message}`);
    }
    this.containers.set(n, c);
    return { ok: true };
  }

  private async unmount(n: number): Promise<void> {
    this.containers.delete(n);
    try {
      await this.helper.call("umount", this.mountPoint(n));
    } catch (e) {
      throw new EngineFailure("error", `umount c${n}: ${codeOf(e) ?? (e as Error).message}`);
    }
  }

  /** Remove a container's upper and work directories (not mounted). */
  private drop(c: Container): void {
    for (const d of [c.upper, c.work]) rmSync(this.abs(d), { recursive: true, force: true });
  }

  private mountPoint(n: number): string {
    return `c${n}/m`;
  }

  private abs(rel: string): string {
    return `${this.root}/${rel}`;
  }
}

/** The overlay mount options of a container, its directories relative to the helper's directory (the tmpfs). */
function mountData(c: Container): string {
  const on = (b: boolean): string => (b ? "on" : "off");
  return [
    `lowerdir=${c.layers.map((l) => `layers/${l}`).join(":")}`,
    `upperdir=${c.upper}`,
    `workdir=${c.work}`,
    `redirect_dir=${on(c.options.redirectDir)}`,
    `index=${on(c.options.index)}`,
    `metacopy=${on(c.options.metacopy)}`,
  ].join(",");
}

/** A helper's dump entry as the layer's RawEntry: its keys in one order, nothing the contract leaves out. */
function rawEntry(json: unknown, upper: string): RawEntry {
  const e = json as Record<string, unknown>;
  if (typeof e.fail === "string")
    throw new EngineFailure("error", `cannot read the upper directory ${upper}: ${e.fail}`);
  const type = e.type as RawEntry["type"] | "other";
  if (type === "other")
    throw new EngineFailure(
      "error",
      `the upper directory ${upper} holds ${String(e.path)}, neither a file, a directory, a symlink nor a whiteout`,
    );
  if (e.data === null) throw new EngineFailure("error", `cannot read ${upper}/${String(e.path)}`);
  const r: { -readonly [K in keyof RawEntry]: RawEntry[K] } = { path: e.path as string, type };
  const keys = ["mode", "uid", "gid", "data", "size", "target", "xattrs", "opaque", "redirect", "origin", "metacopy"];
  for (const k of keys as (keyof RawEntry)[]) {
    if (e[k] !== undefined)
      (r as Record<string, unknown>)[k] = k === "xattrs" ? sortedKeys(e[k] as Record<string, string>) : e[k];
  }
  return r;
}

/** xattrs by name (the order listxattr gives is the filesystem's). */
function sortedKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function mounted(dir: string): boolean {
  try {
    return readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .some(
        (l) =>
          unescapeMount(l.split(" ")[1] ?? "") === dir || unescapeMount(l.split(" ")[1] ?? "").startsWith(`${dir}/`),
      );
  } catch {
    return false;
  }
}

/** /proc/mounts writes space, tab, newline and backslash as octal escapes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function lazyUnmount(dir: string): void {
  spawnSync("umount", ["-l", dir], { stdio: "ignore" });
}

function removeRoot(dir: string): void {
  try {
    if (!mounted(dir)) rmdirSync(dir);
  } catch {
    // not empty or already gone: what is left is a plain directory, nothing mounted
  }
}

/** The overlay layer's real system. */
export const overlayfsEngine: SystemEngine = {
  name: "overlayfs",
  description: "a real OverlayFS mount of the running kernel on a private tmpfs (engines/overlayfs)",
  unavailable: overlayfsUnavailable,
  features: () => ({
    offered: overlayfsFeatures,
    missing: (credentialsWhy ? { credentials: credentialsWhy } : {}) as Record<string, string>,
  }),
  views: ["upper"],
  factory: () => overlayfsFactory(),
};
