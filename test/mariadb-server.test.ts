// The private MariaDB server the InnoDB flavour's engine stands on: made from a template made once per machine,
// answering on 127.0.0.1, and gone on every path: stopped, or its holder killed outright (the run's watchdog).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { forgetTemplate, MariadbServer, mariadbUnavailable, mysqlDriver } from "../engines/mariadb/server.ts";

const why = mariadbUnavailable() ?? (process.env.COWCHECK_MYSQL_URL ? "uses COWCHECK_MYSQL_URL's server" : undefined);
if (why) console.warn(`mariadb-server: skipped: it ${why}`);

/** mariadbd processes whose data lies below run folders of `pid` (any pid if undefined). */
const servers = (pid?: number): string[] =>
  spawnSync("pgrep", ["-af", `mariadbd .*--datadir=${tmpdir()}/cowcheck-run-${pid ?? ""}`], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
const runFolders = (pid: number): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith(`cowcheck-run-${pid}-`));

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(why !== undefined)("a private MariaDB server", () => {
  test("made from a fresh template, then from the cached one; it answers; stopped, nothing is left", async () => {
    forgetTemplate();
    for (const round of ["fresh template", "cached template"]) {
      const server = await MariadbServer.start();
      expect(server.url, round).toMatch(/^mysql:\/\/root@127\.0\.0\.1:\d+\/$/);
      const c = await mysqlDriver().module!.createConnection(server.url);
      const [rows] = await c.query("SELECT VERSION() AS v, @@innodb_log_file_size AS log, @@bind_address AS bind");
      expect(rows).toEqual([{ v: expect.stringMatching(/MariaDB/), log: 8 * 1024 * 1024, bind: "127.0.0.1" }]);
      await c.end();
      expect(servers(process.pid)).toHaveLength(1);
      server.stop();
      expect(servers(process.pid)).toEqual([]);
    }
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith("cowcheck-mariadb-"))).toHaveLength(1);
  }, 60_000);

  test("SIGKILL to the process holding a server: the run's watchdog kills the server and removes its data", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/mariadb-holder.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
    });
    await until("the server", () => out.includes("ready"));
    const pid = child.pid!;
    expect(servers(pid)).toHaveLength(1);
    expect(runFolders(pid).some((f) => existsSync(join(tmpdir(), f)))).toBe(true);
    child.kill("SIGKILL");
    await until("the watchdog's sweep", () => servers(pid).length === 0 && runFolders(pid).length === 0, 30_000);
  }, 60_000);
});
