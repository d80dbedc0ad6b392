#!/usr/bin/env node
// The cowcheck command. Installed from the package, it runs the compiled JavaScript (dist/). In a checkout of the
// sources (cli/main.ts beside this folder, which the package does not ship) it runs the build if it is the build of
// the sources as they are now (bin/sources.js), else the sources themselves through tsx: what runs is what is
// checked out, never a stale build.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildIsCurrent } from "./sources.js";

const sources = new URL("../cli/main.ts", import.meta.url);
let main;
if (existsSync(sources) && !buildIsCurrent(fileURLToPath(new URL("..", import.meta.url)))) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(sources.href));
} else ({ main } = await import("../dist/cli/main.js"));
process.exitCode = await main(process.argv.slice(2));
