// Eager-copy oracle for the overlay layer, the overlayfs documentation's own model: at mount, `cp -a` of the merged
// lower layers into a private tree; then plain POSIX operations on that tree. Overlay's documented deviations are
// switches tied to the mount options:
// - a directory that came from a lower layer cannot be renamed without redirect_dir (EXDEV);
// - a file not yet copied up reports its lower inode's own link count (names the layers above hide included);
// - without index, copying up one name of a lower hard link breaks it off (a new inode, link count 1), and two names
//   of one lower inode are different files to rename(2); with index, the names stay one inode whose link count
//   starts from the lower one.
// - with index, an xattr set on a name of a lower hard link whose index entry exists changes the shared inode and
//   leaves that name a lower one (it is not copied up);
// - a directory that one lower layer alone holds is read as it is (overlay does not merge it): readdir lists that
//   layer's whiteouts in it too, until something copies it up.
// - st_ino (all layers on one filesystem) is the lower inode's, also once copied up, except for a lower hard link
//   broken off without index; a committed layer's written inodes are the upper's, seen as lower ones.
// A committed layer is an image of the container at commit time, over the layers it was committed on: it is only
// defined over that same stack (as an image is), and the oracle refuses any other.
import { type Engine, InputError } from "../core/index.ts";
import type {
  Errno,
  LayerEntry,
  MountOptions,
  OverlayGeometry,
  OverlayObs,
  OverlayOp,
  Stat,
} from "../models/overlay/types.ts";
import { MAX_SYMLINKS, OVERLAY_FEATURES, VOID } from "../models/overlay/types.ts";
import {
  type Cred,
  chmodResult as chmodded,
  credOf,
  afterWrite as killPrivs,
  X as MAY_EXEC,
  R as MAY_READ,
  W as MAY_WRITE,
  mayHardlink as mayLink,
  created as newOwned,
  type Owned,
  isOwner as owns,
  allowed as permits,
  sticky as stickyRefuses,
  withOwner,
} from "./overlay-creds.ts";

/** A file inode as a layer stores it: immutable once its layer exists. */
interface LowerIno {
  readonly data: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly xattrs: ReadonlyMap<string, string>;
  readonly nlink: number;
  /** Its inode number's identity where not itself: a committed layer's inode is the upper it was written as. */
  readonly id?: object;
}
/** A file inode the container has written (copied up or created). */
interface Ino {
  data: string;
  mode: number;
  uid: number;
  gid: number;
  xattrs: Map<string, string>;
  nlink: number;
  /** The lower inode whose number it keeps (copied up from a lower inode with one link, or through the index). */
  from?: object;
}
/** A name of a file: lower only (it shows its lower inode, or with index that inode's index entry), or upper. */
interface FileName {
  readonly t: "file";
  lower?: LowerIno;
  ino?: Ino;
}
interface DirNode {
  readonly t: "dir";
  mode: number;
  uid: number;
  gid: number;
  xattrs: Map<string, string>;
  readonly kids: Map<string, Node>;
  readonly fromLower: boolean;
  /** Whiteout names readdir lists while the directory is one lower layer's alone. */
  ghosts?: Set<string>;
  /** The topmost lower directory it merges, whose number it shows (none: made in the container). */
  id?: object;
  /** Copied up (something below it changed): a commit makes the upper directory the lower one. */
  up?: boolean;
}
interface SymNode {
  readonly t: "symlink";
  readonly target: string;
  readonly uid: number;
  readonly gid: number;
  /** The lower symlink whose number it shows (none: made in the container, or broken off). */
  id?: object;
  /** A lower hard link (committed layers only): copied up without index it breaks off. */
  shared?: boolean;
  up?: boolean;
}
type Node = FileName | DirNode | SymNode;

/** A built layer keeps its raw form (whiteouts, opaque dirs); a committed one the image it was committed as. */
type RawNode =
  | { t: "dir"; mode: number; uid: number; gid: number; opaque: boolean; kids: Map<string, RawNode> }
  | { t: "file"; ino: { data: string; mode: number; uid: number; gid: number; nlink: number } }
  | { t: "symlink"; target: string; uid: number; gid: number }
  | { t: "whiteout" };
