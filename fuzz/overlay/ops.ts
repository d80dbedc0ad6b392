// Op arbitraries for the overlay layer. Paths come from a few names over a few levels, so image layers collide on
// them (a file in one, a directory in another, a whiteout in a third) and the merged-view ops hit what exists.
import fc from "fast-check";
import {
  type LayerEntry,
  type MountOptions,
  OPEN_FLAGS,
  type OpenFlag,
  type OverlayGeometry,
  type OverlayOp,
  VOID,
} from "../../models/overlay/types.ts";

const MODES = [0o644, 0o600, 0o755, 0o700, 0o444];
/** Modes that matter once ops run as other users: group and world bits, sticky and set-id directories. */
const OWNED_MODES = [0o640, 0o664, 0o666, 0o775, 0o777, 0o1777, 0o2775, 0o4755, 0o2755];
/** Who an op runs as, with `credentials`: root two times in three; else user 1 in group 1 or in root's group, or user 2 in group 1. */
const WHO = [{}, {}, {}, {}, {}, {}, { uid: 1, gid: 1 }, { uid: 1, gid: 0 }, { uid: 2, gid: 1 }] as const;

export function overlayOpKinds(g: OverlayGeometry, features: ReadonlySet<string>): fc.WeightedArbitrary<OverlayOp>[] {
  const name = fc.constantFrom(...g.names);
  // shallow paths most: they are where layers meet
  const path = fc
    .integer({ min: 1, max: g.depth })
    .chain((n) => fc.array(name, { minLength: n, maxLength: n }))
    .map((ns) => ns.join("/"));
  const shallow = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: Math.min(2, g.depth) }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: g.depth }) },
  );
  const p = shallow.chain((n) => fc.array(name, { minLength: n, maxLength: n })).map((ns) => ns.join("/"));
  const c = fc.oneof(
    { weight: 3, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: g.containers }) },
  );
  const creds = features.has("credentials");
  const mode = creds ? fc.constantFrom(...MODES, ...OWNED_MODES) : fc.constantFrom(...MODES);
  const who = creds ? fc.constantFrom(...WHO) : fc.constant({});
  const owner = creds
    ? fc.constantFrom({}, {}, { uid: 1, gid: 1 }, { uid: 2, gid: 1 }, { uid: 0, gid: 1 })
    : fc.constant({});
  const data = fc.stringMatching(/^[a-c]{0,4}$/);
  // links inside the mount mostly (climbing with ".." or not, to a name that may be there), some to nowhere
  const target = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...g.names).map((n) => VOID + n) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.nat(2), fc.array(name, { minLength: 1, maxLength: 2 }))
        .map(([up, ns]) => [...Array<string>(up).fill(".."), ...ns].join("/")),
    },
  );
  /** Each flag on its own odds: O_CREAT often, O_DIRECTORY and O_NOFOLLOW seldom. */
  const odds: Record<OpenFlag, number> = { creat: 3, excl: 2, trunc: 3, append: 3, directory: 1, nofollow: 1 };
  const flags = fc
    .tuple(...OPEN_FLAGS.map((f) => fc.nat(9).map((n) => (n < odds[f] ? [f] : []))))
    .map((fs) => fs.flat());
  const open = fc
    .record({
      op: fc.constant("open" as const),
      c,
      path: p,
      access: fc.constantFrom("rdonly" as const, "wronly" as const, "rdwr" as const),
      flags,
      mode,
      write: fc.option(data, { nil: undefined, freq: 2 }),
      read: fc.option(fc.constant(true as const), { nil: undefined, freq: 2 }),
      misuse: fc.nat(9),
    })
    // a write on a read-only descriptor, or a read on a write-only one (EBADF), once in ten
    .map(({ flags, mode, write, read, misuse, ...o }) => ({
      ...o,
      ...(flags.length ? { flags } : {}),
      ...(flags.includes("creat") ? { mode } : {}),
      ...(write === undefined || (o.access === "rdonly" && misuse) ? {} : { write }),
      ...(read && (o.access !== "wronly" || !misuse) ? { read } : {}),
    }));
  const unowned: fc.Arbitrary<LayerEntry> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ type: fc.constant("dir" as const), path, mode }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("dir" as const), path, mode, opaque: fc.constant(true) }) },
    { weight: 5, arbitrary: fc.record({ type: fc.constant("file" as const), path, data, mode }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant("symlink" as const), path, target }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant("whiteout" as const), path }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("link" as const), path, to: path }) },
  );
  const entry: fc.Arbitrary<LayerEntry> = fc
    .tuple(unowned, owner)
    .map(([e, o]) => (e.type === "whiteout" || e.type === "link" ? e : { ...e, ...o }));
  const layer = fc
    .array(entry, { minLength: 1, maxLength: 10 })
    .map((es) => ({ op: "layer" as const, entries: wellFormed(es) }));
  const option = (f: string) => (features.has(f) ? fc.boolean() : fc.constant(false));
  const mount = fc.record({
    op: fc.constant("mount" as const),
    c,
    layers: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    redirectDir: option("redirect_dir"),
    index: option("index"),
    metacopy: option("metacopy"),
  });
  // an op on a container's files runs as `who`
  const as = (a: fc.Arbitrary<OverlayOp>): fc.Arbitrary<OverlayOp> =>
    creds ? fc.tuple(a, who).map(([op, w]) => ({ ...op, ...w }) as OverlayOp) : a;
  const setup: fc.WeightedArbitrary<OverlayOp>[] = [
    { weight: 3, arbitrary: layer },
    { weight: 2, arbitrary: mount },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("umount" as const), c }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("remount" as const), c }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("commit" as const), c }) },
  ];
  const files: fc.WeightedArbitrary<OverlayOp>[] = [
    { weight: 5, arbitrary: fc.record({ op: fc.constant("mkdir" as const), c, path: p, mode }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant("create" as const), c, path: p, mode }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("write" as const), c, path: p, at: fc.nat(5), data }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("append" as const), c, path: p, data }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("truncate" as const), c, path: p, size: fc.nat(6) }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant("unlink" as const), c, path: p }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("rmdir" as const), c, path: p }) },
    {
      weight: 6,
      arbitrary: fc
        .record({
          op: fc.constant("rename" as const),
          c,
          from: p,
          to: p,
          flags: fc.constantFrom(undefined, undefined, "noreplace" as const, "exchange" as const),
        })
        .map(({ flags, ...r }) => (flags ? { ...r, flags } : r)),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("link" as const), c, from: p, to: p }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("symlink" as const), c, target, path: p }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("readlink" as const), c, path: p }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("chmod" as const), c, path: p, mode }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("setxattr" as const),
        c,
        path: p,
        name: fc.constantFrom("user.x" as const, "user.y" as const),
        value: data,
      }),
    },
    { weight: 6, arbitrary: open },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("read" as const), c, path: p }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("readdir" as const), c, path: fc.oneof(fc.constant(""), p) }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("stat" as const), c, path: p }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("ino" as const), c, path: fc.oneof(fc.constant(""), p) }) },
  ];
  return [...setup, ...files.map((k) => ({ ...k, arbitrary: as(k.arbitrary) }))];
}

