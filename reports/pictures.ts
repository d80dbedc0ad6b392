// A layer's pictures (core/picture.ts) as inline SVG: graphs laid out by Graphviz (@viz-js/viz, WebAssembly, no
// network), lanes drawn by hand. Comparing a state's graph with its neighbour's marks what an op changed.
import { instance, type Viz, type Graph as VizGraph, type Subgraph as VizSubgraph } from "@viz-js/viz";
import { type Graph, type GraphGroup, type GraphNode, type Lanes, type Picture, visible } from "../core/index.ts";

let loading: Promise<Viz> | undefined;

/** The Graphviz instance, loaded once (about 35 ms): reports call it before they draw. */
export function loadRenderer(): Promise<Viz> {
  loading ??= instance();
  return loading;
}

/** Text made safe for HTML, in content and in quoted attributes alike; what a terminal would obey made visible. */
export const html = (s: string): string =>
  visible(s).replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Longest line and most lines of a label drawn: an engine's state may hold any text (a 64 KiB xattr). */
const MAX_LINE = 120;
const MAX_LINES = 16;
/** Most nodes a picture draws: past that a layout takes long and reads badly. */
const MAX_NODES = 400;

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** Text for a Graphviz label: bounded, backslashes and ampersands kept literal, lines as Graphviz line breaks. */
const label = (s: string): string => {
  const lines = visible(s).split("\n");
  const shown =
    lines.length > MAX_LINES
      ? [...lines.slice(0, MAX_LINES - 1), `… ${lines.length - MAX_LINES + 1} more lines`]
      : lines;
  // Graphviz reads entities in a label ("&amp;" would show as "&"): an ampersand is written as one
  return shown.map((l) => cut(l, MAX_LINE).replace(/\\/g, "\\\\").replace(/&/g, "&amp;")).join("\\n");
};

const nodeKey = (n: GraphNode | GraphGroup): string => `${n.label}\u0000${[...(n.marks ?? [])].sort().join(" ")}`;
const edgeKey = (e: Graph["edges"][number]): string => `${e.from}\u0000${e.to}\u0000${e.label ?? ""}`;

/**
 * `g` with what differs from `other` marked: drawn as the state after an op (`other` the one before), nodes and
 * edges `other` lacks are "new" and nodes drawn otherwise "changed"; drawn as the state before, what `other` lacks
 * is "removed".
 */
export function markDifferences(g: Graph, other: Graph | undefined, role: "before" | "after"): Graph {
  if (!other) return g;
  const nodes = new Map(other.nodes.map((n) => [n.id, nodeKey(n)]));
  const groups = new Map((other.groups ?? []).map((n) => [n.id, nodeKey(n)]));
  const edges = new Set(other.edges.map(edgeKey));
  const add = <T extends { marks?: readonly string[] }>(x: T, mark: string | undefined): T =>
    mark ? { ...x, marks: [...(x.marks ?? []), mark] } : x;
  const mark = <T extends GraphNode | GraphGroup>(x: T, before: Map<string, string>): T => {
    const was = before.get(x.id);
    if (was === undefined) return add(x, role === "after" ? "new" : "removed");
    return add(x, role === "after" && was !== nodeKey(x) ? "changed" : undefined);
  };
  return {
    ...g,
    groups: g.groups?.map((x) => mark(x, groups)),
    nodes: g.nodes.map((x) => mark(x, nodes)),
    edges: g.edges.map((e) => add(e, edges.has(edgeKey(e)) ? undefined : role === "after" ? "new" : "removed")),
  };
}

const FONT = { fontname: "Helvetica,Arial,sans-serif", fontsize: 11 };

