// The unionmount-testsuite (github.com/amir73il/unionmount-testsuite at f48a57d) as cowcheck overlay cases: a port of
// its context.py API as a builder, and every subtest_* of its 60 tests/*.py files written over that builder from the
// Python source (docs/research/unionmount.md maps the suite onto cowcheck). Each call records the cowcheck op(s) and
// the suite's own assertion for it (the err= errno, the read= data, the readlink body, success), plus lstat checks
// of the names the op named, as check_layer makes them after each op, predicted by a port of context.py's own model
// of the tree (class dentry). One case per subtest and mount configuration; scenarios/overlay-unionmount.ts writes
// the ones the vocabulary can say as traces under traces/overlay/unionmount/.
//
// Spelling (cowcheck names are [a-z][a-z0-9]*, data [a-z0-9]*):
// - a name's "_" before the fileset number is dropped, and a "-" or "_" after it becomes "z": direct_sym100 →
//   directsym100, no_foo100 → nofoo100, indirect_dir_sym100 → indirectdirsym100, foo100-new → foo100znew,
//   no_foo100-a → nofoo100za, foo100_0 → foo100z0 (no prefix holds a "z", no suffix starts with one: no collision);
// - data maps ":" to "0" (":xxx:yyy:zzz" → "0xxx0yyy0zzz"), which keeps lengths and offsets; truncate's NULs stay.
// - The union is the mount root, its test directory /mnt/a is `a`; only --ts=0 (the default) is translated, so
//   termslash() is "" and dropped, and `if not ctx.termslash()` keeps its first branch.
//
// Shape of a case:
// - One subtest on a fresh mount of one image layer: `a` and the fileset entries its ops name, with what they need.
//   The suite runs a file's subtests on one mount; only the rename-mass* files depend on that (a later subtest removes
//   what an earlier one renamed), so their cases replay the earlier subtests first, without claims. Under --ov=N the
//   file's earlier subtests use up rotations, so a case starts with the budget they left.
// - check_layer's checks become `stat` ops after each op: the paths it named, as the suite's model resolves them, and
//   a link's body the first time a check meets the link (check_layer's mutable default `symlinks=set()` is shared by
//   every call, so the suite too checks each body once). None before an op, none in the rename-mass* rings.
import type { Errno, FileType, MountOptions, OverlayObs, OverlayOp } from "../../models/overlay/types.ts";

/** Mount configurations, as `./run` options on this machine (§1.1, §1.3). */
export const UNIONMOUNT_CONFIGS = ["plain", "index", "metacopy", "rotation", "xdev"] as const;
export type UnionmountConfig = (typeof UNIONMOUNT_CONFIGS)[number];
/** --ov=N: upper layers rotated (cowcheck's commit) at most N times per test file. */
export const ROTATION_LAYERS = 10;

const MOUNT: Record<UnionmountConfig, MountOptions> = {
  plain: { redirectDir: true, index: false, metacopy: false }, // --ov: run adds redirect_dir=on (parameter N)
  index: { redirectDir: true, index: true, metacopy: false }, // --verify: adds index=on
  metacopy: { redirectDir: true, index: false, metacopy: true }, // --meta: adds metacopy=on
  rotation: { redirectDir: true, index: false, metacopy: false }, // --ov=10, its first (recycling) pass
  xdev: { redirectDir: false, index: false, metacopy: false }, // --xdev: no redirect_dir
};

/** Vocabulary a case needs that cowcheck lacks: then the case has no ops. */
export type UnionmountGap = "times";

/** The errnos the suite names (impermissible.py's EACCES is cowcheck's too). */
export type SuiteErrno = Errno | "EACCES";

/**
 * The suite's claim about an op's observation. `exists`/`absent` are check_layer's lstat checks (absent: ENOENT or
 * ENOTDIR, the two errors it catches), `size` is get_file_size's (truncate.py).
 */
export type Matcher =
  | { ok: true }
  | { error: SuiteErrno }
  | { data: string }
  | { target: string }
  | { names: string[] }
  | { exists: FileType; size?: number }
  | { absent: true }
  /** check_dev_ino under --verify: the same st_ino as the `ino` op at this index of the case's ops. */
  | { sameIno: number };

export interface UnionmountCase {
  /** `<file>--<subtest>--<config>`. */
  readonly name: string;
  /** The test file's name without ".py". */
  readonly file: string;
  readonly subtest: number;
  /** The subtest's docstring, as the suite prints it. */
  readonly doc: string;
  readonly config: UnionmountConfig;
  /** Whether `./run` with this configuration's options runs the subtest on 6.18 (§1.1's list). */
  readonly runs: boolean;
  /**
   * Why not: "removed" (dir-weird-open-dir, dropped from the list by c6ab621; its expectations are 6.18's), or
   * "mode" (rename-exdev without --xdev, the 4 directory-rename files with it: their expectations need the other
   * mode, so no trace is written).
   */
  readonly notRun?: "removed" | "mode";
  /** Earlier subtests of the file replayed first (rename-mass*: each subtest works on what the previous left). */
  readonly replays?: readonly number[];
  readonly ops: readonly OverlayOp[];
  /** The suite's claims, each on the observation of ops[at]. */
  readonly asserts: readonly { at: number; expect: Matcher }[];
  readonly gaps: readonly UnionmountGap[];
  /** The suite's implicit checks the vocabulary cannot make. */
  readonly omits?: string;
  /** Where the suite would also accept another result (context.py's vfs_op_error, rmtree's retries). */
  readonly lax?: string;
  /** Where the suite's expectation looks wrong for Linux 6.18 (kept as the suite states it). */
  readonly suspect?: string;
}

/** A case is written as a trace when the vocabulary can say it and its expectations hold in its configuration. */
export const isWritten = (c: UnionmountCase): boolean => c.gaps.length === 0 && c.notRun !== "mode";

/** Whether an observation satisfies the suite's claim (`all`: the case's observations, for sameIno). */
export function satisfies(obs: OverlayObs, m: Matcher, all: readonly OverlayObs[] = []): boolean {
  if ("sameIno" in m) {
    const was = all[m.sameIno];
    return "ino" in obs && was !== undefined && "ino" in was && was.ino === obs.ino;
  }
  if ("ok" in m) return !("error" in obs);
  if ("error" in m) return "error" in obs && obs.error === m.error;
  if ("data" in m) return "data" in obs && obs.data === m.data;
  if ("target" in m) return "target" in obs && obs.target === m.target;
  if ("names" in m) return "names" in obs && [...obs.names].sort().join("/") === [...m.names].sort().join("/");
  if ("absent" in m) return "error" in obs && (obs.error === "ENOENT" || obs.error === "ENOTDIR");
  return "stat" in obs && obs.stat.type === m.exists && (m.size === undefined || obs.stat.size === m.size);
}

/** as_bin=1: the suite's setegid(1), seteuid(1) around the call. */
const asBin = (args: { as_bin?: 1 }): { uid?: number; gid?: number } => (args.as_bin ? { uid: 1, gid: 1 } : {});

export const mapName = (n: string): string => n.replace(/(\d)[-_]/g, "$1z").replace(/_/g, "");
const mapPath = (p: string): string => p.replaceAll("//", "/").split("/").map(mapName).join("/");
/** Symlink bodies: names mapped, ".." kept. */
const mapTarget = (t: string): string =>
  t
    .split("/")
    .map((n) => (n === ".." ? n : mapName(n)))
    .join("/");
const mapData = (d: string): string => d.replaceAll(":", "0");

// ---- context.py's model of the tree (class inode, class dentry), which check_layer's expectations come from

type SuiteType = "r" | "f" | "d" | "s";
interface Inode {
  readonly type: SuiteType;
  readonly symVal?: string;
}

class Dentry {
  parent: Dentry | null = null;
  inode: Inode | null = null;
  isDir = false;
  children = new Map<string, Dentry>();
  constructor(
    public name: string,
    inode: Inode | null = null,
  ) {
    this.created(inode);
  }
  created(inode: Inode | null): void {
    this.inode = inode;
    this.children = new Map();
    this.isDir = inode?.type === "d";
  }
  filename(): string {
    return this.parent ? `${this.parent.filename()}/${this.name}` : "";
  }
  isSym(): boolean {
    return this.inode?.type === "s";
  }
  addChild(child: Dentry): Dentry {
    if (this.isDir) this.children.set(child.name, child);
    child.parent = this;
    return child;
  }
  lookUpChild(name: string): Dentry {
    return (this.isDir && this.children.get(name)) || this.addChild(new Dentry(name));
  }
  unlinkChild(child: Dentry): void {
    this.children.delete(child.name);
    child.parent = null;
  }
  unlink(): void {
    this.parent?.unlinkChild(this);
  }
  /** rename(src, this): a negative dentry stays at the old name. */
  replaceWith(src: Dentry): void {
    const oldParent = src.parent!;
    const newParent = this.parent!;
    oldParent.unlinkChild(src);
    oldParent.addChild(new Dentry(src.name));
    src.name = this.name;
    newParent.unlinkChild(this);
    newParent.addChild(src);
  }
}

interface WalkArgs {
  noFollow: boolean;
  missingOk: boolean;
  symlinks: Set<Dentry>;
}

/** context.py's pathwalk: intermediate links always followed, the last unless no_follow; ".." at the root stays. */
function pathwalk(root: Dentry, cursor: Dentry, filename: string, noFollow: boolean, missingOk: boolean) {
  const args: WalkArgs = { noFollow, missingOk, symlinks: new Set() };
  const one = (cur: Dentry, name: string): [Dentry, Dentry] => {
    const f = name.replace(/^\/+/, "");
    const slash = f.indexOf("/");
    if (slash === -1) {
      const to = cur.lookUpChild(f);
      if (to.inode && to.isSym() && !args.noFollow) return symlink(cur, to, "");
      return [cur, to];
    }
    const [head, rest] = [f.slice(0, slash), f.slice(slash)];
    if (head === "..") return one(cur.parent ?? cur, rest);
    const to = cur.lookUpChild(head);
    if (to.isSym()) return symlink(cur, to, rest);
    if (!to.isDir && !to.inode && !args.missingOk) throw new Error(`${to.filename()}: missing intermediate component`);
    return one(to, rest);
  };
  const symlink = (cur: Dentry, link: Dentry, rest: string): [Dentry, Dentry] => {
    if (args.symlinks.has(link)) {
      if (rest === "") return [cur, new Dentry(link.name)]; // a loop at the end: a fake negative dentry
      throw new Error(`${filename}: recursive symlink`);
    }
    args.symlinks.add(link);
    const body = link.inode!.symVal!;
    return one(body.startsWith("/") ? root : cur, body + rest);
  };
  return one(cursor, filename.replace(/\/+$/, ""));
}

// ---- the lower image (set_up.py): 13 entries per fileset N = 100..129

const FOO = ":xxx:yyy:zzz";
const POP_B = ":aaa:bbb:ccc";

/** The image entries a name below a/ needs (cowcheck spelling): itself, every hop of its links, a dir's contents. */
function needs(name: string): string[] {
  const m = /^([a-z]+)(\d+)$/.exec(name);
  if (!m || +m[2] < 100 || +m[2] > 129) return [];
  const n = m[2];
  const dir = [`dir${n}`, `dir${n}/a`, `dir${n}/pop`, `dir${n}/pop/b`, `dir${n}/pop/c`];
  switch (m[1]) {
    case "foo":
    case "rootfile":
    case "empty":
    case "pointless":
      return [name];
    case "directsym":
      return [name, `foo${n}`];
    case "indirectsym":
      return [name, `directsym${n}`, `foo${n}`];
    case "dir":
      return dir;
    case "directdirsym":
      return [name, ...dir];
    case "indirectdirsym":
      return [name, `directdirsym${n}`, ...dir];
    default:
      return [];
  }
}

/** set_up's fileset N in its order: [path below a/, type, file data or link body]. */
function fileset(n: number): [string, SuiteType | null, string?][] {
  return [
    [`foo${n}`, "r", FOO],
    [`direct_sym${n}`, "s", `../a/foo${n}`],
    [`indirect_sym${n}`, "s", `direct_sym${n}`],
    [`no_foo${n}`, null],
    [`pointless${n}`, "s", `no_foo${n}`],
    [`dir${n}`, "d"],
    [`dir${n}/a`, "f", ""],
    [`dir${n}/pop`, "d"],
    [`dir${n}/pop/b`, "f", POP_B],
    [`dir${n}/pop/c`, "d"],
    [`direct_dir_sym${n}`, "s", `../a/dir${n}`],
    [`indirect_dir_sym${n}`, "s", `direct_dir_sym${n}`],
    [`empty${n}`, "d"],
    [`rootfile${n}`, "r", FOO],
    [`no_dir${n}`, null],
  ];
}

// ---- the builder: context.py's test_context, recording ops and the suite's claims

/** open_file's keyword arguments (context.py): access ro/wo/rw/app, flags dir/crt/ex/tr, then read=/write=/err=. */
export interface OpenArgs {
  ro?: 1;
  wo?: 1;
  rw?: 1;
  app?: 1;
  dir?: 1;
  crt?: 1;
  ex?: 1;
  tr?: 1;
  read?: string;
  write?: string;
  err?: SuiteErrno;
  as_bin?: 1;
}
/** The keyword arguments of the other ops. */
export interface OpArgs {
  err?: SuiteErrno;
  content?: string;
  as_bin?: 1;
  recycle?: boolean;
}