/** Entries a tar could hold: parents made first (as directories), each path once, links only to earlier files. */
function wellFormed(entries: readonly LayerEntry[]): LayerEntry[] {
  const kinds = new Map<string, LayerEntry["type"]>();
  const out: LayerEntry[] = [];
  for (const e of entries) {
    const names = e.path.split("/");
    let ok = true;
    for (let i = 1; i < names.length && ok; i++) {
      const parent = names.slice(0, i).join("/");
      const k = kinds.get(parent);
      if (k === undefined) {
        kinds.set(parent, "dir");
        out.push({ type: "dir", path: parent, mode: 0o755 });
      } else if (k !== "dir") ok = false;
    }
    if (!ok || kinds.has(e.path)) continue;
    if (e.type === "link" && kinds.get(e.to) !== "file") continue;
    kinds.set(e.path, e.type === "link" ? "file" : e.type);
    out.push(e);
  }
  return out;
}

/**
 * Generated sequences are arranged the way images and containers are used:
 * - ops on a container that is not mounted mount it first on the newest layer (and its base), once a layer exists;
 *   before any layer exists they are dropped;
 * - a mount names layers that exist; a committed layer is always mounted over the layers it was committed on
 *   (an image is its chain of layers), and the stack stops there;
 * - every mount of a sequence uses the options of the first mount op in it (a layer committed under one set of
 *   options is not read under another: metacopy files in it would be refused); where those are metacopy without
 *   redirect_dir, which the kernel refuses, the first mount tries them (EINVAL) and the rest add redirect_dir; a
 *   sequence without a mount op takes them from the size of its first layer, so every combination gets its share;
 * - two ops in three are pointed at what they need: an op on a file at a file the container is known to have, rmdir
 *   and readdir at a directory, mkdir/create/symlink at a name in a known directory. What the container has is
 *   tracked roughly (its layers' entries, whiteouts and opaque directories, then what ops create, move and remove,
 *   assuming they succeed): a bias, not a claim about the engine.
 */
