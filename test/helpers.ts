// What several tests share.
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
