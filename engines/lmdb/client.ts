// A direct line to one LMDB agent, for what is not the harness's business: the crash campaign (crash.ts) and the
// measured facts (facts.ts) send ops and the agent's own requests ("crashcheck", "bench", the env view) and read the
// answers as they are. The agent runs in a process group of its own, tracked for cleanup like every engine's.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { EngineFailure, isTracked, killGroups, trackGroup } from "../../core/index.ts";
import type { SnapshotObs, SnapshotOp } from "../../models/snapshot/types.ts";
import { lmdbAgent } from "./build.ts";

export interface AgentGeometry {
  readonly trees: number;
  readonly keys: number;
  readonly readers: number;
}

export class LmdbAgent {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer = "";
  private stderr = "";
  private readonly waiting: { resolve: (line: string) => void; reject: (e: EngineFailure) => void }[] = [];
  private readonly lines: string[] = [];
  private gone: EngineFailure | undefined;
  private nextId = 1;

  private constructor(folder: string, geometry: AgentGeometry) {
    const env = {
      ...process.env,
      COWCHECK_PROTOCOL: "1",
      COWCHECK_LAYER: "snapshot",
      COWCHECK_GEOMETRY: JSON.stringify({ flavour: "lmdb", blocks: 16, ...geometry }),
    };
    this.child = spawn(lmdbAgent(), [folder], { stdio: ["pipe", "pipe", "pipe"], detached: true, env });
    if (this.child.pid !== undefined) trackGroup(this.child.pid, true);
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => this.onData(chunk));
    this.child.stderr.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4096);
    });
    this.child.stdin.on("error", () => undefined); // a dead agent is reported by "exit"
    this.child.on("error", (e) => this.die(`could not run the LMDB agent: ${e.message}`));
    this.child.on("exit", (code, signal) => this.die(`the LMDB agent exited (${signal ?? `status ${code}`})`));
  }

  /** An agent with its environments in `folder`, once it said hello. */
  static async start(folder: string, geometry: AgentGeometry): Promise<LmdbAgent> {
    const a = new LmdbAgent(folder, geometry);
    const hello = JSON.parse(await a.next()) as { hello?: { layer?: string } };
    if (hello.hello?.layer !== "snapshot") {
      a.close();
      throw new EngineFailure(
        "protocol",
        `the LMDB agent said ${JSON.stringify(hello).slice(0, 200)} instead of hello`,
      );
    }
    return a;
  }

  /** A request and its answer's payload (obs or state); an `ok:false` answer throws. */
  async request(body: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    if (this.gone) throw this.gone;
    this.child.stdin.write(`${JSON.stringify({ id, ...body })}\n`);
    const r = JSON.parse(await this.next()) as {
      id: number;
      ok: boolean;
      obs?: unknown;
      state?: unknown;
      error?: { message: string };
    };
    if (r.id !== id) throw new EngineFailure("protocol", `the LMDB agent answered id ${r.id} to request ${id}`);
    if (!r.ok)
      throw new EngineFailure(
        "error",
        `the LMDB agent failed on ${JSON.stringify(body).slice(0, 200)}: ${r.error?.message}`,
      );
    return r.obs ?? r.state;
  }

  op(op: SnapshotOp): Promise<SnapshotObs> {
    return this.request({ op }) as Promise<SnapshotObs>;
  }

  /** End the agent (it removes its private folder) and its process group. */
  close(): void {
    if (!this.gone) {
      try {
        this.child.stdin.end(`${JSON.stringify({ id: this.nextId++, bye: true })}\n`);
      } catch {
        // already gone
      }
    }
    const pid = this.child.pid;
    if (pid !== undefined && isTracked(pid)) {
      // give it a moment to remove its folder, then make sure the group is gone
      const kill = (): void => {
        if (isTracked(pid)) killGroups([pid]);
      };
      if (this.gone) kill();
      else {
        this.child.once("exit", kill);
        setTimeout(kill, 1000).unref();
      }
    }
  }

  /** Wait until the agent has exited (after close). */
  exited(): Promise<void> {
    if (this.gone) return Promise.resolve();
    return new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  private next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const w = this.waiting.shift();
      if (w) w.resolve(line);
      else this.lines.push(line);
    }
  }

  private die(message: string): void {
    this.gone ??= new EngineFailure("crash", message, this.stderr.trim() || undefined);
    for (const w of this.waiting.splice(0)) w.reject(this.gone);
    const pid = this.child.pid;
    if (pid !== undefined && isTracked(pid)) killGroups([pid]);
  }
}
