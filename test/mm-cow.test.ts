// The cow.c families as named traces: the committed files are what the scenarios say, the model passes each
// with the recorded observations (every property checked after every op), the decisive observation is the one
// cow.c asserts, and each family catches the bug class it exists for.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { formatTrace } from "../core/index.ts";
import { checkTrace } from "../index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry } from "../models/mm/types.ts";
import { cowScenarios, cowTrace, cowTraceDir } from "../scenarios/mm-cow.ts";

describe.each(cowScenarios.map((s) => [s.name, s] as const))("%s", (name, s) => {
  const file = `${cowTraceDir}${name}.trace.json`;

  test("the committed trace is the scenario's (regenerate: npx tsx scenarios/mm-cow.ts)", () => {
    expect(readFileSync(file, "utf8")).toBe(formatTrace(cowTrace(s)));
  });

  test("the model replays it with every recorded observation and every property", async () => {
    expect(await checkTrace(JSON.parse(readFileSync(file, "utf8")), { engine: "model" })).toBeUndefined();
    const model = new MmModel(defaultMmGeometry);
    const obs = s.ops.map((op) => model.apply(op));
    expect(obs.at(s.decisive.at)).toEqual(s.decisive.obs);
  });

  test.each(s.kills.map((m) => [m]))("catches mutant %s", async (mutant) => {
    expect(mmLayer.mutants.some((m) => m.name === mutant)).toBe(true);
    const failure = await checkTrace(JSON.parse(readFileSync(file, "utf8")), { engine: `mutant:${mutant}` });
    expect(failure, `${mutant} passes ${name}`).toBeDefined();
  });
});

test("the scenarios exercise what they name: a THP is mapped by PMD, then split by the CoW", () => {
  const s = cowScenarios.find((x) => x.name === "basic-cow-pmd-thp")!;
  const model = new MmModel(defaultMmGeometry);
  const forkAt = s.ops.findIndex((op) => op.op === "fork");
  for (const op of s.ops.slice(0, forkAt + 1)) model.apply(op);
  const thp = model.frames.get(model.procs.get(1)!.pmds.get(0)!.pfn)!;
  expect(thp).toMatchObject({ nr: 4, entireMapcount: 2, refcount: 2 });
  for (const op of s.ops.slice(forkAt + 1)) model.apply(op);
  expect(model.procs.get(1)!.pmds.has(0)).toBe(true); // the parent keeps its PMD
  expect(model.procs.get(2)!.pmds.has(0)).toBe(false); // the child's was split
  expect(model.procs.get(2)!.ptes.get(0)!.pfn).toBe(thp.pfn); // its other pages still map the THP
  expect(model.procs.get(2)!.ptes.get(1)!.pfn).not.toBe(thp.pfn + 1); // one page copied
  expect(model.copiedPages).toBe(1);
});