const C = 1;

export class UnionmountContext {
  readonly root = new Dentry("", { type: "d" });
  /** The suite's fileset number (begin_test bumps it from 99: subtest k works on fileset 99 + k). */
  filenr: number;
  /** Upper layers rotated so far in this file (--ov=N's layers_nr). */
  layersNr: number;
  readonly body: OverlayOp[] = [];
  readonly asserts: { at: number; expect: Matcher }[] = [];
  readonly gaps = new Set<UnionmountGap>();
  /** Where the suite would also pass another result: [index into body, why]. */
  readonly lax: [number, string][] = [];
  /** Names below a/ that the ops name (cowcheck spelling): the image holds what they need. */
  readonly touched = new Set<string>();
  /** check_layer's `symlinks=set()` default, shared by every call: a link's body is checked once. */
  private readonly checkedLinks = new Set<Dentry>();
  /** Whether the current subtest's claims are recorded (not while replaying earlier ones). */
  recording = true;
  /** Whether check_layer's lstat checks become stat ops (not in the rename-mass* rings). */
  checks: boolean;
  /** A successful link or rename happened (check_dev_ino would run). */
  devIno = false;

  constructor(
    readonly config: UnionmountConfig,
    opts: { filenr: number; layersNr: number; checks: boolean },
  ) {
    this.filenr = opts.filenr;
    this.layersNr = opts.layersNr;
    this.checks = opts.checks;
    const a = this.root.addChild(new Dentry("a", { type: "d" }));
    for (let n = 100; n < 130; n++) {
      for (const [path, type, val] of fileset(n)) {
        const [, d] = pathwalk(this.root, a, path, false, true);
        d.created(type === null ? null : { type, ...(type === "s" ? { symVal: val } : {}) });
      }
    }
  }

  // Names (context.py gen_filename): paths below the union root.
  testdir = (): string => "a";
  private gen = (name: string): string => `a/${name}${this.filenr}`;
  no_file = (): string => this.gen("no_foo");
  pointless = (): string => this.gen("pointless");
  reg_file = (): string => this.gen("foo");
  direct_sym = (): string => this.gen("direct_sym");
  indirect_sym = (): string => this.gen("indirect_sym");
  no_dir = (): string => this.gen("no_dir");
  empty_dir = (): string => this.gen("empty");
  non_empty_dir = (): string => this.gen("dir");
  direct_dir_sym = (): string => this.gen("direct_dir_sym");
  indirect_dir_sym = (): string => this.gen("indirect_dir_sym");
  rootfile = (): string => this.gen("rootfile");
  private symVal = (name: string): string => this.walk(this.gen(name), true, false)[1].inode!.symVal!;
  pointless_val = (): string => this.symVal("pointless");
  direct_sym_val = (): string => this.symVal("direct_sym");
  indirect_sym_val = (): string => this.symVal("indirect_sym");
  direct_dir_sym_val = (): string => this.symVal("direct_dir_sym");
  indirect_dir_sym_val = (): string => this.symVal("indirect_dir_sym");
  begin_test(): void {
    this.filenr++;
  }
  incr_filenr(): void {
    this.filenr++;
  }

  private walk(path: string, noFollow: boolean, missingOk: boolean): [Dentry, Dentry] {
    return pathwalk(this.root, this.root, path.replaceAll("//", "/"), noFollow, missingOk);
  }

  private emit(op: OverlayOp, expect?: Matcher): number {
    for (const p of "path" in op ? [op.path] : "from" in op ? [op.from, op.to] : []) {
      const top = p.split("/")[1];
      if (top !== undefined) this.touched.add(top);
    }
    this.body.push(op);
    if (expect && this.recording) this.asserts.push({ at: this.body.length - 1, expect });
    return this.body.length - 1;
  }

  private note(at: number, what: string): void {
    if (this.recording) this.lax.push([at, what]);
  }

  /**
   * An op other than open: its claim is success, or the err= errno; vfs_op_error also passes an actual EEXIST for any
   * expected errno, and any errno for an expected ENOTEMPTY, which the case notes as lax. True if it succeeds.
   */
  private vfsOp(op: OverlayOp, err: SuiteErrno | undefined, expect: Matcher = { ok: true }): boolean {
    if (err === undefined) {
      this.emit(op, expect);
      return true;
    }
    const at = this.emit(op, { error: err });
    if (err === "ENOTEMPTY") this.note(at, "vfs_op_error accepts any error for the expected ENOTEMPTY");
    else if (err !== "EEXIST") this.note(at, `vfs_op_error accepts EEXIST for the expected ${err}`);
    return false;
  }

  /** check_layer after an op: lstat of each path (as the suite's model resolves it), then of a link's body once. */
  private checkLayer(...paths: string[]): void {
    if (!this.checks) return;
    const done = new Set<string>();
    const check = (cursor: Dentry, path: string): void => {
      const [parent, d] = pathwalk(this.root, cursor, path, true, true);
      if (!d.parent) return; // a loop's fake dentry: lstat("") fails, as the model says
      const name = d.filename().slice(1);
      if (!done.has(name)) {
        done.add(name);
        const type = d.inode?.type;
        this.emit(
          { op: "stat", c: C, path: mapPath(name) },
          type === undefined ? { absent: true } : { exists: type === "d" ? "dir" : type === "s" ? "symlink" : "file" },
        );
      }
      if (d.isSym() && !this.checkedLinks.has(d)) {
        this.checkedLinks.add(d);
        check(parent, d.inode!.symVal!);
      }
    };
    for (const p of paths) check(this.root, p.replaceAll("//", "/"));
  }

  /** remount_union(ctx, rotate_upper) after a successful mkdir or rename (link: no rotation), when recycling. */
  private recycle(rotate: boolean, args: OpArgs): void {
    if (this.config !== "rotation" || args.recycle === false) return;
    if (rotate && this.layersNr < ROTATION_LAYERS) {
      this.layersNr++;
      this.emit({ op: "commit", c: C });
    } else this.emit({ op: "remount", c: C });
  }

  open_file(filename: string, args: OpenArgs): void {
    const rd = !!(args.ro || args.rw);
    const wr = !!(args.app || (!args.ro && (args.rw || args.wo)));
    if (!rd && !wr) throw new Error("One or both of -r and -w must be supplied to open_file");
    const create = !!args.crt;
    const flags = [
      ...(args.crt ? ["creat" as const] : []),
      ...(args.ex ? ["excl" as const] : []),
      ...(args.tr ? ["trunc" as const] : []),
      ...(args.app ? ["append" as const] : []),
      ...(args.dir ? ["directory" as const] : []),
    ];
    const [, dentry] = this.walk(filename, false, args.err === "ENOENT" || create);
    this.emit(
      {
        op: "open",
        c: C,
        path: mapPath(filename),
        access: rd && wr ? "rdwr" : rd ? "rdonly" : "wronly",
        ...(flags.length ? { flags } : {}),
        ...(create ? { mode: 0 } : {}),
        ...(args.write !== undefined ? { write: mapData(args.write) } : {}),
        ...(args.read !== undefined ? { read: true as const } : {}),
        ...asBin(args),
      },
      args.err ? { error: args.err } : args.read !== undefined ? { data: mapData(args.read) } : { ok: true },
    );
    if (!args.err && !dentry.inode) {
      if (!create) throw new Error(`${filename}: File was created without O_CREAT`);
      dentry.created({ type: "f" });
    }
    this.checkLayer(filename);
  }

  open_dir(filename: string, args: OpenArgs): void {
    this.open_file(filename, { ...args, dir: 1 });
  }

  mkdir(filename: string, mode: number, args: OpArgs = {}): void {
    const [, dentry] = this.walk(filename, true, true);
    if (this.vfsOp({ op: "mkdir", c: C, path: mapPath(filename), mode }, args.err)) {
      if (!dentry.inode) dentry.created({ type: "d" });
      this.checkLayer(filename);
      this.recycle(true, args);
    } else this.checkLayer(filename);
  }

  rmdir(filename: string, args: OpArgs = {}): void {
    const [, dentry] = this.walk(filename, true, args.err !== undefined);
    if (this.vfsOp({ op: "rmdir", c: C, path: mapPath(filename) }, args.err)) dentry.unlink();
    this.checkLayer(filename);
  }

  unlink(filename: string, args: OpArgs = {}): void {
    const [, dentry] = this.walk(filename, true, args.err !== undefined);
    if (this.vfsOp({ op: "unlink", c: C, path: mapPath(filename) }, args.err)) dentry.unlink();
    this.checkLayer(filename);
  }

  readlink(filename: string, args: OpArgs): void {
    this.walk(filename, true, args.err !== undefined);
    const op: OverlayOp = { op: "readlink", c: C, path: mapPath(filename) };
    this.vfsOp(op, args.err, { target: mapTarget(args.content ?? "") });
    this.checkLayer(filename);
  }

  truncate(filename: string, size: number, args: OpArgs = {}): void {
    this.walk(filename, true, args.err !== undefined);
    this.vfsOp({ op: "truncate", c: C, path: mapPath(filename), size, ...asBin(args) }, args.err);
    this.checkLayer(filename);
  }

  rename(filename: string, filename2: string, args: OpArgs = {}): void {
    const [, dentry] = this.walk(filename, true, false);
    const [, dentry2] = this.walk(filename2, true, true);
    const op: OverlayOp = { op: "rename", c: C, from: mapPath(filename), to: mapPath(filename2) };
    const before = this.inoBefore(filename);
    if (this.vfsOp(op, args.err)) {
      if (dentry !== dentry2) dentry2.replaceWith(dentry);
      this.devIno = true;
      this.checkLayer(filename, filename2);
      this.recycle(true, args);
      this.checkDevIno(before, filename2);
    } else this.checkLayer(filename, filename2);
  }

  link(filename: string, filename2: string, args: OpArgs = {}): void {
    const [, dentry] = this.walk(filename, true, false);
    const [, dentry2] = this.walk(filename2, true, true);
    const before = this.inoBefore(filename);
    if (this.vfsOp({ op: "link", c: C, from: mapPath(filename), to: mapPath(filename2) }, args.err)) {
      if (!dentry2.inode) dentry2.created(dentry.inode);
      this.devIno = true;
      this.checkLayer(filename, filename2);
      this.recycle(false, args);
      this.checkDevIno(before, filename, filename2);
    } else this.checkLayer(filename, filename2);
  }

  /**
   * check_dev_ino (context.py): link and rename lstat the source first, and after success (and the remount or
   * rotation) want the same st_ino at the names. It can fail only under --verify (index): without, a changed number is
   * an error only off the overlay's st_dev, which one filesystem never is. Left out of the rename-mass* rings.
   */
  private inoBefore(filename: string): number | undefined {
    if (this.config !== "index" || !this.checks || !this.recording) return undefined;
    return this.emit({ op: "ino", c: C, path: mapPath(filename) });
  }

  private checkDevIno(before: number | undefined, ...names: string[]): void {
    if (before === undefined) return;
    for (const f of names) this.emit({ op: "ino", c: C, path: mapPath(f) }, { sameIno: before });
  }

  /** utimes(2) with NULL times: no op can set or observe times yet. */
  utimes(filename: string, args: OpArgs = {}): void {
    this.walk(filename, false, args.err !== undefined);
    this.gaps.add("times");
  }
  get_file_atime(_: string): void {
    this.gaps.add("times");
  }
  get_file_mtime(_: string): void {
    this.gaps.add("times");
  }

  /** lstat's st_size, as the test then requires it to be `size`: merged into the check just made, if any. */
  get_file_size(path: string, size: number): void {
    const last = this.body.at(-1);
    const claim = this.asserts.at(-1);
    const mapped = mapPath(path);
    if (last?.op === "stat" && last.path === mapped && claim?.at === this.body.length - 1 && "exists" in claim.expect)
      claim.expect = { ...claim.expect, size };
    else this.emit({ op: "stat", c: C, path: mapped }, { exists: "file", size });
  }

  /** rmtree: the model's tree depth first, each unlink/rmdir done twice, the second's ENOENT ignored. */
  rmtree(filename: string): void {
    const [parent, target] = this.walk(filename, false, false);
    const aux = (cursor: Dentry): void => {
      const f = mapPath(cursor.filename().slice(1));
      if (!cursor.isDir && !cursor.inode) return;
      if (cursor.isDir) for (const child of [...cursor.children.values()]) aux(child);
      const op: OverlayOp = cursor.isDir ? { op: "rmdir", c: C, path: f } : { op: "unlink", c: C, path: f };
      this.emit(op, { ok: true });
      this.note(this.emit(op, { error: "ENOENT" }), "rmtree's retry also passes if it succeeds");
    };
    aux(target);
    parent.unlinkChild(target);
    this.checkLayer(filename);
  }

