// The import rule (.dependency-cruiser.cjs, checked by dependency-cruiser): every import runs downward, no cycle,
// oracles import no model code. The fixture tree test/fixtures/grain breaks each rule once, so a rule that stopped
// matching would be seen here too; the fixture's allowed imports (the files marked so) must raise nothing.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const config = `${root}.dependency-cruiser.cjs`;

/** Every violation in the tree below `cwd`, as "rule: from → to". */
function violations(cwd: string, paths: readonly string[]): string[] {
  const bin = `${root}node_modules/dependency-cruiser/bin/dependency-cruise.mjs`;
  const r = spawnSync(process.execPath, [bin, "--config", config, "--output-type", "json", ...paths], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.error || !r.stdout) throw new Error(`dependency-cruiser did not run: ${r.error ?? r.stderr}`);
  const result = JSON.parse(r.stdout) as {
    summary: { violations: { rule: { name: string }; from: string; to: string }[]; totalCruised: number };
  };
  expect(result.summary.totalCruised).toBeGreaterThan(0);
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

test("cowcheck's own imports keep the rule: none against the grain, no cycle, oracles stand alone", () => {
  // the whole tree, whatever folders it has (dependency-cruiser's exclude leaves out node_modules, dist, the fixture)
  expect(violations(root, ["."])).toEqual([]);
});

test("each rule fires on the fixture tree that breaks it, type-only and unnamed folders included, and only there", () => {
  const folders = ["cli", "core", "engines", "fuzz", "layers", "models", "oracles", "properties", "reports", "views"];
  const found = violations(`${root}test/fixtures/grain`, [...folders, "utils"]);
  expect(found.sort()).toEqual(
    [
      "core-is-the-ground-floor: core/engine.ts → fuzz/runner.ts",
      "core-is-the-ground-floor: core/engine.ts → utils/helper.ts",
      "engine-machinery-is-generic: engines/resolve.ts → engines/thing/index.ts",
      "generators-know-their-layer: fuzz/cell/ops.ts → oracles/cell.ts",
      "layer-types-are-vocabulary: models/cell/types.ts → models/cell/rules.ts",
      "layers-below-the-entry-points: layers/cell/index.ts → cli/main.ts",
      "models-import-only-their-layer: models/cell/model.ts → models/other/model.ts",
      "no-cycle: fuzz/runner.ts → layers/index.ts",
      "oracles-stand-alone: oracles/cell.ts → models/cell/model.ts",
      "oracles-stand-alone: oracles/other.ts → models/cell/rules.ts",
      "properties-read-their-layer: properties/cell/property.ts → engines/thing/index.ts",
      "real-engines-speak-types: engines/thing/index.ts → models/cell/model.ts",
      "reports-read-results: reports/writer.ts → fuzz/runner.ts",
      "runner-is-generic: fuzz/runner.ts → layers/index.ts",
      "views-read-their-layer: views/cell/view.ts → fuzz/runner.ts",
    ].sort(),
  );
});