type Layer =
  | { kind: "built"; root: RawNode & { t: "dir" } }
  | { kind: "committed"; base: readonly number[]; image: DirNode };

interface Container {
  readonly stack: number[];
  readonly options: MountOptions;
  root: DirNode;
  /** index=on: the inode a lower hard link's names share once one of them was copied up (or removed). */
  readonly index: Map<LowerIno, Ino>;
}

/** Where a path leads: its directory and name (none for the root), and what is there. */
interface Place {
  dir?: DirNode;
  name: string;
  node?: Node;
  path: string;
}

class Fail {
  constructor(readonly errno: Errno) {}
}
const no = (errno: Errno): never => {
  throw new Fail(errno);
};

export class OverlayOracle implements Engine<OverlayOp, OverlayObs> {
  readonly layer = "overlay" as const;
  readonly features: ReadonlySet<string> = new Set(OVERLAY_FEATURES);
  private readonly layers = new Map<number, Layer>();
  private readonly mounts = new Map<number, Container>();
  /** Inode identities in the order the sequence first saw them (`ino`). */
  private readonly inos = new Map<object, number>();

  constructor(readonly geometry: OverlayGeometry) {}

  /** The op copied nothing up (a rename onto itself, an xattr set through an index entry). */
  private noop = false;
  /** Where the op's paths led (symlinks followed). */
  private walked: string[] = [];
  /** Who the op runs as. */
  private cred: Cred = { uid: 0, gid: 0 };

  apply(op: OverlayOp): OverlayObs {
    this.noop = false;
    this.walked = [];
    this.cred = credOf(op as { uid?: number; gid?: number });
    try {
      const obs = this.run(op) ?? { ok: true };
      if ("ok" in obs && !this.noop && ("path" in op || "from" in op)) this.copiedUp(this.box(op.c), this.walked);
      return obs;
    } catch (e) {
      if (e instanceof Fail) return { error: e.errno };
      throw e;
    }
  }

