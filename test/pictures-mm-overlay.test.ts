// The mm and overlay layers' state pictures (core/picture.ts): drawn from the model's inspected state after real op
// sequences, they show the parts that matter (shared frames, new CoW copies, copy-ups, whiteouts, opaque dirs), are
// well formed (unique ids, every edge and group resolves, no report-owned marks), keep ids across ops, agree with the
// model on random sequences, and lay out with Graphviz.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Graph, GraphNode } from "../core/index.ts";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { overlayLayer } from "../layers/overlay/index.ts";
import { mmPicture } from "../models/mm/picture.ts";
import { decodeMmState, encodeMmState } from "../models/mm/state.ts";
import {
  defaultMmGeometry,
  folioOf,
  MM_FEATURES,
  type MmGeometry,
  type MmOp,
  type MmState,
} from "../models/mm/types.ts";
import { overlayIds, overlayPicture } from "../models/overlay/picture.ts";
import {
  defaultOverlayGeometry,
  type LayerEntry,
  type MountOptions,
  OVERLAY_FEATURES,
  type OverlayObs,
  type OverlayOp,
  type OverlayState,
} from "../models/overlay/types.ts";
import { graphSvg, loadRenderer } from "../reports/pictures.ts";

/** Unique ids, every node's group and group's parent and edge's ends defined, and none of the report's own marks. */
function expectWellFormed(g: Graph): void {
  expect(g.kind).toBe("graph");
  const nodeIds = g.nodes.map((n) => n.id);
  const groupIds = (g.groups ?? []).map((x) => x.id);
  expect(new Set(nodeIds).size, "node ids are unique").toBe(nodeIds.length);
  expect(new Set(groupIds).size, "group ids are unique").toBe(groupIds.length);
  const nodes = new Set(nodeIds);
  const groups = new Set(groupIds);
  for (const n of g.nodes) if (n.group !== undefined) expect(groups.has(n.group), `group of ${n.id}`).toBe(true);
  for (const x of g.groups ?? [])
    if (x.parent !== undefined) expect(groups.has(x.parent), `parent of ${x.id}`).toBe(true);
  for (const e of g.edges) {
    expect(nodes.has(e.from), `edge from ${e.from}`).toBe(true);
    expect(nodes.has(e.to), `edge to ${e.to}`).toBe(true);
  }
  const edgeKeys = g.edges.map((e) => `${e.from}→${e.to}`);
  expect(new Set(edgeKeys).size, "no edge drawn twice").toBe(edgeKeys.length);
  for (const x of [...g.nodes, ...g.edges, ...(g.groups ?? [])])
    for (const m of x.marks ?? []) expect(["new", "changed", "removed"]).not.toContain(m);
}

