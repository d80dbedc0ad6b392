// What several tests share.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, vi } from "vitest";
import type { AnyLayer, CampaignResult } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { type CampaignOptions, runCampaign } from "../fuzz/campaign.ts";

/**
 * A campaign on engines named as the CLI names them, disposed when it ends: runCampaign borrows its factories, and
 * whoever resolves them disposes them.
 */
export async function campaignOn(
  layer: AnyLayer,
  spec: string,
  options: Omit<CampaignOptions, "against"> & { readonly against?: string },
): Promise<CampaignResult> {
  const factory = await resolveEngine(layer, spec);
  const against = options.against === undefined ? undefined : await resolveEngine(layer, options.against);
  try {
    return await runCampaign(layer, factory, { ...options, against });
  } finally {
    await factory.dispose?.();
    await against?.dispose?.();
  }
}

/**
 * What the CLI prints, captured afresh for each test of the file: `out` its lines (console.log), `err` what it writes
 * to stderr. The arrays are emptied in place, so they may be destructured once.
 */
export function captureOutput(): { readonly out: string[]; readonly err: string[] } {
  const io = { out: [] as string[], err: [] as string[] };
  beforeEach(() => {
    io.out.length = 0;
    io.err.length = 0;
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void io.out.push(a.join(" ")));
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      io.err.push(String(s));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return io;
}

/**
 * A maker of fresh directories in the system temp dir (`<prefix>XXXXXX`), each removed with what it holds when the
 * file's tests end: call it at a test file's top level (or in a describe), and the returned function in the tests.
 */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