  private run(op: OverlayOp): OverlayObs | undefined {
    switch (op.op) {
      case "layer":
        return { layer: this.newLayer({ kind: "built", root: built(op.entries) }) };
      case "mount": {
        if (this.mounts.has(op.c)) no("EBUSY");
        if (
          op.layers.some((l) => !this.layers.has(l)) ||
          new Set(op.layers).size < op.layers.length ||
          (op.metacopy && !op.redirectDir)
        )
          no("EINVAL");
        const options = { redirectDir: op.redirectDir, index: op.index, metacopy: op.metacopy };
        this.mounts.set(op.c, { stack: [...op.layers], options, root: this.cpA(op.layers, options), index: new Map() });
        return;
      }
      case "umount":
        this.box(op.c);
        this.mounts.delete(op.c);
        return;
      case "remount":
        this.box(op.c);
        return;
      case "commit": {
        const box = this.box(op.c);
        const id = this.newLayer({ kind: "committed", base: box.stack, image: image(box) });
        const stack = [id, ...box.stack];
        this.mounts.set(op.c, { stack, options: box.options, root: this.cpA(stack, box.options), index: new Map() });
        return { layer: id };
      }
    }
    const box = this.box(op.c);
    switch (op.op) {
      // mkdir(2) then chmod(2), open(O_CREAT|O_EXCL) then fchmod: exactly the mode, as setattr allows it
      case "mkdir":
        this.add(box, op.path, (p) => {
          const o = newOwned(this.cred, p, op.mode, true);
          const mode = chmodded(this.cred, o, op.mode) as number;
          return { t: "dir", ...o, mode, xattrs: new Map(), kids: new Map(), fromLower: false };
        });
        return;
      case "create":
        this.add(box, op.path, (p) => {
          const o = newOwned(this.cred, p, op.mode, false);
          const mode = chmodded(this.cred, o, op.mode) as number;
          return { t: "file", ino: { ...o, mode, data: "", xattrs: new Map(), nlink: 1 } };
        });
        return;
      case "symlink":
        this.add(box, op.path, (p) => {
          const { uid, gid } = newOwned(this.cred, p, 0o777, false);
          return { t: "symlink", target: op.target, uid, gid };
        });
        return;
      case "write": {
        const i = this.writable(box, op.path, op.data !== "");
        if (op.data)
          i.data = i.data.padEnd(op.at, "\0").slice(0, op.at) + op.data + i.data.slice(op.at + op.data.length);
        return;
      }
      case "append":
        this.writable(box, op.path, op.data !== "").data += op.data;
        return;
      case "truncate": {
        const i = this.writable(box, op.path, true);
        i.data = i.data.slice(0, op.size).padEnd(op.size, "\0");
        return;
      }
      case "chmod": {
        const n = this.target(box, op.path);
        const mode = chmodded(this.cred, this.attrs(box, n), op.mode);
        if (mode === "EPERM") no("EPERM");
        if (n.t === "dir") n.mode = mode as number;
        else this.copyUp(box, n).mode = mode as number;
        return;
      }
      case "setxattr": {
        const n = this.target(box, op.path);
        const a = this.attrs(box, n);
        if (n.t === "dir" && a.mode & 0o1000 && !owns(this.cred, a)) no("EPERM"); // a sticky directory's owner only
        this.need(a, MAY_WRITE);
        // a name of a lower hard link whose index entry exists is changed through it, and stays a lower name
        const through = n.t === "file" && !n.ino && box.options.index ? box.index.get(n.lower!) : undefined;
        if (through) this.noop = true;
        (n.t === "dir" ? n.xattrs : (through ?? this.copyUp(box, n)).xattrs).set(op.name, op.value);
        return;
      }
      case "open":
        return this.open(box, op);
      case "read": {
        const n = this.target(box, op.path);
        this.need(this.attrs(box, n), MAY_READ);
        if (n.t === "dir") no("EISDIR");
        return { data: this.shown(box, n as FileName).data };
      }
      case "readdir": {
        const n = this.target(box, op.path);
        if (n.t !== "dir") no("ENOTDIR");
        this.need(n as DirNode, MAY_READ);
        return { names: [...(n as DirNode).kids.keys(), ...((n as DirNode).ghosts ?? [])].sort() };
      }
      case "readlink": {
        const n = this.at(box, op.path).node ?? no("ENOENT");
        if (n.t !== "symlink") no("EINVAL");
        return { target: (n as SymNode).target };
      }
      case "stat":
        return { stat: this.stat(box, op.path) };
      case "ino": {
        const n = this.at(box, op.path).node ?? no("ENOENT");
        // the root is its mount's own (a fresh upper directory at each mount and commit)
        const own = n === box.root ? n : undefined;
        const id = own ?? (n.t === "file" ? (n.ino ? (n.ino.from ?? n.ino) : (n.lower!.id ?? n.lower!)) : (n.id ?? n));
        if (!this.inos.has(id)) this.inos.set(id, this.inos.size);
        return { ino: this.inos.get(id)! };
      }
      case "unlink":
      case "rmdir": {
        const place = this.at(box, op.path);
        const { dir, name, node } = place;
        if (!node) no("ENOENT");
        this.mayDelete(box, place);
        if (op.op === "unlink" && node!.t === "dir") no("EISDIR");
        if (op.op === "rmdir" && node!.t !== "dir") no("ENOTDIR");
        if (node!.t === "dir" && node!.kids.size) no("ENOTEMPTY");
        this.dropName(box, node!);
        dir!.kids.delete(name);
        return;
      }
      case "link": {
        const src = this.at(box, op.from).node ?? no("ENOENT");
        const dst = this.at(box, op.to);
        if (dst.node) no("EEXIST");
        if (!mayLink(this.cred, this.attrs(box, src), src.t === "file")) no("EPERM"); // protected_hardlinks
        this.need(dst.dir!, MAY_WRITE | MAY_EXEC);
        if (src.t === "dir") no("EPERM");
        if (src.t === "file") this.copyUp(box, src).nlink++;
        if (src.t === "symlink") this.symlinkCopiedUp(box, src);
        dst.dir!.kids.set(dst.name, src);
        return;
      }
      case "rename":
        this.rename(box, op.from, op.to, op.flags);
        return;
    }
  }

