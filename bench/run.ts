// npm run bench [-- --json] [-- --only layers|engines|mm|kills]: every layer and flavour's throughput (bare model,
// oracle, full check, their ratio, and how the check scales with the geometry), the real engines the machine can run
// (checked ops/s, the harness's share, the engine alone as the floor; `npm run bench:engines` runs that part), the mm
// layer in detail, and how fast the zoo's mutants die. With --json, one JSON object on stdout ({"layers": [...],
// "engines": [...], "mm": {...}, "kills": {...}}) and nothing else.
import { type Command, Option, program } from "commander";
import { layers } from "../layers/index.ts";
import { engineBench, engineJson, printEngines } from "./engines.ts";
import { killBench, killJson, printKills } from "./kill.ts";
import { flavoursOf, type LayerRate, measureLayer } from "./layers.ts";
import { mmBench, printMm } from "./mm.ts";

/** The layers table: 200 sequences of up to 200 ops each, best of 3 rounds after a warm-up. */
const LAYER_RATES = { sequences: 200, maxOps: 200, rounds: 3 };
/** The engines table: 20 sequences of up to 100 ops per engine. */
const ENGINE_RATES = { sequences: 20, maxOps: 100 };

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(10);

function printLayers(rates: readonly LayerRate[]): void {
  console.log(
    `every layer and flavour, ${LAYER_RATES.sequences} sequences of ≤${LAYER_RATES.maxOps} ops (seed 42), best of ${LAYER_RATES.rounds} rounds, ops/s (node ${process.version}):`,
  );
  console.log(
    `  ${"layer".padEnd(10)}${"flavour".padEnd(10)}${"bare".padStart(10)}${"oracle".padStart(10)}${"checked".padStart(10)}  bare/checked  oracle floor  scaling`,
  );
  for (const r of rates)
    console.log(
      `  ${r.layer.padEnd(10)}${r.flavour.padEnd(10)}${fmt(r.bare)}${fmt(r.oracle)}${fmt(r.checked)}  ${r.ratio.toFixed(2).padStart(11)}x  ${r.oracleFloor.toFixed(2).padStart(11)}x  ${r.scaling.toFixed(2).padStart(6)}x  (${r.scaledBy})`,
    );
  console.log(
    "  oracle floor: 1 + bare/oracle, the least bare/checked can be while the oracle runs every op (the rest free)",
  );
  console.log(
    "  scaling: checked ops/s on 30 sequences of ≤1,000 ops at the geometry above over the same at the larger geometry in brackets (1 is flat)",
  );
}

const cmd: Command = program
  .name("npm run bench --")
  .option("--json", "one JSON object on stdout instead of the text")
  .addOption(new Option("--only <part>", "one part only").choices(["layers", "engines", "mm", "kills"]))
  .parse(process.argv);
const { json, only } = cmd.opts<{ json?: boolean; only?: string }>();
const wants = (part: string): boolean => !only || only === part;

const out: Record<string, unknown> = {};
if (wants("layers")) {
  const rates: LayerRate[] = [];
  for (const layer of layers)
    for (const f of flavoursOf(layer)) rates.push(await measureLayer(layer, f.name, f.geometry, LAYER_RATES));
  const round = (r: LayerRate) => ({
    layer: r.layer,
    flavour: r.flavour,
    bare: Math.round(r.bare),
    oracle: Math.round(r.oracle),
    checked: Math.round(r.checked),
    ratio: Number(r.ratio.toFixed(3)),
    oracleFloor: Number(r.oracleFloor.toFixed(3)),
    scaling: Number(r.scaling.toFixed(3)),
    scaledBy: r.scaledBy,
  });
  if (json) out.layers = rates.map(round);
  else printLayers(rates);
}
if (wants("engines")) {
  const engines = await engineBench({
    ...ENGINE_RATES,
    onEngine: (name) => process.stderr.write(`measuring the ${name} engine…\n`),
  });
  if (json) out.engines = engineJson(engines);
  else printEngines(engines, ENGINE_RATES);
}
if (wants("mm")) {
  const mm = await mmBench();
  if (json) out.mm = mm;
  else printMm(mm);
}
if (wants("kills")) {
  const k = await killBench();
  if (json) out.kills = killJson(k);
  else printKills(k);
}
if (json) console.log(JSON.stringify(out));
