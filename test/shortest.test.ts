// `cowcheck mutants --shortest <depth>`: beside each mutant's minimized trace length, the length of explore's shortest
// counterexample over the layer's alphabet (null where none is that short); without the option, no such field.
import { expect, test } from "vitest";
import { main } from "../cli/main.ts";
import { registerLayer } from "../layers/index.ts";
import { cellLayer } from "./fixtures/cell-layer.ts";
import { captureOutput, tempDirs } from "./helpers.ts";

registerLayer(cellLayer);

const { out } = captureOutput();
const tmp = tempDirs("cowcheck-shortest-");

test("mutants --json --shortest: the minimized trace is as short as explore's shortest", async () => {
  expect(await main(["mutants", "--layer", "cell", "--json", "--shortest", "3", "--report", tmp()])).toBe(0);
  expect(out).toHaveLength(1);
  const [row] = JSON.parse(out[0]!);
  expect(row).toMatchObject({ name: "write-in-place", killed: true, traceLength: 3, shortest: 3 });
});

test("mutants --shortest: null where explore finds nothing that short; no field without the option", async () => {
  expect(await main(["mutants", "--layer", "cell", "--json", "--shortest", "1", "--report", tmp()])).toBe(0);
  expect(JSON.parse(out[0]!)[0].shortest).toBeNull();
  out.length = 0;
  expect(await main(["mutants", "--layer", "cell", "--json", "--report", tmp()])).toBe(0);
  expect(JSON.parse(out[0]!)[0]).not.toHaveProperty("shortest");
});

test("mutants --shortest: a column and a count in the table", async () => {
  expect(await main(["mutants", "--layer", "cell", "--shortest", "3", "--report", tmp()])).toBe(0);
  const text = out.join("\n");
  expect(text).toMatch(/trace\s+shortest/);
  expect(text).toContain(
    "minimized as short as explore's shortest (depth 3) or shorter: 1 of the 1 mutants explore reaches",
  );
});

test("mutants --shortest takes a depth from 1 to 8", async () => {
  await expect(main(["mutants", "--layer", "cell", "--shortest", "9", "--report", tmp()])).resolves.toBe(2);
});
