// The reference model of Linux OverlayFS (fs/overlayfs, Documentation/filesystems/overlayfs.rst): immutable image
// layers, containers that mount a stack of them under a private upper layer, and copy-up done lazily, exactly when
// and as far as the kernel does it. Errors the kernel returns are thrown as Errno and become observations.
import { deepEqual, type Engine } from "../../core/index.ts";
import {
  type Cred,
  chmodded,
  credOf,
  killPrivs,
  MAY_EXEC,
  MAY_READ,
  MAY_WRITE,
  mayLink,
  newOwned,
  type Owned,
  owns,
  permits,
  stickyRefuses,
  withOwner,
} from "./creds.ts";
import type {
  CopyUp,
  Errno,
  FileType,
  LayerEntry,
  MountOptions,
  OpenFlag,
  OverlayGeometry,
  OverlayObs,
  OverlayOp,
  OverlayState,
  RawEntry,
  Stat,
} from "./types.ts";
import { MAX_SYMLINKS, OVERLAY_FEATURES, VOID } from "./types.ts";

/** The errno an op answers with, thrown out of the path walk: a result, not a bug, so it captures no stack. */
export class ErrnoError {
  constructor(readonly errno: Errno) {}
}
export const fail = (errno: Errno): never => {
  throw new ErrnoError(errno);
};

/** An inode of a regular file: hard links share it. */
export interface Ino {
  data: string;
  mode: number;
  uid: number;
  gid: number;
  readonly xattrs: Map<string, string>;
  /** Names of it in its own tree (layer or upper). */
  nlink: number;
  /** trusted.overlay.metacopy: metadata copied up, data still in the layer below (size kept in `size`). */
  metacopy: boolean;
  size: number;
  /** trusted.overlay.origin */
  origin: boolean;
  /** trusted.overlay.redirect of a metacopy file (where its data is, absolute). */
  redirect?: string;
  /** Made in this upper by create, rather than copied up. */
  created: boolean;
  /** Copied up from a lower hard link without index: broken off, and by design without an origin. */
  detached?: boolean;
  /** The lower inode it was copied up from (its origin). */
  from?: object;
  /** index=on: the overlay nlink (the union of upper and uncovered lower links) of an indexed inode. */
  union?: number;
}
export interface File {
  readonly kind: "file";
  readonly ino: Ino;
}
export interface Dir {
  readonly kind: "dir";
  mode: number;
  uid: number;
  gid: number;
  readonly xattrs: Map<string, string>;
  readonly children: Map<string, Obj>;
  opaque?: string;
  redirect?: string;
  origin: boolean;
  created: boolean;
  /** The lower directory it was copied up from. */
  from?: object;
}
export interface Sym {
  readonly kind: "symlink";
  readonly target: string;
  readonly uid: number;
  readonly gid: number;
  /** Names of it in its own tree (link(2) of a symlink makes hard links too). */
  nlink: number;
  origin: boolean;
  created: boolean;
  detached?: boolean;
  /** The lower symlink it was copied up from (its origin). */
  from?: object;
}
export interface Whiteout {
  readonly kind: "whiteout";
}
export type Obj = File | Dir | Sym | Whiteout;

/** What a name resolves to through the layers: the upper object and the lower ones (a directory's merge stack, or a file and its data). */
export interface Merged {
  upper?: Exclude<Obj, Whiteout>;
  readonly lowers: { readonly layer: number; readonly obj: Exclude<Obj, Whiteout> }[];
}

export interface Container {
  /** Its number, as ops name it. */
  readonly n: number;
  readonly layers: number[];
  readonly options: MountOptions;
  upper: Dir;
  /** index=on: lower inode of a hard link (a file's Ino, or a symlink) → its copy-up (the index entry in the workdir). */
  index: Map<Ino | Sym, Ino | Sym>;
}

export interface Resolved {
  /** Root first, up to the target's parent. */
  readonly chain: Merged[];
  readonly names: string[];
  readonly parent: Merged;
  readonly name: string;
  readonly node?: Merged;
}

const newDir = (mode: number, created: boolean, uid = 0, gid = 0): Dir => ({
  kind: "dir",
  mode,
  uid,
  gid,
  xattrs: new Map(),
  children: new Map(),
  origin: !created,
  created,
});
const typeOf = (m: Merged): FileType => (m.upper ?? m.lowers[0]!.obj).kind;
/** An object's mode and owner, as a permission check reads them (a symlink's mode is 0777). */
const owned = (o: Exclude<Obj, Whiteout>): Owned =>
  o.kind === "file" ? o.ino : o.kind === "dir" ? o : { mode: 0o777, uid: o.uid, gid: o.gid };
const top = (m: Merged): Exclude<Obj, Whiteout> => m.upper ?? m.lowers[0]!.obj;

export class OverlayModel implements Engine<OverlayOp, OverlayObs, OverlayState> {
  readonly layer = "overlay" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect", ...OVERLAY_FEATURES]);
  protected readonly layers = new Map<number, Dir>();
  protected readonly containers = new Map<number, Container>();
  protected copyUps: CopyUp[] = [];
  /** The paths the last op's walks reached (the state's `reached`). */
  private reached: string[] = [];
  /** An O_TRUNC open is copying up: no data (ovl_copy_up_one sets the size to copy to 0). */
  private truncating = false;
  /** Who the op runs as. */
  protected cred: Cred = { uid: 0, gid: 0 };
  /** Copy-ups since the sequence began, and the data bytes they copied (what the counters view reports). */
  private readonly copiedTotal = { copyUps: 0, bytes: 0 };
  private nextLayer = 1;
  /** Each layer's and container's raw tree as last inspected: an inspect after an op rebuilds what it touched. */
  private readonly raw = {
    layers: new Map<number, RawEntry[]>(),
    containers: new Map<number, { entry: OverlayState["containers"][string]; created: string[]; detached: string[] }>(),
  };
  /** What the ops since the last inspect may have changed: the containers they named, the layers they made. */
  private readonly touched = { layers: new Set<number>(), containers: new Set<number>() };

  constructor(readonly geometry: OverlayGeometry) {}

  apply(op: OverlayOp): OverlayObs {
    if ("c" in op) this.touched.containers.add(op.c);
    this.copyUps = [];
    this.reached = [];
    this.truncating = false;
    this.cred = credOf(op as { uid?: number; gid?: number });
    try {
      return this.perform(op);
    } catch (e) {
      if (e instanceof ErrnoError) return { error: e.errno };
      throw e;
    }
  }