  /** The image: `a` and what the named fileset entries need, in set_up's order. */
  image(): OverlayOp {
    const want = new Set([...this.touched].flatMap(needs));
    const entries: Extract<OverlayOp, { op: "layer" }>["entries"] = [{ type: "dir", path: "a", mode: 0o755 }];
    for (let n = 100; n < 130; n++) {
      for (const [name, type, val] of fileset(n)) {
        if (!want.has(mapPath(name)) || type === null) continue;
        const path = `a/${mapPath(name)}`;
        // set_up.py: fooN and its links, and pointlessN, are lchown'ed to bin (1:1); the rest is root's
        const bin = /^(foo|direct_sym|indirect_sym|pointless)\d+$/.test(name) ? { uid: 1, gid: 1 } : {};
        if (type === "d") entries.push({ type: "dir", path, mode: 0o755 });
        else if (type === "s") entries.push({ type: "symlink", path, target: mapTarget(val!), ...bin });
        else entries.push({ type: "file", path, data: mapData(val!), mode: 0o644, ...bin });
      }
    }
    return { op: "layer", entries };
  }
}

// ---- the tests: each file's subtests in source order, written from tests/<file>.py (--ts=0). The straight-line
// subtests were converted from the Python syntax tree statement by statement (kwargs become the args object, unused
// name getters dropped); the loops of truncate.py and rename-mass*.py, and impermissible.py, by hand.

interface Subtest {
  readonly n: number;
  readonly doc: string;
  readonly run: (ctx: UnionmountContext) => void;
}
const t = (n: number, doc: string, run: (ctx: UnionmountContext) => void): Subtest => ({ n, doc, run });

const ENOENT = "ENOENT";
const EEXIST = "EEXIST";
const ENOTDIR = "ENOTDIR";
const EISDIR = "EISDIR";
const ENOTEMPTY = "ENOTEMPTY";
const EINVAL = "EINVAL";
const EXDEV = "EXDEV";
const EPERM = "EPERM";
const ELOOP = "ELOOP";
const EACCES = "EACCES";

/** The rename-mass* rings: ring_size 7, iter_count int(ring_size * 4.5). */
const RING = 7;
const ITER = Math.trunc(RING * 4.5);
/** Python's %, which takes the divisor's sign. */
const pymod = (a: number, n: number): number => ((a % n) + n) % n;

/** iter_count renames of base<100 + next_gap> onto base<100 + gap>, the gap moving by `step` from ring_size - 1. */
function ring(ctx: UnionmountContext, base: string, step: number): void {
  let gap = RING - 1;
  for (let i = 0; i < ITER; i++) {
    const next = pymod(gap + step, RING);
    ctx.rename(`${base}${100 + next}`, `${base}${100 + gap}`);
    gap = next;
  }
}

/** unlink of base100.. for `count` names, ENOENT at the gap. */
function unlinkRing(ctx: UnionmountContext, base: string, count: number, gap: number): void {
  for (let i = 0; i < count; i++) ctx.unlink(`${base}${100 + i}`, i === gap ? { err: ENOENT } : {});
}

/** The ring's survivors in order (rename-mass-dir 4, rename-mass-sym 2 and 5): fn(100 + i, the original index n). */
function ringRead(_: UnionmountContext, fn: (path: number, n: number) => void): void {
  let n = ITER % (RING * (RING - 1)); // the cycle repeats itself after R * (R-1) iterations
  const cycle = Math.trunc(n / RING); // the gap is back at the end every R iterations
  n = RING - 1 - cycle; // thus the first number in the sequence in this cycle
  const gap = pymod(-(ITER + 1), RING);
  for (let i = 0; i < RING; i++) {
    if (i === gap) continue;
    fn(100 + i, n);
    n = (n + 1) % (RING - 1);
  }
}

