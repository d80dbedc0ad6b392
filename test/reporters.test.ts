// Reports for CI. junit.xml as CI servers read it: valid against the JUnit schema Jenkins validates with
// (test/fixtures/junit-10.xsd, checked by xmllint), with totals, a failure's type (the property; an engine failure's kind), the explanation in
// system-out, and per target the seed, engine, geometry and replay command, for a passing run, a failing one and an
// engine that fails; and the --reporter choices (github annotations, summary.json or junit.xml on stdout).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { main } from "../cli/main.ts";

const xmllint = spawnSync("xmllint", ["--version"]).error ? "needs xmllint (apt-get install libxml2-utils)" : undefined;
if (xmllint) console.log(`skipping the junit.xml schema tests: it ${xmllint}`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function junitOf(args: string[]): Promise<{ code: number; xml: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "cowcheck-junit-"));
  dirs.push(dir);
  const code = await main([...args, "--report", dir, "--quiet"]);
  return { code, xml: readFileSync(join(dir, "junit.xml"), "utf8"), dir };
}

function validate(dir: string): void {
  const r = spawnSync("xmllint", ["--noout", "--schema", "test/fixtures/junit-10.xsd", join(dir, "junit.xml")], {
    encoding: "utf8",
  });
  expect(r.stderr).toMatch(/validates/);
  expect(r.status).toBe(0);
}

describe.skipIf(xmllint !== undefined)("junit.xml", () => {
  test("a passing run: valid, totals on the root, how to run it again as properties", async () => {
    const { code, xml, dir } = await junitOf([
      "run",
      "--layer",
      "mm",
      "--engine",
      "model",
      "--runs",
      "20",
      "--seed",
      "7",
    ]);
    expect(code).toBe(0);
    validate(dir);
    expect(xml).toMatch(/<testsuites name="cowcheck" tests="1" failures="0" errors="0" time="[\d.]+">/);
    expect(xml).toContain('<property name="seed" value="7"/>');
    expect(xml).toContain('<property name="engine" value="model"/>');
    expect(xml).not.toContain("<failure");
  });

  test("a failing run: the failure's type is the property, the explanation in system-out, a replay command", async () => {
    const { code, xml, dir } = await junitOf([
      "run",
      "--layer",
      "mm",
      "--engine",
      "mutant:fork-parent-writable",
      "--runs",
      "200",
    ]);
    expect(code).toBe(1);
    validate(dir);
    expect(xml).toMatch(/<testsuites name="cowcheck" tests="1" failures="1" errors="0"/);
    expect(xml).toMatch(/<failure type="private-writable-exclusive" message="[^"]+">/);
    expect(xml).toMatch(/<system-out>[\s\S]+<\/system-out>/);
    expect(xml).toMatch(/<property name="geometry" value="\{&quot;pageSize&quot;/);
    const replay =
      /<property name="replay-command" value="npx cowcheck replay ([^ ]+) --engine mutant:fork-parent-writable"\/>/.exec(
        xml,
      );
    expect(replay?.[1]).toBe(join(dir, "mm-mutant_fork-parent-writable.trace.json"));
    expect(readFileSync(replay![1]!, "utf8")).toContain('"layer": "mm"');
  });

  test("an engine that fails: an error whose type is the failure's kind, still valid", async () => {
    const { code, xml, dir } = await junitOf([
      "run",
      "--layer",
      "mm",
      "--engine",
      "stdio:echo '<not json> & \u0007'",
      "--runs",
      "3",
    ]);
    expect(code).toBe(3);
    validate(dir);
    expect(xml).toMatch(/<testsuites name="cowcheck" tests="1" failures="0" errors="1"/);
    expect(xml).toMatch(/<error type="(protocol|crash|start)" message="/);
  });
});

describe("--reporter", () => {
  const cli = (args: string[]): { status: number | null; stdout: string } => {
    const dir = mkdtempSync(join(tmpdir(), "cowcheck-reporter-"));
    dirs.push(dir);
    const r = spawnSync(process.execPath, ["bin/cowcheck.js", ...args, "--report", dir], { encoding: "utf8" });
    return { status: r.status, stdout: r.stdout };
  };
  const failing = ["run", "--layer", "mm", "--engine", "mutant:fork-parent-writable", "--runs", "200"];

  test("github: an ::error annotation per failure, naming the trace, title and message escaped", () => {
    const r = cli([...failing, "--reporter", "github"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /^::error file=\/[^,]*mm-mutant_fork-parent-writable\.trace\.json,title=cowcheck mm-mutant%3Afork-parent-writable%3A private-writable-exclusive::pid 1 page 0: writable private PTE/m,
    );
    expect(r.stdout).toContain("FAILED"); // the terminal's output is there too
  });

  test("json: summary.json alone on stdout", () => {
    const r = cli([...failing, "--reporter", "json"]);
    expect(r.status).toBe(1);
    const summary = JSON.parse(r.stdout) as { status: string; targets: { status: string }[] };
    expect(summary.status).toBe("failed");
    expect(summary.targets[0]?.status).toBe("failed");
  });

  test.skipIf(xmllint !== undefined)("junit: junit.xml alone on stdout, valid", () => {
    const r = cli([...failing, "--reporter", "junit"]);
    expect(r.status).toBe(1);
    const v = spawnSync("xmllint", ["--noout", "--schema", "test/fixtures/junit-10.xsd", "-"], {
      input: r.stdout,
      encoding: "utf8",
    });
    expect(v.status, v.stderr).toBe(0);
    expect(r.stdout).toContain('<failure type="private-writable-exclusive"');
  });

  test("an unknown reporter is bad input (exit 2)", () => {
    expect(cli(["run", "--layer", "mm", "--reporter", "tap"]).status).toBe(2);
  });
});
