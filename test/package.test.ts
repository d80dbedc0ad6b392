// cowcheck as a user installs it: `npm pack` packs the build (JavaScript and type definitions in dist/, made by
// `npm run build`), the tarball is installed into a fresh project, and used there from the command line, from plain
// Node and from a TypeScript file checked against the shipped types. The drivers of real systems are not installed
// with it.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, expect, test } from "vitest";
// @ts-expect-error: a plain JavaScript module of bin/, without types
import { buildIsCurrent } from "../bin/sources.js";
import { tempDirs } from "./helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const { version } = (await import("../package.json", { with: { type: "json" } })).default;
let project: string;
const packDir = tempDirs("cowcheck-pack-");
const userDir = tempDirs("cowcheck-user-");

function run(cmd: string, args: readonly string[], cwd: string) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
}

/**
 * The installed command, as npx runs it: its bin link in the project (`npx --no-install cowcheck`, itself checked
 * once below, resolves to it and adds most of a second to each start).
 */
const cowcheck = (args: readonly string[]) => run(join(project, "node_modules", ".bin", "cowcheck"), args, project);

beforeAll(() => {
  // The build is made here only if it is not the sources' (bin/sources.js): other test files run bin/cowcheck.js
  // meanwhile, which runs a current build, and npm pack's own prepare would remove it under them.
  if (!buildIsCurrent(root)) expect(run("npm", ["run", "build"], root).status).toBe(0);
  const packed = packDir();
  const pack = run("npm", ["pack", "--ignore-scripts", "--pack-destination", packed, "--silent"], root);
  expect(pack.status, pack.out).toBe(0);
  const tarball = join(packed, readdirSync(packed).find((f) => f.endsWith(".tgz"))!);
  project = userDir();
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }));
  const install = run("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund"], project);
  expect(install.status, install.out).toBe(0);
}, 600_000);

test("the package ships JavaScript, type definitions and the agents' C sources, and no TypeScript to compile", () => {
  const files = run("find", ["node_modules/cowcheck", "-type", "f"], project).stdout.split("\n").filter(Boolean);
  const shipped = files.map((f) => f.slice("node_modules/cowcheck/".length));
  expect(shipped).toContain("dist/index.js");
  expect(shipped).toContain("dist/index.d.ts");
  expect(shipped).toContain("dist/cli/main.js");
  expect(shipped).toContain("dist/engines/linux/agent.c");
  expect(shipped).toContain("dist/engines/overlayfs/helper.c");
  expect(shipped.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  // the drivers of real systems are optional: installing cowcheck compiles nothing
  expect(readdirSync(join(project, "node_modules"))).not.toContain("better-sqlite3");
  expect(readdirSync(join(project, "node_modules"))).not.toContain("pg");
});

test("the command: --version, a short run, and the engines it cannot run without a driver say how to add it", () => {
  const v = run("npx", ["--no-install", "cowcheck", "--version"], project);
  expect(v.stdout.trim()).toBe(version);
  const r = cowcheck(["run", "--layer", "mm", "--engine", "model", "--runs", "30", "--quiet"]);
  expect(r.status, r.out).toBe(0);
  expect(r.stdout).toMatch(/mm model\s+passed {3}30 runs/);
  const engines = cowcheck(["engines", "--layer", "mvcc"]);
  expect(engines.stdout).toMatch(/sqlite\s+no\s+.*npm install better-sqlite3@\^12/);
  expect(engines.stdout).toMatch(/postgres\s+no\s+.*npm install pg@\^8/);
  const sqlite = cowcheck(["run", "--layer", "mvcc", "--engine", "sqlite"]);
  expect(sqlite.status).toBe(2);
  expect(sqlite.out).toContain("the sqlite engine cannot run here: it needs the better-sqlite3 package");
});

test("from the build: worker threads, and an engine module in TypeScript loaded as CommonJS", () => {
  const workers = ["run", "--layer", "mm", "--engine", "mutant:wp-copy-leak", "--workers", "2", "--runs", "400"];
  const w = cowcheck([...workers, "--quiet", "--report", "r1"]);
  expect(w.status, w.out).toBe(1);
  expect(w.stdout).toMatch(/mm mutant:wp-copy-leak\s+FAILED {3}refcount-conservation/);
  // a .ts file in a CommonJS folder: tsx loads it as CommonJS, its `export default` one level down
  mkdirSync(join(project, "cjs"));
  writeFileSync(join(project, "cjs", "package.json"), JSON.stringify({ type: "commonjs" }));
  writeFileSync(
    join(project, "cjs", "always-ok.ts"),
    `// an mm engine that answers every op with {"ok":true}: the oracle refutes it at once
export default {
  name: "always-ok",
  create: () => ({ layer: "mm", features: new Set<string>(), apply: () => ({ ok: true as const }) }),
};
`,
  );
  const ts = ["run", "--layer", "mm", "--engine", "./cjs/always-ok.ts", "--runs", "5", "--quiet", "--report", "r2"];
  const t = cowcheck(ts);
  expect(t.status, t.out).toBe(1);
  expect(t.stdout).toMatch(/mm \.\/cjs\/always-ok\.ts\s+FAILED {3}observational-equivalence/);
});

test("the library from plain Node (.mjs): check an engine, replay its trace", () => {
  writeFileSync(
    join(project, "check.mjs"),
    `import { checkEngine, checkTrace, findLayer } from "cowcheck";
const mm = findLayer("mm");
const leak = mm.mutants.find((m) => m.name === "wp-copy-leak");
const model = await checkEngine(mm, (g) => mm.model(g), { runs: 20 });
const bad = await checkEngine(mm, (g) => leak.create(g), { runs: 200 });
const again = await checkTrace(bad.trace, { engine: (g) => leak.create(g) });
console.log(JSON.stringify({ model: model.status, bad: bad.failure.property, again: again.property }));
`,
  );
  const r = run(process.execPath, ["check.mjs"], project);
  expect(r.status, r.out).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    model: "passed",
    bad: "refcount-conservation",
    again: "refcount-conservation",
  });
});

test("a TypeScript engine type-checks against the shipped types (and a wrong one does not)", () => {
  const engine = (apply: string) => `import { checkEngine, type Engine, findLayer } from "cowcheck";
class Counter implements Engine<{ op: string }, { ok: true }> {
  readonly layer = "mm";
  readonly features: ReadonlySet<string> = new Set();
  apply(_op: { op: string }) ${apply}
}
const r = await checkEngine(findLayer("mm")!, () => new Counter(), { runs: 1 });
const status: "passed" | "failed" | "engine-failure" | "interrupted" = r.status;
console.log(status, r.report.length);
`;
  writeFileSync(join(project, "good.ts"), engine("{ return { ok: true as const }; }"));
  writeFileSync(join(project, "bad.ts"), engine("{ return { ok: 1 }; }"));
  // one program checks both (tsc loads the lib and the shipped types once): every error it reports is the wrong
  // engine's, so the right one, and the shipped types both import (skipLibCheck off), check clean
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ["node"],
      typeRoots: [join(root, "node_modules/@types")],
    },
    files: ["good.ts", "bad.ts"],
  };
  writeFileSync(join(project, "tsconfig.engines.json"), JSON.stringify(tsconfig));
  const tsc = run(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.engines.json"],
    project,
  );
  expect(tsc.status).not.toBe(0);
  const errors = tsc.out.split("\n").filter((l) => /error TS\d+/.test(l));
  expect(errors.length, tsc.out).toBeGreaterThan(0);
  expect(
    errors.filter((l) => !l.startsWith("bad.ts(")),
    tsc.out,
  ).toEqual([]);
});
