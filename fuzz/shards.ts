// `cowcheck merge`: the report folders of a campaign's shards (`run --shard i/n`, on as many machines) as one report,
// with the verdict the unsharded run would give: shard i runs streams i·w … i·w+w−1, so in shard order the first
// failing shard holds the lowest-numbered failing stream, whose failure decides (fuzz/parallel.ts, mergeStreams).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "../core/index.ts";
import { ReportWriter, type SavedTarget, safe, type TargetRecord } from "../reports/writer.ts";
import { mergeStreams } from "./parallel.ts";

interface Shard {
  readonly dir: string;
  readonly index: number;
  readonly count: number;
  readonly workers: number;
  readonly status: string;
  readonly argv: readonly string[];
  readonly targets: ReadonlyMap<string, SavedTarget>;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new InputError(`${what}: cannot read ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what}: ${file} is not JSON (${(e as Error).message})`);
  }
}

/** A shard's report folder, read: its summary and each target's saved result. */
function readShard(dir: string): Shard {
  const file = join(dir, "summary.json");
  if (!existsSync(file)) throw new InputError(`${dir}: not a cowcheck report folder (no summary.json)`);
  const s = readJson(file, dir) as {
    cowcheck?: number;
    status?: string;
    argv?: string[];
    shard?: { index: number; count: number };
    workers?: number;
    targets?: { label: string }[];
  };
  if (s?.cowcheck !== 1 || !Array.isArray(s.targets) || !Array.isArray(s.argv))
    throw new InputError(`${dir}: summary.json is not a cowcheck summary`);
  const targets = new Map<string, SavedTarget>();
  for (const t of s.targets) {
    const saved = readJson(join(dir, `${safe(t.label)}.result.json`), dir) as SavedTarget;
    if (saved?.cowcheck !== 1 || saved.label !== t.label || typeof saved.result?.status !== "string")
      throw new InputError(`${dir}: ${safe(t.label)}.result.json does not hold target ${t.label}`);
    targets.set(t.label, saved);
  }
  const shard = s.shard ?? { index: 0, count: 1 };
  return {
    dir,
    ...shard,
    workers: s.workers ?? 1,
    status: s.status ?? "running",
    argv: s.argv,
    targets,
  };
}

/** A run's arguments without those that differ between its shards. */
const campaignArgs = (argv: readonly string[]): string => {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--shard" || a === "--report" || a === "--reporter") i++;
    else if (!/^--(shard|report|reporter)=/.test(a) && a !== "--quiet") out.push(a);
  }
  return JSON.stringify(out);
};

/** The shards in order, checked to be one whole campaign: the same arguments, each of 0 … n−1 exactly once. */
function checkShards(shards: Shard[]): Shard[] {
  const sorted = [...shards].sort((a, b) => a.index - b.index);
  const count = sorted[0]!.count;
  for (const s of sorted) {
    if (s.count !== count)
      throw new InputError(
        `${s.dir} is shard ${s.index + 1}/${s.count}, ${sorted[0]!.dir} is shard ${sorted[0]!.index + 1}/${count}: not shards of one campaign`,
      );
    if (s.workers !== sorted[0]!.workers)
      throw new InputError(`${s.dir}: run with ${s.workers} workers, ${sorted[0]!.dir} with ${sorted[0]!.workers}`);
    if (campaignArgs(s.argv) !== campaignArgs(sorted[0]!.argv))
      throw new InputError(
        `${s.dir}: run as "${s.argv.join(" ")}", not as the other shards ("${sorted[0]!.argv.join(" ")}")`,
      );
  }
  const seen = new Map<number, string>();
  for (const s of sorted) {
    const other = seen.get(s.index);
    if (other) throw new InputError(`${other} and ${s.dir} are both shard ${s.index + 1}/${count}`);
    seen.set(s.index, s.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length)
    throw new InputError(`missing shard(s) ${missing.map((i) => `${i + 1}/${count}`).join(", ")} of the campaign`);
  return sorted;
}

/**
 * Merge shard report folders into a new one at `out`: each target's result is its shards' results merged in stream
 * order, so the verdict, the decisive failure and its trace are the unsharded run's. A target a shard did not
 * finish (an interrupted shard) leaves the merged target interrupted unless a shard failed it.
 */
export async function mergeReports(
  dirs: readonly string[],
  out: string,
  argv: readonly string[],
): Promise<{ records: TargetRecord[]; report: ReportWriter; status: "passed" | "failed" | "interrupted" }> {
  if (!dirs.length) throw new InputError("merge: give the shards' report folders");
  const shards = checkShards(dirs.map(readShard));
  for (const s of shards)
    if (resolve(s.dir) === resolve(out))
      throw new InputError(`--report ${out} is one of the shards: merge into a new folder`);
  const labels = [...new Set(shards.flatMap((s) => [...s.targets.keys()]))];
  const report = await ReportWriter.open(out, argv, { workers: shards[0]!.workers * shards.length });
  const records: TargetRecord[] = [];
  let complete = shards.every((s) => s.status === "passed" || s.status === "failed");
  for (const label of labels) {
    const parts = shards.map((s) => s.targets.get(label));
    const present = parts.filter((p): p is SavedTarget => p !== undefined);
    const first = present[0]!;
    // the first shard in stream order that did not pass decides; a shard that never reached the target (it was
    // interrupted) leaves a passing target unfinished
    let result = mergeStreams(present.map((p) => p.result));
    if (result.status === "passed" && present.length < parts.length) result = { ...result, status: "interrupted" };
    if (result.status === "interrupted") complete = false;
    const { against, geometry } = first;
    records.push(report.add(label, first.expect, first.engine, result, { against, geometry }));
  }
  const status = records.some((r) => r.verdict === "bad" && r.result.status !== "interrupted")
    ? "failed"
    : complete
      ? "passed"
      : "interrupted";
  report.finish(status);
  return { records, report, status };
}