export function overlayArrange(ops: OverlayOp[], _g: OverlayGeometry, _features: ReadonlySet<string>): OverlayOp[] {
  const bases: (readonly number[] | undefined)[] = []; // layer id - 1 → the base of a committed layer
  const views: ((below: View) => View)[] = []; // layer id - 1 → what the merged view is with it on top
  const mounted = new Map<number, number[]>();
  const known = new Map<number, View>();
  const first = ops.find((o) => o.op === "mount");
  const firstLayer = ops.find((o): o is Extract<OverlayOp, { op: "layer" }> => o.op === "layer");
  const size = firstLayer?.entries.length ?? 0;
  const wanted =
    first?.op === "mount"
      ? first
      : { redirectDir: (size & 1) === 1, index: (size & 2) === 2, metacopy: (size & 4) === 4 };
  const options: MountOptions = {
    redirectDir: wanted.redirectDir,
    index: wanted.index,
    metacopy: wanted.metacopy && wanted.redirectDir,
  };
  const out: OverlayOp[] = [];
  const stackFrom = (picks: readonly number[]): number[] => {
    const stack: number[] = [];
    for (const k of picks) {
      const id = ((k - 1) % bases.length) + 1;
      if (stack.includes(id)) continue;
      const base = bases[id - 1];
      if (base) {
        stack.push(id, ...base.filter((b) => !stack.includes(b)));
        if (stack.length !== new Set(stack).size || !sameTail(stack, id, base)) return [id, ...base];
        break;
      }
      stack.push(id);
    }
    return stack;
  };
  let tried = false;
  const mount = (c: number, picks: readonly number[]): void => {
    const stack = stackFrom(picks);
    if (!tried && wanted.metacopy && !wanted.redirectDir)
      out.push({ op: "mount", c, layers: stack, redirectDir: false, index: wanted.index, metacopy: true }); // EINVAL
    tried = true;
    out.push({ op: "mount", c, layers: stack, ...options });
    mounted.set(c, stack);
    known.set(
      c,
      [...stack].reverse().reduce<View>((below, l) => views[l - 1]!(below), new Map()),
    );
  };
  for (const op of ops) {
    if (op.op === "layer") {
      const layer = { ...op, entries: aimLinks(op.entries, views) };
      out.push(layer);
      bases.push(undefined);
      views.push((below) => layView(layer.entries, below));
      continue;
    }
    if (op.op === "mount") {
      if (!bases.length) continue;
      if (mounted.has(op.c)) out.push({ ...op, layers: mounted.get(op.c)!, ...options });
      else mount(op.c, op.layers);
      continue;
    }
    if (!mounted.has(op.c)) {
      if (!bases.length) continue;
      mount(op.c, [bases.length]);
    }
    const mine = known.get(op.c)!;
    const o = aimed(op, mine);
    out.push(o);
    if (o.op === "umount") mounted.delete(o.c);
    if (o.op === "commit") {
      const base = mounted.get(o.c)!;
      bases.push(base);
      const image = new Map(mine);
      views.push(() => new Map(image));
      mounted.set(o.c, [bases.length, ...base]);
    }
    track(mine, o);
  }
  return out;
}

