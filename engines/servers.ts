// What engines over a private database server share: a free TCP port on the loopback interface, a factory that
// starts the server once per run, and the list of statements an op woke.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { type Engine, type EngineFactory, trackGroup } from "../core/index.ts";

/**
 * A command run without blocking, in a session and process group of its own (a Ctrl-C at the terminal does not
 * reach it; cowcheck stops it, and a killed run's watchdog does), held as an engine group while it runs: its exit
 * status, its output, and whether `timeoutMs` passed first (it is then killed).
 */
export function runGroup(
  argv: readonly string[],
  timeoutMs?: number,
): Promise<{ status: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const out = { stdout: "", stderr: "", timedOut: false };
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out.stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      out.stderr += s;
    });
    if (child.pid !== undefined) trackGroup(child.pid, true);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            out.timedOut = true;
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
          }, timeoutMs);
    const done = (status: number | null) => {
      clearTimeout(timer);
      if (child.pid !== undefined) trackGroup(child.pid, false);
      resolve({ status, ...out });
    };
    child.on("error", (e) => {
      out.stderr += e.message;
      done(null); // it never started ("close" may not follow)
    });
    child.on("close", done);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * An engine factory over one private server for a whole run (started at the first sequence, stopped at dispose):
 * each sequence gets a fresh engine on it.
 */
export function serverFactory<S extends { stop(): void }>(
  name: string,
  start: () => Promise<S>,
  engine: (server: S, geometry: unknown) => Promise<Engine<unknown, unknown>>,
): EngineFactory {
  let server: Promise<S> | undefined;
  return {
    name,
    async create(geometry) {
      server ??= start();
      return engine(await server, geometry);
    },
    async dispose() {
      const starting = server;
      server = undefined;
      // a server that failed to start has cleaned up after itself
      (await starting?.catch(() => undefined))?.stop();
    },
  };
}

/**
 * An op's observation with the answers of the statements it woke (the connections whose pending statement has
 * settled), listed by client: waiters woken together finish in no fixed order. Their pending marks are cleared.
 */
export function withWoken<R, O extends object>(
  obs: O,
  conns: Map<number, { pending?: { settled?: R } }>,
): O | (O & { unblocked: { tx: number; result: R }[] }) {
  const woken = [...conns.entries()]
    .filter(([, c]) => c.pending?.settled)
    .sort(([a], [b]) => a - b)
    .map(([tx, c]) => {
      const result = c.pending!.settled!;
      c.pending = undefined;
      return { tx, result };
    });
  if (!woken.length || "skipped" in obs) return obs;
  return { ...obs, unblocked: woken };
}