  private perform(op: OverlayOp): OverlayObs {
    switch (op.op) {
      case "layer":
        return { layer: this.addLayer(this.buildLayer(op.entries)) };
      case "mount":
        return this.mount(op.c, op.layers, { redirectDir: op.redirectDir, index: op.index, metacopy: op.metacopy });
      case "umount":
        this.mounted(op.c);
        this.containers.delete(op.c);
        return { ok: true };
      case "commit":
        return { layer: this.commit(op.c) };
      case "remount":
        this.mounted(op.c); // the upper, the work dir's index and the options stay: nothing else is kept in memory
        return { ok: true };
      default:
        break;
    }
    const c = this.mounted(op.c);
    switch (op.op) {
      case "mkdir":
        this.mkdir(c, op.path, op.mode);
        break;
      case "create":
        this.create(c, op.path, op.mode);
        break;
      case "symlink":
        this.symlink(c, op.target, op.path);
        break;
      case "write":
        this.writeData(c, op.path, (d) => splice(d, op.at, op.data), op.data !== "");
        break;
      case "append":
        this.writeData(c, op.path, (d) => d + op.data, op.data !== "");
        break;
      case "truncate":
        this.truncate(c, op.path, op.size);
        break;
      case "chmod": {
        let mode = op.mode;
        this.setattr(
          c,
          op.path,
          (a) => {
            const m = chmodded(this.cred, a, op.mode); // setattr_prepare
            mode = m === "EPERM" ? fail("EPERM") : m;
          },
          (o) => {
            if (o.kind === "file") o.ino.mode = mode;
            else if (o.kind === "dir") o.mode = mode;
          },
        );
        break;
      }
      case "setxattr":
        this.setattr(
          c,
          op.path,
          (a, type) => {
            // xattr_permission: user.* on a sticky directory is its owner's
            if (type === "dir" && a.mode & 0o1000 && !owns(this.cred, a)) fail("EPERM");
            this.need(a, MAY_WRITE);
          },
          (o) => void (o.kind === "file" ? o.ino.xattrs : (o as Dir).xattrs).set(op.name, op.value),
          true,
        );
        break;
      case "unlink":
        this.remove(c, op.path, false);
        break;
      case "rmdir":
        this.remove(c, op.path, true);
        break;
      case "rename":
        this.rename(c, op.from, op.to, op.flags);
        break;
      case "link":
        this.link(c, op.from, op.to);
        break;
      case "readlink": {
        const o = this.lookup(c, op.path);
        if (o.kind !== "symlink") fail("EINVAL");
        return { target: (o as Sym).target };
      }
      case "open":
        return this.open(c, op);
      case "read": {
        // open(O_RDONLY) checks read permission, even on a directory; read(2) then says EISDIR
        const r = this.resolve(c, op.path, true);
        if (!r.node) fail("ENOENT");
        this.need(this.attrs(c, r.node!), MAY_READ);
        if (typeOf(r.node!) === "dir") fail("EISDIR");
        return { data: this.readData(c, { m: r.node! }) };
      }
      case "readdir": {
        const at = this.follow(c, op.path, true);
        this.need(this.attrs(c, at.m), MAY_READ); // opendir
        return { names: this.readdir(c, at) };
      }
      case "stat":
        return { stat: this.stat(c, op.path) };
      case "ino":
        return { ino: this.inoOf(c, op.path) };
    }
    return { ok: true };
  }

  // ---- layers and mounts

  /** An image layer from its entries, all or nothing (EINVAL for a missing parent, a name used twice, a link to a non-file). */
  private buildLayer(entries: readonly LayerEntry[]): Dir {
    const root = newDir(0o755, false);
    for (const e of entries) {
      const names = e.path.split("/");
      const name = names.pop()!;
      let dir: Obj | undefined = root;
      for (const n of names) dir = dir?.kind === "dir" ? dir.children.get(n) : undefined;
      if (dir?.kind !== "dir" || dir.children.has(name)) fail("EINVAL");
      const parent = dir as Dir;
      switch (e.type) {
        case "dir": {
          const d = newDir(e.mode ?? 0o755, false, e.uid, e.gid);
          d.origin = false;
          if (e.opaque) d.opaque = "y";
          parent.children.set(name, d);
          break;
        }
        case "file":
          parent.children.set(name, {
            kind: "file",
            ino: {
              data: e.data,
              mode: e.mode ?? 0o644,
              uid: e.uid ?? 0,
              gid: e.gid ?? 0,
              xattrs: new Map(),
              nlink: 1,
              metacopy: false,
              size: e.data.length,
              origin: false,
              created: false,
            },
          });
          break;
        case "symlink":
          parent.children.set(name, {
            kind: "symlink",
            target: e.target,
            uid: e.uid ?? 0,
            gid: e.gid ?? 0,
            nlink: 1,
            origin: false,
            created: false,
          });
          break;
        case "whiteout":
          parent.children.set(name, { kind: "whiteout" });
          break;
        case "link": {
          let to: Obj | undefined = root;
          for (const n of e.to.split("/")) to = to?.kind === "dir" ? to.children.get(n) : undefined;
          if (to?.kind !== "file") fail("EINVAL");
          (to as File).ino.nlink++;
          parent.children.set(name, to as File);
        }
      }
    }
    return root;
  }

  private addLayer(root: Dir): number {
    const id = this.nextLayer++;
    this.layers.set(id, root);
    this.touched.layers.add(id);
    return id;
  }

  protected mount(c: number, layers: readonly number[], options: MountOptions): OverlayObs {
    if (this.containers.has(c)) fail("EBUSY");
    // ovl_parse_param / ovl_fs_params_verify: unknown or repeated lower dirs, metacopy=on,redirect_dir=off
    if (layers.some((l) => !this.layers.has(l)) || new Set(layers).size !== layers.length) fail("EINVAL");
    if (options.metacopy && !options.redirectDir) fail("EINVAL");
    this.containers.set(c, {
      n: c,
      layers: [...layers],
      options: { ...options },
      upper: newDir(0o755, true),
      index: new Map(),
    });
    return { ok: true };
  }

  /** The rotate-upper step (unionmount-testsuite) / docker commit: the upper, whiteouts and xattrs and all, becomes a layer. */
  private commit(n: number): number {
    const c = this.mounted(n);
    // the index lives in the work dir, which does not survive: the layer's inodes count only their names in it
    rawTree(c.upper, (_p, o) => void (o.kind === "file" && delete o.ino.union));
    const id = this.addLayer(c.upper);
    this.containers.set(n, {
      n,
      layers: [id, ...c.layers],
      options: c.options,
      upper: newDir(0o755, true),
      index: new Map(),
    });
    return id;
  }

  protected mounted(n: number): Container {
    return this.containers.get(n) ?? fail("EINVAL");
  }

  // ---- lookup (fs/overlayfs/namei.c ovl_lookup)

  private root(c: Container): Merged {
    return { upper: c.upper, lowers: c.layers.map((l) => ({ layer: l, obj: this.layers.get(l)! })) };
  }

