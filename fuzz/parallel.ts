// A campaign split into streams (worker threads, shards): stream k runs streamSeed(seed, k) with its share of
// the runs. The verdict is that of the lowest-numbered failing stream, so it does not depend on which thread
// finishes first.
import { Worker } from "node:worker_threads";
import seedrandom from "seedrandom";
import {
  type AnyLayer,
  adoptGroup,
  type CampaignResult,
  type EngineFactory,
  EngineFailure,
  type EngineFailureKind,
  InputError,
  killGroups,
} from "../core/index.ts";
import { type CampaignOptions, type Progress, runCampaign } from "./campaign.ts";
import { mergeCoverage } from "./coverage.ts";
import { addStats, emptyStats } from "./runner.ts";

/**
 * One stream's work, as a worker thread receives it. Factories cannot cross threads, so engines travel by name and
 * the thread resolves them (a worker thread is an entry point), finding the layer through the registry module the
 * caller named.
 */
export interface StreamJob {
  /** URL of the module exporting `findLayer` (the layer registry). */
  readonly registry: string;
  readonly layer: string;
  readonly spec: string;
  readonly against?: string;
  readonly timeoutMs?: number;
  readonly options: Omit<CampaignOptions, "onProgress" | "onFound" | "features" | "against">;
}

/**
 * Stream 0 is the seed itself (one worker, no shards: exactly `--seed N`); other streams get well-mixed seeds,
 * so seed s stream 1 is not seed s+1 stream 0 and shards of neighbouring seeds do not overlap.
 */
export function streamSeed(seed: number, stream: number): number {
  return stream === 0 ? seed : seedrandom(`cowcheck stream ${seed}/${stream}`).int32() >>> 0;
}

/** An engine as the caller resolved it, and its name, for worker threads to resolve it again. */
export interface NamedEngine {
  readonly spec: string;
  readonly factory: EngineFactory;
}

/** An error a worker thread ran into, as it crosses back to the main thread. */
export interface StreamError {
  readonly name: string;
  readonly message: string;
  readonly kind?: EngineFailureKind;
  readonly detail?: string;
}

/** The error again, as the class it was: an input error is the user's (exit 2), an engine failure the engine's (3). */
export function reviveError(e: StreamError): Error {
  if (e.name === "InputError") return new InputError(e.message);
  if (e.name === "EngineFailure") return new EngineFailure(e.kind ?? "error", e.message, e.detail);
  return Object.assign(new Error(e.message), { name: e.name, stack: e.detail });
}

export interface ParallelOptions extends Omit<CampaignOptions, "against"> {
  readonly workers: number;
  /** URL of the module exporting `findLayer`, for the worker threads (see StreamJob). */
  readonly registry: string;
  /** The reference engine, for `--against`. */
  readonly against?: NamedEngine;
  /** Index of this run's first stream (shard i of workers w starts at i·w). */
  readonly firstStream?: number;
  /** Per-message timeout for stdio engines. */
  readonly timeoutMs?: number;
  /** With one worker: run the stream on a thread of this pool (so that several campaigns run at once, one per core). */
  readonly pool?: CampaignPool;
}

/**
 * Threads kept to run single-stream campaigns side by side (`cowcheck run`'s targets, one per core): each runs one
 * campaign at a time, exactly as this thread would (the same stream), and is started once for all of them.
 */
export class CampaignPool {
  private readonly threads: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private jobs = 0;

  constructor(readonly size: number) {}

  async run(layer: AnyLayer, engine: NamedEngine, o: ParallelOptions): Promise<CampaignResult> {
    const w = await this.take();
    const n = this.jobs++;
    let on: (m: PoolMessage) => void = () => undefined;
    let gone: (e?: unknown) => void = () => undefined;
    try {
      return await new Promise<CampaignResult>((resolve, reject) => {
        gone = (e) => reject(e instanceof Error ? e : new Error("a campaign thread exited"));
        on = (m) => {
          if (m.n !== n) return;
          if (m.progress) o.onProgress?.(m.progress);
          if (m.found) o.onFound?.(m.found);
          if (m.result) resolve(m.result);
          if (m.error) reject(reviveError(m.error));
        };
        w.on("message", on).on("error", gone).on("exit", gone);
        w.postMessage({ n, job: jobOf(layer, engine, o, 0, o.runs) });
      });
    } finally {
      w.off("message", on).off("error", gone).off("exit", gone);
      // a thread that died is dropped (take() starts another); a live one is free again
      if (w.threadId === -1) this.threads.splice(this.threads.indexOf(w), 1);
      else this.idle.push(w);
      const next = this.waiting.shift();
      if (next) void this.take().then(next);
    }
  }

