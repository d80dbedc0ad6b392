import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
// @ts-expect-error: a plain JavaScript module of bin/, without types
import { buildIsCurrent, sourcesDigest } from "../bin/sources.js";

test("the command runs the build only while it is the build of the sources as they are (bin/sources.js)", () => {
  const root = mkdtempSync(join(tmpdir(), "cowcheck-sources-"));
  try {
    const put = (rel: string, text: string) => {
      mkdirSync(join(root, rel, ".."), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    put("cli/main.ts", "export const a = 1;\n");
    put("engines/linux/agent.c", "int main(void) { return 0; }\n");
    put("tsconfig.json", "{}\n");
    expect(buildIsCurrent(root)).toBe(false); // no build
    put("dist/.sources", `${sourcesDigest(root)}\n`);
    expect(buildIsCurrent(root)).toBe(true);
    put("reports/out/20261205-run/summary.json", "{}"); // a run's report is no source
    put("test/x.test.ts", "// nor is a test");
    expect(buildIsCurrent(root)).toBe(true);
    put("engines/linux/agent.c", "int main(void) { return 1; }\n"); // a C agent the build copies
    expect(buildIsCurrent(root)).toBe(false);
    put("dist/.sources", sourcesDigest(root));
    put("core/new.ts", "export {};\n"); // a new source
    expect(buildIsCurrent(root)).toBe(false);
    put("dist/.sources", sourcesDigest(root));
    put("tsconfig.json", '{"compilerOptions": {}}\n'); // how it compiles
    expect(buildIsCurrent(root)).toBe(false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