  /** A change copies up the directories on the paths it reaches: they are merged from then on. */
  private copiedUp(box: Container, paths: readonly string[]): void {
    for (const p of paths) {
      let d: Node | undefined = box.root;
      for (const n of p.split("/")) {
        if (d?.t !== "dir") break;
        d.up = true;
        d = d.kids.get(n);
        if (d?.t === "dir") delete d.ghosts;
      }
      if (d?.t === "dir") d.up = true;
    }
  }

  private newLayer(l: Layer): number {
    const id = this.layers.size + 1;
    this.layers.set(id, l);
    return id;
  }

  private box(c: number): Container {
    return this.mounts.get(c) ?? no("EINVAL");
  }

  // ---- cp -a of the merged lower layers

  private cpA(stack: readonly number[], options: MountOptions): DirNode {
    return this.merged(stack, new Map(), options.index);
  }

  /** The merged view of a stack, top layer first, as a fresh tree whose files are lower names. */
  private merged(stack: readonly number[], seen: Map<object, LowerIno>, index: boolean): DirNode {
    if (!stack.length) return emptyDir();
    const top = this.layers.get(stack[0]!)!;
    if (top.kind === "committed") {
      if (top.base.join() !== stack.slice(1).join()) {
        throw new InputError(
          `the oracle defines a committed layer only over the stack it was committed on (${stack[0]} over [${top.base.join(", ")}], not [${stack.slice(1).join(", ")}])`,
        );
      }
      return copyTree(top.image, index ? new Map() : undefined) as DirNode;
    }
    return lay(top.root, this.merged(stack.slice(1), seen, index), seen);
  }

  // ---- paths

  /**
   * The path walk: the directory and name a path leads to, each symlink on the way followed (the last one too if
   * `follow`), ".." to the parent (the root's own parent is the root), the 41st link ELOOP; a link under VOID leads
   * nowhere (ENOENT; EISDIR for O_CREAT on a body ending in a slash).
   */
  private at(box: Container, path: string, follow = false, creat = false): Place {
    const dirs: DirNode[] = [box.root];
    const names: string[] = [];
    const todo = path ? path.split("/").reverse() : [];
    let links = 0;
    while (todo.length) {
      const name = todo.pop()!;
      this.need(dirs[dirs.length - 1]!, MAY_EXEC); // search permission on each directory walked
      if (name === "..") {
        if (names.length) {
          dirs.pop();
          names.pop();
        }
        continue;
      }
      const dir = dirs[dirs.length - 1]!;
      const node = dir.kids.get(name);
      const last = !todo.length;
      if (node?.t === "symlink" && (follow || !last)) {
        if (++links > MAX_SYMLINKS) no("ELOOP");
        const body = node.target;
        if (body.startsWith(VOID))
          no(creat && last && !body.slice(VOID.length).replaceAll("/", "") ? "EISDIR" : "ENOENT");
        todo.push(...body.split("/").reverse());
        continue;
      }
      if (last) {
        this.walked.push([...names, name].join("/"));
        return { dir, name, node, path: [...names, name].join("/") };
      }
      if (!node) no("ENOENT");
      if (node!.t !== "dir") no("ENOTDIR");
      dirs.push(node as DirNode);
      names.push(name);
    }
    return { name: "", node: box.root, path: "" };
  }

  /** An existing object, following a final symlink. */
  private target(box: Container, path: string): FileName | DirNode {
    return (this.at(box, path, true).node ?? no("ENOENT")) as FileName | DirNode;
  }

