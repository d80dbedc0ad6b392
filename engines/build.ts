// C programs an engine runs (the Linux agent, the OverlayFS helper, the LMDB agent, the block-device logger) are
// compiled on first use with the system C compiler into a cache folder ($XDG_CACHE_HOME/cowcheck or
// ~/.cache/cowcheck), keyed by a hash of the source and the command line, so that an edited source is built again
// and an unchanged one never is. Concurrent callers each compile to a file of their own and rename it into place.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { EngineFailure } from "../core/index.ts";

export interface CProgram {
  /** The source file. */
  readonly source: string;
  /** The cached binary's name before its hash, e.g. "lmdb-agent-". */
  readonly prefix: string;
  /** Compiler flags, before the source. */
  readonly flags: readonly string[];
  /** Libraries and linker flags, after the source. */
  readonly libs?: readonly string[];
  /** What it is, for the error ("the LMDB agent"), and how to get what it needs, if anything ("apt-get install …"). */
  readonly what: string;
  readonly install?: string;
}

/** The program's binary, compiled if this source and command line have not been compiled yet. */
export function compiled(p: CProgram): string {
  const libs = p.libs ?? [];
  const line = [...p.flags, ...libs];
  const hash = createHash("sha256").update(readFileSync(p.source)).update(line.join(" ")).digest("hex").slice(0, 16);
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "cowcheck");
  const binary = join(dir, `${p.prefix}${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const r = spawnSync("cc", [...p.flags, "-o", tmp, p.source, ...libs], { encoding: "utf8" });
  if (r.status !== 0)
    throw new EngineFailure(
      "start",
      `compiling ${p.what} failed (cc ${line.join(" ")}${p.install ? `; ${p.install}` : ""})`,
      `${r.stderr ?? ""}${r.error ?? ""}`,
    );
  renameSync(tmp, binary);
  return binary;
}