  private take(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.threads.length < this.size) {
      const t = startWorker(undefined);
      t.on("message", adopt);
      this.threads.push(t);
      return Promise.resolve(t);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

interface PoolMessage {
  readonly n?: number;
  readonly progress?: Progress;
  readonly found?: CampaignResult;
  readonly result?: CampaignResult;
  readonly error?: StreamError;
}

/** A thread's engine process groups, held by this thread too: they die with cowcheck even if the thread cannot clean up. */
const adopt = (m: { group?: { pid: number; alive: boolean } }): void => {
  if (m.group) adoptGroup(m.group.pid, m.group.alive);
};

/** Stream `k`'s job, as a thread receives it. */
function jobOf(layer: AnyLayer, engine: NamedEngine, o: ParallelOptions, k: number, runs: number): StreamJob {
  const { workers, timeoutMs, onProgress, onFound, firstStream = 0, registry, against, pool, ...options } = o;
  return {
    registry,
    layer: layer.name,
    spec: engine.spec,
    against: against?.spec,
    timeoutMs,
    options: { ...options, seed: streamSeed(options.seed, firstStream + k), runs },
  };
}

/**
 * A thread running one stream. Built, the worker module is JavaScript; run from the TypeScript sources, the thread
 * registers tsx first (worker-entry.js), as bin/cowcheck.js does for the main thread.
 */
function startWorker(job: StreamJob | undefined): Worker {
  const module = new URL(`./campaign-worker${SOURCE ? ".ts" : ".js"}`, import.meta.url);
  if (!SOURCE) return new Worker(module, { workerData: { job } });
  return new Worker(new URL("./worker-entry.js", import.meta.url), { workerData: { module: module.href, job } });
}

const SOURCE = import.meta.url.endsWith(".ts");

/**
 * The engines are borrowed: with one worker they run in this thread (or on a thread of `pool`); with more, each
 * thread resolves its own from their names and disposes them.
 */
export async function runParallelCampaign(
  layer: AnyLayer,
  engine: NamedEngine,
  o: ParallelOptions,
): Promise<CampaignResult> {
  const { workers, onProgress, onFound, firstStream = 0, against, pool, ...options } = o;
  if (workers <= 1 && pool) return pool.run(layer, engine, o);
  if (workers <= 1) {
    return runCampaign(layer, engine.factory, {
      ...options,
      onProgress,
      onFound,
      against: against?.factory,
      seed: streamSeed(o.seed, firstStream),
    });
  }
  const runs = Math.ceil(options.runs / workers);
  const latest: Progress[] = Array.from({ length: workers }, () => ({
    runs: 0,
    ops: 0,
    elapsedMs: 0,
    phase: "fuzz" as const,
  }));
  const threads: Worker[] = [];
  const results: (CampaignResult | undefined)[] = new Array(workers);
  const groups: Set<number>[] = Array.from({ length: workers }, () => new Set());
  let foundBy = workers; // the lowest stream that has reported a failure so far
  /** Ask a stream to stop (it kills its engines and exits), and terminate it if it does not. */
  const stop = (j: number): void => {
    threads[j]?.postMessage({ stop: true });
    setTimeout(() => void threads[j]?.terminate(), 1000).unref();
  };
  const settled = Array.from({ length: workers }, (_, k) => {
    const worker = startWorker(jobOf(layer, engine, o, k, runs));
    threads.push(worker);
    return new Promise<void>((resolve, reject) => {
      worker.on(
        "message",
        (m: {
          progress?: Progress;
          found?: CampaignResult;
          result?: CampaignResult;
          error?: StreamError;
          group?: { pid: number; alive: boolean };
        }) => {
          if (m.error) {
            reject(reviveError(m.error));
            return;
          }
          if (m.group) {
            adopt(m); // the main thread holds the worker's engine process groups
            if (m.group.alive) groups[k].add(m.group.pid);
            else groups[k].delete(m.group.pid);
          }
          if (m.found && k < foundBy) {
            foundBy = k; // as for the verdict, the lowest stream's failure is the one kept
            onFound?.(m.found);
          }
          if (m.progress) {
            latest[k] = m.progress;
            onProgress?.({
              runs: latest.reduce((a, p) => a + p.runs, 0),
              ops: latest.reduce((a, p) => a + p.ops, 0),
              elapsedMs: Math.max(...latest.map((p) => p.elapsedMs)),
              phase: latest.some((p) => p.phase === "shrink") ? "shrink" : "fuzz",
              shrink: latest.find((p) => p.shrink)?.shrink,
            });
          }
          if (m.result) {
            results[k] = m.result;
            // Streams after a failing one cannot change the verdict: stop them.
            if (m.result.status !== "passed") for (let j = k + 1; j < workers; j++) stop(j);
            resolve();
          }
        },
      );
      worker.on("error", reject);
      worker.on("exit", () => resolve());
    });
  });
  try {
    await Promise.all(settled);
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
    killGroups(groups.flatMap((g) => [...g])); // whatever a stopped or terminated stream left running
  }
  const done = results.filter((r): r is CampaignResult => r !== undefined);
  if (!done.length) throw new Error("no worker finished its stream");
  return mergeStreams(done);
}

/**
 * One verdict from the results of consecutive streams, in stream order (threads of one run, or the shards of a
 * campaign merged by `cowcheck merge`): the lowest-numbered failing stream's failure decides (else an interrupted
 * stream's: the verdict is unfinished); runs and ops add up,
 * the time is the longest stream's, coverage and lockstep statistics are pooled.
 */
export function mergeStreams(done: readonly CampaignResult[]): CampaignResult {
  const decisive =
    done.find((r) => r.status === "failed" || r.status === "engine-failure") ??
    done.find((r) => r.status !== "passed") ??
    done[0]!;
  const ops = done.reduce((a, r) => a + r.ops, 0);
  const structure = done.some((r) => r.structure)
    ? done.reduce((a, r) => (r.structure ? addStats(a, r.structure) : a), emptyStats())
    : undefined;
  return {
    ...decisive, // its seed is the stream's own, the one that reproduces it
    runs: done.reduce((a, r) => a + r.runs, 0),
    ops,
    elapsedMs: Math.max(...done.map((r) => r.elapsedMs)),
    structure,
    checked: mergeCoverage(
      done.map((r) => r.checked),
      ops,
      structure?.compared,
    ),
  };
}