  /** open(2), then the write and the read on the open file; whatever it creates or copies up is done at once. */
  private open(box: Container, op: Extract<OverlayOp, { op: "open" }>): OverlayObs | undefined {
    const f = new Set(op.flags);
    const creat = f.has("creat");
    if (creat && f.has("directory")) no("EINVAL");
    const excl = creat && f.has("excl");
    const writes = op.access !== "rdonly";
    const trunc = f.has("trunc");
    const place = this.at(box, op.path, !(excl || f.has("nofollow")), creat);
    let n = place.node;
    this.noop = true;
    if (!n) {
      if (!creat) no("ENOENT");
      this.need(place.dir!, MAY_WRITE | MAY_EXEC); // may_o_create
      const o = newOwned(this.cred, place.dir!, op.mode ?? 0o644, false);
      n = { t: "file", ino: { ...o, data: "", xattrs: new Map(), nlink: 1 } };
      place.dir!.kids.set(place.name, n);
      this.copiedUp(box, [place.path]);
    } else {
      if (excl) no("EEXIST");
      if (creat && n.t === "dir") no("EISDIR");
      if (f.has("directory") && n.t !== "dir") no("ENOTDIR");
      if (n.t === "symlink") no("ELOOP");
      if (n.t === "dir" && (writes || trunc)) no("EISDIR");
      this.need(this.attrs(box, n), (op.access === "wronly" ? 0 : MAY_READ) | (writes || trunc ? MAY_WRITE : 0));
      if (n.t === "file" && (writes || trunc)) {
        const i = this.copyUp(box, n);
        if (trunc) {
          i.data = "";
          i.mode = killPrivs(this.cred, i.mode);
        }
        this.copiedUp(box, [place.path]);
      }
    }
    if (op.write !== undefined) {
      if (!writes) no("EBADF");
      const i = (n as FileName).ino!;
      i.data = f.has("append") ? i.data + op.write : op.write + i.data.slice(op.write.length);
      if (op.write) i.mode = killPrivs(this.cred, i.mode);
    }
    if (!op.read) return undefined;
    if (op.access === "wronly") no("EBADF");
    if (n!.t === "dir") no("EISDIR");
    return { data: this.shown(box, n as FileName).data };
  }

  /** The inode a write changes, after the checks; a change by anyone but root clears its set-id bits (`kill`). */
  private writable(box: Container, path: string, kill: boolean): Ino {
    const n = this.target(box, path);
    if (n.t === "dir") no("EISDIR");
    this.need(this.attrs(box, n), MAY_WRITE);
    const i = this.copyUp(box, n as FileName);
    if (kill) i.mode = killPrivs(this.cred, i.mode);
    return i;
  }

  /** A new name: EEXIST, then write and search permission on the directory; the node made from its mode and owner. */
  private add(box: Container, path: string, make: (parent: Owned) => Node): void {
    const { dir, name, node: there } = this.at(box, path);
    if (there) no("EEXIST");
    this.need(dir!, MAY_WRITE | MAY_EXEC);
    dir!.kids.set(name, make(dir!));
  }

  /** Permission for the op's caller. */
  private need(o: Owned, mask: number): void {
    if (!permits(this.cred, o, mask)) no("EACCES");
  }

  /** A node's mode and owner (a file's as its name shows them; a symlink's mode is 0777). */
  private attrs(box: Container, n: Node): Owned {
    return n.t === "file" ? this.shown(box, n) : n.t === "dir" ? n : { mode: 0o777, uid: n.uid, gid: n.gid };
  }

  /** Removing a name: write and search permission on its directory, and a sticky directory's rule. */
  private mayDelete(box: Container, place: Place): void {
    this.need(place.dir!, MAY_WRITE | MAY_EXEC);
    if (stickyRefuses(this.cred, place.dir!, this.attrs(box, place.node!))) no("EPERM");
  }

  // ---- file identity (the deviations)

  /** What a file name shows: its inode, or its lower inode's index entry, or the lower inode itself. */
  private shown(box: Container, f: FileName): Ino | LowerIno {
    return f.ino ?? (box.options.index ? box.index.get(f.lower!) : undefined) ?? f.lower!;
  }