  /** ovl_lookup of one name in a merged directory: upper first, then the lower layers until a whiteout, an opaque dir or a non-directory stops it. */
  protected child(c: Container, parent: Merged, name: string): Merged | undefined {
    const up = parent.upper?.kind === "dir" ? parent.upper.children.get(name) : undefined;
    if (up?.kind === "whiteout") return undefined;
    const m: Merged = { upper: up, lowers: [] };
    const metaUp = up?.kind === "file" && up.ino.metacopy;
    if (up && !metaUp && (up.kind !== "dir" || up.opaque === "y")) return m;
    if (metaUp && !c.options.metacopy) fail("EPERM"); // "refusing to follow metacopy origin"
    let bases = parent.lowers.filter((l) => l.obj.kind === "dir");
    let path = [name];
    const redirect = up?.kind === "dir" ? up.redirect : up?.kind === "file" ? up.ino.redirect : undefined;
    if (redirect !== undefined) [bases, path] = this.redirected(c, bases, path, redirect, undefined);
    for (let i = 0; i < bases.length; i++) {
      const { layer, obj: base } = bases[i]!;
      const w = this.walkLayer(base as Dir, path);
      path = w.path;
      const o = w.o;
      if (!o) {
        if (w.stop) break;
        continue;
      }
      if (o.kind === "whiteout") break;
      const first = m.upper ?? m.lowers[0]?.obj;
      if (o.kind !== "dir") {
        // a non-directory: the object itself when nothing is above it, or the data of a metacopy file above it
        const wantsData = first?.kind === "file" && first.ino.metacopy;
        if (first && !(wantsData && o.kind === "file")) break;
        m.lowers.push({ layer, obj: o });
        if (o.kind !== "file" || !o.ino.metacopy || w.stop) break;
        if (!c.options.metacopy) fail("EPERM");
        if (o.ino.redirect !== undefined) {
          [bases, path] = this.redirected(c, bases, path, o.ino.redirect, layer);
          i = -1;
        }
        continue;
      }
      if (first && first.kind !== "dir") break;
      m.lowers.push({ layer, obj: o });
      // an absolute redirect below an opaque ancestor resumes the lookup below (ovl_check_redirect resets d->stop)
      if (o.opaque === "y" || (w.stop && !o.redirect?.startsWith("/"))) break;
      // redirect_dir=off still follows redirects on this kernel (redirect_always_follow=Y): it only stops making them
      if (o.redirect !== undefined) {
        [bases, path] = this.redirected(c, bases, path, o.redirect, layer);
        i = -1;
      }
    }
    return m.upper || m.lowers.length ? m : undefined;
  }

  /**
   * ovl_lookup_layer / ovl_lookup_single on one layer. The components before the last (an absolute redirect's path)
   * can stop the lookup below this layer (a whiteout or non-directory: nothing found; an opaque directory) or
   * redirect it for the layers below (ovl_check_redirect on each component).
   */
  private walkLayer(base: Dir, path: readonly string[]): { o?: Obj; stop: boolean; path: string[] } {
    let d = base;
    let sofar: string[] = [];
    let stop = false;
    for (const [k, name] of path.slice(0, -1).entries()) {
      const o = d.children.get(name);
      if (!o) return { stop, path: [...sofar, ...path.slice(k)] };
      if (o.kind !== "dir") return { stop: true, path: [...path] };
      sofar.push(name);
      if (o.opaque === "y") stop = true;
      else if (o.redirect !== undefined) {
        if (o.redirect.startsWith("/")) {
          sofar = o.redirect.split("/").filter((x) => x);
          stop = false;
        } else sofar = [...sofar.slice(0, -1), o.redirect];
      }
      d = o;
    }
    const last = path[path.length - 1]!;
    return { o: d.children.get(last), stop, path: [...sofar, last] };
  }

  /**
   * ovl_check_redirect: a relative redirect renames the last component in the same parents; an absolute one is
   * looked up from the root of each layer below the one holding it (all layers, for an upper redirect).
   */
  private redirected(
    c: Container,
    bases: Merged["lowers"],
    path: string[],
    redirect: string,
    below: number | undefined,
  ): [Merged["lowers"], string[]] {
    const after = (l: { layer: number }) => below === undefined || c.layers.indexOf(l.layer) > c.layers.indexOf(below);
    if (!redirect.startsWith("/")) return [bases.filter(after), [...path.slice(0, -1), redirect]];
    return [this.root(c).lowers.filter(after), redirect.split("/").filter((s) => s)];
  }

  /** inode_permission for the op's caller on an object's mode and owner (ovl_permission: the overlay inode's). */
  protected need(o: Owned, mask: number): void {
    if (!permits(this.cred, o, mask)) fail("EACCES");
  }

  /** The mode and owner a merged object shows (a file: its upper, its index entry, or its lower inode). */
  protected attrs(c: Container, m: Merged): Owned {
    return typeOf(m) === "file" ? this.ino(c, m) : owned(top(m));
  }

