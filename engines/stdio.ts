// Client side of the JSON-lines engine protocol (version 1): any program, any language, one JSON object per line.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { z } from "zod";
import {
  type AnyLayer,
  describeIssue,
  type Engine,
  type EngineFactory,
  EngineFailure,
  excerpt,
  isTracked,
  killGroups,
  runRoot,
  trackGroup,
} from "../core/index.ts";

export interface StdioOptions {
  /** Per-message timeout (each op, inspect, reset); default 10 s. */
  readonly timeoutMs?: number;
  /**
   * How long the engine may take to say hello: starting a program (compiling, loading a runtime) takes longer than
   * answering an op, the more so on a loaded machine. Default 30 s, or the per-message timeout if that is longer.
   */
  readonly startTimeoutMs?: number;
  /** Longest line accepted from the engine, in characters (default 16 Mi). */
  readonly maxLineLength?: number;
}

const hello = z.object({
  hello: z.object({
    protocol: z.literal(1),
    layer: z.string(),
    name: z.string().optional(),
    features: z.array(z.string()).default([]),
  }),
});

const reply = z.union([
  z
    .object({ id: z.number().int(), ok: z.literal(true), obs: z.unknown().optional(), state: z.unknown().optional() })
    .strict(),
  z
    .object({ id: z.number().int(), ok: z.literal(false), error: z.object({ message: z.string() }).passthrough() })
    .strict(),
]);

type Pending = { resolve: (line: string) => void; reject: (e: EngineFailure) => void };

/** Keeps the last few KiB of the engine's stderr, for failure reports. */
class Tail {
  private text = "";
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-4096);
  }
  toString(): string {
    return this.text.trim();
  }
}

export class StdioEngine implements Engine<unknown, unknown, unknown> {
  readonly layer: string;
  features: ReadonlySet<string> = new Set();
  name = "";
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly stderr = new Tail();
  private partial: string[] = [];
  private partialLength = 0;
  private readonly lines: string[] = [];
  private waiting: Pending | undefined;
  private dead: EngineFailure | undefined;
  private nextId = 1;
  private readonly timeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly maxLineLength: number;

