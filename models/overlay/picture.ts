// The overlay state as trees: each image layer, and each container's upper layer and merged view, dir → child.
import type { Graph, GraphEdge, GraphGroup, GraphNode } from "../../core/picture.ts";
import type { OverlayGeometry, OverlayState, RawEntry } from "./types.ts";

/** Ids from real identity (an image layer's number, a container's, a path), so they hold across a trace. */
export const overlayIds = {
  layer: (id: number | string) => `layer${id}`,
  container: (c: number | string) => `c${c}`,
  upper: (c: number | string) => `c${c}.upper`,
  merged: (c: number | string) => `c${c}.merged`,
  /** A node of a tree (one of the group ids above) at a path ("" for its root). */
  node: (tree: string, path: string) => `${tree}:/${path}`,
} as const;

/** One tree's entries by path, and each directory's names in order ("" is the root, always a directory). */
interface Tree {
  readonly entries: ReadonlyMap<string, RawEntry>;
  readonly children: ReadonlyMap<string, readonly string[]>;
}

const ROOT: RawEntry = { path: "root", type: "dir" };
const join = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);
const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1);
const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf("/")));

function treeOf(entries: readonly RawEntry[]): Tree {
  const byPath = new Map<string, RawEntry>();
  const children = new Map<string, string[]>([["", []]]);
  for (const e of entries) byPath.set(e.path, e);
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const parent = parentOf(e.path);
    const list = children.get(parent) ?? [];
    children.set(parent, list);
    list.push(baseName(e.path));
  }
  return { entries: byPath, children };
}

const entryAt = (t: Tree, path: string): RawEntry | undefined => (path === "" ? ROOT : t.entries.get(path));

function show(data: string): string {
  const s = JSON.stringify(data.replaceAll("\0", "·"));
  return s.length > 22 ? `${s.slice(0, 20)}…"` : s;
}

const DEFAULT_MODE = { dir: 0o755, file: 0o644, symlink: 0o777, whiteout: undefined } as const;

/**
 * An entry's lines: its name (dir/, link@), its contents, its non-default mode, its xattrs; a raw entry (`raw`) also
 * its overlay xattrs, a merged one (`data`: what a read shows) not.
 */
function entryLines(e: RawEntry, name: string, raw = true, data?: string): string[] {
  const lines = [`${name}${e.type === "dir" ? "/" : e.type === "symlink" ? "@" : ""}`];
  if (e.type === "whiteout") lines.push("whiteout");
  if (e.type === "file")
    lines.push(data !== undefined ? show(data) : e.metacopy ? `metacopy, size ${e.size ?? 0}` : show(e.data ?? ""));
  if (e.type === "symlink") lines.push(`→ ${e.target ?? "?"}`);
  if (e.mode !== undefined && e.mode !== DEFAULT_MODE[e.type])
    lines.push(`mode ${e.mode.toString(8).padStart(4, "0")}`);
  if (raw) {
    const flags = [
      e.opaque === undefined ? "" : e.opaque === "y" ? "opaque" : `opaque=${e.opaque}`,
      e.origin ? "origin" : "",
    ];
    if (flags.some(Boolean)) lines.push(flags.filter(Boolean).join(" "));
    if (e.redirect !== undefined) lines.push(`redirect → ${e.redirect}`);
  }
  if (e.xattrs)
    lines.push(
      Object.entries(e.xattrs)
        .map(([k, v]) => `${k}=${v}`)
        .join(" "),
    );
  return lines;
}

function entryMarks(e: RawEntry): string[] {
  return [
    ...(e.type === "whiteout" ? ["whiteout"] : []),
    ...(e.opaque === "y" ? ["opaque"] : []),
    ...(e.redirect !== undefined ? ["redirect"] : []),
    ...(e.metacopy ? ["metacopy"] : []),
  ];
}

/** A name as the merged view resolves it: its upper entry and the lower ones it shows (a dir's stack, a file's data). */
interface Resolved {
  readonly upper?: { readonly path: string; readonly e: RawEntry };
  readonly lowers: { readonly layer: number; readonly path: string; readonly e: RawEntry }[];
}

/** Bounds on the merged walk, so that a redirect loop in a broken state still draws. */
const MAX_DEPTH = 12;
const MAX_MERGED = 400;

/**
 * The merged view of one container, resolved from the raw trees as ovl_lookup does (the model's lookup, on raw
 * entries): upper first, then the lowers until a whiteout, an opaque directory or a non-directory stops it; redirects
 * followed, metacopy files resolved to their data.
 */
