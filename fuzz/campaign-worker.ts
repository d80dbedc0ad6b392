// One stream of a parallel campaign, in a worker thread: find the layer through the registry the job names, resolve
// the engines by name, run, post the result; an error goes back as what it was (fuzz/parallel.ts revives it). A pool's
// thread runs such jobs one after another.
import { parentPort, workerData } from "node:worker_threads";
import {
  type AnyLayer,
  type EngineFactory,
  EngineFailure,
  InputError,
  killAllGroups,
  onEngineGroup,
} from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "./campaign.ts";
import type { StreamError, StreamJob } from "./parallel.ts";

// The main thread holds our engines' process groups too (it outlives us), and may ask us to stop.
onEngineGroup((pid, alive) => parentPort!.postMessage({ group: { pid, alive } }));

/** Run one stream, posting its progress, a failure found, and its result or error (each with `tag`, if any). */
async function runJob(job: StreamJob, tag: { n?: number }): Promise<void> {
  const post = (m: object) => parentPort!.postMessage({ ...m, ...tag });
  const opened: EngineFactory[] = [];
  try {
    const { findLayer } = (await import(job.registry)) as { findLayer: (name: string) => AnyLayer | undefined };
    const layer = findLayer(job.layer);
    if (!layer) {
      throw new InputError(
        `worker threads load the layers of ${job.registry}, which has no layer "${job.layer}": a layer registered at run time runs with one worker`,
      );
    }
    const open = async (spec: string) => {
      const f = await resolveEngine(layer, spec, { timeoutMs: job.timeoutMs });
      opened.push(f);
      return f;
    };
    const factory = await open(job.spec);
    const against = job.against === undefined ? undefined : await open(job.against);
    const result = await runCampaign(layer, factory, {
      ...job.options,
      against,
      onProgress: (progress) => post({ progress }),
      onFound: (found) => post({ found }),
    });
    for (const f of opened.splice(0)) await f.dispose?.();
    post({ result });
  } catch (e) {
    const error: StreamError =
      e instanceof EngineFailure
        ? { name: e.name, message: e.message, kind: e.kind, detail: e.detail }
        : e instanceof Error
          ? { name: e.name, message: e.message, detail: e.stack }
          : { name: "Error", message: String(e) };
    post({ error });
  } finally {
    for (const f of opened) await f.dispose?.();
  }
}

// A stream started with its job, or a pool's thread (fuzz/parallel.ts, CampaignPool): jobs one at a time, by message,
// each answer tagged with the job's number.
parentPort!.on("message", (m: { stop?: boolean; job?: StreamJob; n?: number }) => {
  if (m.job) void runJob(m.job, { n: m.n });
  if (!m.stop) return;
  killAllGroups();
  process.exit(0);
});
if (workerData.job) await runJob(workerData.job as StreamJob, {});