const node = (g: Graph, id: string): GraphNode => {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id} in ${g.nodes.map((x) => x.id).join(", ")}`);
  return n;
};
const has = (g: Graph, id: string): boolean => g.nodes.some((n) => n.id === id);
const marks = (g: Graph, id: string): readonly string[] => node(g, id).marks ?? [];
const edgesFrom = (g: Graph, id: string) => g.edges.filter((e) => e.from === id);
/** The one frame a page table entry points to. */
const target = (g: Graph, id: string): string => {
  const out = edgesFrom(g, id);
  expect(out, `edges from ${id}`).toHaveLength(1);
  return out[0]!.to;
};

/** Run ops on a fresh model of the layer, the picture drawn (and checked) after each; the observations returned too. */
function run<Op, Obs, S, G>(
  layer: {
    model(g: G): { apply(op: Op): Obs | Promise<Obs>; inspect?(): S | Promise<S> };
    picture?(s: S, g: G): Graph;
  },
  g: G,
  ops: readonly Op[],
): { pictures: Graph[]; obs: Obs[] } {
  const m = layer.model(g);
  const pictures: Graph[] = [];
  const obs: Obs[] = [];
  for (const op of ops) {
    obs.push(m.apply(op) as Obs);
    const p = layer.picture!(m.inspect!() as S, g);
    expectWellFormed(p);
    pictures.push(p);
  }
  return { pictures, obs };
}

// ---- mm

describe("mm picture", () => {
  const g = defaultMmGeometry; // 16 pages, huge pages of 4
  const anon: MmOp = { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false };

  test("fork shares a frame read-only; the child's write copies it to a new exclusive frame", () => {
    const ops: MmOp[] = [
      { op: "spawn" },
      anon,
      { op: "write", pid: 1, page: 0, cell: 0, value: 7 },
      { op: "fork", pid: 1 },
      { op: "write", pid: 2, page: 0, cell: 1, value: 9 },
    ];
    const { pictures, obs } = run(mmLayer, g, ops);
    expect(obs[3]).toEqual({ pid: 2 });
    const [, mapped, written, forked, copied] = pictures as [Graph, Graph, Graph, Graph, Graph];

    // the mapping alone draws a process and its VMA, no page table entry
    expect(mapped.groups).toContainEqual({ id: "pid:1", label: "pid 1" });
    expect(mapped.groups).toContainEqual({ id: "pid:1:vma:0", label: "[0,8) rw private", parent: "pid:1" });
    expect(mapped.nodes.filter((n) => n.id.startsWith("pid:"))).toEqual([]);

    // the parent's write: a writable PTE to an exclusive, unshared frame holding the byte
    const pte1 = node(written, "pid:1:pte:0");
    expect(pte1.group).toBe("pid:1:vma:0");
    expect(pte1.label).toMatch(/^page 0\nwritable dirty/);
    expect(pte1.marks ?? []).not.toContain("readonly");
    const frame = target(written, "pid:1:pte:0");
    expect(frame).toMatch(/^frame:\d+$/);
    expect(node(written, frame).group).toBe("frames");
    expect(node(written, frame).label).toContain("data 7 0 0 0");
    expect(node(written, frame).label).toContain("ref 1 map 1");
    expect(marks(written, frame)).toContain("exclusive");
    expect(marks(written, frame)).not.toContain("shared");

    // after fork: both PTEs write-protected, to the same frame, now shared and no longer exclusive
    expect(forked.groups?.map((x) => x.id)).toEqual(
      expect.arrayContaining(["pid:1", "pid:2", "pid:1:vma:0", "pid:2:vma:0", "frames"]),
    );
    for (const id of ["pid:1:pte:0", "pid:2:pte:0"]) {
      expect(marks(forked, id)).toContain("readonly");
      expect(node(forked, id).label).toContain("write-protected");
      expect(target(forked, id)).toBe(frame);
      expect(edgesFrom(forked, id)[0]!.marks).toContain("readonly");
    }
    expect(node(forked, "pid:2:pte:0").group).toBe("pid:2:vma:0");
    expect(marks(forked, frame)).toContain("shared");
    expect(marks(forked, frame)).not.toContain("exclusive");
    expect(node(forked, frame).label).toContain("ref 2 map 2");

    // the child's write: its PTE writable to a new exclusive frame; the old one back to one mapping
    const fresh = target(copied, "pid:2:pte:0");
    expect(fresh).not.toBe(frame);
    expect(has(forked, fresh)).toBe(false);
    expect(node(copied, fresh).label).toContain("data 7 9 0 0");
    expect(marks(copied, fresh)).toContain("exclusive");
    expect(marks(copied, "pid:2:pte:0")).not.toContain("readonly");
    expect(target(copied, "pid:1:pte:0")).toBe(frame);
    expect(marks(copied, frame)).not.toContain("shared");
    expect(node(copied, frame).label).toContain("ref 1 map 1");
    // ids hold: the parent's PTE and its frame are the same nodes, drawn the same (the parent did nothing)
    expect(node(copied, "pid:1:pte:0")).toEqual(node(forked, "pid:1:pte:0"));
  });

  test("ids are stable: an unrelated op keeps every node and its label", () => {
    const { pictures } = run(mmLayer, g, [
      { op: "spawn" },
      anon,
      { op: "write", pid: 1, page: 1, cell: 0, value: 1 },
      { op: "fork", pid: 1 },
      { op: "spawn" }, // pid 3: nothing of pids 1 and 2 changes
      { op: "mmap", pid: 3, page: 0, pages: 4, prot: "rw", shared: false },
      { op: "write", pid: 3, page: 2, cell: 0, value: 5 },
    ] satisfies MmOp[]);
    const before = pictures[3]!;
    const after = pictures[6]!;
    for (const n of before.nodes) expect(node(after, n.id), n.id).toEqual(n);
    for (const e of before.edges) expect(after.edges).toContainEqual(e);
    expect(after.nodes.length).toBeGreaterThan(before.nodes.length);
    expect(has(after, "pid:3:pte:2")).toBe(true);
    // a VMA split by mprotect keeps the lower part's id (its start) and adds one for the upper
    const split = run(mmLayer, g, [
      { op: "spawn" },
      anon,
      { op: "mprotect", pid: 1, page: 4, pages: 4, prot: "r" },
    ] satisfies MmOp[]).pictures[2]!;
    expect(split.groups).toContainEqual({ id: "pid:1:vma:0", label: "[0,4) rw private", parent: "pid:1" });
    expect(split.groups).toContainEqual({ id: "pid:1:vma:4", label: "[4,8) r private", parent: "pid:1" });
  });

  test("a THP is drawn as a PMD entry to a huge frame, shared after fork", () => {
    const { pictures } = run(mmLayer, g, [
      { op: "spawn" },
      anon,
      { op: "madvise", pid: 1, page: 4, pages: 4, advice: "hugepage" },
      { op: "write", pid: 1, page: 5, cell: 0, value: 3 },
      { op: "fork", pid: 1 },
    ] satisfies MmOp[]);
    const [, , , faulted, forked] = pictures as [Graph, Graph, Graph, Graph, Graph];
    const pmd = node(faulted, "pid:1:pmd:4");
    expect(pmd.label).toMatch(/^pages 4–7 \(PMD\)\nwritable/);
    expect(pmd.group).toBe("pid:1:vma:4");
    expect(pmd.marks).toContain("huge");
    const huge = target(faulted, "pid:1:pmd:4");
    expect(edgesFrom(faulted, "pid:1:pmd:4")[0]!.marks).toContain("huge");
    expect(marks(faulted, huge)).toEqual(expect.arrayContaining(["huge", "exclusive"]));
    expect(node(faulted, huge).label).toMatch(/^frame (\d+)–(\d+) \(THP\)/);
    expect(node(faulted, huge).label).toContain("entire 1");
    for (const p of [1, 2]) {
      expect(target(forked, `pid:${p}:pmd:4`)).toBe(huge);
      expect(marks(forked, `pid:${p}:pmd:4`)).toEqual(expect.arrayContaining(["huge", "readonly"]));
    }
    expect(marks(forked, huge)).toContain("shared");
    // no PTE is drawn for the pages the PMD maps
    expect(forked.nodes.filter((n) => /:pte:[4-7]$/.test(n.id))).toEqual([]);
  });

  test("a GUP pin is a node in its process, pointing at the pinned frame", () => {
    const { pictures, obs } = run(mmLayer, g, [
      { op: "spawn" },
      anon,
      { op: "write", pid: 1, page: 2, cell: 0, value: 1 },
      { op: "pin", pid: 1, page: 2, kind: "pin", write: true },
      { op: "unpin", handle: 1 },
    ] satisfies MmOp[]);
    expect(obs[3]).toEqual({ handle: 1 });
    const pinned = pictures[3]!;
    const pin = node(pinned, "pin:1");
    expect(pin.group).toBe("pid:1");
    expect(pin.marks).toContain("pinned");
    expect(pin.label).toBe("pin 1\npin write, page 2");
    const frame = target(pinned, "pid:1:pte:2");
    expect(target(pinned, "pin:1")).toBe(frame);
    expect(marks(pinned, frame)).toContain("pinned");
    expect(node(pinned, frame).label).toContain("pin ≥1");
    expect(has(pictures[4]!, "pin:1")).toBe(false);
    expect(marks(pictures[4]!, frame)).not.toContain("pinned");
  });

  test("KSM merges equal pages into one shared, write-protected KSM frame", () => {
    const { pictures } = run(mmLayer, g, [
      { op: "spawn" },
      anon,
      { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" },
      { op: "write", pid: 1, page: 0, cell: 0, value: 5 },
      { op: "write", pid: 1, page: 1, cell: 0, value: 5 },
      { op: "ksmScan" },
    ] satisfies MmOp[]);
    const before = pictures[4]!;
    const after = pictures[5]!;
    expect(target(before, "pid:1:pte:0")).not.toBe(target(before, "pid:1:pte:1"));
    const ksm = target(after, "pid:1:pte:0");
    expect(target(after, "pid:1:pte:1")).toBe(ksm);
    expect(marks(after, ksm)).toEqual(expect.arrayContaining(["ksm", "shared"]));
    expect(node(after, ksm).label).toContain("KSM");
    expect(marks(after, "pid:1:pte:0")).toContain("readonly");
  });

  test("a read of untouched memory maps the zero page, drawn only while mapped", () => {
    const { pictures } = run(mmLayer, g, [
      { op: "spawn" },
      anon,
      { op: "read", pid: 1, page: 3 },
      { op: "munmap", pid: 1, page: 0, pages: 8 },
    ] satisfies MmOp[]);
    const zero = target(pictures[2]!, "pid:1:pte:3");
    expect(node(pictures[2]!, zero).label).toMatch(/^zero page/);
    expect(marks(pictures[2]!, zero)).toContain("zero");
    expect(marks(pictures[2]!, "pid:1:pte:3")).toContain("readonly");
    expect(has(pictures[1]!, zero)).toBe(false);
    expect(has(pictures[3]!, zero)).toBe(false);
    expect(pictures[3]!.groups).toEqual([
      { id: "pid:1", label: "pid 1" },
      { id: "frames", label: "frames" },
    ]);
  });

  /** What every mm picture must agree with: a node per PTE and PMD, each to the folio holding its page. */
  function expectMatches(p: Graph, s: MmState, geometry: MmGeometry): void {
    let entries = 0;
    for (const proc of s.procs.values()) {
      for (const [vpage, pte] of proc.ptes) {
        entries++;
        expect(target(p, `pid:${proc.pid}:pte:${vpage}`)).toBe(`frame:${folioOf(s, pte.pfn)!.pfn}`);
        expect(marks(p, `pid:${proc.pid}:pte:${vpage}`).includes("readonly")).toBe(!pte.writable);
      }
      for (const [base, pmd] of proc.pmds) {
        entries++;
        expect(target(p, `pid:${proc.pid}:pmd:${base}`)).toBe(`frame:${pmd.pfn}`);
      }
    }
    expect(p.nodes.filter((n) => /:(pte|pmd):/.test(n.id))).toHaveLength(entries);
    for (const f of s.frames.values()) {
      if (!f.zero) expect(has(p, `frame:${f.pfn}`), `frame ${f.pfn}`).toBe(true);
      if (f.nr > 1 && has(p, `frame:${f.pfn}`)) expect(marks(p, `frame:${f.pfn}`)).toContain("huge");
    }
    // a pin has one edge per folio its pages are in
    for (const pin of s.pins.values())
      expect(new Set(edgesFrom(p, `pin:${pin.handle}`).map((e) => e.to))).toEqual(
        new Set(pin.pfns.map((pfn) => `frame:${folioOf(s, pfn)!.pfn}`)),
      );
    // the picture of the state as an external engine reports it (JSON, decoded) is the same
    const decoded = decodeMmState(JSON.parse(JSON.stringify(encodeMmState(s))), geometry);
    const again = mmPicture(decoded, geometry);
    const sorted = (q: Graph) => ({
      nodes: [...q.nodes].sort((a, b) => (a.id < b.id ? -1 : 1)),
      edges: q.edges.map((e) => JSON.stringify(e)).sort(),
      groups: [...(q.groups ?? [])].sort((a, b) => (a.id < b.id ? -1 : 1)),
    });
    expect(sorted(again)).toEqual(sorted(p));
  }

  test("random sequences: well formed, and in step with the model's state", () => {
    const geometry: MmGeometry = { ...g, pages: 16 };
    fc.assert(
      fc.property(sequenceArbitrary(mmLayer, geometry, new Set(["inspect", ...MM_FEATURES]), 60), (ops) => {
        const m = mmLayer.model(geometry);
        for (const op of ops as MmOp[]) {
          m.apply(op);
          const s = m.inspect!() as MmState;
          const p = mmPicture(s, geometry);
          expectWellFormed(p);
          expectMatches(p, s, geometry);
        }
      }),
      { seed: 7, numRuns: 80 },
    );
  });
});

// ---- overlay

describe("overlay picture", () => {
  const g = defaultOverlayGeometry;
  const off: MountOptions = { redirectDir: false, index: false, metacopy: false };
  const image: LayerEntry[] = [
    { type: "dir", path: "d" },
    { type: "file", path: "d/f", data: "lower" },
    { type: "file", path: "g", data: "gg" },
    { type: "dir", path: "e" },
    { type: "file", path: "e/x", data: "x" },
  ];
  const L = overlayIds.layer(1);
  const U = overlayIds.upper(1);
  const M = overlayIds.merged(1);
  const at = overlayIds.node;

  test("a write copies the file (and its parent) up; the lower layer stays as it was", () => {
    const { pictures } = run(overlayLayer, g, [
      { op: "layer", entries: image },
      { op: "mount", c: 1, layers: [1], ...off },
      { op: "write", c: 1, path: "d/f", at: 0, data: "up" },
    ] satisfies OverlayOp[]);
    const [, mounted, written] = pictures as [Graph, Graph, Graph];

    expect(mounted.groups).toEqual([
      { id: L, label: "layer 1\nlower 0 of c1", marks: ["lower"] },
      { id: "c1", label: "container 1 on [1]" },
      { id: U, label: "upper", parent: "c1" },
      { id: M, label: "merged", parent: "c1" },
    ]);
    expect(node(mounted, at(L, "d/f"))).toEqual({ id: "layer1:/d/f", label: 'f\n"lower"', group: L, marks: ["lower"] });
    expect(mounted.edges).toContainEqual({ from: at(L, "d"), to: at(L, "d/f") });
    expect(mounted.edges).toContainEqual({ from: at(L, ""), to: at(L, "d") });
    // nothing in the upper yet; the merged view is the lower one, marked as such
    expect(mounted.nodes.filter((n) => n.group === U).map((n) => n.id)).toEqual([at(U, "")]);
    expect(node(mounted, at(M, "d/f")).label).toBe('f\n"lower"\n← layer 1');
    expect(marks(mounted, at(M, "d/f"))).toEqual(["lower"]);
    expect(mounted.edges).toContainEqual({ from: at(M, "d"), to: at(M, "d/f") });

    // copied up: d and d/f in the upper, marked; merged d/f now from the upper, d from both
    expect(marks(written, at(U, "d"))).toContain("copied");
    expect(node(written, at(U, "d/f")).label).toBe('f\n"upwer"\norigin');
    expect(marks(written, at(U, "d/f"))).toEqual(["copied"]);
    expect(written.edges).toContainEqual({ from: at(U, "d"), to: at(U, "d/f") });
    expect(node(written, at(M, "d/f")).label).toBe('f\n"upwer"\n← upper');
    expect(marks(written, at(M, "d/f"))).toEqual(["copied"]);
    expect(node(written, at(M, "d")).label).toBe("d/\n← upper + layer 1");
    // untouched: the lower layer and the merged g keep their ids and labels
    for (const n of mounted.nodes.filter((x) => x.group === L)) expect(node(written, n.id)).toEqual(n);
    expect(node(written, at(M, "g"))).toEqual(node(mounted, at(M, "g")));
    expect(written.caption).toMatch(/^copied up by this op: c1:\/d, c1:\/d\/f;/);
  });

  test("unlink of a lower file leaves a whiteout; rmdir then mkdir of a lower dir makes it opaque", () => {
    const { pictures, obs } = run(overlayLayer, g, [
      { op: "layer", entries: image },
      { op: "mount", c: 1, layers: [1], ...off },
      { op: "unlink", c: 1, path: "g" },
      { op: "unlink", c: 1, path: "e/x" },
      { op: "rmdir", c: 1, path: "e" },
      { op: "mkdir", c: 1, path: "e", mode: 0o755 },
      { op: "create", c: 1, path: "e/y", mode: 0o644 },
      { op: "commit", c: 1 },
    ] satisfies OverlayOp[]);
    expect(obs.slice(2, 7)).toEqual(Array(5).fill({ ok: true }));
    const [, mounted, unlinked, , removed, made, created, committed] = pictures as [
      Graph,
      Graph,
      Graph,
      Graph,
      Graph,
      Graph,
      Graph,
      Graph,
    ];
    expect(has(mounted, at(M, "g"))).toBe(true);
    expect(node(unlinked, at(U, "g"))).toEqual({ id: at(U, "g"), label: "g\nwhiteout", group: U, marks: ["whiteout"] });
    expect(has(unlinked, at(M, "g"))).toBe(false);
    expect(has(unlinked, at(L, "g"))).toBe(true);

    expect(marks(removed, at(U, "e"))).toContain("whiteout");
    expect(has(removed, at(M, "e"))).toBe(false);
    // the new e hides the lower one: opaque, made here (not copied), and the merged e has nothing of layer 1
    expect(marks(made, at(U, "e"))).toEqual(["opaque"]);
    expect(node(made, at(U, "e")).label).toBe("e/\nopaque");
    expect(node(made, at(M, "e")).label).toBe("e/\n← upper");
    expect(marks(made, at(M, "e"))).toEqual([]);
    expect(has(made, at(M, "e/x"))).toBe(false);
    expect(has(made, at(L, "e/x"))).toBe(true);
    expect(node(created, at(M, "e/y")).label).toBe('y\n""\n← upper');
    expect(created.edges).toContainEqual({ from: at(M, "e"), to: at(M, "e/y") });
    // committed, the opaque dir is a lower one (layer 2): it still hides layer 1's e/x from the merged view
    expect(marks(committed, at("layer2", "e"))).toEqual(["lower", "opaque"]);
    expect(node(committed, at(M, "e")).label).toBe("e/\n← layer 2");
    expect(has(committed, at(M, "e/y"))).toBe(true);
    expect(has(committed, at(M, "e/x"))).toBe(false);
  });

  test("a renamed lower dir carries a redirect; the merged view follows it to the lower content", () => {
    const { pictures } = run(overlayLayer, g, [
      { op: "layer", entries: image },
      { op: "mount", c: 1, layers: [1], ...off, redirectDir: true },
      { op: "rename", c: 1, from: "d", to: "h" },
    ] satisfies OverlayOp[]);
    const p = pictures[2]!;
    expect(marks(p, at(U, "h"))).toEqual(expect.arrayContaining(["redirect", "copied"]));
    expect(node(p, at(U, "h")).label).toContain("redirect → d");
    expect(marks(p, at(U, "d"))).toContain("whiteout");
    expect(node(p, at(M, "h")).label).toBe("h/\n← upper + layer 1 at /d");
    expect(marks(p, at(M, "h"))).toContain("redirect");
    expect(node(p, at(M, "h/f")).label).toBe('f\n"lower"\n← layer 1 at /d/f');
    expect(has(p, at(M, "d"))).toBe(false);
  });

  test("metacopy: a chmod copies up metadata only; the merged file reads the lower data", () => {
    const { pictures } = run(overlayLayer, g, [
      { op: "layer", entries: image },
      { op: "mount", c: 1, layers: [1], redirectDir: true, index: false, metacopy: true },
      { op: "chmod", c: 1, path: "d/f", mode: 0o600 },
    ] satisfies OverlayOp[]);
    const p = pictures[2]!;
    expect(marks(p, at(U, "d/f"))).toEqual(expect.arrayContaining(["metacopy", "copied"]));
    expect(node(p, at(U, "d/f")).label).toMatch(/^f\nmetacopy, size 5\nmode 0600/);
    expect(node(p, at(M, "d/f")).label).toBe('f\n"lower"\nmode 0600\n← upper + layer 1');
  });

  test("commit: the upper becomes a layer of its own, the old layers keep their ids", () => {
    const { pictures, obs } = run(overlayLayer, g, [
      { op: "layer", entries: image },
      { op: "layer", entries: [{ type: "file", path: "t", data: "top" }] },
      { op: "mount", c: 1, layers: [2, 1], ...off },
      { op: "unlink", c: 1, path: "g" },
      { op: "commit", c: 1 },
    ] satisfies OverlayOp[]);
    expect(obs[4]).toEqual({ layer: 3 });
    const [, , mounted, , committed] = pictures as [Graph, Graph, Graph, Graph, Graph];
    expect(mounted.groups?.find((x) => x.id === "layer2")?.label).toBe("layer 2\nlower 0 of c1");
    expect(committed.groups?.find((x) => x.id === "layer3")?.label).toBe("layer 3\nlower 0 of c1");
    expect(committed.groups?.find((x) => x.id === "layer2")?.label).toBe("layer 2\nlower 1 of c1");
    expect(marks(committed, at("layer3", "g"))).toEqual(["lower", "whiteout"]);
    expect(node(committed, at("layer2", "t"))).toEqual(node(mounted, at("layer2", "t")));
    expect(committed.nodes.filter((n) => n.group === U).map((n) => n.id)).toEqual([at(U, "")]);
    expect(has(committed, at(M, "g"))).toBe(false);
    expect(node(committed, at(M, "t")).label).toBe('t\n"top"\n← layer 2');
  });

  test("random sequences: well formed, and the merged view agrees with the model's lookups", () => {
    fc.assert(
      fc.property(sequenceArbitrary(overlayLayer, g, new Set(["inspect", ...OVERLAY_FEATURES]), 40), (ops) => {
        const m = overlayLayer.model(g);
        for (const op of ops as OverlayOp[]) {
          m.apply(op);
          const s = m.inspect!() as OverlayState;
          const p = overlayPicture(s, g);
          expectWellFormed(p);
          // every mounted container's merged view: what stat and readdir on the model say
          for (const c of Object.keys(s.containers).map(Number)) {
            const prefix = `${overlayIds.merged(c)}:/`;
            const merged = p.nodes.filter((n) => n.id.startsWith(prefix)).map((n) => n.id.slice(prefix.length));
            const drawn = new Set(merged);
            for (const path of merged) {
              if (!path) continue;
              const st = m.apply({ op: "stat", c, path }) as OverlayObs;
              if ("error" in st)
                expect(st.error, `c${c} /${path}`).toBe("EPERM"); // metacopy not followed
              else if ("stat" in st) {
                const first = node(p, `${prefix}${path}`).label.split("\n")[0]!;
                const type = first.endsWith("/") ? "dir" : first.endsWith("@") ? "symlink" : "file";
                expect(st.stat.type, `c${c} /${path}`).toBe(type);
              }
            }
            for (const dir of merged.filter(
              (x) => node(p, `${prefix}${x}`).label.split("\n")[0]!.endsWith("/") || !x,
            )) {
              const r = m.apply({ op: "readdir", c, path: dir }) as OverlayObs;
              if (!("names" in r)) continue;
              for (const n of r.names) {
                const path = dir ? `${dir}/${n}` : n;
                const st = m.apply({ op: "stat", c, path }) as OverlayObs;
                if ("stat" in st) expect(drawn.has(path), `c${c} /${path} listed and found, not drawn`).toBe(true);
              }
            }
          }
        }
      }),
      { seed: 3, numRuns: 120 },
    );
  });
});

test("both pictures lay out with Graphviz", async () => {
  const viz = await loadRenderer();
  const mm = run(mmLayer, defaultMmGeometry, [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false },
    { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
    { op: "fork", pid: 1 },
  ] satisfies MmOp[]).pictures[3]!;
  const ov = run(overlayLayer, defaultOverlayGeometry, [
    {
      op: "layer",
      entries: [
        { type: "dir", path: "a" },
        { type: "file", path: "a/b", data: "x" },
      ],
    },
    { op: "mount", c: 1, layers: [1], redirectDir: false, index: false, metacopy: false },
    { op: "unlink", c: 1, path: "a/b" },
  ] satisfies OverlayOp[]).pictures[2]!;
  for (const p of [mm, ov]) {
    const svg = graphSvg(viz, p);
    expect(svg.startsWith("<svg")).toBe(true);
    for (const x of p.groups ?? []) expect(svg).toContain(`<title>cluster_${x.id}</title>`);
  }
  expect(graphSvg(viz, ov)).toContain("whiteout");
});