function mergedView(
  upper: Tree,
  stack: readonly number[],
  trees: ReadonlyMap<number, Tree>,
  visit: (path: string, m: Resolved) => void,
): void {
  const tree = (layer: number): Tree => trees.get(layer) ?? { entries: new Map(), children: new Map() };
  const rootLowers = stack.map((layer) => ({ layer, path: "", e: ROOT }));
  type Base = { layer: number; path: string };

  const walkLayer = (
    base: Base,
    path: readonly string[],
  ): { e?: RawEntry; at: string; stop: boolean; path: string[] } => {
    const t = tree(base.layer);
    let d = base.path;
    let sofar: string[] = [];
    let stop = false;
    for (const [k, name] of path.slice(0, -1).entries()) {
      const o = t.entries.get(join(d, name));
      if (!o) return { at: "", stop, path: [...sofar, ...path.slice(k)] };
      if (o.type !== "dir") return { at: "", stop: true, path: [...path] };
      sofar.push(name);
      if (o.opaque === "y") stop = true;
      else if (o.redirect !== undefined) {
        if (o.redirect.startsWith("/")) {
          sofar = o.redirect.split("/").filter((x) => x);
          stop = false;
        } else sofar = [...sofar.slice(0, -1), o.redirect];
      }
      d = join(d, name);
    }
    const last = path[path.length - 1];
    if (last === undefined) return { at: "", stop: true, path: [] };
    const at = join(d, last);
    return { e: t.entries.get(at), at, stop, path: [...sofar, last] };
  };

  const redirected = (
    bases: Base[],
    path: string[],
    redirect: string,
    below: number | undefined,
  ): [Base[], string[]] => {
    const after = (l: Base) => below === undefined || stack.indexOf(l.layer) > stack.indexOf(below);
    if (!redirect.startsWith("/")) return [bases.filter(after), [...path.slice(0, -1), redirect]];
    return [rootLowers.filter(after), redirect.split("/").filter((x) => x)];
  };

  const child = (parent: Resolved, name: string): Resolved | undefined => {
    const upPath = parent.upper && parent.upper.e.type === "dir" ? join(parent.upper.path, name) : undefined;
    const up = upPath !== undefined ? upper.entries.get(upPath) : undefined;
    if (up?.type === "whiteout") return undefined;
    const m: { upper?: Resolved["upper"]; lowers: Resolved["lowers"] } = {
      ...(up && upPath !== undefined ? { upper: { path: upPath, e: up } } : {}),
      lowers: [],
    };
    const metaUp = up?.type === "file" && up.metacopy === true;
    if (up && !metaUp && (up.type !== "dir" || up.opaque === "y")) return m;
    let bases: Base[] = parent.lowers.filter((l) => l.e.type === "dir");
    let path = [name];
    if (up && up.type !== "symlink" && up.redirect !== undefined)
      [bases, path] = redirected(bases, path, up.redirect, undefined);
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const w = walkLayer(base, path);
      path = w.path;
      const o = w.e;
      if (!o) {
        if (w.stop) break;
        continue;
      }
      if (o.type === "whiteout") break;
      const first = m.upper?.e ?? m.lowers[0]?.e;
      if (o.type !== "dir") {
        const wantsData = first?.type === "file" && first.metacopy === true;
        if (first && !(wantsData && o.type === "file")) break;
        m.lowers.push({ layer: base.layer, path: w.at, e: o });
        if (o.type !== "file" || !o.metacopy || w.stop) break;
        if (o.redirect !== undefined) {
          [bases, path] = redirected(bases, path, o.redirect, base.layer);
          i = -1;
        }
        continue;
      }
      if (first && first.type !== "dir") break;
      m.lowers.push({ layer: base.layer, path: w.at, e: o });
      if (o.opaque === "y" || (w.stop && !o.redirect?.startsWith("/"))) break;
      if (o.redirect !== undefined) {
        [bases, path] = redirected(bases, path, o.redirect, base.layer);
        i = -1;
      }
    }
    return m.upper || m.lowers.length ? m : undefined;
  };

  /** ovl_dir_read_merged: the names of the directories of the stack, the first entry for a name winning. */
  const names = (m: Resolved): string[] => {
    const seen = new Map<string, boolean>();
    const dirs = [
      ...(m.upper && m.upper.e.type === "dir" ? [{ t: upper, path: m.upper.path }] : []),
      ...m.lowers.filter((l) => l.e.type === "dir").map((l) => ({ t: tree(l.layer), path: l.path })),
    ];
    for (const { t, path } of dirs)
      for (const n of t.children.get(path) ?? [])
        if (!seen.has(n)) seen.set(n, entryAt(t, join(path, n))?.type !== "whiteout");
    return [...seen]
      .filter(([, visible]) => visible)
      .map(([n]) => n)
      .sort();
  };

  let count = 0;
  const go = (m: Resolved, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    for (const n of names(m)) {
      if (count >= MAX_MERGED) return;
      const c = child(m, n);
      if (!c) continue;
      const p = join(path, n);
      count++;
      visit(p, c);
      if ((c.upper?.e ?? c.lowers[0]?.e)?.type === "dir") go(c, p, depth + 1);
    }
  };
  go({ upper: { path: "", e: ROOT }, lowers: rootLowers }, "", 0);
}