type Kind = "file" | "dir" | "symlink";
/** A container's merged view, roughly: path → what is there. */
type View = Map<string, Kind>;

const under = (path: string, root: string): boolean => path === root || path.startsWith(`${root}/`);
const drop = (v: View, root: string): void => {
  for (const p of [...v.keys()]) if (under(p, root)) v.delete(p);
};

/** An image layer laid over the view below it: whiteouts remove, opaque directories hide, the rest adds or replaces. */
function layView(entries: readonly LayerEntry[], below: View): View {
  const v = new Map(below);
  for (const e of entries) {
    if (
      e.type === "whiteout" ||
      (e.type === "dir" && (e.opaque || v.get(e.path) !== "dir")) ||
      (e.type !== "dir" && v.has(e.path))
    )
      drop(v, e.path);
    if (e.type !== "whiteout") v.set(e.path, e.type === "link" || e.type === "file" ? "file" : e.type);
  }
  return v;
}

/** What an op does to the view, if it succeeds. */
function track(v: View, op: OverlayOp): void {
  switch (op.op) {
    case "mkdir":
    case "create":
    case "symlink":
      if (!v.has(op.path)) v.set(op.path, op.op === "mkdir" ? "dir" : op.op === "create" ? "file" : "symlink");
      break;
    case "open":
      if (op.flags?.includes("creat") && !v.has(op.path)) v.set(op.path, "file");
      break;
    case "link":
      if (v.get(op.from) === "file" && !v.has(op.to)) v.set(op.to, "file");
      break;
    case "unlink":
    case "rmdir":
      drop(v, op.path);
      break;
    case "rename": {
      if (!v.has(op.from) || under(op.to, op.from)) break;
      const moved = (root: string, to: string) =>
        [...v].filter(([p]) => under(p, root)).map(([p, k]) => [to + p.slice(root.length), k] as const);
      const a = moved(op.from, op.to);
      const b = op.flags === "exchange" ? moved(op.to, op.from) : [];
      drop(v, op.from);
      drop(v, op.to);
      for (const [p, k] of [...a, ...b]) v.set(p, k);
      break;
    }
  }
}

