// What report.html draws, below the browser: what an op changed is marked (nodes, edges and groups), engine text
// is bounded and escaped, a picture that cannot be drawn says so instead of stopping the report, and a trace is drawn
// from the engine's states, or from the model's with the reason when the engine's cannot be had.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { type CampaignResult, type Engine, type EngineFactory, type Graph, MARKS } from "../core/index.ts";
import { drawTrace } from "../fuzz/runner.ts";
import { findLayer } from "../layers/index.ts";
import { graphSvg, lanesSvg, loadRenderer, markDifferences, PICTURE_CSS } from "../reports/pictures.ts";
import { ReportWriter } from "../reports/writer.ts";
import { tempDirs } from "./helpers.ts";

const tmp = tempDirs("cowcheck-pictures-");

const before: Graph = {
  kind: "graph",
  groups: [
    { id: "p1", label: "pid 1" },
    { id: "gone", label: "old vma" },
  ],
  nodes: [
    { id: "a", label: "page 0", group: "p1" },
    { id: "b", label: "frame 3\nref 1", marks: ["exclusive"] },
    { id: "c", label: "frame 4" },
  ],
  edges: [{ from: "a", to: "b" }],
};
const after: Graph = {
  kind: "graph",
  groups: [
    { id: "p1", label: "pid 1" },
    { id: "p2", label: "pid 2" },
  ],
  nodes: [
    { id: "a", label: "page 0", group: "p1" },
    { id: "b", label: "frame 3\nref 2", marks: ["shared"] },
    { id: "d", label: "page 0", group: "p2" },
  ],
  edges: [
    { from: "a", to: "b" },
    { from: "d", to: "b" },
  ],
};
const marks = (g: Graph) => ({
  nodes: Object.fromEntries(g.nodes.map((n) => [n.id, n.marks ?? []])),
  groups: Object.fromEntries((g.groups ?? []).map((n) => [n.id, n.marks ?? []])),
  edges: g.edges.map((e) => `${e.from}>${e.to}:${(e.marks ?? []).join(",")}`),
});

describe("what an op changed", () => {
  test("after: new and changed nodes, new groups and edges; before: what the op removed", () => {
    expect(marks(markDifferences(after, before, "after"))).toEqual({
      nodes: { a: [], b: ["shared", "changed"], d: ["new"] },
      groups: { p1: [], p2: ["new"] },
      edges: ["a>b:", "d>b:new"],
    });
    expect(marks(markDifferences(before, after, "before"))).toEqual({
      nodes: { a: [], b: ["exclusive"], c: ["removed"] },
      groups: { p1: [], gone: ["removed"] },
      edges: ["a>b:"],
    });
    expect(markDifferences(after, undefined, "after")).toBe(after);
  });
});

test("every mark the contract names has a style", () => {
  for (const m of MARKS) expect(PICTURE_CSS, m).toMatch(new RegExp(`\\.${m}\\b`));
});

