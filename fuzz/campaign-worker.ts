// One stream of a parallel campaign, in a worker thread: resolve the engine by name, run, post the result.
import { parentPort, workerData } from "node:worker_threads";
import { resolveEngine } from "../engines/resolve.ts";
import { findLayer } from "../layers/index.ts";
import { runCampaign } from "./campaign.ts";
import type { StreamJob } from "./parallel.ts";

const job = workerData.job as StreamJob;
const layer = findLayer(job.layer)!;
const result = await runCampaign(layer, resolveEngine(layer, job.spec, { timeoutMs: job.timeoutMs }), {
  ...job.options,
  onProgress: (progress) => parentPort!.postMessage({ progress }),
  onFound: (found) => parentPort!.postMessage({ found }),
});
parentPort!.postMessage({ result });