const TESTS: Record<string, readonly Subtest[]> = {
  // tests/dir-open-dir.py
  "dir-open-dir": [
    t(1, "Open O_DIRECTORY | O_RDONLY", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1 });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(2, "Open O_DIRECTORY | O_WRONLY", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
      ctx.open_dir(f, { wo: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(3, "Open O_DIRECTORY | O_WRONLY * 2", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, err: EISDIR });
      ctx.open_dir(f, { wo: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(4, "Open O_DIRECTORY | O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { app: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
      ctx.open_dir(f, { app: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(5, "Open O_DIRECTORY | O_RDWR", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { rw: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
      ctx.open_dir(f, { rw: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(6, "Open O_DIRECTORY | O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1, app: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
      ctx.open_dir(f, { ro: 1, app: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
  ],
  // tests/dir-open.py
  "dir-open": [
    t(1, "Open O_RDONLY", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1 });
      ctx.open_file(f, { ro: 1 });
    }),
    t(2, "Open O_WRONLY", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
      ctx.open_file(f, { wo: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(3, "Open O_WRONLY * 2", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, err: EISDIR });
      ctx.open_file(f, { wo: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(4, "Open O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { app: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
      ctx.open_file(f, { app: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(5, "Open O_RDWR", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { rw: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
      ctx.open_file(f, { rw: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(6, "Open O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1, app: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
      ctx.open_file(f, { ro: 1, app: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
  ],
  // tests/dir-sym1-open.py
  "dir-sym1-open": [
    t(1, "Open(dir symlink) O_RDONLY", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1 });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(2, "Open(dir symlink) O_WRONLY", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { wo: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
      ctx.open_file(symlink, { wo: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(3, "Open(dir symlink) O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { app: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
      ctx.open_file(symlink, { app: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(4, "Open(dir symlink) O_RDWR", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { rw: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
      ctx.open_file(symlink, { rw: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(5, "Open(dir symlink) O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1, app: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
      ctx.open_file(symlink, { ro: 1, app: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
  ],
  // tests/dir-sym1-weird-open.py
  "dir-sym1-weird-open": [
    t(1, "Open(dir symlink) O_RDONLY | O_CREAT", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1, crt: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(2, "Open(dir symlink) O_RDONLY | O_CREAT | O_EXCL", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(3, "Open(dir symlink) O_RDONLY | O_TRUNC", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1, tr: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(4, "Open(dir symlink) O_RDONLY | O_TRUNC | O_CREAT", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1, tr: 1, crt: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(5, "Open(dir symlink) O_RDONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { ro: 1, tr: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(6, "Open(dir symlink) O_WRONLY | O_CREAT", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { wo: 1, crt: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(7, "Open(dir symlink) O_WRONLY | O_CREAT | O_EXCL", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(8, "Open(dir symlink) O_WRONLY | O_TRUNC", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { wo: 1, tr: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(9, "Open(dir symlink) O_WRONLY | O_TRUNC | O_CREAT", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { wo: 1, tr: 1, crt: 1, err: EISDIR });
      ctx.open_file(symlink, { ro: 1 });
    }),
    t(10, "Open(dir symlink) O_WRONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      ctx.open_file(symlink, { wo: 1, tr: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1 });
    }),
  ],
  // tests/dir-sym2-open.py
  "dir-sym2-open": [
    t(1, "Open(dir symlink) O_RDONLY", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1 });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(2, "Open(dir symlink) O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { wo: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
      ctx.open_file(indirect, { wo: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(3, "Open(dir symlink) O_APPEND|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { app: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
      ctx.open_file(indirect, { app: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(4, "Open(dir symlink) O_RDWR", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { rw: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
      ctx.open_file(indirect, { rw: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(5, "Open(dir symlink) O_APPEND|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1, app: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
      ctx.open_file(indirect, { ro: 1, app: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
  ],
  // tests/dir-sym2-weird-open.py
  "dir-sym2-weird-open": [
    t(1, "Open(dir symlink) O_RDONLY | O_CREAT", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1, crt: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(2, "Open(dir symlink) O_RDONLY | O_CREAT | O_EXCL", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(3, "Open(dir symlink) O_RDONLY | O_TRUNC", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1, tr: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(4, "Open(dir symlink) O_RDONLY | O_TRUNC | O_CREAT", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1, tr: 1, crt: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(5, "Open(dir symlink) O_RDONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { ro: 1, tr: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(6, "Open(dir symlink) O_WRONLY | O_CREAT", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { wo: 1, crt: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(7, "Open(dir symlink) O_WRONLY | O_CREAT | O_EXCL", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(8, "Open(dir symlink) O_WRONLY | O_TRUNC", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { wo: 1, tr: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(9, "Open(dir symlink) O_WRONLY | O_TRUNC | O_CREAT", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { wo: 1, tr: 1, crt: 1, err: EISDIR });
      ctx.open_file(indirect, { ro: 1 });
    }),
    t(10, "Open(dir symlink) O_WRONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      ctx.open_file(indirect, { wo: 1, tr: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1 });
    }),
  ],
  // tests/dir-weird-open-dir.py
  "dir-weird-open-dir": [
    t(1, "Open O_DIRECTORY | O_RDONLY | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1, crt: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(2, "Open O_DIRECTORY | O_RDONLY | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1, crt: 1, ex: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(3, "Open O_DIRECTORY | O_RDONLY | O_TRUNC", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1, tr: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(4, "Open O_DIRECTORY | O_RDONLY | O_TRUNC | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1, tr: 1, crt: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(5, "Open O_DIRECTORY | O_RDONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { ro: 1, tr: 1, crt: 1, ex: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(6, "Open O_DIRECTORY | O_RDONLY | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, crt: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(7, "Open O_DIRECTORY | O_RDONLY | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, crt: 1, ex: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(8, "Open O_DIRECTORY | O_RDONLY | O_TRUNC", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, tr: 1, err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(9, "Open O_DIRECTORY | O_RDONLY | O_TRUNC | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, tr: 1, crt: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(10, "Open O_DIRECTORY | O_RDONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_dir(f, { wo: 1, tr: 1, crt: 1, ex: 1, err: EINVAL });
      ctx.open_dir(f, { ro: 1 });
    }),
  ],
  // tests/dir-weird-open.py
  "dir-weird-open": [
    t(1, "Open O_RDONLY | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1, crt: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(2, "Open O_RDONLY | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1 });
    }),
    t(3, "Open O_RDONLY | O_TRUNC", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1, tr: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(4, "Open O_RDONLY | O_TRUNC | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1, tr: 1, crt: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(5, "Open O_RDONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { ro: 1, tr: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1 });
    }),
    t(6, "Open O_RDONLY | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, crt: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(7, "Open O_RDONLY | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1 });
    }),
    t(8, "Open O_RDONLY | O_TRUNC", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, tr: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(9, "Open O_RDONLY | O_TRUNC | O_CREAT", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, tr: 1, crt: 1, err: EISDIR });
      ctx.open_file(f, { ro: 1 });
    }),
    t(10, "Open O_RDONLY | O_TRUNC | O_CREAT | O_EXCL", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.open_file(f, { wo: 1, tr: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1 });
    }),
  ],
  // tests/hard-link-dir.py
  "hard-link-dir": [
    t(1, "Hard link dir", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.link(d, d2, { err: EPERM });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(2, "Hard link file over dir", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.empty_dir();
      ctx.link(f, d, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(3, "Hard link dir over dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.empty_dir();
      ctx.link(d, d2, { err: EEXIST });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(4, "Hard link dir over dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const f = ctx.reg_file();
      ctx.link(d, f, { err: EEXIST });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(5, "Hard link dir over itself", (ctx) => {
      const d = ctx.non_empty_dir();
      ctx.link(d, d, { err: EEXIST });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(6, "Hard link dir over its parent", (ctx) => {
      const d = `${ctx.non_empty_dir()}/pop`;
      const d2 = ctx.non_empty_dir();
      ctx.link(d, d2, { err: EEXIST });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(7, "Hard link removed dir", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.rmdir(d);
      ctx.link(d, d2, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(8, "Hard link renamed dir", (ctx) => {
      const d = `${ctx.empty_dir()}/new`;
      const d2 = ctx.no_dir();
      const d3 = `${ctx.no_dir()}-a`;
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.link(d, d3, { err: ENOENT });
      ctx.link(d2, d, { err: EPERM });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d3, { ro: 1, err: ENOENT });
    }),
  ],
  // tests/hard-link-sym.py
  "hard-link-sym": [
    t(1, "Hard link symlink", (ctx) => {
      const f = ctx.direct_sym();
      const f2 = ctx.no_file();
      ctx.link(f, f2);
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Hard link dangling symlink", (ctx) => {
      const f = ctx.pointless();
      const f2 = ctx.no_file();
      ctx.link(f, f2);
      ctx.open_file(f, { ro: 1, err: ELOOP });
      ctx.open_file(f2, { ro: 1, err: ELOOP });
    }),
    t(3, "Hard link non-existent file over a symlink", (ctx) => {
      const f = ctx.no_file();
      const f2 = ctx.direct_sym();
      ctx.link(f, f2, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Hard link symlink over file", (ctx) => {
      const f = ctx.direct_sym();
      const f2 = `${ctx.non_empty_dir()}/a`;
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: "" });
    }),
    t(5, "Hard link symlink over new file", (ctx) => {
      const f = ctx.direct_sym();
      const f2 = `${ctx.reg_file()}-new`;
      ctx.open_file(f2, { wo: 1, crt: 1, write: "aaaa" });
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: "aaaa" });
    }),
    t(6, "Hard link new file over symlink", (ctx) => {
      const f = `${ctx.reg_file()}-new`;
      const f2 = ctx.direct_sym();
      ctx.open_file(f, { wo: 1, crt: 1, write: "aaaa" });
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "aaaa" });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(7, "Hard link symlink over itself", (ctx) => {
      const f = ctx.direct_sym();
      ctx.link(f, f, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(8, "Hard link symlink over another symlink", (ctx) => {
      const f = ctx.direct_sym();
      const f2 = ctx.pointless();
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(9, "Hard link unlinked symlink", (ctx) => {
      const f = ctx.direct_sym();
      const f2 = ctx.no_file();
      ctx.unlink(f);
      ctx.link(f, f2, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(10, "Hard link renamed symlink", (ctx) => {
      const f = ctx.direct_sym();
      const f2 = ctx.no_file();
      const f3 = `${ctx.no_file()}-a`;
      ctx.rename(f, f2);
      ctx.link(f, f3, { err: ENOENT });
      ctx.link(f2, f);
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f3, { ro: 1, err: ENOENT });
    }),
  ],
  // tests/hard-link.py
  "hard-link": [
    t(1, "Hard link file", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.link(f, f2);
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Hard link non-existent file", (ctx) => {
      const f = ctx.no_file();
      const f2 = `${ctx.no_file()}a`;
      ctx.link(f, f2, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(3, "Hard link non-existent file over a file", (ctx) => {
      const f = ctx.no_file();
      const f2 = ctx.reg_file();
      ctx.link(f, f2, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Hard link file over file", (ctx) => {
      const f = ctx.reg_file();
      const f2 = `${ctx.non_empty_dir()}/a`;
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: "" });
    }),
    t(5, "Hard link file over new file", (ctx) => {
      const f = ctx.reg_file();
      const f2 = `${ctx.reg_file()}-new`;
      ctx.open_file(f2, { wo: 1, crt: 1, write: "aaaa" });
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: "aaaa" });
    }),
    t(6, "Hard link new file over lower file", (ctx) => {
      const f = `${ctx.reg_file()}-new`;
      const f2 = ctx.reg_file();
      ctx.open_file(f, { wo: 1, crt: 1, write: "aaaa" });
      ctx.link(f, f2, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "aaaa" });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(7, "Hard link file over itself", (ctx) => {
      const f = ctx.reg_file();
      ctx.link(f, f, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(8, "Hard link new file over itself", (ctx) => {
      const f = `${ctx.reg_file()}-new`;
      ctx.open_file(f, { wo: 1, crt: 1, write: "aaaa" });
      ctx.link(f, f, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "aaaa" });
    }),
    t(9, "Hard link non-existent file over itself", (ctx) => {
      const f = ctx.no_file();
      ctx.link(f, f, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(10, "Hard link unlinked file", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.unlink(f);
      ctx.link(f, f2, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(11, "Hard link renamed file", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      const f3 = `${ctx.no_file()}-a`;
      ctx.rename(f, f2);
      ctx.link(f, f3, { err: ENOENT });
      ctx.link(f2, f);
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f3, { ro: 1, err: ENOENT });
    }),
  ],
  // tests/mkdir.py
  mkdir: [
    t(1, "Create directory", (ctx) => {
      const d = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.mkdir(d, 0o755, { err: EEXIST });
    }),
    t(2, "Create directory over file", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.reg_file();
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(3, "Create directory over empty dir", (ctx) => {
      const d = ctx.empty_dir();
      ctx.mkdir(d, 0o755, { err: EEXIST });
    }),
    t(4, "Create directory in empty dir", (ctx) => {
      const d = `${ctx.empty_dir()}/sub`;
      ctx.mkdir(d, 0o755);
      ctx.mkdir(d, 0o755, { err: EEXIST });
    }),
    t(5, "Create directory over dir", (ctx) => {
      const d = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.open_file(`${d}/a`, { ro: 1, read: "" });
    }),
    t(6, "Create directory in dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const subdir = `${ctx.non_empty_dir()}/sub`;
      ctx.mkdir(subdir, 0o755);
      ctx.mkdir(subdir, 0o755, { err: EEXIST });
      ctx.open_file(`${d}/a`, { ro: 1, read: "" });
    }),
    t(7, "Create directory over sym to file", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.reg_file();
      const sym = ctx.direct_sym();
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(8, "Create directory over sym to sym to file", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.reg_file();
      const sym = ctx.direct_sym();
      const isym = ctx.indirect_sym();
      ctx.mkdir(isym, 0o755, { err: EEXIST });
      ctx.mkdir(isym, 0o755, { err: EEXIST });
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(9, "Create directory over sym to dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const sym = ctx.direct_dir_sym();
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.open_file(`${sym}/a`, { ro: 1, read: "" });
      ctx.open_file(`${d}/a`, { ro: 1, read: "" });
    }),
    t(10, "Create directory over sym to sym to dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const sym = ctx.direct_dir_sym();
      const isym = ctx.indirect_dir_sym();
      ctx.mkdir(isym, 0o755, { err: EEXIST });
      ctx.mkdir(isym, 0o755, { err: EEXIST });
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(d, 0o755, { err: EEXIST });
      ctx.open_file(`${isym}/a`, { ro: 1, read: "" });
      ctx.open_file(`${sym}/a`, { ro: 1, read: "" });
      ctx.open_file(`${d}/a`, { ro: 1, read: "" });
    }),
    t(11, "Create directory over dangling sym", (ctx) => {
      const sym = ctx.pointless();
      ctx.mkdir(sym, 0o755, { err: EEXIST });
      ctx.mkdir(sym, 0o755, { err: EEXIST });
    }),
  ],
  // tests/noent-creat-excl-trunc.py
  "noent-creat-excl-trunc": [
    t(1, "Create O_CREAT|O_EXCL|O_TRUNC|O_RDONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, tr: 1, read: "" });
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "" });
    }),
    t(2, "Create O_CREAT|O_EXCL|O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(3, "Create O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { app: 1, crt: 1, ex: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(4, "Create O_CREAT|O_EXCL|O_TRUNC|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { rw: 1, crt: 1, ex: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { rw: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(5, "Create O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, ex: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
  ],
  // tests/noent-creat-excl.py
  "noent-creat-excl": [
    t(1, "Create O_CREAT|O_EXCL|O_RDONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, read: "" });
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "" });
    }),
    t(2, "Create O_CREAT|O_EXCL|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(3, "Create O_CREAT|O_EXCL|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { app: 1, crt: 1, ex: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(4, "Create O_CREAT|O_EXCL|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { rw: 1, crt: 1, ex: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { rw: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(5, "Create O_CREAT|O_EXCL|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, ex: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
  ],
  // tests/noent-creat-trunc.py
  "noent-creat-trunc": [
    t(1, "Create O_CREAT|O_TRUNC|O_RDONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, crt: 1, tr: 1, read: "" });
      ctx.open_file(f, { ro: 1, crt: 1, tr: 1, read: "" });
    }),
    t(2, "Create O_CREAT|O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { wo: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { wo: 1, crt: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(3, "Create O_CREAT|O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { app: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { app: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "qp" });
    }),
    t(4, "Create O_CREAT|O_TRUNC|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { rw: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { rw: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(5, "Create O_CREAT|O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "qp" });
    }),
  ],
  // tests/noent-creat.py
  "noent-creat": [
    t(1, "Create O_CREAT|O_RDONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, crt: 1, read: "" });
      ctx.open_file(f, { ro: 1, crt: 1, read: "" });
    }),
    t(2, "Create O_CREAT|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { wo: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { wo: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(3, "Create O_CREAT|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { app: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { app: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "qp" });
    }),
    t(4, "Create O_CREAT|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { rw: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { rw: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(5, "Create O_CREAT|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "qp" });
    }),
  ],
  // tests/noent-plain.py
  "noent-plain": [
    t(1, "Open O_RDONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(2, "Open O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { wo: 1, err: ENOENT });
      ctx.open_file(f, { wo: 1, err: ENOENT });
    }),
    t(3, "Open O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { app: 1, err: ENOENT });
      ctx.open_file(f, { app: 1, err: ENOENT });
    }),
    t(4, "Open O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { rw: 1, err: ENOENT });
      ctx.open_file(f, { rw: 1, err: ENOENT });
    }),
    t(5, "Open O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, app: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, app: 1, err: ENOENT });
    }),
  ],
  // tests/noent-trunc.py
  "noent-trunc": [
    t(1, "Open O_TRUNC|O_RDONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, tr: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, tr: 1, err: ENOENT });
    }),
    t(2, "Open O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { wo: 1, tr: 1, err: ENOENT });
      ctx.open_file(f, { wo: 1, tr: 1, err: ENOENT });
    }),
    t(3, "Open O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { app: 1, tr: 1, err: ENOENT });
      ctx.open_file(f, { app: 1, tr: 1, err: ENOENT });
    }),
    t(4, "Open O_TRUNC|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { rw: 1, tr: 1, err: ENOENT });
      ctx.open_file(f, { rw: 1, tr: 1, err: ENOENT });
    }),
    t(5, "Open O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.no_file();
      ctx.open_file(f, { ro: 1, app: 1, tr: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, app: 1, tr: 1, err: ENOENT });
    }),
  ],
  // tests/open-creat-excl-trunc.py
  "open-creat-excl-trunc": [
    t(1, "Open O_CREAT|O_EXCL|O_TRUNC|O_RDONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open O_CREAT|O_EXCL|O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(3, "Open O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { app: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Open O_CREAT|O_EXCL|O_TRUNC|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { rw: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(5, "Open O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, ex: 1, tr: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/open-creat-excl.py
  "open-creat-excl": [
    t(1, "Open O_CREAT|O_EXCL|O_RDONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open O_CREAT|O_EXCL|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(3, "Open O_CREAT|O_EXCL|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Open O_CREAT|O_EXCL|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { rw: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(5, "Open O_CREAT|O_EXCL|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/open-creat-trunc.py
  "open-creat-trunc": [
    t(1, "Open O_CREAT|O_TRUNC|O_RDONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, crt: 1, tr: 1, read: "" });
      ctx.open_file(f, { ro: 1, crt: 1, tr: 1, read: "" });
    }),
    t(2, "Open O_CREAT|O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { wo: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { wo: 1, crt: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(3, "Open O_CREAT|O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { app: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { app: 1, crt: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(4, "Open O_CREAT|O_TRUNC|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { rw: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { rw: 1, crt: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(5, "Open O_CREAT|O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
  ],
  // tests/open-creat.py
  "open-creat": [
    t(1, "Open O_CREAT|O_RDONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, crt: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f, { ro: 1, crt: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open O_CREAT|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { wo: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, crt: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(f, { wo: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, crt: 1, read: "pxxx:yyy:zzz" });
    }),
    t(3, "Open O_CREAT|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { app: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, crt: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(f, { app: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, crt: 1, read: ":xxx:yyy:zzzqp" });
    }),
    t(4, "Open O_CREAT|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { rw: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, crt: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(f, { rw: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, crt: 1, read: "pxxx:yyy:zzz" });
    }),
    t(5, "Open O_CREAT|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, crt: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(f, { ro: 1, app: 1, crt: 1, write: "p" });
      ctx.open_file(f, { ro: 1, crt: 1, read: ":xxx:yyy:zzzqp" });
    }),
  ],
  // tests/open-plain.py
  "open-plain": [
    t(1, "Open O_RDONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { wo: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(f, { wo: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "pxxx:yyy:zzz" });
    }),
    t(3, "Open O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { app: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(f, { app: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzzqp" });
    }),
    t(4, "Open O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { rw: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(f, { rw: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "pxxx:yyy:zzz" });
    }),
    t(5, "Open O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, app: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(f, { ro: 1, app: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzzqp" });
    }),
  ],
  // tests/open-trunc.py
  "open-trunc": [
    t(1, "Open O_TRUNC|O_RDONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, tr: 1, read: "" });
      ctx.open_file(f, { ro: 1, tr: 1, read: "" });
    }),
    t(2, "Open O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { wo: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { wo: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(3, "Open O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { app: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { app: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(4, "Open O_TRUNC|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { rw: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { rw: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
    t(5, "Open O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const f = ctx.reg_file();
      ctx.open_file(f, { ro: 1, app: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
      ctx.open_file(f, { ro: 1, app: 1, tr: 1, write: "p" });
      ctx.open_file(f, { ro: 1, read: "p" });
    }),
  ],
  // tests/readlink.py
  readlink: [
    t(1, "Readlink file", (ctx) => {
      const f = ctx.reg_file();
      ctx.readlink(f, { err: EINVAL });
    }),
    t(2, "Readlink direct symlink to file", (ctx) => {
      const f = ctx.direct_sym();
      ctx.readlink(f, { content: ctx.direct_sym_val() });
    }),
    t(3, "Readlink indirect symlink to file", (ctx) => {
      const f = ctx.indirect_sym();
      ctx.readlink(f, { content: ctx.indirect_sym_val() });
    }),
    t(4, "Readlink dir", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.readlink(f, { err: EINVAL });
    }),
    t(5, "Readlink direct symlink to dir", (ctx) => {
      const f = ctx.direct_dir_sym();
      ctx.readlink(f, { content: ctx.direct_dir_sym_val() });
    }),
    t(6, "Readlink indirect symlink to dir", (ctx) => {
      const f = ctx.indirect_dir_sym();
      ctx.readlink(f, { content: ctx.indirect_dir_sym_val() });
    }),
    t(7, "Readlink absent file", (ctx) => {
      const f = ctx.no_file();
      ctx.readlink(f, { err: ENOENT });
    }),
    t(8, "Readlink broken symlink to absent file", (ctx) => {
      const f = ctx.pointless();
      ctx.readlink(f, { content: ctx.pointless_val() });
    }),
    t(9, "Readlink broken symlink", (ctx) => {
      const f = ctx.pointless();
      ctx.readlink(f, { content: ctx.pointless_val() });
    }),
    t(10, "Readlink absent file pointed to by broken symlink", (ctx) => {
      const f = ctx.no_file();
      ctx.readlink(f, { err: ENOENT });
    }),
  ],
  // tests/rename-dir.py
  "rename-dir": [
    t(1, "Move populated dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = `${ctx.empty_dir()}/x`;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_file(`${d2}/a`, { ro: 1 });
    }),
    t(2, "Move populated subdir", (ctx) => {
      const d = `${ctx.non_empty_dir()}/pop`;
      const d2 = `${ctx.empty_dir()}/pop`;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_file(`${d2}/b`, { ro: 1 });
    }),
  ],
  // tests/rename-empty-dir.py
  "rename-empty-dir": [
    t(1, "Rename empty dir and rename back", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(2, "Rename empty dir and remove old name", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.rmdir(d);
      ctx.rmdir(d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(3, "Rename empty dir and unlink old name", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.unlink(d, { err: EISDIR });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(4, "Remove dir and rename old name", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.rmdir(d);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d2, { err: ENOENT });
    }),
    t(5, "Unlink dir and rename old name", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.unlink(d, { err: EISDIR });
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rmdir(d2);
    }),
    t(6, "Rename empty dir twice", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      const d3 = `${ctx.no_dir()}x`;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
    }),
    t(7, "Rename empty dir over another populated dir", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.non_empty_dir();
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(8, "Rename empty dir over itself", (ctx) => {
      const d = ctx.empty_dir();
      ctx.rename(d, d);
      ctx.open_dir(d, { ro: 1 });
    }),
    t(9, "Rename empty dir over a file", (ctx) => {
      const d = ctx.empty_dir();
      const f = ctx.reg_file();
      const f2 = `${ctx.non_empty_dir()}/a`;
      ctx.rename(d, f, { err: ENOTDIR });
      ctx.rename(d, f2, { err: ENOTDIR });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(10, "Rename empty dir over parent dir", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.testdir();
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
    }),
  ],
  // tests/rename-exdev.py
  "rename-exdev": [
    t(1, "Rename empty dir within same parent", (ctx) => {
      const d = ctx.empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2, { err: EXDEV });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(2, "Move empty dir into another parent", (ctx) => {
      const d = ctx.empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = ctx.non_empty_dir() + n;
      ctx.rename(d, d2, { err: EXDEV });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(3, "Rename populated dir within same parent", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2, { err: EXDEV });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
    t(4, "Move populated dir into another parent", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = ctx.empty_dir() + n;
      ctx.rename(d, d2, { err: EXDEV });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
  ],
  // tests/rename-file.py
  "rename-file": [
    t(1, "Rename file and rename back", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.rename(f, f2);
      ctx.rename(f, f2, { err: ENOENT });
      ctx.rename(f2, f);
      ctx.rename(f2, f, { err: ENOENT });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(2, "Rename file and unlink old name", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.rename(f, f2);
      ctx.unlink(f, { err: ENOENT });
      ctx.rename(f2, f);
      ctx.rename(f2, f, { err: ENOENT });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.unlink(f);
      ctx.unlink(f, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(3, "Rename file and rmdir old name", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.rename(f, f2);
      ctx.rmdir(f, { err: ENOENT });
      ctx.rename(f2, f);
      ctx.rename(f2, f, { err: ENOENT });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.rmdir(f, { err: ENOTDIR });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
    }),
    t(4, "Unlink file and rename old name", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.unlink(f);
      ctx.rename(f, f2, { err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.unlink(f2, { err: ENOENT });
    }),
    t(5, "Rmdir file and rename old name", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      ctx.rmdir(f, { err: ENOTDIR });
      ctx.rename(f, f2);
      ctx.rmdir(f, { err: ENOENT });
      ctx.unlink(f2);
    }),
    t(6, "Rename file twice", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      const f3 = `${ctx.no_file()}x`;
      ctx.rename(f, f2);
      ctx.rename(f, f2, { err: ENOENT });
      ctx.rename(f2, f3);
      ctx.rename(f2, f3, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, err: ENOENT });
      ctx.open_file(f3, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(7, "Rename file over another", (ctx) => {
      const f = ctx.reg_file();
      const f2 = `${ctx.non_empty_dir()}/a`;
      ctx.rename(f, f2);
      ctx.rename(f, f2, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(8, "Rename file over itself", (ctx) => {
      const f = ctx.reg_file();
      ctx.rename(f, f);
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(9, "Rename file over a dir", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.empty_dir();
      const d2 = ctx.non_empty_dir();
      ctx.rename(f, d, { err: EISDIR });
      ctx.rename(f, d2, { err: EISDIR });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(10, "Rename file over parent dir", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.testdir();
      ctx.rename(f, d, { err: ENOTEMPTY });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/rename-hard-link.py
  "rename-hard-link": [
    t(1, "Rename hardlinked file", (ctx) => {
      const f = ctx.reg_file();
      const f2 = ctx.no_file();
      const f3 = `${ctx.no_file()}-a`;
      const f4 = `${ctx.reg_file()}-a`;
      ctx.link(f, f2);
      ctx.rename(f2, f3);
      ctx.rename(f3, f2);
      ctx.rename(f, f4);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.open_file(f2, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f3, { ro: 1, err: ENOENT });
      ctx.open_file(f4, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/rename-move-dir.py
  "rename-move-dir": [
    t(1, "Move empty dir into another", (ctx) => {
      const d = ctx.empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = ctx.non_empty_dir() + n;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
    }),
    t(2, "Move populated dir into another", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = ctx.empty_dir() + n;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_file(`${d2}/a`, { ro: 1 });
    }),
    t(3, "Rename populated dir and move into another", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = `${d}x`;
      const d3 = ctx.empty_dir() + n;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_file(`${d3}/a`, { ro: 1 });
    }),
    t(4, "Move populated dir into another and rename", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = ctx.empty_dir() + n;
      const d3 = `${ctx.empty_dir() + n}x`;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_file(`${d3}/a`, { ro: 1 });
    }),
    t(5, "Move populated dir into another and move subdir into another", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = ctx.empty_dir() + n;
      const d2a = `${d2}/pop`;
      const d3 = `${ctx.empty_dir()}/pop`;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2a, d3);
      ctx.rename(d2a, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d2a, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1 });
      ctx.open_file(`${d3}/b`, { ro: 1 });
    }),
    t(6, "Rename populated dir and child and move into another", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const d2 = `${d}x`;
      const da = `${d}/pop`;
      const db = `${d}/popx`;
      const d3 = ctx.empty_dir() + n;
      const d3a = `${d3}/pop`;
      const d3b = `${d3}/popx`;
      ctx.rename(da, db, { recycle: false });
      ctx.rename(da, db, { err: ENOENT });
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_dir(d3a, { ro: 1, err: ENOENT });
      ctx.open_dir(d3b, { ro: 1 });
      ctx.open_file(`${d3}/a`, { ro: 1 });
      ctx.open_file(`${d3b}/b`, { ro: 1 });
    }),
    t(7, "Rename populated dir and parent and move into another", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = `${d}x`;
      const d2a = `${d2}/pop`;
      const d2b = `${d2}/popx`;
      const da = `${d}/pop`;
      const db = `${d}/popx`;
      const d3 = ctx.empty_dir();
      const d3a = `${d3}/pop`;
      const d3b = `${d3}/popx`;
      ctx.rename(da, db, { recycle: false });
      ctx.rename(da, db, { err: ENOENT });
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2b, d3b);
      ctx.rename(d2b, d3b, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d2a, { ro: 1, err: ENOENT });
      ctx.open_dir(d2b, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_dir(d3a, { ro: 1, err: ENOENT });
      ctx.open_dir(d3b, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1 });
      ctx.open_file(`${d3b}/b`, { ro: 1 });
    }),
    t(8, "Move new empty dir into empty lower", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = `${ctx.empty_dir()}/new`;
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(9, "Move new empty dir into lower ancestor", (ctx) => {
      const d = `${ctx.empty_dir()}/new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(10, "Move new dir leaf into lower ancestor", (ctx) => {
      const p = `${ctx.empty_dir()}/newp`;
      const d = `${p}/new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(p, 0o755);
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(11, "Move new dir branch into lower ancestor", (ctx) => {
      const p = `${ctx.empty_dir()}/newp`;
      const d = `${p}/new`;
      const n = ctx.no_dir();
      const d2 = n;
      ctx.mkdir(p, 0o755);
      ctx.mkdir(d, 0o755);
      ctx.rename(p, d2);
      ctx.open_dir(p, { ro: 1, err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(`${n}/new`, { ro: 1 });
    }),
    t(12, "Move populated dir into a new dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const n = d.slice(d.lastIndexOf("/"));
      const p = `${ctx.empty_dir()}/new`;
      const d2 = p + n;
      ctx.mkdir(p, 0o755);
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_file(`${d2}/a`, { ro: 1 });
    }),
  ],
  // tests/rename-new-dir.py
  "rename-new-dir": [
    t(1, "Rename new empty dir and rename back", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(2, "Rename new empty dir and remove old name", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.rmdir(d);
      ctx.rmdir(d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(3, "Rename new empty dir and unlink old name", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.unlink(d, { err: EISDIR });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
    }),
    t(4, "Remove new empty dir and rename old name", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.rmdir(d);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d2, { err: ENOENT });
    }),
    t(5, "Unlink new empty dir and rename old name", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.unlink(d, { err: EISDIR });
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rmdir(d2);
    }),
    t(6, "Rename new empty dir twice", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.no_dir();
      const d3 = `${ctx.no_dir()}x`;
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
    }),
    t(7, "Rename new empty dir over another populated dir", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(8, "Rename new empty dir over itself", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d);
      ctx.open_dir(d, { ro: 1 });
    }),
    t(9, "Rename new empty dir over a file", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const f = ctx.reg_file();
      const f2 = `${ctx.non_empty_dir()}/a`;
      ctx.mkdir(d, 0o755);
      ctx.rename(d, f, { err: ENOTDIR });
      ctx.rename(d, f2, { err: ENOTDIR });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(10, "Rename new empty dir over parent dir", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.testdir();
      ctx.mkdir(d, 0o755);
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
    }),
    t(11, "Rename new empty dir over removed empty lower dir", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.rmdir(d2);
      ctx.rename(d, d2);
      ctx.open_dir(d2, { ro: 1 });
    }),
    t(12, "Rename new empty dir over removed populated lower dir", (ctx) => {
      const d = `${ctx.empty_dir()}-new`;
      const d2 = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.rmtree(d2);
      ctx.rename(d, d2);
      ctx.open_file(`${d2}/a`, { ro: 1, err: ENOENT });
      ctx.open_dir(`${d2}/pop`, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
    }),
  ],
  // tests/rename-new-pop-dir.py
  "rename-new-pop-dir": [
    t(1, "Rename new dir and rename back", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(2, "Rename new dir and remove old name", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(3, "Rename new dir and unlink old name", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.unlink(d, { err: EISDIR });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(4, "Remove dir and rename old name", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.rename(d, d2);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d2, { err: ENOTEMPTY });
      ctx.open_file(`${d2}/a`, { ro: 1, read: "aaaa" });
    }),
    t(5, "Unlink new dir and rename old name", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.no_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.unlink(d, { err: EISDIR });
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rmdir(d2, { err: ENOTEMPTY });
      ctx.open_file(`${d2}/a`, { ro: 1, read: "aaaa" });
    }),
    t(6, "Rename new dir twice", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.no_dir();
      const d3 = `${ctx.no_dir()}x`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_file(`${d3}/a`, { ro: 1, read: "aaaa" });
    }),
    t(7, "Rename new dir over another populated dir", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1, read: "aaaa" });
    }),
    t(8, "Rename new dir over itself", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d);
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(9, "Rename new dir over a child file", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const f = ctx.reg_file();
      const f2 = `${ctx.non_empty_dir()}-new/a`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, f, { err: ENOTDIR });
      ctx.rename(d, f2, { err: EINVAL });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(10, "Rename new dir over a file", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const f = `${ctx.non_empty_dir()}/a`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, f, { err: ENOTDIR });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(11, "Rename new dir over parent dir", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.testdir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(12, "Rename new dir over unioned dir", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1, read: "aaaa" });
    }),
    t(13, "Rename new dir over removed unioned empty dir", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = `${ctx.non_empty_dir()}/pop/c`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmdir(d2);
      ctx.rename(d, d2);
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1, read: "aaaa" });
    }),
    t(14, "Rename new dir over removed unioned dir, different files", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = `${ctx.non_empty_dir()}/pop`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmtree(d2);
      ctx.rename(d, d2);
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1, read: "aaaa" });
      ctx.open_file(`${d2}/b`, { ro: 1, err: ENOENT });
    }),
    t(15, "Rename new dir over removed unioned dir, same files", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = `${ctx.non_empty_dir()}/pop`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/b`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmtree(d2);
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/b`, { ro: 1, read: "aaaa" });
    }),
    t(16, "Rename new dir over removed unioned dir, different dirs", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.mkdir(`${d}/pop`, 0o755);
      ctx.open_file(`${d}/pop/x`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmtree(d2);
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/pop/x`, { ro: 1, read: "aaaa" });
      ctx.open_file(`${d2}/pop/b`, { ro: 1, err: ENOENT });
    }),
    t(17, "Rename new dir over removed unioned dir, same dirs", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.mkdir(`${d}/pop`, 0o755);
      ctx.open_file(`${d}/pop/b`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmtree(d2);
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/pop/b`, { ro: 1, read: "aaaa" });
    }),
    t(18, "Rename new dir over unlinked unioned dir", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = ctx.non_empty_dir();
      ctx.mkdir(d, 0o755);
      ctx.mkdir(`${d}/pop`, 0o755);
      ctx.open_file(`${d}/pop/b`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.unlink(d2, { err: EISDIR });
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d}/pop/b`, { ro: 1, read: "aaaa" });
      ctx.open_file(`${d2}/pop/b`, { ro: 1, read: ":aaa:bbb:ccc" });
    }),
    t(19, "Rename new dir over an emptied lower dir", (ctx) => {
      const d = `${ctx.non_empty_dir()}-new`;
      const d2 = `${ctx.non_empty_dir()}/pop`;
      ctx.mkdir(d, 0o755);
      ctx.open_file(`${d}/a`, { wo: 1, crt: 1, write: "aaaa" });
      ctx.rmdir(`${d2}/c`);
      ctx.unlink(`${d2}/b`);
      ctx.rename(d, d2);
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1, read: "aaaa" });
      ctx.open_file(`${d2}/b`, { ro: 1, err: ENOENT });
    }),
  ],
  // tests/rename-pop-dir.py
  "rename-pop-dir": [
    t(1, "Rename dir and rename back", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
    t(2, "Rename dir and remove old name", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
    t(3, "Rename dir and unlink old name", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rename(d2, d);
      ctx.rename(d2, d, { err: ENOENT });
      ctx.open_dir(d, { ro: 1 });
      ctx.unlink(d, { err: EISDIR });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
    t(4, "Remove dir and rename old name", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.rename(d, d2);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d2, { err: ENOTEMPTY });
      ctx.open_file(`${d2}/a`, { ro: 1 });
    }),
    t(5, "Unlink dir and rename old name", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      ctx.unlink(d, { err: EISDIR });
      ctx.rename(d, d2);
      ctx.unlink(d, { err: ENOENT });
      ctx.rmdir(d2, { err: ENOTEMPTY });
      ctx.open_file(`${d2}/a`, { ro: 1 });
    }),
    t(6, "Rename dir twice", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.no_dir();
      const d3 = `${ctx.no_dir()}x`;
      ctx.rename(d, d2);
      ctx.rename(d, d2, { err: ENOENT });
      ctx.rename(d2, d3);
      ctx.rename(d2, d3, { err: ENOENT });
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1, err: ENOENT });
      ctx.open_dir(d3, { ro: 1 });
      ctx.open_file(`${d3}/a`, { ro: 1 });
    }),
    t(7, "Rename populated dir over another empty dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.empty_dir();
      ctx.rename(d, d2);
      ctx.open_dir(d, { ro: 1, err: ENOENT });
      ctx.open_dir(d2, { ro: 1 });
      ctx.open_file(`${d2}/a`, { ro: 1 });
    }),
    t(8, "Rename dir over itself", (ctx) => {
      const d = ctx.non_empty_dir();
      ctx.rename(d, d);
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
    t(9, "Rename dir over a child file", (ctx) => {
      const d = ctx.non_empty_dir();
      const f = ctx.reg_file();
      const f2 = `${ctx.non_empty_dir()}/a`;
      ctx.rename(d, f, { err: ENOTDIR });
      ctx.rename(d, f2, { err: EINVAL });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
    t(10, "Rename dir over a file", (ctx) => {
      const d = `${ctx.non_empty_dir()}/pop`;
      const f = `${ctx.non_empty_dir()}/a`;
      ctx.rename(d, f, { err: ENOTDIR });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/b`, { ro: 1 });
    }),
    t(11, "Rename dir over parent dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = ctx.testdir();
      ctx.rename(d, d2, { err: ENOTEMPTY });
      ctx.open_dir(d, { ro: 1 });
      ctx.open_file(`${d}/a`, { ro: 1 });
    }),
  ],
  // tests/rmdir.py
  rmdir: [
    t(1, "Remove nonexistent directory", (ctx) => {
      const d = ctx.no_dir();
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d, { err: ENOENT });
    }),
    t(2, "Remove subdir from nonexistent directory", (ctx) => {
      const d = `${ctx.no_dir()}/sub`;
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d, { err: ENOENT });
    }),
    t(3, "Remove-dir a file", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.reg_file();
      ctx.rmdir(d, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOTDIR });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Remove subdir from file", (ctx) => {
      const f = ctx.reg_file();
      const d = `${ctx.reg_file()}/sub`;
      ctx.rmdir(d, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOTDIR });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(5, "Remove empty dir", (ctx) => {
      const d = ctx.empty_dir();
      const subdir = `${d}/sub`;
      ctx.rmdir(d);
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(subdir, { err: ENOENT });
    }),
    t(6, "Remove directory from empty dir", (ctx) => {
      const d = `${ctx.empty_dir()}/sub`;
      ctx.rmdir(d, { err: ENOENT });
      ctx.rmdir(d, { err: ENOENT });
    }),
    t(7, "Remove populated directory", (ctx) => {
      const d = ctx.non_empty_dir();
      const f = `${d}/a`;
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_file(f, { ro: 1, read: "" });
      ctx.unlink(f);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.rmtree(d);
      ctx.open_file(f, { ro: 1, read: "", err: ENOENT });
    }),
    t(8, "Remove populated directory with created file", (ctx) => {
      const d = ctx.empty_dir();
      const f = `${d}/b`;
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, write: "abcq" });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.unlink(f);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.rmtree(d);
      ctx.open_file(f, { ro: 1, read: "", err: ENOENT });
    }),
    t(9, "Remove populated directory with copied up file", (ctx) => {
      const d = ctx.non_empty_dir();
      const f = `${d}/a`;
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_file(f, { ro: 1, read: "" });
      ctx.open_file(f, { wo: 1, write: "abcd" });
      ctx.open_file(f, { ro: 1, read: "abcd" });
      ctx.unlink(f);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.rmtree(d);
      ctx.open_file(f, { ro: 1, read: "", err: ENOENT });
    }),
    t(10, "Remove populated directory with mkdir after unlink", (ctx) => {
      const d = ctx.non_empty_dir();
      const f = `${d}/a`;
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_file(f, { ro: 1, read: "" });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.unlink(f);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.mkdir(f, 0o755);
      ctx.mkdir(f, 0o755, { err: EEXIST });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.rmdir(f);
      ctx.rmdir(f, { err: ENOENT });
      ctx.rmtree(d);
      ctx.open_file(f, { ro: 1, read: "", err: ENOENT });
    }),
    t(11, "Remove directory from dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const pop = `${d}/pop`;
      const subdir = `${pop}/c`;
      const f = `${pop}/b`;
      ctx.rmdir(subdir);
      ctx.rmdir(subdir, { err: ENOENT });
      ctx.mkdir(subdir, 0o755);
      ctx.mkdir(subdir, 0o755, { err: EEXIST });
      ctx.open_file(f, { ro: 1, read: ":aaa:bbb:ccc" });
      ctx.rmtree(d);
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(12, "Remove-dir symlinks to file", (ctx) => {
      const f = ctx.reg_file();
      const d = ctx.reg_file();
      const sym = ctx.direct_sym();
      const isym = ctx.indirect_sym();
      ctx.rmdir(isym, { err: ENOTDIR });
      ctx.rmdir(isym, { err: ENOTDIR });
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOTDIR });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(13, "Remove directory over sym to dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const sym = ctx.direct_dir_sym();
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_file(`${sym}/a`, { ro: 1, read: "" });
      ctx.open_file(`${d}/a`, { ro: 1, read: "" });
      ctx.rmtree(d);
      ctx.open_file(`${sym}/a`, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1, err: ENOENT });
    }),
    t(14, "Remove directory over sym to sym to dir", (ctx) => {
      const d = ctx.non_empty_dir();
      const sym = ctx.direct_dir_sym();
      const isym = ctx.indirect_dir_sym();
      ctx.rmdir(isym, { err: ENOTDIR });
      ctx.rmdir(isym, { err: ENOTDIR });
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.open_file(`${isym}/a`, { ro: 1, read: "" });
      ctx.open_file(`${sym}/a`, { ro: 1, read: "" });
      ctx.open_file(`${d}/a`, { ro: 1, read: "" });
      ctx.rmtree(d);
      ctx.open_file(`${isym}/a`, { ro: 1, err: ENOENT });
      ctx.open_file(`${sym}/a`, { ro: 1, err: ENOENT });
      ctx.open_file(`${d}/a`, { ro: 1, err: ENOENT });
    }),
    t(15, "Remove directory over dangling sym", (ctx) => {
      const d = ctx.no_file();
      const sym = ctx.pointless();
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(sym, { err: ENOTDIR });
      ctx.rmdir(d, { err: ENOENT });
    }),
    t(16, "Remove non-empty opaque directory", (ctx) => {
      const d = ctx.empty_dir();
      const f = `${d}/b`;
      ctx.rmdir(d);
      ctx.rmdir(d, { err: ENOENT });
      ctx.mkdir(d, 0o755);
      ctx.open_file(f, { wo: 1, crt: 1, ex: 1, write: "abcq" });
      ctx.rmdir(d, { err: ENOTEMPTY });
      ctx.unlink(f);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.rmdir(d);
    }),
  ],
  // tests/rmtree-new.py
  "rmtree-new": [
    t(1, "Recursive remove populated lower dir with new subdir", (ctx) => {
      const d = ctx.non_empty_dir();
      const d2 = `${d}/b`;
      ctx.mkdir(d2, 0o755);
      ctx.rmtree(d);
    }),
  ],
  // tests/rmtree.py
  rmtree: [
    t(1, "Recursive remove populated lower dir with lower files", (ctx) => {
      const d = ctx.non_empty_dir();
      ctx.rmtree(d);
    }),
  ],
  // tests/sym1-creat-excl.py
  "sym1-creat-excl": [
    t(1, "Open(symlink) O_CREAT|O_EXCL|O_RDONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open(symlink) O_CREAT|O_EXCL|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(3, "Open(symlink) O_CREAT|O_EXCL|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Open(symlink) O_CREAT|O_EXCL|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { rw: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(5, "Open(symlink) O_CREAT|O_EXCL|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/sym1-creat.py
  "sym1-creat": [
    t(1, "Open(symlink) O_CREAT|O_RDONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, crt: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open(symlink) O_CREAT|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { wo: 1, crt: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(symlink, { wo: 1, crt: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: "pxxx:yyy:zzz" });
    }),
    t(3, "Open(symlink) O_CREAT|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { app: 1, crt: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(symlink, { app: 1, crt: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: ":xxx:yyy:zzzqp" });
    }),
    t(4, "Open(symlink) O_CREAT|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { rw: 1, crt: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(symlink, { rw: 1, crt: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: "pxxx:yyy:zzz" });
    }),
    t(5, "Open(symlink) O_CREAT|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, app: 1, crt: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(symlink, { ro: 1, app: 1, crt: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, crt: 1, read: ":xxx:yyy:zzzqp" });
    }),
  ],
  // tests/sym1-plain.py
  "sym1-plain": [
    t(1, "Open(symlink) O_RDONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open(symlink) O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { wo: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(symlink, { wo: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: "pxxx:yyy:zzz" });
    }),
    t(3, "Open(symlink) O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { app: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(symlink, { app: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzzqp" });
    }),
    t(4, "Open(symlink) O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { rw: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(symlink, { rw: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: "pxxx:yyy:zzz" });
    }),
    t(5, "Open(symlink) O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, app: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(symlink, { ro: 1, app: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzzqp" });
    }),
  ],
  // tests/sym1-trunc.py
  "sym1-trunc": [
    t(1, "Open(symlink) O_TRUNC|O_RDONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, tr: 1, read: "" });
      ctx.open_file(symlink, { ro: 1, tr: 1, read: "" });
    }),
    t(2, "Open(symlink) O_TRUNC|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { wo: 1, tr: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: "q" });
      ctx.open_file(symlink, { wo: 1, tr: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: "p" });
    }),
    t(3, "Open(symlink) O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { app: 1, tr: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: "q" });
      ctx.open_file(symlink, { app: 1, tr: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: "p" });
    }),
    t(4, "Open(symlink) O_TRUNC|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { rw: 1, tr: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: "q" });
      ctx.open_file(symlink, { rw: 1, tr: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: "p" });
    }),
    t(5, "Open(symlink) O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.direct_sym();
      ctx.open_file(symlink, { ro: 1, app: 1, tr: 1, write: "q" });
      ctx.open_file(symlink, { ro: 1, read: "q" });
      ctx.open_file(symlink, { ro: 1, app: 1, tr: 1, write: "p" });
      ctx.open_file(symlink, { ro: 1, read: "p" });
    }),
  ],
  // tests/sym2-creat-excl.py
  "sym2-creat-excl": [
    t(1, "Open(symlink->symlink) O_CREAT|O_EXCL|O_RDONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open(symlink->symlink) O_CREAT|O_EXCL|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { wo: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(3, "Open(symlink->symlink) O_CREAT|O_EXCL|O_APPEND|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Open(symlink->symlink) O_CREAT|O_EXCL|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { rw: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(5, "Open(symlink->symlink) O_CREAT|O_EXCL|O_APPEND|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, app: 1, crt: 1, ex: 1, err: EEXIST });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/sym2-creat.py
  "sym2-creat": [
    t(1, "Open(symlink->symlink) O_CREAT|O_RDONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, crt: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open(symlink->symlink) O_CREAT|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { wo: 1, crt: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(indirect, { wo: 1, crt: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: "pxxx:yyy:zzz" });
    }),
    t(3, "Open(symlink->symlink) O_CREAT|O_APPEND|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { app: 1, crt: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(indirect, { app: 1, crt: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: ":xxx:yyy:zzzqp" });
    }),
    t(4, "Open(symlink->symlink) O_CREAT|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { rw: 1, crt: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(indirect, { rw: 1, crt: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: "pxxx:yyy:zzz" });
    }),
    t(5, "Open(symlink->symlink) O_CREAT|O_APPEND|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, app: 1, crt: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(indirect, { ro: 1, app: 1, crt: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, crt: 1, read: ":xxx:yyy:zzzqp" });
    }),
  ],
  // tests/sym2-plain.py
  "sym2-plain": [
    t(1, "Open(symlink->symlink) O_RDONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(2, "Open(symlink->symlink) O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { wo: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(indirect, { wo: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: "pxxx:yyy:zzz" });
    }),
    t(3, "Open(symlink->symlink) O_APPEND|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { app: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(indirect, { app: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzzqp" });
    }),
    t(4, "Open(symlink->symlink) O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { rw: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: "qxxx:yyy:zzz" });
      ctx.open_file(indirect, { rw: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: "pxxx:yyy:zzz" });
    }),
    t(5, "Open(symlink->symlink) O_APPEND|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, app: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzzq" });
      ctx.open_file(indirect, { ro: 1, app: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzzqp" });
    }),
  ],
  // tests/sym2-trunc.py
  "sym2-trunc": [
    t(1, "Open(symlink->symlink) O_TRUNC|O_RDONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, tr: 1, read: "" });
      ctx.open_file(indirect, { ro: 1, tr: 1, read: "" });
    }),
    t(2, "Open(symlink->symlink) O_TRUNC|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { wo: 1, tr: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: "q" });
      ctx.open_file(indirect, { wo: 1, tr: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: "p" });
    }),
    t(3, "Open(symlink->symlink) O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { app: 1, tr: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: "q" });
      ctx.open_file(indirect, { app: 1, tr: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: "p" });
    }),
    t(4, "Open(symlink->symlink) O_TRUNC|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { rw: 1, tr: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: "q" });
      ctx.open_file(indirect, { rw: 1, tr: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: "p" });
    }),
    t(5, "Open(symlink->symlink) O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const indirect = ctx.indirect_sym();
      ctx.open_file(indirect, { ro: 1, app: 1, tr: 1, write: "q" });
      ctx.open_file(indirect, { ro: 1, read: "q" });
      ctx.open_file(indirect, { ro: 1, app: 1, tr: 1, write: "p" });
      ctx.open_file(indirect, { ro: 1, read: "p" });
    }),
  ],
  // tests/symx-creat-excl.py
  "symx-creat-excl": [
    t(1, "Open(broken) O_CREAT|O_EXCL|O_RDONLY", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { ro: 1, crt: 1, ex: 1, err: EEXIST });
    }),
    t(2, "Open(broken) O_CREAT|O_EXCL|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { wo: 1, crt: 1, ex: 1, err: EEXIST });
    }),
    t(3, "Open(broken) O_CREAT|O_EXCL|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { app: 1, crt: 1, ex: 1, err: EEXIST });
    }),
    t(4, "Open(broken) O_CREAT|O_EXCL|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { rw: 1, crt: 1, ex: 1, err: EEXIST });
    }),
    t(5, "Open(broken) O_CREAT|O_EXCL|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { ro: 1, app: 1, crt: 1, ex: 1, err: EEXIST });
    }),
  ],
  // tests/symx-creat-trunc.py
  "symx-creat-trunc": [
    t(1, "Open(broken) O_CREAT|O_TRUNC|O_RDONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { ro: 1, crt: 1, tr: 1, read: "" });
      ctx.open_file(f, { ro: 1, read: "" });
    }),
    t(2, "Open(broken) O_CREAT|O_TRUNC|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { wo: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(3, "Open(broken) O_CREAT|O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { app: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(4, "Open(broken) O_CREAT|O_TRUNC|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { rw: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(5, "Open(broken) O_CREAT|O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { ro: 1, app: 1, crt: 1, tr: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
  ],
  // tests/symx-creat.py
  "symx-creat": [
    t(1, "Open(broken) O_CREAT|O_RDONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { ro: 1, crt: 1, read: "" });
      ctx.open_file(f, { ro: 1, read: "" });
    }),
    t(2, "Open(broken) O_CREAT|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { wo: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(3, "Open(broken) O_CREAT|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { app: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(4, "Open(broken) O_CREAT|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { rw: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
    t(5, "Open(broken) O_CREAT|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { ro: 1, app: 1, crt: 1, write: "q" });
      ctx.open_file(f, { ro: 1, read: "q" });
    }),
  ],
  // tests/symx-plain.py
  "symx-plain": [
    t(1, "Open(broken) O_RDONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { ro: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(2, "Open(broken) O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { wo: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(3, "Open(broken) O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { app: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(4, "Open(broken) O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { rw: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(5, "Open(broken) O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      const f = ctx.no_file();
      ctx.open_file(symlink, { ro: 1, app: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
  ],
  // tests/symx-trunc.py
  "symx-trunc": [
    t(1, "Open(broken) O_TRUNC|O_RDONLY", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { ro: 1, tr: 1, err: ENOENT });
    }),
    t(2, "Open(broken) O_TRUNC|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { wo: 1, tr: 1, err: ENOENT });
    }),
    t(3, "Open(broken) O_TRUNC|O_APPEND|O_WRONLY", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { app: 1, tr: 1, err: ENOENT });
    }),
    t(4, "Open(broken) O_TRUNC|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { rw: 1, tr: 1, err: ENOENT });
    }),
    t(5, "Open(broken) O_TRUNC|O_APPEND|O_RDWR", (ctx) => {
      const symlink = ctx.pointless();
      ctx.open_file(symlink, { ro: 1, app: 1, tr: 1, err: ENOENT });
    }),
  ],
  // tests/unlink.py
  unlink: [
    t(1, "Unlink file", (ctx) => {
      const f = ctx.reg_file();
      ctx.unlink(f);
      ctx.open_file(f, { ro: 1, err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
      ctx.open_file(f, { ro: 1, err: ENOENT });
    }),
    t(2, "Unlink direct symlink to file", (ctx) => {
      const symlink = ctx.direct_sym();
      const f = ctx.reg_file();
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.unlink(symlink);
      ctx.open_file(symlink, { ro: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.unlink(symlink, { err: ENOENT });
      ctx.open_file(symlink, { ro: 1, err: ENOENT });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(3, "Unlink indirect symlink to file", (ctx) => {
      const indirect = ctx.indirect_sym();
      const symlink = ctx.direct_sym();
      const f = ctx.reg_file();
      ctx.open_file(indirect, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.unlink(indirect);
      ctx.open_file(indirect, { ro: 1, err: ENOENT });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.unlink(indirect, { err: ENOENT });
      ctx.open_file(indirect, { ro: 1, err: ENOENT });
      ctx.open_file(symlink, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
    t(4, "Unlink dir", (ctx) => {
      const f = ctx.non_empty_dir();
      ctx.unlink(f, { err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
      ctx.unlink(f, { err: EISDIR });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(5, "Unlink direct symlink to dir", (ctx) => {
      const symlink = ctx.direct_dir_sym();
      const f = ctx.non_empty_dir();
      ctx.open_dir(symlink, { ro: 1 });
      ctx.unlink(symlink);
      ctx.open_dir(symlink, { ro: 1, err: ENOENT });
      ctx.open_dir(f, { ro: 1 });
      ctx.unlink(symlink, { err: ENOENT });
      ctx.open_dir(symlink, { ro: 1, err: ENOENT });
      ctx.open_dir(f, { ro: 1 });
    }),
    t(6, "Unlink indirect symlink to dir", (ctx) => {
      const indirect = ctx.indirect_dir_sym();
      const symlink = ctx.direct_dir_sym();
      const f = ctx.non_empty_dir();
      ctx.open_dir(indirect, { ro: 1 });
      ctx.unlink(indirect);
      ctx.open_dir(indirect, { ro: 1, err: ENOENT });
      ctx.open_dir(symlink, { ro: 1 });
      ctx.open_dir(f, { ro: 1 });
      ctx.unlink(indirect, { err: ENOENT });
      ctx.open_dir(indirect, { ro: 1, err: ENOENT });
      ctx.open_dir(symlink, { ro: 1 });
    }),
    t(7, "Unlink absent file", (ctx) => {
      const f = ctx.no_file();
      ctx.unlink(f, { err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
    }),
    t(8, "Unlink broken symlink to absent file", (ctx) => {
      const f = ctx.pointless();
      ctx.unlink(f);
      ctx.unlink(f, { err: ENOENT });
    }),
    t(9, "Unlink broken symlink", (ctx) => {
      const f = ctx.pointless();
      ctx.unlink(f);
      ctx.unlink(f, { err: ENOENT });
    }),
    t(10, "Unlink absent file pointed to by broken symlink", (ctx) => {
      const f = ctx.no_file();
      ctx.unlink(f, { err: ENOENT });
      ctx.unlink(f, { err: ENOENT });
    }),
  ],
  // tests/truncate.py
  truncate: [
    t(1, "Truncate file", (ctx) => {
      let key = ":xxx:yyy:zzz";
      while (key.length !== 29) key += "\0";
      for (let loop = 0; loop < 29; loop++) {
        const f = ctx.reg_file();
        ctx.get_file_size(f, 12); // "Initial size (…) is not 12"
        ctx.truncate(f, loop);
        ctx.get_file_size(f, loop); // "Truncated size (…) is not <loop>"
        if (loop !== 0) ctx.open_file(f, { ro: 1, read: key.slice(0, loop) }); // post != 0, post == loop
        ctx.incr_filenr();
      }
    }),
  ],
  // tests/impermissible.py
  impermissible: [
    t(1, "Impermissible open O_TRUNC|O_WRONLY", (ctx) => {
      const f = ctx.rootfile();
      ctx.open_file(f, { wo: 1, tr: 1, err: EACCES, as_bin: 1 });
      ctx.open_file(f, { wo: 1, err: EACCES, as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz", as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f, { wo: 1, write: "shark" });
      ctx.open_file(f, { ro: 1, read: "sharkyyy:zzz" });
      ctx.open_file(f, { ro: 1, read: "sharkyyy:zzz", as_bin: 1 });
    }),
    t(2, "Impermissible open O_WRONLY", (ctx) => {
      const f = ctx.rootfile();
      ctx.open_file(f, { wo: 1, err: EACCES, as_bin: 1 });
      ctx.open_file(f, { wo: 1, err: EACCES, as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz", as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f, { wo: 1, write: "shark" });
      ctx.open_file(f, { ro: 1, read: "sharkyyy:zzz" });
      ctx.open_file(f, { ro: 1, read: "sharkyyy:zzz", as_bin: 1 });
    }),
    t(3, "Impermissible open O_APPEND", (ctx) => {
      const f = ctx.rootfile();
      ctx.open_file(f, { app: 1, err: EACCES, as_bin: 1 });
      ctx.open_file(f, { app: 1, err: EACCES, as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz", as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.open_file(f, { app: 1, write: "shark" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzzshark" });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzzshark", as_bin: 1 });
    }),
    t(4, "Impermissible truncate", (ctx) => {
      const f = ctx.rootfile();
      ctx.get_file_size(f, 12); // "Initial size (…) is not 12"
      ctx.truncate(f, 4, { err: EACCES, as_bin: 1 });
      ctx.truncate(f, 4, { err: EACCES, as_bin: 1 });
      ctx.get_file_size(f, 12); // "Size (…) is not still 12"
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz", as_bin: 1 });
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
      ctx.truncate(f, 4);
      ctx.get_file_size(f, 4); // "Size (…) is not 4"
      ctx.open_file(f, { ro: 1, read: ":xxx" });
      ctx.open_file(f, { ro: 1, read: ":xxx", as_bin: 1 });
    }),
    t(5, "Impermissible utimes", (ctx) => {
      const f = ctx.rootfile();
      ctx.get_file_atime(f);
      ctx.get_file_mtime(f);
      ctx.utimes(f, { err: EACCES, as_bin: 1 });
      ctx.utimes(f, { err: EACCES, as_bin: 1 });
      // "Access time unexpectedly changed", "Modification time unexpectedly changed"
      ctx.utimes(f);
      // "Access time didn't change", "Modification time didn't change"
      ctx.open_file(f, { ro: 1, read: ":xxx:yyy:zzz" });
    }),
  ],
  // tests/rename-mass.py: file_count = 104, iter_count = 3
  "rename-mass": [
    t(1, "Mass rename sequential files into each other's vacated name slots", (ctx) => {
      const base = ctx.reg_file().slice(0, -3);
      for (let j = 0; j < 3; j++) {
        for (let i = 104 - 1; i > 100 - 1; i--) ctx.rename(`${base}${i + j}`, `${base}${i + j + 1}`);
      }
    }),
    t(2, "Unlink mass renamed files", (ctx) => {
      const base = ctx.reg_file().slice(0, -3);
      for (let i = 100; i < 104; i++) ctx.unlink(`${base}${i + 3}`);
    }),
  ],
  // tests/rename-mass-2.py: file_count = 104, iter_count = 3
  "rename-mass-2": [
    t(1, "Mass rename fooN_0->fooN_1->...->fooN_M", (ctx) => {
      const base = ctx.reg_file().slice(0, -3);
      for (let i = 100; i < 104; i++) ctx.rename(`${base}${i}`, `${base}${i}_0`);
      for (let j = 0; j < 3; j++) {
        for (let i = 104 - 1; i > 100 - 1; i--) ctx.rename(`${base}${i}_${j}`, `${base}${i}_${j + 1}`);
      }
    }),
    t(2, "Unlink mass renamed files", (ctx) => {
      const base = ctx.reg_file().slice(0, -3);
      for (let i = 100; i < 104; i++) ctx.unlink(`${base}${i}_3`);
    }),
  ],
  // tests/rename-mass-3.py: ring_size = 7, iter_count = int(7 * 4.5) = 31
  "rename-mass-3": [
    t(1, "Mass rename sequential files circularly", (ctx) => {
      ring(ctx, ctx.reg_file().slice(0, -3), -1);
    }),
    t(2, "Unlink mass renamed files", (ctx) => {
      unlinkRing(ctx, ctx.reg_file().slice(0, -3), RING, pymod(-(ITER + 1), RING));
    }),
  ],
  // tests/rename-mass-4.py: ring_size = 7, iter_count = 31
  "rename-mass-4": [
    t(1, "Mass rename new sequential files circularly", (ctx) => {
      const base = ctx.no_file().slice(0, -3);
      for (let i = 0; i < RING; i++) ctx.open_file(`${base}${100 + i}`, { wo: 1, crt: 1, write: `abcd${i}` });
      ring(ctx, base, -1);
    }),
    t(2, "Unlink mass renamed files", (ctx) => {
      unlinkRing(ctx, ctx.no_file().slice(0, -3), RING, pymod(-(ITER + 1), RING));
    }),
  ],
  // tests/rename-mass-5.py: ring_size = 7, iter_count = 31
  "rename-mass-5": [
    t(1, "Mass rename hardlinked sequential files circularly", (ctx) => {
      const srcBase = ctx.reg_file().slice(0, -3);
      const base = ctx.no_file().slice(0, -3);
      for (let i = 0; i < RING + 1; i++) ctx.link(`${srcBase}${100 + i}`, `${base}${100 + i}`);
      ring(ctx, base, -1);
      ring(ctx, srcBase, +1);
    }),
    t(2, "Unlink mass renamed files", (ctx) => {
      unlinkRing(ctx, ctx.no_file().slice(0, -3), RING + 1, pymod(-(ITER + 1), RING));
      unlinkRing(ctx, ctx.reg_file().slice(0, -3), RING + 1, pymod(ITER - 1, RING));
    }),
  ],
  // tests/rename-mass-dir.py: ring_size = 7, iter_count = 31
  "rename-mass-dir": [
    t(1, "Mass rename new sequential dirs circularly", (ctx) => {
      const base = ctx.no_dir().slice(0, -3);
      for (let i = 0; i < RING - 1; i++) ctx.mkdir(`${base}${100 + i}`, 0o755);
      ring(ctx, base, -1);
    }),
    t(2, "Unlink mass renamed dirs", (ctx) => {
      const base = ctx.no_dir().slice(0, -3);
      const gap = pymod(-(ITER + 1), RING);
      for (let i = 0; i < RING; i++) ctx.rmdir(`${base}${100 + i}`, i === gap ? { err: ENOENT } : {});
    }),
    t(3, "Mass rename new populated sequential dirs circularly", (ctx) => {
      const base = ctx.no_dir().slice(0, -3);
      for (let i = 0; i < RING - 1; i++) {
        ctx.mkdir(`${base}${100 + i}`, 0o755);
        ctx.open_file(`${base}${100 + i}/a`, { wo: 1, crt: 1, write: `abcd${i}` });
      }
      ring(ctx, base, -1);
    }),
    t(4, "Check files in renamed dirs", (ctx) => {
      const base = ctx.no_dir().slice(0, -3);
      ringRead(ctx, (path, n) => ctx.open_file(`${base}${path}/a`, { ro: 1, read: `abcd${n}` }));
    }),
    t(5, "Unlink mass renamed dirs", (ctx) => {
      const base = ctx.no_dir().slice(0, -3);
      const gap = pymod(-(ITER + 1), RING);
      for (let i = 0; i < RING; i++) {
        if (i === gap) ctx.rmdir(`${base}${100 + i}`, { err: ENOENT });
        else {
          ctx.unlink(`${base}${100 + i}/a`);
          ctx.rmdir(`${base}${100 + i}`);
        }
      }
    }),
  ],
  // tests/rename-mass-sym.py: ring_size = 7, iter_count = 31
  "rename-mass-sym": [
    t(1, "Mass rename sequential symlinks circularly", (ctx) => {
      ring(ctx, ctx.direct_sym().slice(0, -3), -1);
    }),
    t(2, "Check renamed symlink contents", (ctx) => {
      const base = ctx.direct_sym().slice(0, -3);
      ringRead(ctx, (path, n) => {
        ctx.readlink(`${base}${path}`, { content: `../a/foo${100 + n}` });
        ctx.open_file(`${base}${path}`, { ro: 1, read: ":xxx:yyy:zzz" });
      });
    }),
    t(3, "Unlink mass renamed symlinks", (ctx) => {
      unlinkRing(ctx, ctx.direct_sym().slice(0, -3), RING + 1, pymod(-(ITER + 1), RING));
    }),
    t(4, "Mass rename sequential dir symlinks circularly", (ctx) => {
      ring(ctx, ctx.direct_dir_sym().slice(0, -3), -1);
    }),
    t(5, "Check renamed symlink contents", (ctx) => {
      const base = ctx.direct_dir_sym().slice(0, -3);
      ringRead(ctx, (path, n) => {
        ctx.readlink(`${base}${path}`, { content: `../a/dir${100 + n}` });
        ctx.open_dir(`${base}${path}`, { ro: 1 });
      });
    }),
    t(6, "Unlink mass renamed symlinks", (ctx) => {
      const base = ctx.direct_dir_sym().slice(0, -3);
      const gap = pymod(-(ITER + 1), RING);
      for (let i = 0; i < RING + 1; i++) {
        if (i === gap) ctx.unlink(`${base}${100 + i}`, { err: ENOENT });
        else {
          ctx.rmdir(`${base}${100 + i}`, { err: ENOTDIR });
          ctx.unlink(`${base}${100 + i}`);
        }
      }
    }),
  ],
};

/** `./run`'s tests list, in its order (54 files). */
const RUN_LIST = [
  "open-plain",
  "open-trunc",
  "open-creat",
  "open-creat-trunc",
  "open-creat-excl",
  "open-creat-excl-trunc",
  "noent-plain",
  "noent-trunc",
  "noent-creat",
  "noent-creat-trunc",
  "noent-creat-excl",
  "noent-creat-excl-trunc",
  "sym1-plain",
  "sym1-trunc",
  "sym1-creat",
  "sym1-creat-excl",
  "sym2-plain",
  "sym2-trunc",
  "sym2-creat",
  "sym2-creat-excl",
  "symx-plain",
  "symx-trunc",
  "symx-creat",
  "symx-creat-excl",
  "symx-creat-trunc",
  "truncate",
  "dir-open",
  "dir-weird-open",
  "dir-open-dir",
  "dir-sym1-open",
  "dir-sym1-weird-open",
  "dir-sym2-open",
  "dir-sym2-weird-open",
  "readlink",
  "mkdir",
  "rmdir",
  "rmtree",
  "rmtree-new",
  "hard-link",
  "hard-link-dir",
  "hard-link-sym",
  "unlink",
  "rename-file",
  "rename-hard-link",
  "rename-new-dir",
  "rename-new-pop-dir",
  "rename-mass",
  "rename-mass-2",
  "rename-mass-3",
  "rename-mass-4",
  "rename-mass-5",
  "rename-mass-dir",
  "rename-mass-sym",
  "impermissible",
];
/** Added to the list with redirect_dir on; rename-exdev replaces them without it (--xdev). */
const REDIRECT_FILES = ["rename-dir", "rename-empty-dir", "rename-pop-dir", "rename-move-dir"];
/** Every test file: the list, the mode-dependent files, and the one taken off the list (c6ab621). */
export const UNIONMOUNT_FILES = [...RUN_LIST, ...REDIRECT_FILES, "rename-exdev", "dir-weird-open-dir"];
/** Files whose subtests work on what the previous ones left (base names without the fileset number). */
const CHAINED = new Set(RUN_LIST.filter((f) => f.startsWith("rename-mass")));
/**
 * Where a chain starts again: rename-mass-sym's halves (1-3 file links, 4-6 dir links) use disjoint names, and an
 * image for both would need 65 entries, one more than a layer op holds.
 */
const CHAIN_START: Record<string, number> = { "rename-mass-sym": 3 };

/** Expectations of the suite that look wrong for 6.18, by `<file>--<subtest>`. */
const SUSPECT: Record<string, string> = {};

/** Every subtest of the suite in one mount configuration, in `./run`'s order. */
export function unionmountCases(config: UnionmountConfig): UnionmountCase[] {
  const out: UnionmountCase[] = [];
  for (const file of UNIONMOUNT_FILES) {
    const subtests = TESTS[file];
    let rotated = 0; // the file's contexts share one mount: earlier subtests' rotations use up --ov=N's budget
    subtests.forEach((st, i) => {
      const chained = CHAINED.has(file);
      const first = i >= (CHAIN_START[file] ?? i + 1) ? CHAIN_START[file] : 0;
      const ctx = new UnionmountContext(config, {
        filenr: chained ? 99 + first : 99 + i,
        layersNr: chained ? 0 : rotated,
        checks: !chained,
      });
      if (chained) {
        ctx.recording = false;
        for (const earlier of subtests.slice(first, i)) {
          ctx.begin_test();
          earlier.run(ctx);
        }
        ctx.recording = true;
      }
      ctx.begin_test();
      st.run(ctx);
      rotated = ctx.layersNr;
      const gaps = [...ctx.gaps].sort();
      const ops: OverlayOp[] = [ctx.image(), { op: "mount", c: C, layers: [1], ...MOUNT[config] }, ...ctx.body];
      const image = ops[0] as Extract<OverlayOp, { op: "layer" }>;
      if (image.entries.length > 64 || ops.length > 200) throw new Error(`${file} ${st.n}: too big`);
      // one filesystem (the kernel engine's tmpfs) puts every object on the overlay's st_dev
      const omits = ["check_layer's st_dev class of each object it checks (st_dev is not observed)"];
      if (ctx.devIno && (config !== "index" || chained))
        omits.push("check_dev_ino (it asserts an st_dev class only, without --verify; not in the rename-mass* rings)");
      if (config === "index")
        omits.push("check_copy_up's look at the upper layer after each op (no claim on the upper view)");
      if (chained)
        omits.push("check_layer's lstat after each op (left out of the rings; the last subtests remove every name)");
      const runs =
        file === "rename-exdev"
          ? config === "xdev"
          : REDIRECT_FILES.includes(file)
            ? config !== "xdev"
            : file !== "dir-weird-open-dir";
      const key = `${file}--${st.n}`;
      out.push({
        name: `${key}--${config}`,
        file,
        subtest: st.n,
        doc: st.doc,
        config,
        runs,
        ...(runs ? {} : { notRun: file === "dir-weird-open-dir" ? ("removed" as const) : ("mode" as const) }),
        ...(chained && i > first ? { replays: subtests.slice(first, i).map((s) => s.n) } : {}),
        ops: gaps.length ? [] : ops,
        asserts: gaps.length
          ? []
          : ctx.asserts.map((a) => ({
              at: a.at + 2,
              expect: "sameIno" in a.expect ? { sameIno: a.expect.sameIno + 2 } : a.expect,
            })),
        gaps,
        omits: omits.join("; "),
        ...(ctx.lax.length && !gaps.length
          ? { lax: ctx.lax.map(([at, why]) => `op ${at + 2}: ${why}`).join("; ") }
          : {}),
        ...(SUSPECT[key] ? { suspect: SUSPECT[key] } : {}),
      });
    });
  }
  return out;
}