  private constructor(
    private readonly layerDesc: AnyLayer,
    private readonly geometry: unknown,
    readonly command: string,
    options: StdioOptions,
  ) {
    this.layer = layerDesc.name;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.startTimeoutMs = options.startTimeoutMs ?? Math.max(this.timeoutMs, 30_000);
    this.maxLineLength = options.maxLineLength ?? 16 << 20;
    // The engine learns its layer and geometry from the environment (the protocol's messages do not carry them).
    const env = {
      ...process.env,
      COWCHECK_PROTOCOL: "1",
      COWCHECK_LAYER: layerDesc.name,
      COWCHECK_GEOMETRY: JSON.stringify(geometry),
    };
    // The run's folder and its watchdog first: the group is then in the journal a moment after the spawn, not after
    // the watchdog's own start (a SIGKILL in between would leave the engine's helpers to nobody).
    runRoot();
    this.child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], detached: true, env });
    if (this.child.pid !== undefined) trackGroup(this.child.pid, true);
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => this.onData(chunk));
    this.child.stderr.on("data", (chunk: string) => this.stderr.push(chunk));
    this.child.stdin.on("error", () => undefined); // EPIPE surfaces as the exit below
    this.child.on("error", (e) =>
      this.fail(new EngineFailure("start", `cannot start engine "${command}": ${e.message}`)),
    );
    this.child.on("exit", (code, signal) => {
      // "exit" may come before the last of stderr is read (a busy machine): wait for its end, briefly
      const report = () =>
        this.fail(
          new EngineFailure(
            "crash",
            `engine "${command}" exited (${signal ? `signal ${signal}` : `code ${code}`})`,
            this.stderr.toString() || undefined,
          ),
        );
      if (this.child.stderr.readableEnded) return report();
      const late = setTimeout(report, 200);
      this.child.stderr.once("end", () => {
        clearTimeout(late);
        report();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(
    layer: AnyLayer,
    geometry: unknown,
    command: string,
    options: StdioOptions = {},
  ): Promise<StdioEngine> {
    const engine = new StdioEngine(layer, geometry, command, options);
    try {
      const line = await engine.next("hello");
      const h = engine.parse(line, hello, "hello").hello;
      if (h.layer !== layer.name)
        throw new EngineFailure("protocol", `engine speaks layer "${h.layer}", expected "${layer.name}"`);
      engine.features = new Set(h.features);
      engine.name = h.name ?? command;
      return engine;
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  async apply(op: unknown): Promise<unknown> {
    const r = await this.request({ op });
    const obs = this.layerDesc.obsSchema.safeParse(r.obs);
    if (!obs.success) {
      const issue = obs.error.issues[0];
      const where = issue.path.length ? ` (${describeIssue("obs", issue)})` : "";
      throw new EngineFailure(
        "protocol",
        `engine answered op ${excerpt(op, 500)} with ${excerpt(r.obs, 500)}${where.slice(0, 300)}, which is none of the ${this.layer} observations: ${this.layerDesc.observations}`,
      );
    }
    return obs.data;
  }

  /** A request of the engine's own, beyond ops, inspect and reset (an agent's measuring requests): its payload as sent. */
  async send(body: Record<string, unknown>): Promise<unknown> {
    const r = await this.request(body);
    return r.obs ?? r.state;
  }

  /** Back to the initial state, for engines that offer the "reset" feature: one process serves many sequences. */
  async reset(): Promise<void> {
    await this.request({ reset: true });
  }

  /** Still running and in step with the protocol. */
  get healthy(): boolean {
    return this.dead === undefined;
  }

  async inspect(): Promise<unknown> {
    const r = await this.request({ inspect: true });
    try {
      return this.layerDesc.decodeState(r.state, this.geometry);
    } catch (e) {
      const detail = e instanceof z.ZodError ? describeIssue("state", e.issues[0]) : (e as Error).message.slice(0, 500);
      throw new EngineFailure("protocol", `engine's inspect state is malformed: ${detail}`);
    }
  }

  async inspectView(name: string): Promise<unknown> {
    const v = this.layerDesc.views?.find((x) => x.name === name);
    if (!v) throw new Error(`layer ${this.layer} has no view "${name}"`);
    const r = await this.request({ inspect: name });
    try {
      return v.decode(r.state);
    } catch (e) {
      const detail = e instanceof z.ZodError ? describeIssue("state", e.issues[0]) : (e as Error).message.slice(0, 500);
      throw new EngineFailure("protocol", `engine's ${name} view is malformed: ${detail}`);
    }
  }

  async close(): Promise<void> {
    if (!this.dead) {
      try {
        this.child.stdin.write(`${JSON.stringify({ id: this.nextId++, bye: true })}\n`);
        this.child.stdin.end();
      } catch {
        // already gone
      }
      const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      const timer = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
      await Promise.race([exited, timer]);
    }
    this.killGroup();
  }

  /** Kill the engine's whole process group, helpers it started included, even after its shell has exited. */
  private killGroup(): void {
    const pid = this.child.pid;
    if (pid === undefined || !isTracked(pid)) return;
    killGroups([pid]);
    trackGroup(pid, false);
  }

  private async request(body: Record<string, unknown>): Promise<{ obs?: unknown; state?: unknown }> {
    const id = this.nextId++;
    const what = "op" in body ? `op ${JSON.stringify(body.op)}` : Object.keys(body)[0];
    if (this.dead) throw this.dead;
    this.child.stdin.write(`${JSON.stringify({ id, ...body })}\n`);
    const line = await this.next(what);
    const r = this.parse(line, reply, what);
    if (r.id !== id)
      throw this.fail(new EngineFailure("protocol", `engine answered id ${r.id} to request ${id} (${what})`));
    if (!r.ok)
      throw this.fail(
        new EngineFailure(
          "error",
          `engine reported an error on ${what}: ${r.error.message}`,
          this.stderr.toString() || undefined,
        ),
      );
    return r;
  }

  private parse<T>(line: string, schema: z.ZodType<T>, what: string): T {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw this.fail(
        new EngineFailure(
          "protocol",
          `engine printed a line that is not JSON (waiting for ${what}): ${line.slice(0, 200)} — stdout carries only protocol messages; log to stderr`,
        ),
      );
    }
    const r = schema.safeParse(json);
    if (!r.success)
      throw this.fail(
        new EngineFailure(
          "protocol",
          `engine's answer to ${what} breaks the protocol: ${r.error.issues[0].message} in ${line.slice(0, 200)}`,
        ),
      );
    return r.data;
  }

  /** Split stdout into lines, scanning each chunk once; a partial line longer than the limit is a violation. */
  private onData(chunk: string): void {
    let start = 0;
    let nl: number;
    for (nl = chunk.indexOf("\n", start); nl >= 0; nl = chunk.indexOf("\n", start)) {
      const piece = chunk.slice(start, nl);
      const line = this.partial.length ? this.partial.join("") + piece : piece;
      this.partial = [];
      this.partialLength = 0;
      start = nl + 1;
      if (line.length > this.maxLineLength) return void this.fail(this.tooLong());
      if (line.trim() !== "") this.lines.push(line);
    }
    if (start < chunk.length) {
      this.partial.push(chunk.slice(start));
      this.partialLength += chunk.length - start;
      if (this.partialLength > this.maxLineLength) return void this.fail(this.tooLong());
    }
    this.deliver();
  }

  private tooLong(): EngineFailure {
    return new EngineFailure("protocol", `engine printed a line longer than ${this.maxLineLength} characters`);
  }

  private deliver(): void {
    if (this.waiting && this.lines.length) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(this.lines.shift()!);
    }
  }

  private next(what: string): Promise<string> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.dead) return Promise.reject(this.dead);
    const limit = what === "hello" ? this.startTimeoutMs : this.timeoutMs;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        const late = what === "hello" ? "did not say hello" : `did not answer ${what}`;
        reject(
          this.fail(
            new EngineFailure("hang", `engine ${late} within ${limit} ms`, this.stderr.toString() || undefined),
          ),
        );
      }, limit);
      this.waiting = {
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.deliver();
    });
  }

  /** Record the engine as failed (first cause wins), wake any waiter, stop the process. */
  private fail(e: EngineFailure): EngineFailure {
    if (!this.dead) this.dead = e;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.dead);
    this.killGroup();
    return this.dead;
  }
}