/** A string's hash, by its code points (what steers an op is a property of the op itself). */
function hashOf(s: string): number {
  let a = 7;
  for (const ch of s) a = Math.imul(a ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  return a;
}

/**
 * A layer's links inside the mount pointed, four in five, at a path some layer so far (this one included) has, as a
 * relative path from the link's directory.
 */
function aimLinks(entries: readonly LayerEntry[], views: readonly ((below: View) => View)[]): LayerEntry[] {
  if (!entries.some((e) => e.type === "symlink" && !e.target.startsWith(VOID))) return [...entries];
  const known = [...new Set([...views.flatMap((v) => [...v(new Map()).keys()]), ...entries.map((e) => e.path)])].sort();
  return entries.map((e) => {
    if (e.type !== "symlink" || e.target.startsWith(VOID)) return e;
    const h = hashOf(e.path + e.target);
    const to = known.filter((p) => p !== e.path);
    if (h % 5 === 4 || !to.length) return e;
    const up = e.path.split("/").length - 1;
    return { ...e, target: [...Array<string>(up).fill(".."), to[h % to.length]!].join("/") };
  });
}

/** The op pointed at what it needs, two times in three (chosen by the op itself, so shrinking stays stable). */
function aimed(op: OverlayOp, view: View): OverlayOp {
  const of = (...kinds: Kind[]) =>
    [...view]
      .filter(([, k]) => kinds.includes(k))
      .map(([p]) => p)
      .sort();
  const seed = JSON.stringify(op);
  const hash = (p: string) => hashOf(seed + p);
  const pick = (p: string, among: readonly string[]): string => {
    const h = hash(p);
    return h % 3 === 2 || !among.length ? p : among[h % among.length]!;
  };
  // a new name in a directory that exists (the root included)
  const fresh = (p: string): string => {
    const dirs = ["", ...of("dir")];
    const h = hash(p);
    if (h % 3 === 2) return p;
    const dir = dirs[h % dirs.length]!;
    const name = p.split("/").pop()!;
    return dir ? `${dir}/${name}` : name;
  };
  switch (op.op) {
    case "mkdir":
    case "create":
      return { ...op, path: fresh(op.path) };
    case "symlink": {
      const path = fresh(op.path);
      // a link in the mount at something there, as a relative path from the link's directory
      const there = of("file", "dir", "symlink");
      if (op.target.startsWith(VOID) || hash(op.target) % 5 === 4 || !there.length) return { ...op, path };
      const up = path.split("/").length - 1;
      return {
        ...op,
        path,
        target: [...Array<string>(up).fill(".."), there[hash(op.target) % there.length]!].join("/"),
      };
    }
    case "open": {
      if (op.flags?.includes("creat") && hash(op.path) % 2) return { ...op, path: fresh(op.path) };
      return { ...op, path: pick(op.path, hash(op.path) % 4 ? of("file") : of("dir", "symlink")) };
    }
    case "write":
    case "append":
    case "truncate":
    case "read":
      // a link now and then: the op follows it
      return { ...op, path: pick(op.path, hash(op.path) % 3 ? of("file") : of("symlink")) };
    case "rmdir":
      return { ...op, path: pick(op.path, of("dir")) };
    case "readdir":
      return op.path === "" ? op : { ...op, path: pick(op.path, of("dir")) };
    case "readlink":
      return { ...op, path: pick(op.path, of("symlink")) };
    case "unlink":
      return { ...op, path: pick(op.path, of("file", "symlink")) };
    case "chmod":
    case "setxattr":
    case "stat":
    case "ino":
      return { ...op, path: pick(op.path, of("file", "dir", "symlink")) };
    case "link":
      return { ...op, from: pick(op.from, of("file")), to: fresh(op.to) };
    case "rename":
      return {
        ...op,
        from: pick(op.from, of("file", "dir", "symlink")),
        to: hash(op.to) % 2 ? fresh(op.to) : pick(op.to, of("file", "dir", "symlink")),
      };
    default:
      return op;
  }
}

const sameTail = (stack: readonly number[], id: number, base: readonly number[]): boolean =>
  stack.slice(stack.indexOf(id) + 1).join() === base.join();

/**
 * Minimization rewrites (fuzz/minimize.ts takes one that still fails and is smaller in its size order):
 * - a layer (or commit) removed: it renumbers every later layer, so plain deletion cannot drop one; the layer numbers
 *   after it are rewritten;
 * - a creator and a destroyer together: a mount and the umount that ends it, an umount and the mount that follows
 *   it, or a container's whole session (its mount, its ops, its umount);
 * - an op of a container (create, mkdir, symlink, link, write, append, truncate, chmod, unlink, rmdir) made part
 *   of the image layer on top of its mount instead;
 * - smaller ops: a layer entry dropped, shorter data, an entry's optional mode or opaque flag dropped, a lower offset
 *   or size, a mount option off, a mount over fewer layers, a rename without flags, a container renamed to a lower
 *   number everywhere.
 */
export function* overlaySimplifications(ops: readonly OverlayOp[]): Iterable<OverlayOp[]> {
  const makers = ops.map((o, i) => (o.op === "layer" || o.op === "commit" ? i : -1)).filter((i) => i >= 0);
  for (const [n, at] of makers.entries()) {
    const gone = n + 1;
    const renumber = (l: number) => (l > gone ? l - 1 : l);
    const out: OverlayOp[] = [];
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      if (i === at) continue;
      if (o.op === "mount" && i > at) {
        const layers = o.layers.filter((l) => l !== gone).map(renumber);
        if (layers.length) out.push({ ...o, layers });
      } else out.push(o);
    }
    yield out;
  }
  yield* containerPairs(ops);
  yield* intoLayers(ops);
  const at = (i: number, op: OverlayOp): OverlayOp[] => [...ops.slice(0, i), op, ...ops.slice(i + 1)];
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.op === "layer") {
      for (let k = o.entries.length - 1; k >= 0; k--)
        yield at(i, { ...o, entries: o.entries.filter((_, j) => j !== k) });
      for (const [k, e] of o.entries.entries()) {
        const entry = (x: LayerEntry) => at(i, { ...o, entries: o.entries.map((y, j) => (j === k ? x : y)) });
        if (e.type === "file") for (const data of shorter(e.data)) yield entry({ ...e, data });
        if ((e.type === "file" || e.type === "dir") && e.mode !== undefined) {
          const { mode: _, ...rest } = e;
          yield entry(rest);
        }
        if (e.type === "dir" && e.opaque !== undefined) {
          const { opaque: _, ...rest } = e;
          yield entry(rest);
        }
      }
    }
    if (o.op === "mount") {
      for (const option of ["redirectDir", "index", "metacopy"] as const)
        if (o[option]) yield at(i, { ...o, [option]: false });
      if (o.layers.length > 1)
        for (let k = o.layers.length - 1; k >= 0; k--)
          yield at(i, { ...o, layers: o.layers.filter((_, j) => j !== k) });
    }
    if (o.op === "write") {
      for (const data of shorter(o.data)) yield at(i, { ...o, data });
      for (const x of lower(o.at, 0)) yield at(i, { ...o, at: x });
    }
    if (o.op === "append") for (const data of shorter(o.data)) yield at(i, { ...o, data });
    if (o.op === "setxattr") for (const value of shorter(o.value)) yield at(i, { ...o, value });
    if (o.op === "truncate") for (const size of lower(o.size, 0)) yield at(i, { ...o, size });
    if (o.op === "rename" && o.flags !== undefined) {
      const { flags: _, ...rest } = o;
      yield at(i, rest);
    }
  }
  // a container renamed to a lower number no op names
  const containers = new Set(ops.flatMap((o) => ("c" in o ? [o.c] : [])));
  for (const c of containers)
    for (const d of lower(c, 1))
      if (!containers.has(d)) yield ops.map((o) => ("c" in o && o.c === c ? { ...o, c: d } : o));
}

