// report.html: the targets as a table, and for each failure its pictures: the trace's own (a timeline, a dependency
// cycle), an op-by-op stepper (the op, expected against observed, the state before and after with what it changed
// marked), the shrink history and the commands that replay it. Self-contained: inline SVG, CSS and a small script.
import type { Viz } from "@viz-js/viz";
import { allows, type CampaignResult, DRAWN_OPS, isOneOf } from "../core/index.ts";
import { describeCoverage, explainFailure, replayCommand, rerunCommand } from "./explain.ts";
import { graphSvg, html, markDifferences, PICTURE_CSS, pictureSvg } from "./pictures.ts";

/** Ops a stepper has panels for at most (the last ones, where the failure is). */
const MAX_PANELS = 200;

/** What a page says of one target, besides its result. */
export interface PageTarget {
  readonly label: string;
  readonly anchor: string;
  readonly engine: string;
  readonly expect: "pass" | "kill";
  readonly verdict: "ok" | "bad";
  readonly result: CampaignResult;
  /** The trace file, as the report names it. */
  readonly trace?: string;
  readonly against?: string;
  readonly geometry?: string;
}

const json = (v: unknown): string => {
  const s = JSON.stringify(v, null, 1) ?? "undefined";
  return s.length > 4000 ? `${s.slice(0, 3999)}…` : s;
};

/** One failed target's section; rendered once, when the target is added, then kept. */
export function failureSection(viz: Viz, t: PageTarget): string {
  const r = t.result;
  const out: string[] = [`<section class="failure" id="${html(t.anchor)}">`, `<h2>${html(t.label)}</h2>`];
  const f = r.failure;
  if (r.engineFailure)
    out.push(
      `<p class="verdict"><b>engine failure</b> (${html(r.engineFailure.kind)}): ${html(r.engineFailure.message)}</p>`,
    );
  if (f)
    out.push(
      `<p class="verdict"><b>${html(f.property)}</b> (${html(f.kind)}) fails at op ${html(String(f.index))}${r.status === "failed" && t.expect === "kill" ? " — the mutant is killed" : ""}: ${html(f.message)}</p>`,
    );
  const facts: [string, string][] = [["seed", String(r.seed)]];
  if (r.anomaly) facts.push(["anomaly", r.anomaly]);
  if (r.trace)
    facts.push([
      "shrunk",
      r.originalLength !== undefined && r.originalLength > r.trace.ops.length
        ? `${r.originalLength} ops → ${r.trace.ops.length} ops`
        : `${r.trace.ops.length} ops (found at that length)`,
    ]);
  if (t.trace) facts.push(["replay", replayCommand(t.trace, t.engine, t.against)]);
  if (r.replay) facts.push(["rerun", rerunCommand(r.replay, t.engine, t.geometry, t.against)]);
  out.push(
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${k === "replay" || k === "rerun" ? `<code>${html(v)}</code>` : html(v)}</dd>`).join("")}</dl>`,
  );
  const p = r.pictures;
  // an interleaving's pictures run over its steps, not over the trace's ops
  const ops = r.interleaving ? r.interleaving.timeline.length : (r.trace?.ops.length ?? 0);
  const failing = r.interleaving ? undefined : f?.index;
  for (const tp of p?.trace ?? [])
    out.push(
      `<figure class="trace-picture"><figcaption>${html(tp.title)}</figcaption>${pictureSvg(viz, tp.picture, ops, failing)}</figure>`,
    );
  if (r.steps?.length) out.push(stepper(viz, r));
  out.push(
    `<details><summary>the failure in words</summary><pre>${html(explainFailure(r))}</pre></details>`,
    "</section>",
  );
  return out.join("\n");
}

/** The op-by-op stepper: one panel per op, the failing one shown first; buttons and a slider move between them. */
function stepper(viz: Viz, r: CampaignResult): string {
  const steps = r.steps!;
  const p = r.pictures;
  const first = Math.max(0, steps.length - MAX_PANELS);
  const failing = Math.min(steps.length - 1, Math.max(first, Number(r.failure?.index ?? steps.length - 1)));
  const panels = steps.slice(first).map((s, k) => {
    const i = first + k;
    const ok = allows(s.expected, s.observed);
    const expected = isOneOf(s.expected) ? s.expected.oneOf.map(json).join("\n— or —\n") : json(s.expected);
    const before = p?.states[i - p.from];
    const after = p?.states[i - p.from + 1];
    const drawn =
      before && after
        ? `<div class="states"><figure class="before"><figcaption>before op ${i}</figcaption>${graphSvg(viz, markDifferences(before, after, "before"))}</figure><figure class="after"><figcaption>after op ${i}</figcaption>${graphSvg(viz, markDifferences(after, before, "after"))}</figure></div>`
        : p?.states.length
          ? `<p class="note">the states are drawn for the last ${DRAWN_OPS} ops</p>`
          : "";
    return `<section class="step${i === failing ? " failing" : ""}${ok ? "" : " differs"}" data-op="${i}"${i === failing ? "" : " hidden"}>
<h3>op ${i}${i === failing ? " — the failing op" : ""}</h3><pre class="op">${html(JSON.stringify(s.op) ?? "")}</pre>
<div class="obs"><div class="expected"><h4>expected (oracle)</h4><pre>${html(expected)}</pre></div><div class="observed"><h4>observed (engine)${ok ? "" : " — differs"}</h4><pre>${html(json(s.observed))}</pre></div></div>
${drawn}</section>`;
  });
  const whose = !p
    ? ""
    : p.source === "engine"
      ? "the engine's state, inspected after each op"
      : `the layer model's state, the model's own path (the engine's could not be drawn: ${html(p.reason ?? "")})`;
  const earlier =
    first > 0
      ? `<p class="note">ops 0–${first - 1} are in the trace file; the stepper shows the last ${MAX_PANELS}</p>`
      : "";
  return `<div class="stepper" data-failing="${failing}" data-ops="${steps.length}">${earlier}
<div class="controls"><button type="button" class="prev">◀ previous op</button><input type="range" min="0" max="${panels.length - 1}" value="${failing - first}" aria-label="op"><span class="where"></span><button type="button" class="next">next op ▶</button>${whose ? `<span class="whose">${whose}; red: new, orange: changed, grey: removed</span>` : ""}</div>
${panels.join("\n")}
</div>`;
}

