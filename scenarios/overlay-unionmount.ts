// The unionmount-testsuite as cowcheck traces: every case of fuzz/overlay/unionmount.ts that the vocabulary can say,
// in each mount configuration, with every observation recorded (the oracle's). `npx tsx scenarios/overlay-unionmount.ts`
// rewrites traces/overlay/unionmount/ and its index.json (every case, with what blocks the rest), so
// `npx cowcheck replay traces/overlay/unionmount/<name>.trace.json --engine …` checks an engine.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatTrace, type Trace } from "../core/index.ts";
import { isWritten, UNIONMOUNT_CONFIGS, type UnionmountCase, unionmountCases } from "../fuzz/overlay/unionmount.ts";
import {
  defaultOverlayGeometry,
  type OverlayGeometry,
  type OverlayObs,
  type OverlayOp,
  overlayOpFeature,
} from "../models/overlay/types.ts";
import { OverlayOracle } from "../oracles/overlay.ts";

export const unionmountGeometry: OverlayGeometry = defaultOverlayGeometry;

export const allUnionmountCases: readonly UnionmountCase[] = UNIONMOUNT_CONFIGS.flatMap((c) => unionmountCases(c));
export const writtenUnionmountCases: readonly UnionmountCase[] = allUnionmountCases.filter(isWritten);

/** A case as a trace file, with every observation recorded (the oracle's). */
export function unionmountTrace(c: UnionmountCase): Trace<OverlayOp, OverlayObs> & { note: string } {
  const oracle = new OverlayOracle(unionmountGeometry);
  const expected = c.ops.map((op) => oracle.apply(op));
  const features = [...new Set(c.ops.map(overlayOpFeature).filter((f) => f !== undefined))].sort();
  const replays = c.replays ? ` after subtests ${c.replays.join(", ")}` : "";
  const claims = c.asserts.map((a) => a.at).join(",");
  return {
    cowcheck: 1,
    layer: "overlay",
    geometry: unionmountGeometry,
    features,
    note:
      `unionmount-testsuite tests/${c.file}.py subtest ${c.subtest}${replays} ('${c.doc}'), ${c.config} mount: the ` +
      `suite's claims are on ops ${claims}.` +
      (c.lax ? ` Lax in the suite: ${c.lax}.` : "") +
      (c.suspect ? ` Suspect: ${c.suspect}.` : "") +
      (c.omits ? ` Leaves out ${c.omits}.` : ""),
    ops: [...c.ops],
    expected,
  };
}

/** JSON on one line, spaced as the formatter wants it (biome checks index.json). */
const inline = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(inline).join(", ")}]`
    : v !== null && typeof v === "object"
      ? Object.keys(v).length
        ? `{ ${Object.entries(v)
            .map(([k, x]) => `${JSON.stringify(k)}: ${inline(x)}`)
            .join(", ")} }`
        : "{}"
      : JSON.stringify(v);

/** The index: head counts (subtests per configuration; run, written and gaps per configuration), then every case, written or not, and what the unwritten ones lack. */
export function unionmountIndex(): string {
  const plain = allUnionmountCases.filter((c) => c.config === "plain");
  const configs = UNIONMOUNT_CONFIGS.map((config) => {
    const cs = allUnionmountCases.filter((c) => c.config === config);
    const gaps: Record<string, number> = {};
    for (const c of cs) for (const g of c.gaps) gaps[g] = (gaps[g] ?? 0) + 1;
    const counts = { run: cs.filter((c) => c.runs).length, written: cs.filter(isWritten).length };
    return `    ${JSON.stringify(config)}: ${inline({ ...counts, gaps })}`;
  });
  const rows = allUnionmountCases.map(
    (c) => `    ${inline({ name: c.name, runs: c.runs, written: isWritten(c), gaps: c.gaps })}`,
  );
  return [
    "{",
    '  "source": "github.com/amir73il/unionmount-testsuite f48a57d, tests/*.py, on Linux 6.18",',
    `  "subtests": ${plain.length},`,
    `  "runByDefault": ${plain.filter((c) => c.runs).length},`,
    `  "written": ${writtenUnionmountCases.length},`,
    '  "configs": {',
    configs.join(",\n"),
    "  },",
    '  "rows": [',
    rows.join(",\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}

export const unionmountTraceDir = fileURLToPath(new URL("../traces/overlay/unionmount/", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(unionmountTraceDir, { recursive: true });
  for (const f of readdirSync(unionmountTraceDir)) if (f.endsWith(".trace.json")) rmSync(`${unionmountTraceDir}${f}`);
  for (const c of writtenUnionmountCases) {
    writeFileSync(`${unionmountTraceDir}${c.name}.trace.json`, formatTrace(unionmountTrace(c)));
  }
  writeFileSync(`${unionmountTraceDir}index.json`, unionmountIndex());
  console.log(`wrote ${writtenUnionmountCases.length} traces and index.json to ${unionmountTraceDir}`);
}
