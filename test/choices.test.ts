// The choice machinery's checkpoints (core/choices.ts): an oracle whose choices run again from a copy of a
// checkpoint answers exactly as the plain one that runs the whole history again for every choice. Both follow the
// same engine, which takes a random one of the answers each `oneOf` allows (seeded), over generated sequences of
// every mvcc flavour whose oracle chooses.
import fc from "fast-check";
import seedrandom from "seedrandom";
import { describe, expect, test } from "vitest";
import { type ChoiceRules, copyData } from "../core/choices.ts";
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

describe("copyData, what a checkpoint's copy is made of", () => {
  class Box {
    constructor(readonly items: number[]) {}
    total(): number {
      return this.items.reduce((a, b) => a + b, 0);
    }
  }
  test("copies every map, set, array and object, keeps what is shared shared and each object's class", () => {
    const row = { key: 1, value: 2 };
    const box = new Box([1, 2]);
    const x = {
      rows: new Map([[7, row]]),
      locks: new Map([[row, [box]]]),
      seen: new Set([row]),
      queue: [box, box],
      nested: { box, n: null, s: "x", u: undefined },
    };
    const c = copyData(x);
    expect(c).toEqual(x);
    expect(c).toEqual(structuredClone(x)); // the same data as the copy it replaced
    const copiedRow = c.rows.get(7)!;
    expect(copiedRow).not.toBe(row);
    expect(c.locks.get(copiedRow)).toBeDefined(); // a map keyed by a shared object is keyed by its copy
    expect(c.seen.has(copiedRow)).toBe(true);
    expect(c.queue[0]).toBe(c.queue[1]);
    expect(c.queue[0]).toBe(c.nested.box);
    expect(c.queue[0]).not.toBe(box);
    expect(c.nested.box.total()).toBe(3); // its class, below the top too
    c.nested.box.items.push(4);
    expect(box.items).toEqual([1, 2]); // nothing shared with the original
    expect(() => copyData({ f: () => 1 })).toThrow(/function/);
  });
});