/** A graph as Graphviz's graph object: groups as nested clusters, marks as classes (styled by the report's CSS). */
function vizGraph(g: Graph, id: string): VizGraph {
  const clusters = new Map<string, VizSubgraph>();
  const top: VizSubgraph[] = [];
  const cls = (marks: readonly string[] | undefined, base: string): string => [base, ...(marks ?? [])].join(" ");
  for (const grp of g.groups ?? [])
    clusters.set(grp.id, {
      name: `cluster_${grp.id}`,
      graphAttributes: { label: label(grp.label), class: cls(grp.marks, "group"), ...FONT },
      nodes: [],
      subgraphs: [],
    });
  for (const grp of g.groups ?? []) {
    const parent = grp.parent === undefined ? undefined : clusters.get(grp.parent);
    (parent ? parent.subgraphs! : top).push(clusters.get(grp.id)!);
  }
  const loose: VizGraph["nodes"] = [];
  for (const n of g.nodes) {
    const node = { name: n.id, attributes: { label: label(n.label), class: cls(n.marks, "item") } };
    const home = n.group === undefined ? undefined : clusters.get(n.group);
    (home ? home.nodes! : loose).push(node);
  }
  return {
    directed: true,
    // the root graph's id prefixes every id Graphviz writes: unique on the page
    graphAttributes: { rankdir: g.direction ?? "LR", id, ...FONT },
    nodeAttributes: { shape: "box", fontname: "Helvetica,Arial,sans-serif", fontsize: 10, margin: "0.08,0.04" },
    edgeAttributes: { fontname: "Helvetica,Arial,sans-serif", fontsize: 9, arrowsize: 0.6 },
    nodes: loose,
    edges: g.edges.map((e) => ({
      tail: e.from,
      head: e.to,
      attributes: { ...(e.label ? { label: label(e.label) } : {}), class: cls(e.marks, "link") },
    })),
    subgraphs: top,
  };
}

let drawn = 0;

/**
 * The SVG of a graph, without the XML prologue (it goes inline in HTML); a graph too large to lay out, or one
 * Graphviz fails on, is said in words instead: a picture never stops a report.
 */
export function graphSvg(viz: Viz, g: Graph): string {
  if (g.nodes.length > MAX_NODES)
    return `<p class="note">${g.nodes.length} parts: too many to draw (at most ${MAX_NODES}); the failure in words below has the state</p>`;
  try {
    const svg = viz.renderString(vizGraph(g, `p${++drawn}`), { format: "svg" });
    const out = svg.slice(svg.indexOf("<svg"));
    return g.caption ? `${out}<p class="caption">${html(g.caption)}</p>` : out;
  } catch (e) {
    return `<p class="note">this picture could not be drawn: ${html((e as Error).message)}</p>`;
  }
}

const COL = 64;
const ROW = 34;
const LEFT = 90;

/** Lanes as a timeline: a column per op, a row per lane; an interval is a bar, an event a dot with its label. */
export function lanesSvg(l: Lanes, ops: number, failing?: number): string {
  const width = LEFT + COL * Math.max(ops, 1) + 20;
  const height = 24 + ROW * l.lanes.length;
  const x = (i: number): number => LEFT + COL * i + COL / 2;
  const parts: string[] = [];
  for (let i = 0; i < ops; i++)
    parts.push(
      `<g class="column${i === failing ? " failed" : ""}"><rect x="${LEFT + COL * i}" y="0" width="${COL}" height="${height}"/><text x="${x(i)}" y="14">${i}</text></g>`,
    );
  l.lanes.forEach((lane, row) => {
    const y = 24 + ROW * row + ROW / 2;
    parts.push(`<g class="lane"><text class="name" x="4" y="${y + 4}">${html(lane.label)}</text>`);
    for (const e of lane.events) {
      const cls = html(["event", ...(e.marks ?? [])].join(" "));
      const tip = `<title>${html(`op ${e.at}${e.until !== undefined ? `–${e.until}` : ""}: ${e.label}`)}</title>`;
      if (e.until !== undefined && e.until > e.at)
        parts.push(
          `<g class="${cls} span">${tip}<rect x="${x(e.at)}" y="${y - 6}" width="${x(e.until) - x(e.at)}" height="12" rx="3"/><text x="${(x(e.at) + x(e.until)) / 2}" y="${y - 9}">${html(e.label)}</text></g>`,
        );
      else
        parts.push(
          `<g class="${cls}">${tip}<circle cx="${x(e.at)}" cy="${y}" r="5"/><text x="${x(e.at)}" y="${y + 16}">${html(e.label.length > 12 ? `${e.label.slice(0, 11)}…` : e.label)}</text></g>`,
        );
    }
    parts.push("</g>");
  });
  const caption = l.caption ? `<p class="caption">${html(l.caption)}</p>` : "";
  return `<svg class="lanes" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>${caption}`;
}