  /**
   * namei's path walk (link_path_walk, walk_component, step_into, pick_link) over the merged view: the names of what a
   * path leads to, every symlink in it followed, and the last component's too where `followLast` says so. ".." goes to
   * the parent and stays at the mount root; the 41st link is ELOOP; a link under VOID dangles (ENOENT, or EISDIR for
   * an O_CREAT open of a body that ends in a slash: open_last_lookups).
   */
  protected walk(c: Container, path: string, followLast: boolean, creat = false): string[] {
    const done: string[] = [];
    const chain: Merged[] = [this.root(c)];
    const todo = path === "" ? [] : path.split("/").reverse();
    let links = 0;
    while (todo.length) {
      const n = todo.pop()!;
      this.need(owned(top(chain[chain.length - 1]!)), MAY_EXEC); // may_lookup: search permission on the directory
      if (n === "..") {
        if (done.length) {
          done.pop();
          chain.pop();
        }
        continue;
      }
      const last = todo.length === 0;
      const m = this.child(c, chain[chain.length - 1]!, n);
      const t = m && typeOf(m);
      if (t === "symlink" && (!last || followLast)) {
        if (links++ >= MAX_SYMLINKS) fail("ELOOP");
        const target = (top(m!) as Sym).target;
        if (target.startsWith(VOID))
          fail(creat && last && /^\/*$/.test(target.slice(VOID.length)) ? "EISDIR" : "ENOENT");
        todo.push(...target.split("/").reverse());
        continue;
      }
      done.push(n);
      if (last) break;
      if (!m) fail("ENOENT");
      if (t !== "dir") fail("ENOTDIR");
      chain.push(m!);
    }
    if (done.length) this.reached.push(done.join("/"));
    return done;
  }

  /** A path walked (`walk`), then looked up name by name: the chain of merged directories and the object, if any. */
  protected resolve(c: Container, path: string, followLast = false, creat = false): Resolved {
    const names = this.walk(c, path, followLast, creat);
    const chain: Merged[] = [this.root(c)];
    for (let i = 0; i < names.length - 1; i++) chain.push(this.child(c, chain[i]!, names[i]!)!);
    if (!names.length) return { chain: [], names, parent: chain[0]!, name: "", node: chain[0] };
    const parent = chain[chain.length - 1]!;
    const name = names[names.length - 1]!;
    return { chain, names, parent, name, node: this.child(c, parent, name) };
  }

  /** The object at a path, not following a final symlink (lstat, readlink). */
  private lookup(c: Container, path: string): Exclude<Obj, Whiteout> {
    const r = this.resolve(c, path);
    return r.node ? top(r.node) : fail("ENOENT");
  }

  /** The resolution of a path for an op that follows a final symlink; `dir` says whether a directory is wanted. */
  protected follow(c: Container, path: string, dir = false): { r: Resolved; m: Merged } {
    const r = this.resolve(c, path, true);
    if (!r.node) fail("ENOENT");
    const t = typeOf(r.node!);
    if (dir && t !== "dir") fail("ENOTDIR");
    if (!dir && t === "dir") fail("EISDIR");
    return { r, m: r.node! };
  }

  // ---- copy-up (fs/overlayfs/copy_up.c)

  /** ovl_copy_up_flags: copy up every missing ancestor, top down, then the object (`data` false: metadata only where metacopy allows). */
  protected copyUp(c: Container, r: Resolved, m: Merged | undefined, data: boolean): void {
    for (let i = 1; i < r.chain.length; i++)
      this.copyUpOne(c, r.chain[i - 1]!, r.names[i - 1]!, r.chain[i]!, r.names.slice(0, i), true);
    if (m) this.copyUpOne(c, r.parent, r.name, m, r.names, data);
  }

  /** ovl_copy_up_one for one object whose parent already has its upper directory. */
  protected copyUpOne(c: Container, parent: Merged, name: string, m: Merged, names: string[], data: boolean): void {
    const into = parent.upper as Dir;
    const path = names.join("/");
    const there = into.children.get(name);
    if (!m.upper && there && there.kind !== "whiteout") m.upper = there; // copied up already by this op, through another lookup
    if (m.upper) {
      if (data && m.upper.kind === "file" && m.upper.ino.metacopy) this.copyData(c, m, path); // ovl_copy_up_meta_inode_data
      return;
    }
    const lower = m.lowers[0]!.obj;
    if (lower.kind === "dir") {
      const d = newDir(lower.mode, false, lower.uid, lower.gid); // ovl_set_attr keeps the owner
      d.from = lower;
      for (const [k, v] of lower.xattrs) d.xattrs.set(k, v);
      m.upper = d;
      this.record(c, path, "dir", 0, 0, false);
    } else if (lower.kind === "symlink") {
      const indexed = this.indexes(c, lower) ? (c.index.get(lower) as Sym | undefined) : undefined;
      if (indexed) {
        indexed.nlink++; // linked up from the index entry, as a file is
        m.upper = indexed;
      } else {
        const detached = !c.options.index && lower.nlink > 1; // as for files (below)
        m.upper = {
          kind: "symlink",
          target: lower.target,
          uid: lower.uid,
          gid: lower.gid,
          nlink: 1,
          origin: !detached,
          created: false,
          detached,
        };
        if (!detached) m.upper.from = lower;
        if (this.indexes(c, lower)) c.index.set(lower, m.upper);
        this.record(c, path, "symlink", 0, lower.target.length, false);
      }
    } else {
      const indexed = this.indexed(c, lower.ino);
      if (indexed) {
        // ovl_copy_up_one with an index entry: link the upper alias to the index inode; its data if it has none yet
        indexed.nlink++;
        m.upper = { kind: "file", ino: indexed };
        if (data && indexed.metacopy) this.copyData(c, m, path);
      } else {
        const size = this.dataSize(m);
        const meta = !data && this.metacopyAllowed(c);
        // without index, a lower hard link is copied up detached and without an origin (ovl_copy_up_one: c.origin)
        const detached = !this.indexes(c, lower.ino) && lower.ino.nlink > 1;
        const ino: Ino = {
          data: "",
          mode: lower.ino.mode,
          uid: lower.ino.uid,
          gid: lower.ino.gid,
          xattrs: new Map(lower.ino.xattrs),
          nlink: 1,
          metacopy: meta,
          size,
          origin: !detached,
          created: false,
          detached,
        };
        if (!detached) ino.from = lower.ino;
        if (!meta && !this.truncating) ino.data = this.dataOf(m);
        if (this.indexes(c, lower.ino)) {
          ino.union = lower.ino.nlink; // ovl_set_nlink_lower
          c.index.set(lower.ino, ino);
        }
        m.upper = { kind: "file", ino };
        this.record(c, path, "file", meta || this.truncating ? 0 : size, size, meta);
      }
    }
    into.children.set(name, m.upper);
  }

  protected metacopyAllowed(c: Container): boolean {
    return c.options.metacopy; // ovl_need_meta_copy_up
  }

  /** index=on: a lower hard link is copied up to the index, so that its names stay one inode (ovl_need_index). */
  protected indexes(c: Container, lower: { readonly nlink: number }): boolean {
    return c.options.index && lower.nlink > 1;
  }

  /** The copied-up inode of a lower hard link, if one of its names was copied up already. */
  private indexed(c: Container, ino: Ino): Ino | undefined {
    return this.indexes(c, ino) ? (c.index.get(ino) as Ino | undefined) : undefined;
  }

  private copyData(c: Container, m: Merged, path: string): void {
    const ino = (m.upper as File).ino;
    const size = ino.size;
    ino.data = this.truncating ? "" : this.dataOf(m);
    ino.metacopy = false; // the metacopy xattr goes; a redirect stays
    this.record(c, path, "file", ino.data.length, size, false);
  }

  protected record(c: Container, path: string, type: FileType, bytes: number, size: number, metacopy: boolean): void {
    this.copyUps.push({ c: c.n, path, type, bytes, size, metacopy });
    this.copiedTotal.copyUps++;
    this.copiedTotal.bytes += bytes;
  }

  /** The inode whose data, mode and links a merged file shows: its upper, its index entry, or its lower inode. */
  protected ino(c: Container, m: Merged): Ino {
    if (m.upper?.kind === "file") return m.upper.ino;
    const lower = (m.lowers[0]!.obj as File).ino;
    return this.indexed(c, lower) ?? lower;
  }

  /** A merged file's bytes: a metacopy inode's come from the first lower file that has data (ovl_path_lowerdata). */
  private dataOf(m: Merged): string {
    // read_iter goes to the real file with the data: its bytes, whatever size a metacopy inode above it claims
    const withData = [m.upper, ...m.lowers.map((l) => l.obj)].find(
      (o): o is File => o?.kind === "file" && !o.ino.metacopy,
    );
    return withData?.ino.data ?? "";
  }

  private dataSize(m: Merged): number {
    const f = (m.upper ?? m.lowers[0]!.obj) as File;
    return f.ino.metacopy ? f.ino.size : f.ino.data.length;
  }

  // ---- ops on the merged view (fs/overlayfs/dir.c, inode.c)

  /** ovl_create_object → ovl_create_upper / ovl_create_over_whiteout. */
  private createObject(
    c: Container,
    path: string,
    make: (parent: Owned) => Exclude<Obj, Whiteout>,
  ): Exclude<Obj, Whiteout> {
    const r = this.resolve(c, path);
    if (r.node) fail("EEXIST");
    return this.createAt(c, r, make);
  }

  /** may_create (write and search permission on the parent), then the object, made from the parent's mode and owner. */
  private createAt(c: Container, r: Resolved, make: (parent: Owned) => Exclude<Obj, Whiteout>): Exclude<Obj, Whiteout> {
    const parent = owned(top(r.parent));
    this.need(parent, MAY_WRITE | MAY_EXEC);
    this.copyUp(c, r, undefined, true);
    const upper = r.parent.upper as Dir;
    const overWhiteout = upper.children.get(r.name)?.kind === "whiteout";
    const o = make(parent);
    // over a whiteout, the directory must hide what is below it; in a merged parent it is made opaque anyway, as an
    // optimisation (ovl_create_upper) — seen on 6.18 only when redirect_dir, index or metacopy is on
    const { redirectDir, index, metacopy } = c.options;
    const optimise = r.parent.lowers.length > 0 && (redirectDir || index || metacopy);
    if (o.kind === "dir" && (this.opaqueOverWhiteout(overWhiteout) || optimise)) o.opaque = "y";
    upper.children.set(r.name, o);
    return o;
  }

  /** ovl_create_over_whiteout: a directory made where a whiteout was must hide what is below it. */
  protected opaqueOverWhiteout(overWhiteout: boolean): boolean {
    return overWhiteout;
  }

  /** mkdir(2), then chmod(2) to exactly the mode (mkdir drops S_ISUID; setattr_prepare may drop S_ISGID). */
  private mkdir(c: Container, path: string, mode: number): void {
    this.createObject(c, path, (parent) => {
      const o = newOwned(this.cred, parent, mode, true);
      return newDir(chmodded(this.cred, o, mode) as number, true, o.uid, o.gid);
    });
  }

  /** ovl_maybe_copy_up: a copy-up with data, of none for O_TRUNC (ovl_copy_up_one: the size to copy is 0). */
  protected openCopyUp(c: Container, r: Resolved, m: Merged, trunc: boolean): void {
    this.truncating = trunc;
    this.copyUp(c, r, m, true);
    this.truncating = false;
  }

  /** handle_truncate: O_TRUNC on a file that existed. */
  protected handleTruncate(ino: Ino): void {
    setData(ino, "");
  }

  /** open(O_CREAT | O_EXCL | O_WRONLY), then fchmod to exactly the mode. */
  private create(c: Container, path: string, mode: number): void {
    this.createObject(c, path, (parent) => {
      const o = newOwned(this.cred, parent, mode, false);
      return newFile(chmodded(this.cred, o, mode) as number, o.uid, o.gid);
    });
  }

  /**
   * do_filp_open (build_open_flags, then path_openat's open_last_lookups, do_open and may_open), then ovl_open
   * (ovl_maybe_copy_up: write access or O_TRUNC copies up, O_TRUNC without data), then the write and the read.
   */
  private open(c: Container, op: Extract<OverlayOp, { op: "open" }>): OverlayObs {
    const f = new Set<OpenFlag>(op.flags);
    const creat = f.has("creat");
    if (creat && f.has("directory")) fail("EINVAL"); // O_DIRECTORY | O_CREAT, since 6.4
    const excl = creat && f.has("excl"); // O_EXCL implies O_NOFOLLOW, and means nothing without O_CREAT
    const r = this.resolve(c, op.path, !(excl || f.has("nofollow")), creat);
    let m = r.node;
    if (!m) {
      if (!creat) fail("ENOENT");
      this.createAt(c, r, (parent) => {
        const o = newOwned(this.cred, parent, op.mode ?? 0o644, false);
        return newFile(o.mode, o.uid, o.gid);
      });
      m = this.child(c, r.parent, r.name)!;
    } else {
      const t = typeOf(m);
      if (excl) fail("EEXIST");
      if (creat && t === "dir") fail("EISDIR");
      if (f.has("directory") && t !== "dir") fail("ENOTDIR");
      if (t === "symlink") fail("ELOOP");
      if (t === "dir" && (op.access !== "rdonly" || f.has("trunc"))) fail("EISDIR");
      const writes = op.access !== "rdonly" || f.has("trunc");
      this.need(this.attrs(c, m), (op.access === "wronly" ? 0 : MAY_READ) | (writes ? MAY_WRITE : 0)); // may_open
      if (t === "file" && writes) {
        this.openCopyUp(c, r, m, f.has("trunc"));
        const ino = (m.upper as File).ino;
        if (f.has("trunc")) {
          this.handleTruncate(ino);
          ino.mode = killPrivs(this.cred, ino.mode); // do_truncate: dentry_needs_remove_privs
        }
      }
    }
    if (op.write !== undefined) {
      if (op.access === "rdonly") fail("EBADF");
      const ino = (m.upper as File).ino;
      setData(ino, f.has("append") ? ino.data + op.write : splice(ino.data, 0, op.write));
      if (op.write) ino.mode = killPrivs(this.cred, ino.mode); // backing_file_write_iter: file_remove_privs
    }
    if (!op.read) return { ok: true };
    if (op.access === "wronly") fail("EBADF");
    if (typeOf(m) === "dir") fail("EISDIR");
    return { data: this.readData(c, { m }) };
  }

  private symlink(c: Container, target: string, path: string): void {
    this.createObject(c, path, (parent) => {
      const { uid, gid } = newOwned(this.cred, parent, 0o777, false);
      return { kind: "symlink", target, uid, gid, nlink: 1, origin: false, created: true };
    });
  }

  /** ovl_setattr with ATTR_SIZE: a copy-up with data, then the new size. */
  protected truncate(c: Container, path: string, size: number): void {
    this.writeData(c, path, (d) => pad(d, size), true);
  }

  /**
   * open(O_WRONLY) → ovl_open → ovl_maybe_copy_up with data; then the change on the upper inode. A change by anyone
   * but root clears set-id bits (file_remove_privs; truncate(2) always, a write when it writes something).
   */
  protected writeData(c: Container, path: string, change: (data: string) => string, kill = false): void {
    const { r, m } = this.follow(c, path);
    this.need(this.attrs(c, m), MAY_WRITE);
    this.copyUp(c, r, m, true);
    const ino = (m.upper as File).ino;
    setData(ino, change(ino.data));
    if (kill) ino.mode = killPrivs(this.cred, ino.mode);
  }

  /** ovl_setattr / ovl_setxattr without ATTR_SIZE: ovl_copy_up, metadata only where metacopy is on. */
  private setattr(
    c: Container,
    path: string,
    check: (a: Owned, type: FileType) => void,
    change: (o: Exclude<Obj, Whiteout>) => void,
    xattr = false,
  ): void {
    const r = this.resolve(c, path, true);
    if (!r.node) fail("ENOENT");
    const m = r.node!;
    check(this.attrs(c, m), typeOf(m));
    // ovl_xattr_set copies up only an inode without an upper: a lower hard link's name whose index entry exists is
    // changed in place, through the index (ovl_setattr would link the name up)
    if (xattr && !m.upper && typeOf(m) === "file") {
      const ino = this.ino(c, m);
      if (ino !== (m.lowers[0]!.obj as File).ino) {
        change({ kind: "file", ino });
        return;
      }
    }
    this.copyUp(c, r, m, false);
    change(r.node!.upper!);
  }

  private readData(c: Container, { m }: { m: Merged }): string {
    if (m.upper?.kind === "file" && !m.upper.ino.metacopy) return m.upper.ino.data;
    if (!m.upper) {
      const ino = this.ino(c, m);
      if (ino !== (m.lowers[0]!.obj as File).ino && !ino.metacopy) return ino.data; // an index entry's data
    }
    return this.dataOf(m);
  }

  /**
   * ovl_iterate: a directory from one layer alone (no upper, one lower) is read as it is, its whiteouts listed with
   * the rest (is_real); any other is merged.
   */
  protected readdir(c: Container, at: { m: Merged }): string[] {
    const { m } = at;
    const only = !m.upper && m.lowers.length === 1 ? (m.lowers[0]!.obj as Dir) : undefined;
    return only ? [...only.children.keys()].sort() : this.readMerged(c, at);
  }

  /** ovl_dir_read_merged: upper, then each lower of the stack; the first entry for a name wins, whiteouts hide. */
  protected readMerged(_c: Container, { m }: { m: Merged }): string[] {
    const seen = new Map<string, boolean>();
    for (const d of [m.upper, ...m.lowers.map((l) => l.obj)]) {
      if (d?.kind !== "dir") continue;
      for (const [name, o] of d.children) if (!seen.has(name)) seen.set(name, o.kind !== "whiteout");
    }
    return [...seen]
      .filter(([, visible]) => visible)
      .map(([n]) => n)
      .sort();
  }

  protected stat(c: Container, path: string): Stat {
    const r = this.resolve(c, path);
    if (!r.node) fail("ENOENT");
    const m = r.node!;
    const o = top(m);
    if (o.kind === "symlink") return withOwner({ type: "symlink", mode: 0o777, size: o.target.length }, o);
    if (o.kind === "dir") return withOwner(withXattrs({ type: "dir", mode: o.mode }, o.xattrs), o);
    const ino = this.ino(c, m);
    return withOwner(
      withXattrs(
        {
          type: "file",
          mode: ino.mode,
          size: ino.metacopy ? ino.size : ino.data.length,
          nlink: ino.union ?? ino.nlink,
        },
        ino.xattrs,
      ),
      ino,
    );
  }

  /** The order of the first appearance of the real inode whose number lstat reports (inoOf). */
  private readonly inos = new Map<object, number>();

  private inoOf(c: Container, path: string): number {
    const r = this.resolve(c, path);
    if (!r.node) fail("ENOENT");
    const real = r.names.length ? this.realInode(c, r.node!) : c.upper; // the root shows its upper's (ovl_get_root)
    if (!this.inos.has(real)) this.inos.set(real, this.inos.size);
    return this.inos.get(real)!;
  }

  /**
   * ovl_getattr with every layer on one filesystem: a lower object's own number; an upper one's origin's where that
   * is safe (a directory, an indexed inode, an origin with one link), else its own.
   */
  protected realInode(c: Container, m: Merged): object {
    const own = (o: Exclude<Obj, Whiteout>): object => (o.kind === "file" ? o.ino : o);
    const u = m.upper;
    if (!u) return own(m.lowers[0]!.obj);
    if (u.kind === "dir") return m.lowers.length ? own(m.lowers[0]!.obj) : u;
    const from = u.kind === "file" ? u.ino.from : u.from;
    if (!from) return own(u);
    const nlink = (from as { nlink: number }).nlink;
    return nlink === 1 || this.indexes(c, { nlink }) ? from : own(u);
  }

  /** ovl_lower_positive: whether a lower layer below the parent has this name (then removing it needs a whiteout). */
  protected lowerPositive(parent: Merged, name: string, m: Merged): boolean {
    if (!m.upper) return true;
    for (const l of parent.lowers) {
      if (l.obj.kind !== "dir") continue;
      const o = l.obj.children.get(name);
      if (o) return o.kind !== "whiteout";
    }
    return false;
  }

  /** Whether a merged directory is empty (ovl_check_empty_dir: whiteouts do not count). */
  private isEmpty(c: Container, m: Merged): boolean {
    return this.readMerged(c, { m }).length === 0;
  }

  /** ovl_do_remove: copy up the parent, then whiteout the name if a lower layer has it, else remove it. */
  private remove(c: Container, path: string, dir: boolean): void {
    const r = this.resolve(c, path);
    if (!r.node) fail("ENOENT");
    this.mayDelete(c, r);
    const t = typeOf(r.node!);
    if (dir && t !== "dir") fail("ENOTDIR");
    if (!dir && t === "dir") fail("EISDIR");
    if (dir && !this.isEmpty(c, r.node!)) fail("ENOTEMPTY");
    this.copyUp(c, r, undefined, true);
    this.nlinkStart(c, r, r.node!);
    this.unlinkName(c, r.parent, r.name, r.node!);
  }

  /** may_delete's permission checks: write and search on the parent, and a sticky parent's rule (EPERM). */
  private mayDelete(c: Container, r: Resolved): void {
    const dir = owned(top(r.parent));
    this.need(dir, MAY_WRITE | MAY_EXEC);
    if (stickyRefuses(this.cred, dir, this.attrs(c, r.node!))) fail("EPERM");
  }

  /** ovl_nlink_start: with index=on, a lower hard link is copied up (to the index) before one of its names goes. */
  private nlinkStart(c: Container, r: Resolved, m: Merged): void {
    if (typeOf(m) === "file" && !m.upper && this.indexes(c, (m.lowers[0]!.obj as File).ino))
      this.copyUpOne(c, r.parent, r.name, m, r.names, false);
  }

  /** Drop one name: its upper object loses a link, and the name becomes a whiteout where a lower layer has it. */
  private unlinkName(c: Container, parent: Merged, name: string, m: Merged): void {
    const upper = parent.upper as Dir;
    const positive = this.lowerPositive(parent, name, m);
    this.dropLink(c, m);
    if (positive) upper.children.set(name, { kind: "whiteout" });
    else upper.children.delete(name);
  }

  private dropLink(c: Container, m: Merged): void {
    if (m.upper?.kind === "symlink") m.upper.nlink--;
    if (typeOf(m) !== "file") return;
    const ino = this.ino(c, m);
    if (m.upper?.kind === "file") ino.nlink--;
    if (ino.union !== undefined) ino.union--;
  }

  private link(c: Container, from: string, to: string): void {
    const src = this.resolve(c, from);
    if (!src.node) fail("ENOENT");
    const dst = this.resolve(c, to);
    if (dst.node) fail("EEXIST");
    // may_linkat (fs.protected_hardlinks = 1), then may_create
    if (!mayLink(this.cred, this.attrs(c, src.node!), typeOf(src.node!) === "file")) fail("EPERM");
    this.need(owned(top(dst.parent)), MAY_WRITE | MAY_EXEC);
    if (typeOf(src.node!) === "dir") fail("EPERM");
    const redirect = this.newRedirect(c, src, false);
    this.copyUp(c, src, src.node, false); // ovl_link → ovl_copy_up(old)
    const o = src.node!.upper!;
    if (o.kind === "file" && o.ino.metacopy && redirect !== undefined) o.ino.redirect = redirect; // ovl_set_link_redirect
    this.copyUp(c, dst, undefined, true);
    const upper = dst.parent.upper as Dir;
    if (o.kind === "file") {
      o.ino.nlink++;
      if (o.ino.union !== undefined) o.ino.union++;
      upper.children.set(dst.name, o);
    } else if (o.kind === "symlink") {
      o.nlink++;
      upper.children.set(dst.name, o); // a hard link to a symlink shares it too
    }
  }

  /** vfs_rename's checks, then ovl_rename. */
  private rename(c: Container, fromPath: string, toPath: string, flags: "noreplace" | "exchange" | undefined): void {
    const src = this.resolve(c, fromPath);
    const dst = this.resolve(c, toPath);
    // the dentries' own paths: a symlink on the way leads elsewhere
    const from = src.names.join("/");
    const to = dst.names.join("/");
    if (!src.node) fail("ENOENT");
    if (flags === "noreplace" && dst.node) fail("EEXIST");
    if (flags === "exchange" && !dst.node) fail("ENOENT");
    // lock_rename: the source may not be an ancestor of the target, nor the target of the source
    if (isAncestor(from, to)) fail("EINVAL");
    if (isAncestor(to, from)) fail(flags === "exchange" ? "EINVAL" : "ENOTEMPTY");
    if (from === to) return; // the same dentry
    const srcDir = typeOf(src.node!) === "dir";
    const dstDir = dst.node ? typeOf(dst.node) === "dir" : false;
    if (dst.node && this.sameInode(c, src.node!, dst.node)) return; // vfs_rename: old and new are the same inode
    const samedir = parentPath(from) === parentPath(to);
    // vfs_rename: may_delete the source, may_delete the target or may_create its name, then the type checks; a
    // directory that changes parent needs write permission on itself (its "..")
    this.mayDelete(c, src);
    if (dst.node) this.mayDelete(c, dst);
    else this.need(owned(top(dst.parent)), MAY_WRITE | MAY_EXEC);
    if (dst.node && flags !== "exchange") {
      if (srcDir && !dstDir) fail("ENOTDIR");
      if (!srcDir && dstDir) fail("EISDIR");
    }
    if (!samedir && srcDir && flags !== "exchange") this.need(this.attrs(c, src.node!), MAY_WRITE);
    if (!samedir && dstDir && flags === "exchange") this.need(this.attrs(c, dst.node!), MAY_WRITE);
    const overwrite = flags !== "exchange";
    if (!this.canMove(c, src.node!) || (!overwrite && !this.canMove(c, dst.node!))) fail("EXDEV");
    // overlay checks a merged or lower target (ovl_check_empty_dir); a pure upper one is the upper fs's to refuse,
    // after the copy-up and the redirect are done
    const notEmpty = overwrite && dstDir && !this.isEmpty(c, dst.node!);
    if (notEmpty && dst.node!.lowers.length) fail("ENOTEMPTY");
    // redirects name where a directory's lower content lives: computed before anything moves
    const srcRedirect = this.newRedirect(c, src, samedir);
    const dstRedirect = overwrite ? undefined : this.newRedirect(c, dst, samedir);
    this.copyUp(c, src, src.node, false);
    this.copyUp(c, dst, overwrite ? undefined : dst.node, false);
    if (overwrite && dst.node) this.nlinkStart(c, dst, dst.node);
    const a = src.node!.upper!;
    const srcUpper = src.parent.upper as Dir;
    const dstUpper = dst.parent.upper as Dir;
    this.moved(c, a, src.node!, srcRedirect, dst.parent);
    if (notEmpty) fail("ENOTEMPTY");
    if (!overwrite) {
      const b = dst.node!.upper!;
      this.moved(c, b, dst.node!, dstRedirect, src.parent);
      srcUpper.children.set(src.name, b);
      dstUpper.children.set(dst.name, a);
      return;
    }
    const positive = this.lowerPositive(src.parent, src.name, src.node!);
    if (dst.node) this.dropLink(c, dst.node);
    if (positive)
      srcUpper.children.set(src.name, { kind: "whiteout" }); // RENAME_WHITEOUT
    else srcUpper.children.delete(src.name);
    dstUpper.children.set(dst.name, a);
  }

  /**
   * What a moved object carries: a directory with lower content, or a metacopy file, a redirect to it; a pure upper
   * directory opacity in a merged parent.
   */
  private moved(
    _c: Container,
    o: Exclude<Obj, Whiteout>,
    m: Merged,
    redirect: string | undefined,
    newParent: Merged,
  ): void {
    if (o.kind === "file" && o.ino.metacopy && redirect !== undefined) o.ino.redirect = redirect;
    if (o.kind !== "dir") return;
    if (m.lowers.length) {
      if (redirect !== undefined) o.redirect = redirect;
    } else if (o.opaque !== "y" && newParent.lowers.length) o.opaque = "y";
  }

  /** ovl_can_move: a directory with lower content moves only with redirect_dir=on. */
  protected canMove(c: Container, m: Merged): boolean {
    return c.options.redirectDir || typeOf(m) !== "dir" || m.lowers.length === 0;
  }

  /**
   * ovl_set_redirect / ovl_get_redirect: a directory with lower content (or a metacopy file) keeps an absolute redirect, or a relative one
   * when it stays in the same directory; otherwise it gets its old name (relative, same directory) or its old path
   * through the redirects of its ancestors (absolute).
   */
  protected newRedirect(c: Container, r: Resolved, samedir: boolean): string | undefined {
    const m = r.node!;
    if (!m.lowers.length || !c.options.redirectDir) return undefined;
    const u = m.upper;
    // the inode's own redirect: an upper one, or (a lower hard link's other name) its index entry's
    const indexed = !u && typeOf(m) === "file" ? this.indexed(c, (m.lowers[0]!.obj as File).ino) : undefined;
    const old = u?.kind === "dir" ? u.redirect : u?.kind === "file" ? u.ino.redirect : indexed?.redirect;
    // ovl_need_absolute_redirect: another directory, or a lower hard link (its names may be in several)
    const lower = m.lowers[0]!.obj;
    const absolute = !samedir || (lower.kind === "file" && lower.ino.nlink > 1);
    if (old !== undefined && (!absolute || old.startsWith("/"))) return old;
    if (!absolute) return r.name;
    const parts: string[] = [];
    const nodes = [...r.chain.slice(1), m];
    for (let i = nodes.length - 1; i >= 0; i--) {
      const u = nodes[i]!.upper;
      const rd = u?.kind === "dir" ? u.redirect : u?.kind === "file" ? u.ino.redirect : undefined;
      if (rd?.startsWith("/")) return rd + (parts.length ? `/${parts.join("/")}` : "");
      parts.unshift(rd ?? r.names[i]!);
    }
    return `/${parts.join("/")}`;
  }

  /** Whether two names are one overlay inode: lower hard links are one only when indexed (ovl_hash_bylower). */
  private sameInode(c: Container, a: Merged, b: Merged): boolean {
    const identity = (m: Merged): object => {
      const o = m.upper ?? m.lowers[0]!.obj;
      const inode = o.kind === "file" ? o.ino : o;
      if (m.upper || o.kind === "dir") return inode;
      // a lower hard link's names are one overlay inode only when indexed; otherwise each name is its own
      return this.indexes(c, inode as Ino | Sym) ? (c.index.get(inode as Ino | Sym) ?? inode) : m;
    };
    return identity(a) === identity(b);
  }

  // ---- inspect

  /** With `touched`: the layers and containers no op touched since the last inspect as they were then. */
  inspect(touched = false): OverlayState {
    const { raw } = this;
    const layers: OverlayState["layers"] = {};
    for (const [id, root] of this.layers) {
      let entries = raw.layers.get(id);
      if (!touched || !entries || this.touched.layers.has(id)) {
        entries = rawTree(root);
        raw.layers.set(id, entries);
      }
      layers[id] = entries;
    }
    const containers: OverlayState["containers"] = {};
    const created: string[] = [];
    const detached: string[] = [];
    for (const n of raw.containers.keys()) if (!this.containers.has(n)) raw.containers.delete(n);
    for (const [n, c] of this.containers) {
      let r = raw.containers.get(n);
      if (!touched || !r || this.touched.containers.has(n)) {
        const made: string[] = [];
        const broken: string[] = [];
        const upper = rawTree(c.upper, (p, o) => {
          if (o.kind === "whiteout") return;
          if (o.kind === "file" ? o.ino.created : o.created) made.push(`${n}:${p}`);
          else if (o.kind === "file" ? o.ino.detached : o.kind === "symlink" && o.detached) broken.push(`${n}:${p}`);
        });
        const now = {
          entry: { layers: [...c.layers], options: { ...c.options }, upper },
          created: made,
          detached: broken,
        };
        // as it was: the same objects again, and not reported touched (the properties pass over it)
        if (touched && r && deepEqual(now, r)) this.touched.containers.delete(n);
        else {
          r = now;
          raw.containers.set(n, r);
        }
      }
      containers[n] = r.entry;
      created.push(...r.created);
      detached.push(...r.detached);
    }
    const state: OverlayState = {
      layers,
      containers,
      copyUps: this.copyUps,
      reached: [...new Set(this.reached)],
      copiedTotal: { ...this.copiedTotal },
      created,
      detached,
      ...(touched
        ? {
            touched: {
              layers: [...this.touched.layers].map(String),
              containers: [...this.touched.containers].map(String),
            },
          }
        : {}),
    };
    this.touched.layers.clear();
    this.touched.containers.clear();
    return state;
  }
}

function newFile(mode: number, uid: number, gid: number): File {
  return {
    kind: "file",
    ino: {
      data: "",
      mode,
      uid,
      gid,
      xattrs: new Map(),
      nlink: 1,
      metacopy: false,
      size: 0,
      origin: false,
      created: true,
    },
  };
}

function setData(ino: Ino, data: string): void {
  ino.data = data;
  ino.size = data.length;
}

function splice(data: string, at: number, bytes: string): string {
  if (!bytes) return data; // a write of nothing changes nothing, not even the size
  const d = pad(data, Math.max(data.length, at));
  return d.slice(0, at) + bytes + d.slice(at + bytes.length);
}

function pad(data: string, size: number): string {
  return data.length >= size ? data.slice(0, size) : data + "\0".repeat(size - data.length);
}

function withXattrs(s: Stat, xattrs: ReadonlyMap<string, string>): Stat {
  return xattrs.size ? { ...s, xattrs: Object.fromEntries([...xattrs].sort(([a], [b]) => (a < b ? -1 : 1))) } : s;
}

const parentPath = (p: string): string => p.split("/").slice(0, -1).join("/");
const isAncestor = (a: string, b: string): boolean => b.startsWith(`${a}/`);

/** A tree's entries in path order, the way a walk of the raw directory reports them. */
export function rawTree(root: Dir, visit?: (path: string, o: Obj) => void): RawEntry[] {
  const out: RawEntry[] = [];
  const go = (d: Dir, prefix: string): void => {
    for (const [name, o] of d.children) {
      const path = prefix + name;
      visit?.(path, o);
      out.push(rawEntry(path, o));
      if (o.kind === "dir") go(o, `${path}/`);
    }
  };
  go(root, "");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function rawEntry(path: string, o: Obj): RawEntry {
  if (o.kind === "whiteout") return { path, type: "whiteout" };
  const e: { -readonly [K in keyof RawEntry]: RawEntry[K] } = { path, type: o.kind };
  const who = o.kind === "file" ? o.ino : o;
  if (who.uid || who.gid) {
    e.uid = who.uid;
    e.gid = who.gid;
  }
  if (o.kind === "symlink") {
    e.mode = 0o777;
    e.target = o.target;
  } else if (o.kind === "dir") {
    e.mode = o.mode;
    if (o.xattrs.size) e.xattrs = Object.fromEntries(o.xattrs);
    if (o.opaque !== undefined) e.opaque = o.opaque;
    if (o.redirect !== undefined) e.redirect = o.redirect;
  } else {
    const ino = o.ino;
    e.mode = ino.mode;
    e.size = ino.metacopy ? ino.size : ino.data.length;
    if (!ino.metacopy) e.data = ino.data;
    if (ino.xattrs.size) e.xattrs = Object.fromEntries(ino.xattrs);
    if (ino.redirect !== undefined) e.redirect = ino.redirect;
    if (ino.metacopy) e.metacopy = true;
  }
  if (o.kind === "file" ? o.ino.origin : o.origin) e.origin = true;
  return e;
}
