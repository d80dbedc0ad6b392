// Every mutant is killed within the default budget, by the kind of property it is meant to trip, and the minimized
// trace it leaves replays: it fails on the mutant and passes on the reference model. The zoo is run by several files
// (test/mutants-*.test.ts), a layer's part or two each, so that vitest's workers share it instead of one running it all.
import { describe, expect, test } from "vitest";
import type { AnyLayer, CampaignResult, Mutant } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { replayTrace } from "../fuzz/replay.ts";
import { checkWith } from "../fuzz/runner.ts";
import { campaignOn } from "./helpers.ts";

// biome-ignore lint/suspicious/noExplicitAny: a zoo of any layer
type AnyMutant = Mutant<any, any, any, any>;

/**
 * The kill test of each of `mutants` (the layer's own by default); `also` checks more on the campaign's result, in
 * the same test.
 */
export function killEach(
  layer: AnyLayer,
  mutants: readonly AnyMutant[] = layer.mutants,
  also?: (r: CampaignResult, m: AnyMutant) => Promise<void>,
): void {
  describe.each(mutants.map((m) => [`${layer.name} mutant ${m.name}`, m] as const))("%s", (_, m) => {
    // a mutant only an interleaving kills (docs/races.md): killed with --threads 2, never by sequences
    if (m.interleaved) {
      test("is killed by the interleaving explorer within its default budget, and by no sequential run", async () => {
        const spec = `mutant:${m.name}`;
        const r = await campaignOn(layer, spec, { seed: 1, runs: 20_000, maxOps: 200, threads: 2 });
        expect(r.status, `${m.name} survived ${r.runs} schedules`).toBe("failed");
        // observations no order explains, or (where the mutant says so) an invariant broken between two steps
        if (m.killedBy) expect(r.failure!.kind).toBe(m.killedBy);
        else expect(r.failure!.property).toBe("linearizability");
        expect(r.interleaving!.preemptions).toBeGreaterThan(0);
        // its trace replays the failing schedule, which the reference model passes
        const engine = await resolveEngine(layer, spec);
        expect((await replayTrace(layer, r.trace!, engine))?.property).toBe(r.failure!.property);
        expect(await replayTrace(layer, r.trace!, await resolveEngine(layer, "model"))).toBeUndefined();
        // the same ops one after another (in the order they ended) pass on the mutant, and so does a campaign
        const il = r.trace!.interleaving!;
        const ended = r.interleaving!.timeline.filter((s) => "observed" in s).map((s) => il.threads[s.thread]![s.op]);
        const ops = [...r.trace!.ops, ...ended, ...il.epilogue];
        expect(await checkWith(layer, r.trace!.geometry, engine, ops)).toBeUndefined();
        const sequential = await campaignOn(layer, spec, { seed: 1, runs: 3000, maxOps: 200 });
        expect(sequential.failure?.message).toBeUndefined();
        expect(sequential.status).toBe("passed");
      });
      return;
    }
    test("is killed (seed 1, default mutant budget) by the kind of property it is meant to trip, and its trace replays", async () => {
      const r = await campaignOn(layer, `mutant:${m.name}`, {
        seed: 1,
        runs: 20_000,
        maxOps: 200,
      });
      expect(r.status, `${m.name} survived ${r.runs} runs`).toBe("failed");
      if (m.killedBy) expect(r.failure!.kind).toBe(m.killedBy);
      const again = await checkWith(
        layer,
        r.trace!.geometry,
        await resolveEngine(layer, `mutant:${m.name}`),
        r.trace!.ops,
      );
      expect(again?.property).toBe(r.failure!.property);
      expect(
        await checkWith(layer, r.trace!.geometry, await resolveEngine(layer, "model"), r.trace!.ops),
      ).toBeUndefined();
      await also?.(r, m);
    });
  });
}

/** The first or second half of a layer's zoo (`part` 0 or 1), for a layer whose zoo is too long for one file. */
export const half = (layer: AnyLayer, part: 0 | 1): readonly AnyMutant[] => {
  const cut = Math.ceil(layer.mutants.length / 2);
  return part === 0 ? layer.mutants.slice(0, cut) : layer.mutants.slice(cut);
};