/** Any picture as SVG; `ops` and `failing` place a timeline. */
export function pictureSvg(viz: Viz, p: Picture, ops: number, failing?: number): string {
  return p.kind === "graph" ? graphSvg(viz, p) : lanesSvg(p, ops, failing);
}

/** The report's styles for pictures: one rule per mark (core/picture.ts, MARKS). */
export const PICTURE_CSS = `
svg .item>polygon,svg .item>path{fill:#fff;stroke:#555}
svg .group>polygon{fill:#fafafa;stroke:#bbb}
svg .shared>polygon{fill:#e3eeff}svg .exclusive>polygon{stroke:#1a7f37;stroke-width:2}
svg .pinned>polygon{fill:#fff3c4}svg .huge>polygon{stroke-width:3}
svg .whiteout>polygon{fill:#eee;stroke-dasharray:3 2}svg .opaque>polygon{fill:#ddd}
svg .redirect>polygon{fill:#f3e8ff}svg .copied>polygon{fill:#e8f7e8}svg .lower>polygon{fill:#f4f4f4}
svg .metacopy>polygon{fill:#e8f7e8;stroke-dasharray:6 2}svg .pending>polygon{fill:#fafafa;stroke-dasharray:1 2}
svg .dirty>polygon{fill:#fffbe6}
svg .readonly>polygon{stroke-dasharray:5 2}svg .dead>polygon{fill:#f2f2f2}svg .dead text{fill:#999}
svg .new>polygon,svg .new>path{stroke:#d4380d;stroke-width:2.5}svg .new>text{font-weight:bold}
svg .changed>polygon{stroke:#d48806;stroke-width:2.5}
svg .removed>polygon,svg .removed>path{stroke:#999;stroke-dasharray:2 2}svg .removed text{fill:#999;text-decoration:line-through}
svg .link.new>path{stroke:#d4380d;stroke-width:2}svg .link.new>polygon{fill:#d4380d;stroke:#d4380d}
svg .link.ww>path{stroke:#c41d7f}svg .link.wr>path{stroke:#1677ff}svg .link.rw>path{stroke:#d48806;stroke-dasharray:5 3}
svg .link.failed>path{stroke-width:2.5}
svg .item.failed>polygon{stroke:#cf1322;stroke-width:3}svg .item.commit>polygon{fill:#f0faeb}
svg .item.abort>polygon{fill:#fff1f0}svg .item.abort text{fill:#a8071a}svg .item.blocked>polygon{fill:#fff7e6}
svg .item.error>polygon{fill:#fff1f0}svg .group.new>polygon{stroke:#d4380d;stroke-width:2}
svg .group.changed>polygon{stroke:#d48806;stroke-width:2}svg .group.removed>polygon{stroke-dasharray:2 2}
svg.lanes{font:10px Helvetica,Arial,sans-serif}svg.lanes .column rect{fill:none;stroke:#eee}
svg.lanes .column.failed rect{fill:#fff1f0}svg.lanes .column text,svg.lanes .event text{text-anchor:middle;fill:#555}
svg.lanes .event circle{fill:#8c8c8c}svg.lanes .span rect{fill:#d9d9d9}
svg.lanes .commit circle{fill:#389e0d}svg.lanes .abort circle{fill:#cf1322}svg.lanes .blocked rect{fill:#ffd591}
svg.lanes .failed circle{stroke:#cf1322;stroke-width:3}svg.lanes .name{font-weight:bold}
svg.lanes .error circle{fill:#d4380d}.caption{color:#555;font-size:12px;margin:.2em 0}
`;
