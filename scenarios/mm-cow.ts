// The families of the kernel's own CoW selftest (tools/testing/selftests/mm/cow.c, defined in fuzz/mm/cow.ts) as
// cowcheck traces. `npx tsx scenarios/mm-cow.ts` writes them to traces/mm/cow/, with every observation recorded,
// so `npx cowcheck replay traces/mm/cow/<name>.trace.json --engine …` checks an engine.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatTrace, type Trace } from "../core/index.ts";
import { type CowScenario, cowScenariosFor } from "../fuzz/mm/cow.ts";
import { defaultMmGeometry, type MmObs, type MmOp } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

export { type CowScenario, cowScenariosFor };

export const cowScenarios: readonly CowScenario[] = cowScenariosFor(defaultMmGeometry);

/** A scenario as a trace file, with every observation recorded (the oracle's). */
export function cowTrace(s: CowScenario): Trace<MmOp, MmObs> & { note: string } {
  const oracle = new MmOracle(defaultMmGeometry);
  const expected = s.ops.map((op) => oracle.apply(op) as MmObs);
  return {
    cowcheck: 1,
    layer: "mm",
    geometry: defaultMmGeometry,
    features: ["gup", "pin", "longterm", "thp"],
    note: s.note,
    ops: s.ops,
    expected,
  };
}

export const cowTraceDir = fileURLToPath(new URL("../traces/mm/cow/", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(cowTraceDir, { recursive: true });
  for (const s of cowScenarios) writeFileSync(`${cowTraceDir}${s.name}.trace.json`, formatTrace(cowTrace(s)));
  console.log(`wrote ${cowScenarios.length} traces to ${cowTraceDir}`);
}
