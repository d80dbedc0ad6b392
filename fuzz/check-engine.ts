// For vitest/fast-check users: check an engine of their own against a layer's oracle and properties, with the
// CLI's budgets and the CLI's account of a failure.
import type { AnyLayer, CampaignResult, EngineFactory, PropertyKind } from "../core/index.ts";
import { type EngineSource, factoryOf } from "../engines/resolve.ts";
import { failureReport } from "../reports/explain.ts";
import { DEFAULT_RUNS, runCampaign } from "./campaign.ts";

export interface CheckEngineOptions {
  readonly seed?: number;
  /** Sequences to run (default DEFAULT_RUNS, 3,000). */
  readonly runs?: number;
  readonly maxOps?: number;
  /** Geometry fields over the layer's defaults (the geometry rule completes them). */
  readonly geometry?: unknown;
  /** One of the layer's flavours, by name. */
  readonly flavour?: string;
  /** Property kinds not to check (e.g. ["economy"] for an engine that copies eagerly on purpose). */
  readonly skip?: readonly PropertyKind[];
}

export interface EngineCheck extends CampaignResult {
  /**
   * For a failure, what the CLI would print: the property, the op index, expected against observed, the seed, the
   * minimized trace, the command that replays it and the regression test to commit. "passed" otherwise.
   */
  readonly report: string;
}

/** A factory from what the user gave: a factory, a create function or an engine class (engines/resolve.ts). */
export const asFactory = (layer: AnyLayer, source: EngineSource): EngineFactory =>
  factoryOf(layer, source, `${layer.name}:custom`);

/**
 * Run a campaign against the engine's; the result carries the minimized trace and a report when a property fails.
 * The factory is disposed when the check ends.
 */
export async function checkEngine(
  layer: AnyLayer,
  engine: EngineSource,
  options: CheckEngineOptions = {},
): Promise<EngineCheck> {
  const factory = asFactory(layer, engine);
  try {
    const r = await runCampaign(layer, factory, {
      seed: options.seed ?? 1,
      runs: options.runs ?? DEFAULT_RUNS,
      maxOps: options.maxOps ?? 200,
      geometry: options.geometry,
      flavour: options.flavour,
      skip: options.skip,
    });
    return { ...r, report: failureReport(r, factory.name) };
  } finally {
    await factory.dispose?.(); // checkEngine runs the whole check, so it releases the engine when done
  }
}

/** Vitest helper: throws, with everything the CLI would print, when the engine breaks a property. */
export async function expectEngineHolds(...args: Parameters<typeof checkEngine>): Promise<void> {
  const r = await checkEngine(...args);
  if (r.status !== "passed") throw new Error(r.report);
}

/**
 * Matchers for vitest's (or Jest's) `expect.extend`: `await expect(engine).toConformTo(layer, options)` passes when
 * the engine (a factory, a create function or an engine class) holds every property, and fails with what the CLI
 * prints (docs/architecture.md, "As a library", shows the type declaration to add).
 */
export const cowcheckMatchers = {
  async toConformTo(
    received: EngineSource,
    layer: AnyLayer,
    options: CheckEngineOptions = {},
  ): Promise<{ pass: boolean; message: () => string }> {
    const r = await checkEngine(layer, received, options);
    const passed = r.status === "passed";
    return {
      pass: passed,
      message: () =>
        passed ? `expected the engine to break a property of ${layer.name}, and it held:\n${r.report}` : r.report,
    };
  },
};
