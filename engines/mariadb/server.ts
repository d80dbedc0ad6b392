// MariaDB for the mvcc layer's InnoDB flavour: a private server the engine starts itself (as root, its data in the
// run's folder, on 127.0.0.1 and a free port), or an existing one given by COWCHECK_MYSQL_URL. mariadb-install-db
// takes seconds, so its data folder is made once per machine and server version and copied for each server; the
// server's process group is held by cowcheck (killed when it exits, and by the run's watchdog if it dies unseen),
// and its data goes with the run's folder.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import { EngineFailure, runFolder, trackGroup } from "../../core/index.ts";
import { optionalPackage, probedOnce } from "../optional.ts";
import { freePort, runGroup } from "../servers.ts";

const MARIADBD = "/usr/sbin/mariadbd";

/** mysql2's promise API, loaded on first use. */
export const mysqlDriver = () => optionalPackage<typeof mysql>("mysql2/promise", "^3");

/** The server's version line (`mariadbd --version`), or undefined where there is none. */
const serverVersion = probedOnce(() => {
  if (!existsSync(MARIADBD)) return undefined;
  const v = spawnSync(MARIADBD, ["--version"], { encoding: "utf8" });
  return v.status === 0 ? /Ver (\S+)/.exec(v.stdout)?.[1] : undefined;
});

/** Why MariaDB cannot be an engine here (to follow "it "), or undefined. */
export const mariadbUnavailable = probedOnce(() => {
  const driver = mysqlDriver().why;
  if (driver) return driver.replace("mysql2/promise", "mysql2");
  if (process.env.COWCHECK_MYSQL_URL) return undefined;
  if (!serverVersion() || spawnSync("sh", ["-c", "command -v mariadb-install-db"], { stdio: "ignore" }).status !== 0)
    return "needs MariaDB's server (apt-get install -y mariadb-server) or COWCHECK_MYSQL_URL";
  if (process.getuid?.() !== 0) return "needs root to run its private server (or COWCHECK_MYSQL_URL)";
  return undefined;
});

/**
 * InnoDB settings of every private server (and of the template its data is copied from: the redo log's size is
 * fixed when it is made). Small and unsynced: the data is thrown away with the run.
 */
const INNODB = [
  "--innodb-buffer-pool-size=32M",
  "--innodb-log-file-size=8M",
  "--innodb-flush-log-at-trx-commit=0",
  "--innodb-doublewrite=0",
];

/** A command in a process group of its own, held while it runs: its exit status and output. */
async function run(argv: readonly string[]): Promise<{ status: number | null; output: string }> {
  const r = await runGroup(argv);
  return { status: r.status, output: r.stdout + r.stderr };
}

/**
 * The data folder mariadb-install-db makes, for this server version and these settings: made once below the run's
 * folder (a run killed while making it leaves nothing), then moved beside the run folders, where later runs find it.
 */
async function template(): Promise<string> {
  const cached = join(tmpdir(), `cowcheck-mariadb-${serverVersion()}-template`);
  if (existsSync(join(cached, "mysql"))) return cached;
  const work = runFolder("mariadb-template-");
  const data = join(work.path, "data");
  const made = await run([
    "mariadb-install-db",
    "--no-defaults",
    `--datadir=${data}`,
    "--user=root",
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--skip-name-resolve",
    ...INNODB,
  ]);
  if (made.status !== 0) {
    work.remove();
    throw new EngineFailure("start", `mariadb-install-db failed: ${made.output.trim()}`);
  }
  try {
    renameSync(data, cached);
  } catch {
    // another run made it first: theirs is as good
  }
  work.remove();
  return cached;
}

/** A private MariaDB server (or the one COWCHECK_MYSQL_URL names), stopped and removed on every path. */
export class MariadbServer {
  private constructor(
    /** mysql://root@127.0.0.1:PORT/ — the database the engine works in is its own to create. */
    readonly url: string,
    private readonly folder: { path: string; remove: () => void } | undefined,
    private readonly pid: number | undefined,
  ) {}

  /** How long a server took to answer, once started (for the docs' measured figures). */
  readyMs = 0;

  static async start(): Promise<MariadbServer> {
    if (process.env.COWCHECK_MYSQL_URL) return new MariadbServer(process.env.COWCHECK_MYSQL_URL, undefined, undefined);
    const source = await template();
    const folder = runFolder("mariadb-");
    const data = join(folder.path, "data");
    let port: number;
    try {
      cpSync(source, data, { recursive: true });
      port = await freePort();
    } catch (e) {
      folder.remove(); // a full disk, no port: nothing of this server is left behind
      throw new EngineFailure("start", `could not prepare a MariaDB server: ${(e as Error).message}`);
    }
    const started = performance.now();
    const child = spawn(
      MARIADBD,
      [
        "--no-defaults",
        `--datadir=${data}`,
        `--socket=${join(folder.path, "sock")}`,
        `--pid-file=${join(folder.path, "mariadbd.pid")}`,
        `--log-error=${join(folder.path, "error.log")}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--user=root",
        "--skip-name-resolve",
        ...INNODB,
      ],
      { detached: true, stdio: "ignore" },
    );
    if (child.pid === undefined) {
      folder.remove();
      throw new EngineFailure("start", `could not run ${MARIADBD}`);
    }
    trackGroup(child.pid, true);
    const server = new MariadbServer(`mysql://root@127.0.0.1:${port}/`, folder, child.pid);
    let exited: number | null | undefined;
    child.on("exit", (code) => {
      exited = code;
    });
    const { createConnection } = mysqlDriver().module!;
    for (;;) {
      if (exited !== undefined) {
        const log = readFileSync(join(folder.path, "error.log"), "utf8").trim().split("\n").slice(-5).join("\n");
        server.stop();
        throw new EngineFailure("start", `mariadbd exited (${exited}) before it answered:\n${log}`);
      }
      try {
        const c = await createConnection({ host: "127.0.0.1", port, user: "root" });
        await c.end();
        break;
      } catch {
        if (performance.now() - started > 30_000) {
          server.stop();
          throw new EngineFailure("start", "mariadbd did not answer within 30 s");
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    server.readyMs = performance.now() - started;
    return server;
  }

  /** Kill the server (its data is thrown away: no shutdown is owed) and remove its folder. */
  stop(): void {
    if (this.pid !== undefined) {
      try {
        process.kill(-this.pid, "SIGKILL");
      } catch {
        // gone already
      }
      // its files are removed once it is gone (a dying server may still write one)
      const wait = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 400 && alive(this.pid); i++) Atomics.wait(wait, 0, 0, 5);
      trackGroup(this.pid, false);
    }
    this.folder?.remove();
  }
}

/** Whether the process runs (a zombie, killed and not yet reaped by this process, does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Remove the cached template (a test of the first start, or a server upgrade in place). */
export function forgetTemplate(): void {
  rmSync(join(tmpdir(), `cowcheck-mariadb-${serverVersion()}-template`), { recursive: true, force: true });
}
