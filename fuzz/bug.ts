// What makes two failures the same bug, so shrinking and minimizing hold on to it: the same property, the same
// op kind at the failing index, and for an observation the same fields differing from what the oracle allows (for
// a layer that names anomalies, the same anomaly).
import { type AnyLayer, deepEqual, type Failure, isOneOf, opKindOf } from "../core/index.ts";

/** The fields in which `observed` differs from the allowed answer it is closest to ("value" for a non-object). */
export function differingFields(observed: unknown, expected: unknown): string {
  const members = isOneOf(expected) ? expected.oneOf : [expected];
  let best: string[] | undefined;
  for (const m of members) {
    const fields =
      typeof observed === "object" && observed !== null && typeof m === "object" && m !== null
        ? [...new Set([...Object.keys(observed), ...Object.keys(m)])]
            .filter((k) => !deepEqual((observed as Record<string, unknown>)[k], (m as Record<string, unknown>)[k]))
            .sort()
        : ["value"];
    if (!best || fields.length < best.length) best = fields;
  }
  return (best ?? []).join(",");
}

/**
 * A failure's identity as a bug: property, op kind at its index, the fields that differ, and with `anomaly` the
 * anomaly class the layer names (which costs a replay of the history: the campaign asks for it once the sequence
 * is short, while minimizing).
 */
export function bugSignature(
  layer: AnyLayer,
  geometry: unknown,
  ops: readonly unknown[],
  f: Failure,
  anomaly = true,
): string {
  const parts = [f.property, opKindOf(ops[f.index])];
  if (f.kind === "equivalence") parts.push(differingFields(f.observed, f.expected));
  if (anomaly && layer.classify) {
    let anomaly: string | undefined;
    try {
      anomaly = layer.classify(ops.slice(0, f.index + 1), f, geometry);
    } catch {
      anomaly = undefined; // a name is a courtesy; it never decides on its own
    }
    parts.push(anomalyClass(anomaly));
  }
  return parts.join("|");
}

/** An anomaly label's class (G0, G1a, G-single, P4…), not the prose after it. */
const anomalyClass = (label: string | undefined): string => label?.split(/ \(|:/)[0] ?? "";
