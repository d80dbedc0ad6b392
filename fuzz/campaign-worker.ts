// One stream of a parallel campaign, in a worker thread: find the layer through the registry the job names, resolve
// the engines by name, run, post the result.
import { parentPort, workerData } from "node:worker_threads";
import { type AnyLayer, killAllGroups, onEngineGroup } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "./campaign.ts";
import type { StreamJob } from "./parallel.ts";

const job = workerData.job as StreamJob;
// The main thread holds our engines' process groups too (it outlives us), and may ask us to stop.
onEngineGroup((pid, alive) => parentPort!.postMessage({ group: { pid, alive } }));
parentPort!.on("message", (m: { stop?: boolean }) => {
  if (!m.stop) return;
  killAllGroups();
  process.exit(0);
});
const { findLayer } = (await import(job.registry)) as { findLayer: (name: string) => AnyLayer | undefined };
const layer = findLayer(job.layer);
if (!layer) throw new Error(`the registry ${job.registry} has no layer "${job.layer}"`);
const factory = await resolveEngine(layer, job.spec, { timeoutMs: job.timeoutMs });
const against =
  job.against === undefined ? undefined : await resolveEngine(layer, job.against, { timeoutMs: job.timeoutMs });
const result = await runCampaign(layer, factory, {
  ...job.options,
  against,
  onProgress: (progress) => parentPort!.postMessage({ progress }),
  onFound: (found) => parentPort!.postMessage({ found }),
});
parentPort!.postMessage({ result });
