// A harness that gates CI: an engine whose state survives its reset is no reproducible failure; interrupts (Ctrl-C,
// SIGTERM) at any phase end with exit 130/143, an interrupted report and nothing left running.
import { expect, test } from "vitest";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { mmLayer } from "../layers/mm/index.ts";

const serve = (args: string): string => `stdio:${process.execPath} --import tsx test/fixtures/serve-model.ts ${args}`;

test("a reset that leaks state is a nondeterministic engine, not a property failure: the failure is confirmed on a new process", async () => {
  const factory = await resolveEngine(mmLayer, serve("model reset leaky"));
  try {
    // campaigns one after the other on the same resettable process, as a long run has them: every one after the
    // first starts from what the last left, fails its first op, and shrinks to a one-op trace that a new process
    // passes
    for (const seed of [1, 2, 3]) {
      const r = await runCampaign(mmLayer, factory, { seed, runs: 20, maxOps: 30 });
      expect(r.status, `seed ${seed}`).toBe("engine-failure");
      expect(r.engineFailure?.kind).toBe("nondeterministic");
      expect(r.trace?.ops.length).toBeGreaterThan(0);
    }
  } finally {
    await factory.dispose?.();
  }
});

test("the same model with an honest reset passes", async () => {
  const factory = await resolveEngine(mmLayer, serve("model reset"));
  try {
    const r = await runCampaign(mmLayer, factory, { seed: 1, runs: 20, maxOps: 30 });
    expect(r.failure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
  } finally {
    await factory.dispose?.();
  }
});
