// A layer is its own files plus one registry line. The cell layer (test/fixtures/cell-layer.ts) imports core/ alone;
// registered here, it runs through the campaign, minimize, explore, the report writer and every CLI command, with no
// edit in engines/, fuzz/, reports/ or cli/.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test, vi } from "vitest";
import { main } from "../cli/main.ts";
import { formatTrace } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { minimizeTrace } from "../fuzz/minimize.ts";
import { loadTrace, registerLayer } from "../layers/index.ts";
import { ReportWriter } from "../reports/writer.ts";
import { cellLayer } from "./fixtures/cell-layer.ts";
import { campaignOn, captureOutput, tempDirs } from "./helpers.ts";

registerLayer(cellLayer);

const { out, err } = captureOutput();
const errors = (): string => err.join("");

const tmp = tempDirs("cowcheck-cell-");

test("campaign, report writer and minimize: the model passes, the mutant is killed by a short trace", async () => {
  const model = await campaignOn(cellLayer, "model", {
    seed: 1,
    runs: 300,
    maxOps: 40,
  });
  expect(model.status).toBe("passed");
  const killed = await campaignOn(cellLayer, "mutant:write-in-place", {
    seed: 1,
    runs: 300,
    maxOps: 40,
  });
  expect(killed.status).toBe("failed");
  expect(killed.failure?.property).toBe("observational-equivalence");
  // snapshot, write, read the snapshot: nothing shorter shows a snapshot changing
  expect(killed.trace!.ops.map((o) => (o as { op: string }).op)).toEqual(["snapshot", "write", "readSnapshot"]);

  const dir = tmp();
  const report = await ReportWriter.open(dir, ["test"]);
  const rec = report.add("cell-mutant", "kill", "mutant:write-in-place", killed);
  report.finish("passed");
  expect(rec.verdict).toBe("ok");
  expect(readdirSync(dir).sort()).toEqual([
    "cell-mutant.failure.txt",
    "cell-mutant.regression.test.ts",
    "cell-mutant.result.json",
    "cell-mutant.trace.json",
    "junit.xml",
    "report.html",
    "summary.json",
  ]);

  // a padded copy of the trace minimizes back to the three ops
  const padded = {
    ...killed.trace!,
    ops: [{ op: "read" }, ...killed.trace!.ops.slice(0, 2), { op: "read" }, ...killed.trace!.ops.slice(2)],
  };
  const file = join(dir, "padded.json");
  writeFileSync(file, formatTrace(padded));
  const { layer, trace } = loadTrace(file);
  const r = await minimizeTrace(layer, trace, await resolveEngine(layer, "mutant:write-in-place"));
  expect(r.kind).toBe("property");
  if (r.kind === "property") expect(r.trace.ops).toEqual(killed.trace!.ops);
});

test("every command of the CLI finds the layer through the registry", async () => {
  const dir = tmp();
  // the default run: every layer's model and mutants, here only the cell layer's
  expect(await main(["run", "--layer", "cell", "--runs", "200", "--report", dir, "--quiet"])).toBe(0);
  expect(out.join("\n")).toMatch(/cell model\s+passed {3}200 runs/);
  expect(out.join("\n")).toMatch(
    /cell mutant:write-in-place\s+killed {3}after \d+ run\(s\) by observational-equivalence, 3-op trace/,
  );

  expect(await main(["engines", "--layer", "cell"])).toBe(0);
  expect(out.join("\n")).toContain("mutant:write-in-place");

  const trace = join(dir, readdirSync(dir).find((f) => f.endsWith(".trace.json"))!);
  expect(JSON.parse(readFileSync(trace, "utf8")).layer).toBe("cell");
  expect(await main(["replay", trace, "--engine", "mutant:write-in-place", "--quiet"])).toBe(1);
  expect(await main(["replay", trace, "--quiet"])).toBe(0);
  const { ops, ...rest } = JSON.parse(readFileSync(trace, "utf8"));
  const padded = join(dir, "padded.json");
  writeFileSync(padded, formatTrace({ ...rest, ops: [{ op: "read" }, ops[0], { op: "read" }, ...ops.slice(1)] }));
  expect(await main(["minimize", padded, "--engine", "mutant:write-in-place", "--out", join(dir, "min.json")])).toBe(1);
  expect(out.join("\n")).toContain("observational-equivalence: 5 → 3 ops");
  expect(loadTrace(join(dir, "min.json")).trace.ops).toEqual(ops);

  expect(
    await main(["explore", "--layer", "cell", "--depth", "3", "--engine", "mutant:write-in-place", "--report", dir]),
  ).toBe(1);
  expect(out.join("\n")).toContain("shortest counterexample, 3 ops in all");
  expect(await main(["explore", "--layer", "cell", "--depth", "3"])).toBe(0);

  expect(await main(["run", "--layer", "cell", "--geometry", '{"snapshots":0}', "--report", join(dir, "never")])).toBe(
    2,
  );
});

test("a real engine is one line in its layer: listed, resolved with its geometry, named in help and in errors", async () => {
  const device = await resolveEngine(cellLayer, "cell-device");
  expect(device.geometry).toEqual({ snapshots: 2 });
  expect(await main(["engines", "--layer", "cell"])).toBe(0);
  expect(out.join("\n")).toMatch(/cell\s+cell-device\s+yes\s+a stand-in device holding the cell/);
  expect(await main(["run", "--layer", "cell", "--engine", "cell-device", "--runs", "50", "--report", tmp()])).toBe(0);
  expect(out.join("\n")).toMatch(/cell cell-device\s+passed {3}50 runs/);
  expect(await main(["run", "--layer", "mm", "--engine", "cell-device", "--report", tmp()])).toBe(2);
  expect(errors()).toContain("the cell-device engine speaks the cell layer, not mm");
  process.env.COWCHECK_TEST_CELL_DEVICE = "off";
  try {
    expect(await main(["run", "--layer", "cell", "--engine", "cell-device", "--report", tmp()])).toBe(2);
    expect(errors()).toContain("the cell-device engine cannot run here: it needs the device plugged in");
  } finally {
    delete process.env.COWCHECK_TEST_CELL_DEVICE;
  }
  const help: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    help.push(String(s));
    return true;
  });
  expect(await main(["run", "--help"])).toBe(0);
  expect(help.join("").replace(/\s+/g, " ")).toContain("| cell-device |");
});

test("worker threads load the built-in registry: a layer registered at run time is refused there, with a report that says so", async () => {
  const dir = tmp();
  expect(await main(["run", "--layer", "cell", "--workers", "2", "--runs", "50", "--report", dir, "--quiet"])).toBe(2);
  expect(errors()).toContain('no layer "cell": a layer registered at run time runs with one worker');
  expect(JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")).status).toBe("aborted");
});
