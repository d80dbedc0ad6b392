import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // tests import "cowcheck" as a user would, but run the sources, not a build
  resolve: { alias: { cowcheck: fileURLToPath(new URL("./index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    // a test's time limit guards a hang, not a speed: the longest test takes about 45 s on an idle 2-core machine,
    // and the suite must pass on one loaded several times over (a campaign running beside it)
    testTimeout: 300_000,
    // two files at a time (vitest's default leaves one core free: one at a time here); every file makes its own
    // servers, mounts and folders, and the suite is meant to pass on a busy machine
    maxWorkers: 2,
    coverage: {
      provider: "v8",
      include: [
        "cli/**",
        "core/**",
        "engines/**",
        "fuzz/**",
        "layers/**",
        "models/**",
        "oracles/**",
        "properties/**",
        "reports/**",
        "views/**",
      ],
    },
  },
});
