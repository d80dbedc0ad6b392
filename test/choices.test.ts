// The choice machinery's checkpoints (core/choices.ts): an oracle whose choices run again from a copy of a
// checkpoint answers exactly as the plain one that runs the whole history again for every choice. Both follow the
// same engine, which takes a random one of the answers each `oneOf` allows (seeded), over generated sequences of
// every mvcc flavour whose oracle chooses.
import fc from "fast-check";
import seedrandom from "seedrandom";
import { describe, expect, test } from "vitest";
import type { ChoiceRules } from "../core/choices.ts";
import { type Engine, isOneOf } from "../core/index.ts";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { mvccLayer } from "../layers/mvcc/index.ts";
import type { MvccGeometry } from "../models/mvcc/types.ts";

/** The oracle with its checkpoints taken away: every choice runs the whole history again. */
function plain(oracle: Engine<unknown, unknown>): Engine<unknown, unknown> {
  const { choices } = oracle as unknown as { choices: { rules: ChoiceRules<unknown, unknown, unknown, never> } };
  expect(choices.rules.copy, "the oracle copies its histories").toBeTypeOf("function");
  choices.rules = { ...choices.rules, copy: undefined };
  return oracle;
}

describe.each([
  ["postgres", {}],
  ["innodb", { flavour: "innodb" }],
])("checkpointed choices answer as replayed ones (%s)", (_name, flavour) => {
  test("over generated sequences, following random choices", () => {
    const g = { ...mvccLayer.defaultGeometry, ...flavour } as MvccGeometry;
    const seqs: unknown[][] = fc.sample(sequenceArbitrary(mvccLayer, g, mvccLayer.model(g).features, 150), {
      seed: 7,
      numRuns: 120,
    });
    const rng = seedrandom("choices");
    let choices = 0;
    let others = 0;
    for (const ops of seqs) {
      const fast: Engine<unknown, unknown> = mvccLayer.oracle(g);
      const slow = plain(mvccLayer.oracle(g));
      for (const [i, op] of ops.entries()) {
        const answer = fast.apply(op);
        expect(answer, `op ${i} of ${JSON.stringify(ops)}`).toEqual(slow.apply(op));
        if (!isOneOf(answer)) continue;
        choices++;
        const k = Math.floor(rng() * answer.oneOf.length);
        if (k > 0) others++;
        fast.chose?.(answer.oneOf[k]);
        slow.chose?.(answer.oneOf[k]);
      }
    }
    // the sequences reach choices, and the engine takes other answers than the first
    expect(choices).toBeGreaterThan(50);
    expect(others).toBeGreaterThan(20);
  });
});