  /** The copy-up a change to a lower file name makes: with index, a hard link's names share the copy; without, this name breaks off. */
  private copyUp(box: Container, f: FileName): Ino {
    if (f.ino) return f.ino;
    const lower = f.lower!;
    f.ino =
      box.options.index && lower.nlink > 1
        ? this.indexed(box, lower)
        : { ...attrsOf(lower), data: lower.data, xattrs: new Map(lower.xattrs), nlink: 1 };
    if (lower.nlink === 1) f.ino.from = lower.id ?? lower;
    return f.ino;
  }

  /** A symlink moved or linked is copied up: a lower hard link without index breaks off (its own number). */
  private symlinkCopiedUp(box: Container, s: SymNode): void {
    s.up = true;
    if (s.shared && !box.options.index) s.id = undefined;
  }

  private indexed(box: Container, lower: LowerIno): Ino {
    let ino = box.index.get(lower);
    if (!ino) {
      ino = { ...attrsOf(lower), data: lower.data, xattrs: new Map(lower.xattrs), nlink: lower.nlink };
      ino.from = lower.id ?? lower;
      box.index.set(lower, ino);
    }
    return ino;
  }

  /** A name goes: its inode loses a link (a lower hard link's, with index, through its index entry). */
  private dropName(box: Container, n: Node): void {
    if (n.t !== "file") return;
    if (n.ino) n.ino.nlink--;
    else if (box.options.index && n.lower!.nlink > 1) this.indexed(box, n.lower!).nlink--;
  }

  private same(box: Container, a: Node, b: Node): boolean {
    if (a === b) return true;
    if (a.t !== "file" || b.t !== "file") return false;
    const ia = a.ino ?? (box.options.index ? this.shown(box, a) : undefined);
    const ib = b.ino ?? (box.options.index ? this.shown(box, b) : undefined);
    return ia !== undefined && ia === ib;
  }

  private stat(box: Container, path: string): Stat {
    const n = this.at(box, path).node ?? no("ENOENT");
    return withOwner(this.statOf(box, n), this.attrs(box, n));
  }

  private statOf(box: Container, n: Node): Stat {
    if (n.t === "symlink") return { type: "symlink", mode: 0o777, size: n.target.length };
    const s: Stat =
      n.t === "dir"
        ? { type: "dir", mode: n.mode }
        : (() => {
            const i = this.shown(box, n);
            return { type: "file", mode: i.mode, size: i.data.length, nlink: i.nlink };
          })();
    const x = n.t === "dir" ? n.xattrs : this.shown(box, n).xattrs;
    return x.size ? { ...s, xattrs: Object.fromEntries([...x].sort(([p], [q]) => (p < q ? -1 : 1))) } : s;
  }

  private rename(box: Container, fromPath: string, toPath: string, flags: "noreplace" | "exchange" | undefined): void {
    const src = this.at(box, fromPath);
    const dst = this.at(box, toPath);
    const [from, to] = [src.path, dst.path];
    if (!src.node) no("ENOENT");
    if (flags === "noreplace" && dst.node) no("EEXIST");
    if (flags === "exchange" && !dst.node) no("ENOENT");
    if (to.startsWith(`${from}/`)) no("EINVAL");
    if (from.startsWith(`${to}/`)) no(flags === "exchange" ? "EINVAL" : "ENOTEMPTY");
    if (from === to) {
      this.noop = true;
      return;
    }
    const a = src.node!;
    const b = dst.node;
    if (b && this.same(box, a, b)) {
      this.noop = true;
      return;
    }
    // permission to remove the source name, and to replace or make the target; a directory changing parent needs
    // write permission on itself
    this.mayDelete(box, src);
    if (b) this.mayDelete(box, dst);
    else this.need(dst.dir!, MAY_WRITE | MAY_EXEC);
    if (b && flags !== "exchange" && (a.t === "dir") !== (b.t === "dir")) no(a.t === "dir" ? "ENOTDIR" : "EISDIR");
    const moves = src.dir !== dst.dir;
    if (moves && a.t === "dir" && flags !== "exchange") this.need(a, MAY_WRITE);
    if (moves && b?.t === "dir" && flags === "exchange") this.need(b, MAY_WRITE);
    const stuck = (n: Node | undefined) => n?.t === "dir" && n.fromLower && !box.options.redirectDir;
    if (stuck(a) || (flags === "exchange" && stuck(b))) no("EXDEV");
    if (b?.t === "dir" && flags !== "exchange" && b.kids.size) no("ENOTEMPTY");
    if (a.t === "file") this.copyUp(box, a);
    if (a.t === "symlink") this.symlinkCopiedUp(box, a);
    if (flags === "exchange") {
      if (b!.t === "file") this.copyUp(box, b as FileName);
      if (b!.t === "symlink") this.symlinkCopiedUp(box, b as SymNode);
      src.dir!.kids.set(src.name, b!);
    } else {
      if (b) this.dropName(box, b);
      src.dir!.kids.delete(src.name);
    }
    dst.dir!.kids.set(dst.name, a);
  }
}

