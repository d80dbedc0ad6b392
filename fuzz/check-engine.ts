// For vitest/fast-check users: check an engine of their own against a layer's oracle and properties.
import type { Engine } from "../engines/types.ts";
import type { AnyLayer } from "../layers/layer.ts";
import { type CampaignResult, runCampaign } from "./campaign.ts";

export interface CheckEngineOptions {
  readonly seed?: number;
  readonly runs?: number;
  readonly maxOps?: number;
  readonly geometry?: unknown;
}

/** Run a campaign against `create()`'s engines; the result carries the minimized trace when a property fails. */
export function checkEngine(
  layer: AnyLayer,
  create: (geometry: unknown) => Engine<unknown, unknown> | Promise<Engine<unknown, unknown>>,
  options: CheckEngineOptions = {},
): Promise<CampaignResult> {
  return runCampaign(
    layer,
    { name: `${layer.name}:custom`, create },
    {
      seed: options.seed ?? 1,
      runs: options.runs ?? 200,
      maxOps: options.maxOps ?? 200,
      geometry: options.geometry,
    },
  );
}

/** Vitest helper: throws with the minimized trace in the message when the engine breaks a property. */
export async function expectEngineHolds(...args: Parameters<typeof checkEngine>): Promise<void> {
  const r = await checkEngine(...args);
  if (r.status === "passed") return;
  const what = r.failure
    ? `${r.failure.property}: ${r.failure.message}`
    : `engine failure: ${r.engineFailure?.message}`;
  throw new Error(`${what}\ntrace (${r.trace?.ops.length} ops):\n${JSON.stringify(r.trace)}`);
}
