// One stream of a parallel campaign, in a worker thread: resolve the engine by name, run, post the result.
import { parentPort, workerData } from "node:worker_threads";
import { resolveEngine } from "../engines/resolve.ts";
import { killAllGroups, onEngineGroup } from "../engines/stdio.ts";
import { findLayer } from "../layers/index.ts";
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
const layer = findLayer(job.layer)!;
const result = await runCampaign(layer, resolveEngine(layer, job.spec, { timeoutMs: job.timeoutMs }), {
  ...job.options,
  onProgress: (progress) => parentPort!.postMessage({ progress }),
  onFound: (found) => parentPort!.postMessage({ found }),
});
parentPort!.postMessage({ result });