export interface StdioFactoryOptions extends StdioOptions {
  /** The factory's name (default `<layer>:stdio:<command>`). */
  readonly name?: string;
}

/**
 * A stdio engine per sequence; an engine that offers "reset" is kept when a sequence ends and reset for the
 * next one (same geometry), instead of a new process each time. A failed reset is an engine failure. `command`
 * may be computed on first use (a program built on demand).
 */
export function stdioFactory(
  layer: AnyLayer,
  command: string | (() => string),
  options: StdioFactoryOptions = {},
): EngineFactory {
  let idle: { engine: StdioEngine; geometry: string } | undefined;
  let resolved: string | undefined;
  const commandLine = (): string => {
    resolved ??= typeof command === "string" ? command : command();
    return resolved;
  };
  const dispose = async (): Promise<void> => {
    const e = idle?.engine;
    idle = undefined;
    await e?.close();
  };
  return {
    name: options.name ?? `${layer.name}:stdio:${typeof command === "string" ? command : "(built on demand)"}`,
    dispose,
    fresh: dispose, // the next create starts a new process
    async create(g): Promise<Engine<unknown, unknown>> {
      const geometry = JSON.stringify(g);
      let engine = idle?.geometry === geometry ? idle.engine : undefined;
      if (engine) {
        idle = undefined;
        await engine.reset();
      } else {
        await dispose();
        engine = await StdioEngine.start(layer, g, commandLine(), options);
      }
      if (!engine.features.has("reset")) return engine;
      const e = engine;
      return {
        layer: e.layer,
        features: e.features,
        apply: (op) => e.apply(op),
        inspect: () => e.inspect(),
        inspectView: (name) => e.inspectView(name),
        close: async () => {
          if (e.healthy && !idle) idle = { engine: e, geometry };
          else await e.close();
        },
      };
    },
  };
}