/**
 * An op of a container made part of the image layer its mount has on top instead (an entry added or changed, the op
 * gone): what a container built before a commit can often be in the image from the start, so the commit goes too.
 */
function* intoLayers(ops: readonly OverlayOp[]): Iterable<OverlayOp[]> {
  const layerOps: (number | undefined)[] = []; // layer id - 1 → the index of the `layer` op that makes it
  const top = new Map<number, number | undefined>(); // container → the `layer` op index on top of its mount
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.op === "layer" || o.op === "commit") layerOps.push(o.op === "layer" ? i : undefined);
    if (o.op === "mount") top.set(o.c, layerOps[o.layers[0]! - 1]);
    if (o.op === "umount") top.delete(o.c);
    if (o.op === "layer" || o.op === "mount" || o.op === "umount" || o.op === "commit") continue;
    const at = top.get(o.c);
    if (at === undefined) continue;
    const layer = ops[at] as Extract<OverlayOp, { op: "layer" }>;
    const entries = asEntries(layer.entries, o);
    if (!entries) continue;
    yield ops.flatMap((p, j) => (j === i ? [] : j === at ? [{ ...layer, entries }] : [p]));
  }
}

/** A layer's entries with what an op does in the container made part of them, where it can be said as entries. */
function asEntries(entries: readonly LayerEntry[], o: OverlayOp): LayerEntry[] | undefined {
  const k = entries.findIndex((e) => "path" in o && e.path === o.path);
  const e = entries[k];
  const changed = (x: LayerEntry): LayerEntry[] => entries.map((y, j) => (j === k ? x : y));
  switch (o.op) {
    case "create":
      return [...entries, { type: "file", path: o.path, data: "", mode: o.mode }];
    case "mkdir":
      return [...entries, { type: "dir", path: o.path, mode: o.mode }];
    case "symlink":
      return [...entries, { type: "symlink", path: o.path, target: o.target }];
    case "link":
      return [...entries, { type: "link", path: o.to, to: o.from }];
    case "write":
      if (e?.type !== "file" || o.at > e.data.length) return undefined;
      return changed({ ...e, data: e.data.slice(0, o.at) + o.data + e.data.slice(o.at + o.data.length) });
    case "append":
      return e?.type === "file" ? changed({ ...e, data: e.data + o.data }) : undefined;
    case "truncate":
      return e?.type === "file" && o.size <= e.data.length
        ? changed({ ...e, data: e.data.slice(0, o.size) })
        : undefined;
    case "chmod":
      return e?.type === "file" || e?.type === "dir" ? changed({ ...e, mode: o.mode }) : undefined;
    case "unlink":
    case "rmdir":
      return e ? entries.filter((_, j) => j !== k) : undefined;
    default:
      return undefined;
  }
}

