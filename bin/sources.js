// Whether dist/ is the build of the sources beside it. `npm run build` writes a digest of every file the build
// reads to dist/.sources; bin/cowcheck.js, in a checkout, runs the build when the sources still have that digest,
// and the sources themselves through tsx when not, so that what runs is always what is checked out. (The build runs
// about an eighth faster than the sources through tsx, and starts in half the time.)
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** What the build compiles or copies (tsconfig.build.json's include, the C agents and helpers among them). */
const BUILT = [
  "index.ts",
  "cli",
  "core",
  "engines",
  "fuzz",
  "layers",
  "models",
  "oracles",
  "properties",
  "reports",
  "views",
  "types",
  "tsconfig.json",
  "tsconfig.build.json",
];

/** A digest of the files the build reads under `root`, by path and content (a report folder left in reports/out is none). */
export function sourcesDigest(root) {
  const hash = createHash("sha256");
  const file = (rel) => {
    hash.update(`${rel}\0`);
    hash.update(readFileSync(join(root, rel)));
    hash.update("\0");
  };
  const dir = (rel) => {
    if (rel === "reports/out") return;
    const entries = readdirSync(join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) (e.isDirectory() ? dir : file)(`${rel}/${e.name}`);
  };
  for (const rel of BUILT) {
    const st = statSync(join(root, rel), { throwIfNoEntry: false });
    if (st?.isDirectory()) dir(rel);
    else if (st) file(rel);
  }
  return hash.digest("hex");
}

/** Whether `root`'s dist/ was built from its sources as they are now. */
export function buildIsCurrent(root) {
  try {
    return readFileSync(join(root, "dist", ".sources"), "utf8").trim() === sourcesDigest(root);
  } catch {
    return false; // no build, or one from before builds were stamped
  }
}

// `node bin/sources.js`: the digest, for the build to write
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  console.log(sourcesDigest(fileURLToPath(new URL("..", import.meta.url))));
