#!/usr/bin/env node
// The cowcheck command. Installed from the package, it runs the compiled JavaScript (dist/). In a checkout of the
// sources (cli/main.ts beside this folder, which the package does not ship) it runs them through tsx, so that what
// runs is what is checked out, never a stale build.
import { existsSync } from "node:fs";

const sources = new URL("../cli/main.ts", import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(sources.href));
} else ({ main } = await import("../dist/cli/main.js"));
process.exitCode = await main(process.argv.slice(2));