describe("engine text in pictures", () => {
  test("labels are bounded and escaped; Graphviz escapes in them stay literal", async () => {
    const viz = await loadRenderer();
    const huge = "x".repeat(200_000); // Graphviz traps on a label this long: it must never get one
    const g: Graph = {
      kind: "graph",
      nodes: [
        { id: "<script>", label: `<script>alert(1)</script> \\N \\G\n${huge}\n${"line\n".repeat(40)}` },
        { id: "n2", label: "&amp; \u0007" },
      ],
      edges: [],
      caption: "<b>caption</b>",
    };
    const svg = graphSvg(viz, g);
    expect(svg).toMatch(/^<svg/);
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;alert(1)&lt;/script&gt; \\N \\G");
    expect(svg).toContain(">&amp;amp; \\u0007</text>"); // the text as the engine gave it
    expect(svg).toContain("… 28 more lines");
    expect(svg.length).toBeLessThan(20_000);
    expect(svg).toContain('<p class="caption">&lt;b&gt;caption&lt;/b&gt;</p>');
    // and the renderer still works after it
    expect(graphSvg(viz, after)).toMatch(/^<svg/);
  });

  test("a graph too large to lay out is said in words", async () => {
    const viz = await loadRenderer();
    const big: Graph = {
      kind: "graph",
      nodes: Array.from({ length: 500 }, (_, i) => ({ id: `n${i}`, label: `${i}` })),
      edges: [],
    };
    expect(graphSvg(viz, big)).toBe(
      '<p class="note">500 parts: too many to draw (at most 400); the failure in words below has the state</p>',
    );
  });

  test("a timeline escapes its lanes, events and marks", () => {
    const svg = lanesSvg(
      {
        kind: "lanes",
        lanes: [{ id: "c1", label: "<c1>", events: [{ at: 0, until: 2, label: '"x"', marks: ['a" onload="x'] }] }],
      },
      3,
      2,
    );
    expect(svg).not.toMatch(/onload="x/);
    expect(svg).toContain("&lt;c1&gt;");
    expect(svg).toContain('class="event a&quot; onload=&quot;x span"');
  });
});

describe("drawTrace: whose states", () => {
  const mm = findLayer("mm")!;
  const geometry = mm.defaultGeometry;
  const ops = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
    { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
    { op: "fork", pid: 1 },
  ];
  const factory = (wrap: (e: Engine<unknown, unknown>) => Engine<unknown, unknown>): EngineFactory => ({
    name: "wrapped",
    create: (g) => wrap(mm.model(g)),
  });

  test("an inspectable engine: its own states, one before each op and one after the last", async () => {
    const r = await drawTrace(
      mm,
      geometry,
      factory((e) => e),
      ops,
      [],
    );
    expect(r.pictures).toMatchObject({ source: "engine", from: 0 });
    expect(r.pictures!.states).toHaveLength(ops.length + 1);
    expect(r.pictures!.states[0]!.nodes).toEqual([]); // nothing before the first spawn
    expect(r.pictures!.states[4]!.nodes.some((n) => n.id === "pid:2:pte:0")).toBe(true);
    expect(r.state).toContain("pid 2");
  });

  test("an engine without inspect: the model's states, and why", async () => {
    const blind = factory((e) => ({ layer: e.layer, features: new Set(), apply: (op) => e.apply(op) }));
    const r = await drawTrace(mm, geometry, blind, ops, []);
    expect(r.pictures).toMatchObject({ source: "model", reason: "it cannot be inspected" });
    expect(r.pictures!.states).toHaveLength(ops.length + 1);
    expect(r.state).toBeUndefined();
  });

  test("an engine that breaks on the replay: the model's states, and why; the report says it", async () => {
    const broken = factory((e) => ({
      ...e,
      layer: e.layer,
      features: e.features,
      inspect: () => e.inspect!(),
      apply: (op) => {
        if ((op as { op: string }).op === "fork") throw new Error("lost the device");
        return e.apply(op);
      },
    }));
    const drawn = await drawTrace(mm, geometry, broken, ops, []);
    expect(drawn.pictures).toMatchObject({
      source: "model",
      reason: "replaying the trace to draw it failed: lost the device",
    });
    expect(drawn.pictures!.states).toHaveLength(ops.length + 1);

    // and the page says whose states it shows, escaping every engine text in the stepper
    const nasty = "<img src=x onerror=alert(1)>";
    const result: CampaignResult = {
      status: "failed",
      engine: "wrapped",
      layer: "mm",
      seed: 1,
      runs: 1,
      ops: 4,
      elapsedMs: 1,
      trace: { cowcheck: 1, layer: "mm", geometry, features: [], ops },
      failure: { index: 3, property: nasty, kind: "equivalence", message: nasty, observed: nasty, expected: 1 },
      steps: ops.map((op, index) => ({ index, op, observed: index === 3 ? { pid: nasty } : {}, expected: {} })),
      ...drawn,
    };
    const dir = tmp();
    const w = await ReportWriter.open(dir, ["test"]);
    w.add("broken", "pass", "wrapped", result);
    w.finish("failed");
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain(
      "the layer model's state, the model's own path (the engine's could not be drawn: replaying the trace to draw it failed: lost the device)",
    );
    expect(html.match(/<figure class="after">/g)).toHaveLength(ops.length);
  });
});