// ---- layers

/** A built layer from its entries, all or nothing. */
function built(entries: readonly LayerEntry[]): RawNode & { t: "dir" } {
  const root: RawNode & { t: "dir" } = { t: "dir", mode: 0o755, uid: 0, gid: 0, opaque: false, kids: new Map() };
  const find = (path: string): RawNode | undefined =>
    path.split("/").reduce<RawNode | undefined>((d, n) => (d?.t === "dir" ? d.kids.get(n) : undefined), root);
  for (const e of entries) {
    const cut = e.path.lastIndexOf("/");
    const parent = cut < 0 ? root : find(e.path.slice(0, cut));
    const name = e.path.slice(cut + 1);
    if (parent?.t !== "dir" || parent.kids.has(name)) no("EINVAL");
    let node: RawNode;
    const who = { uid: e.type === "whiteout" || e.type === "link" ? 0 : (e.uid ?? 0), gid: 0 };
    if (e.type !== "whiteout" && e.type !== "link") who.gid = e.gid ?? 0;
    if (e.type === "dir")
      node = { t: "dir", mode: e.mode ?? 0o755, ...who, opaque: e.opaque ?? false, kids: new Map() };
    else if (e.type === "file") node = { t: "file", ino: { data: e.data, mode: e.mode ?? 0o644, ...who, nlink: 1 } };
    else if (e.type === "symlink") node = { t: "symlink", target: e.target, ...who };
    else if (e.type === "whiteout") node = { t: "whiteout" };
    else {
      const to = find(e.to);
      if (to?.t !== "file") no("EINVAL");
      node = to!;
      (to as { ino: { nlink: number } }).ino.nlink++;
    }
    (parent as { kids: Map<string, RawNode> }).kids.set(name, node);
  }
  return root;
}

/** Lay a built layer over the merged view below it: whiteouts remove, opaque dirs hide, dirs merge, the rest replace. */
function lay(layer: RawNode & { t: "dir" }, below: DirNode, seen: Map<object, LowerIno>): DirNode {
  const out: DirNode = {
    t: "dir",
    ...attrsOf(layer),
    xattrs: new Map(),
    kids: new Map(below.kids),
    fromLower: true,
    id: layer,
  };
  for (const [name, n] of layer.kids) {
    const under = out.kids.get(name);
    if (n.t === "whiteout") out.kids.delete(name);
    else if (n.t === "dir") {
      const merges = under?.t === "dir" && !n.opaque;
      const d = lay(n, merges ? under : emptyDir(), seen);
      if (!merges) {
        const ghosts = [...n.kids].filter(([, k]) => k.t === "whiteout").map(([k]) => k);
        if (ghosts.length) d.ghosts = new Set(ghosts);
      }
      out.kids.set(name, d);
    } else if (n.t === "symlink") out.kids.set(name, { t: "symlink", target: n.target, uid: n.uid, gid: n.gid, id: n });
    else {
      let lower = seen.get(n.ino);
      if (!lower) {
        lower = { ...attrsOf(n.ino), data: n.ino.data, xattrs: new Map(), nlink: n.ino.nlink, id: n.ino };
        seen.set(n.ino, lower);
      }
      out.kids.set(name, { t: "file", lower });
    }
  }
  return out;
}