/** The stepper's behaviour: show one op's panel at a time. */
const SCRIPT = `for (const s of document.querySelectorAll(".stepper")) {
  const panels = [...s.querySelectorAll(":scope > .step")];
  const range = s.querySelector("input"), where = s.querySelector(".where");
  const show = (i) => {
    i = Math.max(0, Math.min(panels.length - 1, i));
    panels.forEach((p, k) => { p.hidden = k !== i; });
    range.value = String(i);
    where.textContent = "op " + panels[i].dataset.op + " of " + s.dataset.ops;
    s.dataset.current = String(i);
  };
  s.querySelector(".prev").addEventListener("click", () => show(Number(range.value) - 1));
  s.querySelector(".next").addEventListener("click", () => show(Number(range.value) + 1));
  range.addEventListener("input", () => show(Number(range.value)));
  show(panels.findIndex((p) => p.dataset.op === s.dataset.failing));
}`;

const CSS = `body{font:14px system-ui,sans-serif;margin:2em;max-width:90em}table{border-collapse:collapse}
td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
tr.bad td:first-child{border-left:4px solid #c33}tr.ok td:first-child{border-left:4px solid #3a3}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;margin:.3em 0}section.failure{border-top:2px solid #ccc;margin-top:2em}
.verdict{font-size:15px}dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
figure{margin:.5em 0;overflow-x:auto}figcaption{font-weight:bold;color:#444}
.controls{display:flex;gap:.8em;align-items:center;flex-wrap:wrap;margin:.6em 0}.whose{color:#666;font-size:12px}
.obs,.states{display:grid;grid-template-columns:1fr 1fr;gap:1em}.obs h4{margin:.2em 0}
.step.differs .observed pre{background:#fff1f0;border-left:3px solid #cf1322}.step.failing h3{color:#cf1322}
.note{color:#666}${PICTURE_CSS}`;

/** A target's outcome in a word: passed, failed, killed, survived (a mutant), interrupted, engine failure. */
export function outcome(expect: "pass" | "kill", status: CampaignResult["status"]): string {
  if (status === "passed") return expect === "kill" ? "survived" : "passed";
  if (status === "failed") return expect === "kill" ? "killed" : "failed";
  return status === "interrupted" ? "interrupted" : "engine failure";
}

/** The whole page. `sections` are the failures' sections, already rendered. */
export function page(
  status: string,
  argv: readonly string[],
  started: Date,
  targets: readonly PageTarget[],
  sections: readonly string[],
): string {
  const rows = targets.map((t) => {
    const r = t.result;
    const by = r.failure?.property ?? r.engineFailure?.kind ?? "";
    const name = r.trace ? `<a href="#${html(t.anchor)}">${html(t.label)}</a>` : html(t.label);
    return `<tr class="${t.verdict === "ok" ? "ok" : "bad"}"><td>${name}</td><td>${outcome(t.expect, r.status)}</td><td>${html(by)}</td><td>${html(String(r.runs))}</td><td>${html(Number(r.ops).toLocaleString("en-US"))}</td><td>${html((Number(r.elapsedMs) / 1000).toFixed(1))} s</td><td>${r.trace ? html(String(r.trace.ops.length)) : ""}</td></tr>`;
  });
  const covered = targets
    .filter((t) => t.result.checked)
    .map(
      (t) =>
        `<details><summary>${html(t.label)}: what was checked</summary><pre>${html(describeCoverage(t.result.checked!))}</pre></details>`,
    );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cowcheck report</title><style>${CSS}</style></head>
<body><h1>cowcheck: ${html(status)}</h1><p>${html(argv.join(" ") || "(no arguments)")} · started ${started.toISOString()}</p>
<table><tr><th>target</th><th>outcome</th><th>by</th><th>runs</th><th>ops</th><th>time</th><th>trace ops</th></tr>
${rows.join("\n")}
</table>
${covered.join("\n")}
${sections.join("\n")}
<script>${SCRIPT}</script>
</body></html>
`;
}