/** Mounts and umounts removed in pairs, and a container's whole session (none that commits: it makes a layer). */
function* containerPairs(ops: readonly OverlayOp[]): Iterable<OverlayOp[]> {
  const without = (gone: ReadonlySet<number>) => ops.filter((_, i) => !gone.has(i));
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.op !== "mount" && o.op !== "umount") continue;
    const session = new Set([i]);
    let commits = false;
    for (let j = i + 1; j < ops.length; j++) {
      const p = ops[j]!;
      if (!("c" in p) || p.c !== o.c) continue;
      if (p.op === o.op) break; // mounted again (EBUSY), or unmounted again
      if (o.op === "mount") {
        session.add(j);
        commits ||= p.op === "commit";
      }
      if (p.op === (o.op === "mount" ? "umount" : "mount")) {
        yield without(new Set([i, j])); // the pair
        break;
      }
    }
    if (o.op === "mount" && session.size > 2 && !commits) yield without(session); // the whole session
  }
}

/** Lower values for a number, lowest first: the minimum, halfway down, one less. */
function lower(value: number, min: number): number[] {
  return [...new Set([min, Math.floor((min + value) / 2), value - 1])].filter((x) => x >= min && x < value);
}

/** Shorter data, shortest first: none, the first byte, all but the last. */
function shorter(data: string): string[] {
  return [...new Set(["", data.slice(0, 1), data.slice(0, -1)])].filter((d) => d.length < data.length);
}

/**
 * The exploration alphabet: an image layer, mounts with and without redirect_dir and index, and each kind of op on
 * its names. Sequences that use the container before a mount see EINVAL, as they should.
 */
export function overlayAlphabet(_g: OverlayGeometry): OverlayOp[] {
  const c = 1;
  const off = { redirectDir: false, index: false, metacopy: false };
  return [
    {
      op: "layer",
      entries: [
        { type: "dir", path: "d" },
        { type: "file", path: "d/f", data: "lo" },
        { type: "file", path: "a", data: "A" },
        { type: "link", path: "b", to: "a" },
      ],
    },
    { op: "mount", c, layers: [1], ...off },
    { op: "mount", c, layers: [1], redirectDir: true, index: true, metacopy: true },
    { op: "write", c, path: "a", at: 0, data: "x" },
    { op: "read", c, path: "b" },
    { op: "unlink", c, path: "d/f" },
    { op: "rmdir", c, path: "d" },
    { op: "mkdir", c, path: "d", mode: 0o700 },
    { op: "readdir", c, path: "d" },
    { op: "rename", c, from: "d", to: "e" },
    { op: "rename", c, from: "a", to: "d/a" },
    { op: "link", c, from: "a", to: "d/g" },
    { op: "chmod", c, path: "a", mode: 0o600 },
    { op: "stat", c, path: "b" },
    { op: "commit", c },
  ];
}
