// npm run bench, the zoo: how fast the default generators kill each mutant of the zoo. Each mutant runs with
// several seeds at the mutant budget; the runs and the search time (until the failing sequence is found, before
// shrinking) to kill it are printed as a distribution. KILL_SEEDS (default 5) and KILL_ONLY (a regex over
// layer/name) narrow it.
import type { AnyLayer } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { DEFAULT_RUNS, runCampaign } from "../fuzz/campaign.ts";
import { layers } from "../layers/index.ts";

const SEEDS = Number(process.env.KILL_SEEDS ?? 5);
const ONLY = new RegExp(process.env.KILL_ONLY ?? ".");
const BUDGET = Number(process.env.KILL_RUNS ?? 20_000);

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

export interface Kill {
  readonly mutant: string;
  readonly runs: number[]; // per seed; Infinity where it survived the budget
  readonly ms: number[];
  readonly totalMs: number[];
}

async function kills(layer: AnyLayer, name: string): Promise<Kill> {
  const factory = await resolveEngine(layer, `mutant:${name}`, { registry: layers });
  const runs: number[] = [];
  const ms: number[] = [];
  const totalMs: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runCampaign(layer, factory, { seed, runs: BUDGET, maxOps: 200 });
    runs.push(r.status === "failed" ? r.runs : Number.POSITIVE_INFINITY);
    ms.push(r.searchMs ?? r.elapsedMs);
    totalMs.push(r.elapsedMs);
  }
  await factory.dispose?.();
  return { mutant: `${layer.name}/${name}`, runs, ms, totalMs };
}

export interface KillBench {
  readonly mutants: number;
  readonly seeds: number;
  readonly budget: number;
  readonly kills: readonly Kill[];
}

export async function killBench(): Promise<KillBench> {
  const all: Kill[] = [];
  for (const layer of layers)
    for (const m of layer.mutants) if (ONLY.test(`${layer.name}/${m.name}`)) all.push(await kills(layer, m.name));
  return { mutants: all.length, seeds: SEEDS, budget: BUDGET, kills: all };
}

/** The kills as JSON (a survivor's runs are null). */
export const killJson = (k: KillBench) => ({
  ...k,
  kills: k.kills.map((x) => ({ ...x, runs: x.runs.map((r) => (Number.isFinite(r) ? r : null)) })),
});

export function printKills({ kills: all }: KillBench): void {
  const runs = all.flatMap((k) => k.runs);
  const ms = all.flatMap((k) => k.ms);
  const totalMs = all.flatMap((k) => k.totalMs);
  const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "survived");
  console.log(`mutant kills: ${all.length} mutants × ${SEEDS} seeds, budget ${BUDGET.toLocaleString("en-US")} runs`);
  for (const k of all.filter((k) => quantile(k.runs, 0.5) > 100))
    console.log(`  ${k.mutant.padEnd(40)} runs ${k.runs.map(fmt).join(", ")}`);
  console.log(
    `  runs to kill: median ${fmt(quantile(runs, 0.5))}, p90 ${fmt(quantile(runs, 0.9))}, max ${fmt(Math.max(...runs))}`,
  );
  console.log(
    `  ms to find (search only): median ${fmt(quantile(ms, 0.5))}, p90 ${fmt(quantile(ms, 0.9))}, max ${fmt(Math.max(...ms))}`,
  );
  console.log(
    `  ms with shrinking and minimizing: median ${fmt(quantile(totalMs, 0.5))}, p90 ${fmt(quantile(totalMs, 0.9))}, max ${fmt(Math.max(...totalMs))}`,
  );
  console.log(
    `  killed within the default budget (${DEFAULT_RUNS} runs): ${runs.filter((r) => r <= DEFAULT_RUNS).length} of ${runs.length}`,
  );
}