/** A directory no one copied up is still one layer's alone after a commit (the new layer does not hold it). */
const withGhosts = (from: DirNode, to: DirNode): DirNode =>
  from.ghosts ? { ...to, ghosts: new Set(from.ghosts) } : to;

const emptyDir = (): DirNode => ({
  t: "dir",
  mode: 0o755,
  uid: 0,
  gid: 0,
  xattrs: new Map(),
  kids: new Map(),
  fromLower: true,
});

/** A mode and an owner, copied (cp -a keeps both; so does overlay's copy-up). */
const attrsOf = (o: Owned): Owned => ({ mode: o.mode, uid: o.uid, gid: o.gid });

/**
 * A copy of a tree: every file a lower name again, hard links kept (cp -a). Hard-linked symlinks are one inode only
 * with index (without, overlay gives each name of a lower hard link its own inode).
 */
function copyTree(n: Node, links: Map<Node, Node> | undefined): Node {
  if (n.t === "dir")
    return withGhosts(n, {
      t: "dir",
      ...attrsOf(n),
      xattrs: new Map(n.xattrs),
      kids: new Map([...n.kids].map(([k, v]) => [k, copyTree(v, links)])),
      fromLower: true,
      id: n.id ?? n,
    });
  if (n.t === "symlink") {
    const copy = links?.get(n) ?? {
      t: "symlink" as const,
      target: n.target,
      uid: n.uid,
      gid: n.gid,
      id: n.id ?? n,
      shared: n.shared,
    };
    links?.set(n, copy);
    return copy;
  }
  return { t: "file", lower: n.lower };
}

/**
 * The image a commit freezes: what the container shows, where the names it wrote become new lower inodes (linked as
 * they are in the upper; the index, in the work dir, does not survive) and the names it never wrote keep theirs.
 */
function image(box: Container): DirNode {
  const written = new Map<Ino, { -readonly [K in keyof LowerIno]: LowerIno[K] }>();
  const links = new Map<SymNode, number>();
  const count = (d: DirNode): void => {
    for (const n of d.kids.values()) {
      if (n.t === "dir") count(n);
      else if (n.t === "symlink") links.set(n, (links.get(n) ?? 0) + 1);
      else if (n.ino) {
        const w = written.get(n.ino);
        if (w) w.nlink++;
        else
          written.set(n.ino, {
            ...attrsOf(n.ino),
            data: n.ino.data,
            xattrs: new Map(n.ino.xattrs),
            nlink: 1,
            id: n.ino,
          });
      }
    }
  };
  const frozenLinks = new Map<SymNode, SymNode>();
  count(box.root);
  const freeze = (n: Node): Node => {
    if (n.t === "dir")
      return withGhosts(n, {
        t: "dir",
        ...attrsOf(n),
        xattrs: new Map(n.xattrs),
        kids: new Map([...n.kids].map(([k, v]) => [k, freeze(v)])),
        fromLower: true,
        // an upper directory is the new layer's; one never copied up still shows the older layer's
        id: n.up || !n.fromLower ? n : (n.id ?? n),
      });
    if (n.t === "symlink") {
      const id = n.up || !n.id ? n : n.id;
      const frozen = frozenLinks.get(n) ?? {
        t: "symlink" as const,
        target: n.target,
        uid: n.uid,
        gid: n.gid,
        id,
        shared: links.get(n)! > 1,
      };
      frozenLinks.set(n, frozen);
      return frozen;
    }
    return { t: "file", lower: n.ino ? written.get(n.ino)! : n.lower! };
  };
  return freeze(box.root) as DirNode;
}
