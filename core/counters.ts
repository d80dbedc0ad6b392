// The shape every layer's counters view shares (docs/protocol.md, "Economy counters for engines without inspect"):
// an engine without `inspect` reports a few cumulative counts, each held to the lazy reference model's after the
// same ops, so an engine that copies more than copy-on-write needs fails an economy bound.
import type { z } from "zod";
import type { LayerView, ViewVerdict } from "./layer.ts";

/**
 * A counters view: `schema` validates what the engine answers, `ofModel` reads the reference model's counts from
 * its state (undefined: this state has none, and the comparison stops), `excess` says in words what exceeding each
 * counter means ("copied more pages").
 */
export function countersView<State, C extends Record<string, number>>(
  schema: z.ZodType<C>,
  ofModel: (reference: State) => C | undefined,
  excess: { readonly [K in keyof C]: string },
): LayerView<State> {
  return {
    name: "counters",
    kind: "economy",
    decode: (json) => schema.parse(json),
    compare(view, reference): ViewVerdict {
      const model = ofModel(reference);
      if (!model) return { desync: "the reference has no counters in this geometry" };
      const engine = view as C;
      for (const counter of Object.keys(excess) as (keyof C & string)[])
        if (engine[counter]! > model[counter]!)
          return {
            divergence: {
              property: `counters-${counter}`,
              message: `${counter} is ${engine[counter]}, the lazy model's ${model[counter]}: the engine ${excess[counter]} than the model did for the same ops`,
            },
          };
      return {};
    },
  };
}
