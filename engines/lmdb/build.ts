// Building and placing the LMDB agent (engines/lmdb/agent.c): compiled on first use with the system C compiler into a
// cache folder keyed by the source's hash (as the Linux agent is), linked with -llmdb; its environments live in
// folders below this run's folder (runRoot).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type AnyLayer, EngineFailure, runFolder } from "../../core/index.ts";
import { compiled } from "../build.ts";
import { probedOnce } from "../optional.ts";
import { StdioEngine } from "../stdio.ts";

const source = fileURLToPath(new URL("./agent.c", import.meta.url));
const FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"];
/** -rdynamic: the agent's pwrite, writev, fdatasync… are what liblmdb's calls bind to (its crash log). */
const LINK = ["-rdynamic", "-llmdb", "-ldl"];
const INSTALL = "apt-get install liblmdb-dev";

/** Why the LMDB agent cannot run here (worded to follow "it "), or undefined if it can. Probed once. */
export const lmdbUnavailable = probedOnce(() => probe());

function probe(): string | undefined {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (spawnSync("cc", ["--version"], { stdio: "ignore" }).status !== 0)
    return "needs a C compiler (cc) to build its agent";
  try {
    lmdbAgent();
  } catch (e) {
    const detail = e instanceof EngineFailure ? (e.detail ?? "") : String(e);
    if (/lmdb\.h|-llmdb|cannot find/.test(detail))
      return `needs LMDB's headers and library to build its agent (${INSTALL}): ${firstLine(detail)}`;
    return `cannot build its agent: ${firstLine(detail) || (e as Error).message}`;
  }
  return undefined;
}

const firstLine = (s: string): string => s.split("\n").find((l) => /error/.test(l)) ?? s.split("\n")[0] ?? "";

/** The agent binary, compiled if this source has not been compiled yet. Concurrent callers each rename into place. */
export function lmdbAgent(): string {
  return compiled({
    source,
    prefix: "lmdb-agent-",
    flags: FLAGS,
    libs: LINK,
    what: "the LMDB agent",
    install: INSTALL,
  });
}

/**
 * A folder for LMDB agents below this run's folder, removed by the returned function (and with the run's folder
 * however the run ends). Each agent makes its own private folder inside it.
 */
export function lmdbFolder(prefix = "lmdb-"): { path: string; remove: () => void } {
  return runFolder(prefix);
}

/** The agent's command line for a folder; `exec`: the agent leads its process group, no shell in between. */
export const lmdbCommand = (folder: string): string => `exec ${JSON.stringify(lmdbAgent())} ${JSON.stringify(folder)}`;

/**
 * An agent outside the harness's runs (the crash campaign, the facts script), over a folder of its own: a stdio engine
 * of the layer, whose own requests ("crashcheck", "bench") go through `send`. Its values may run to 16 blocks.
 */
export function startLmdbAgent(
  layer: AnyLayer,
  folder: string,
  geometry: { trees: number; keys: number; readers: number },
): Promise<StdioEngine> {
  // A commit's crash check opens every crash image it allows: far longer than an op.
  return StdioEngine.start(layer, { flavour: "lmdb", blocks: 16, ...geometry }, lmdbCommand(folder), {
    timeoutMs: 300_000,
  });
}