export function overlayPicture(s: OverlayState, _g?: OverlayGeometry): Graph {
  const groups: GraphGroup[] = [];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];

  /** A tree's root, then every entry under its parent directory. */
  const drawTree = (
    group: string,
    entries: readonly RawEntry[],
    root: string,
    node: (e: RawEntry) => { lines?: string[]; marks: string[] },
  ): void => {
    nodes.push({ id: overlayIds.node(group, ""), label: root, group });
    const paths = new Set(entries.map((e) => e.path));
    /** The nearest ancestor drawn (an engine's listing might skip a directory): the root at worst. */
    const above = (path: string): string => {
      let p = parentOf(path);
      while (p && !paths.has(p)) p = parentOf(p);
      return p;
    };
    for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
      const { lines, marks } = node(e);
      const id = overlayIds.node(group, e.path);
      nodes.push({
        id,
        label: [...entryLines(e, baseName(e.path)), ...(lines ?? [])].join("\n"),
        group,
        ...(marks.length ? { marks } : {}),
      });
      edges.push({ from: overlayIds.node(group, above(e.path)), to: id });
    }
  };

  // which containers stack each image layer, and where (lower 0 is the top of the stack)
  const usedBy = new Map<string, string[]>();
  for (const [c, box] of Object.entries(s.containers))
    box.layers.forEach((l, i) => {
      const list = usedBy.get(String(l)) ?? [];
      list.push(`lower ${i} of c${c}`);
      usedBy.set(String(l), list);
    });

  const trees = new Map<number, Tree>();
  for (const [id, entries] of Object.entries(s.layers)) {
    trees.set(Number(id), treeOf(entries));
    const group = overlayIds.layer(id);
    const uses = usedBy.get(id);
    groups.push({ id: group, label: `layer ${id}${uses ? `\n${uses.join(", ")}` : "\nunused"}`, marks: ["lower"] });
    drawTree(group, entries, "/", (e) => ({ marks: ["lower", ...entryMarks(e)] }));
  }

  const created = new Set(s.created);
  const detached = new Set(s.detached);
  for (const [c, box] of Object.entries(s.containers)) {
    const cg = overlayIds.container(c);
    const opts = Object.entries(box.options)
      .filter(([, v]) => v)
      .map(([k]) => k);
    groups.push({
      id: cg,
      label: `container ${c} on [${box.layers.join(", ")}]${opts.length ? `\n${opts.join(", ")}` : ""}`,
    });
    const ug = overlayIds.upper(c);
    groups.push({ id: ug, label: "upper", parent: cg });
    drawTree(ug, box.upper, "/", (e) => {
      const key = `${c}:${e.path}`;
      const copied = e.type !== "whiteout" && !created.has(key);
      return {
        lines: detached.has(key) ? ["detached"] : [],
        marks: [...entryMarks(e), ...(copied ? ["copied"] : [])],
      };
    });

    const mg = overlayIds.merged(c);
    groups.push({ id: mg, label: "merged", parent: cg });
    nodes.push({ id: overlayIds.node(mg, ""), label: "/", group: mg });
    mergedView(treeOf(box.upper), box.layers, trees, (path, m) => {
      const top = m.upper?.e ?? m.lowers[0]!.e;
      const from = [
        ...(m.upper ? ["upper"] : []),
        ...m.lowers.map((l) => `layer ${l.layer}${l.path === path ? "" : ` at /${l.path}`}`),
      ];
      // the contents a read shows: a metacopy file's data comes from the first entry below that has it
      const data = [m.upper?.e, ...m.lowers.map((l) => l.e)].find((e) => e?.type === "file" && !e.metacopy);
      const lines = [
        ...entryLines(top, baseName(path), false, top.type === "file" ? (data?.data ?? "") : undefined),
        `← ${from.join(" + ")}`,
      ];
      const upperCopied = m.upper && !created.has(`${c}:${m.upper.path}`);
      const marks = [
        ...(m.upper ? (upperCopied ? ["copied"] : []) : ["lower"]),
        ...(from.some((f) => f.includes(" at /")) ? ["redirect"] : []),
      ];
      const id = overlayIds.node(mg, path);
      nodes.push({ id, label: lines.join("\n"), group: mg, ...(marks.length ? { marks } : {}) });
      edges.push({ from: overlayIds.node(mg, parentOf(path)), to: id });
    });
  }

  const last = s.copyUps.map((u) => `c${u.c}:/${u.path}${u.metacopy ? " (metacopy)" : ""}`);
  return {
    kind: "graph",
    direction: "TB",
    groups,
    nodes,
    edges,
    caption: `${last.length ? `copied up by this op: ${last.join(", ")}` : "no copy-up by this op"}; merged entries say which layers they come from (← upper + layer N)`,
  };
}
