import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // tests import "cowcheck" as a user would, but run the sources, not a build
  resolve: { alias: { cowcheck: fileURLToPath(new URL("./index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
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
