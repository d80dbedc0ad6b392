// What a verdict covered: the properties a campaign checked and those it could not (with why), the op mix the
// engine was given, and the warnings a bare "passed" would hide.
import fc from "fast-check";
import {
  type AnyLayer,
  type Coverage,
  entry,
  featuresNeeded,
  type OpMix,
  opKindOf,
  type PropertyKind,
  type StructureStats,
} from "../core/index.ts";

export interface CoverageInput {
  /** The layer as registered (before `skip` removed properties). */
  readonly layer: AnyLayer;
  readonly geometry: unknown;
  /** The features the sequences were generated for (the engine's). */
  readonly features: ReadonlySet<string>;
  /** Whether the engine's state was inspected (feature "inspect"). */
  readonly inspected: boolean;
  readonly skip?: readonly PropertyKind[];
  readonly mix: OpMix;
  readonly ops: number;
  /** With `--against`: what the lockstep comparison did. */
  readonly structure?: StructureStats;
  /** The op kinds a missing feature kept out (`neverGenerated`, worked out once per campaign). */
  readonly notGenerated: readonly { readonly feature: string; readonly opKinds: string[] }[];
  /** `--threads`: race programs, judged by linearizability and by the invariants after every step (docs/races.md). */
  readonly interleaved?: boolean;
}

const EAGER =
  "economy bounds were not checked: an engine that copies everything eagerly (no copy-on-write at all) passes too";

/** What coverage calls the economy bounds as an engine's counters view checks them (the runner does it by itself). */
export const ECONOMY_COUNTERS = "economy-counters";

export function coverageOf(c: CoverageInput): Coverage {
  const properties = [c.interleaved ? "linearizability" : "observational-equivalence"];
  const notChecked: { property: string; reason: string }[] = [];
  const economy = c.layer.properties.some((p) => p.kind === "economy");
  // Without inspect, an engine offering an economy view (mm's "counters") is held to the model's counters instead.
  const counters =
    economy &&
    !c.inspected &&
    !c.skip?.includes("economy") &&
    (c.layer.views ?? []).some((v) => v.kind === "economy" && c.features.has(v.name));
  for (const p of c.layer.properties) {
    if (p.appliesTo && !p.appliesTo(c.geometry)) continue;
    const names = p.members?.map((m) => m.name) ?? [p.name];
    if (c.skip?.includes(p.kind))
      for (const property of names) notChecked.push({ property, reason: `--skip ${p.kind}` });
    else if (c.interleaved && p.kind === "economy")
      for (const property of names)
        notChecked.push({
          property,
          reason: "interleavings: an economy bound counts what one op did, and ops overlap",
        });
    else if (!c.inspected)
      for (const property of names)
        notChecked.push({
          property,
          reason: `the engine offers no inspect, so its ${p.kind} properties cannot be read${counters && p.kind === "economy" ? ` (its counters are held to the model's instead: ${ECONOMY_COUNTERS})` : ""}`,
        });
    else properties.push(...names);
  }
  if (counters) properties.push(ECONOMY_COUNTERS);
  // with --against: the views compared (an economy view with an inspectable engine under its own name)
  const economyViews = economy && !c.skip?.includes("economy") && !counters;
  if (c.structure)
    properties.push(
      ...(c.layer.views ?? [])
        .filter((v) => c.features.has(v.name) && (v.kind !== "economy" || economyViews))
        .map((v) => v.name),
    );
  const warnings = economy && ((!c.inspected && !counters) || c.skip?.includes("economy")) ? [EAGER] : [];
  const notGenerated = c.interleaved ? [] : [...c.notGenerated];
  for (const n of notGenerated)
    warnings.push(
      `the engine does not offer feature "${n.feature}": ops needing it (${n.opKinds.join(", ")}) were never generated`,
    );
  const total = Object.values(c.mix).reduce((a, k) => a + k.ops, 0);
  const idle = Object.values(c.mix).reduce((a, k) => a + k.errors + k.idle, 0);
  return {
    properties,
    notChecked,
    opKinds: c.mix,
    notGenerated,
    effective: total ? (total - idle) / total : 0,
    compared: c.structure && c.ops ? c.structure.compared / c.ops : undefined,
    warnings,
  };
}

/**
 * The op kinds that need a feature the model offers and the engine does not: read off a fixed sample of sequences
 * generated for the model's features.
 */
export function neverGenerated(
  layer: AnyLayer,
  geometry: unknown,
  features: ReadonlySet<string>,
  sequences: (features: ReadonlySet<string>) => fc.Arbitrary<unknown[]>,
): { feature: string; opKinds: string[] }[] {
  if (!layer.requires) return [];
  const all = layer.model(geometry).features;
  const views = new Set((layer.views ?? []).map((v) => v.name));
  const missing = [...all].filter((f) => f !== "inspect" && !views.has(f) && !features.has(f));
  if (!missing.length) return [];
  const byFeature = new Map<string, Set<string>>(missing.map((f) => [f, new Set()]));
  for (const seq of fc.sample(sequences(all), { seed: 1, numRuns: 100 }))
    for (const op of seq) for (const f of featuresNeeded(layer, op)) byFeature.get(f)?.add(opKindOf(op));
  return [...byFeature]
    .filter(([, kinds]) => kinds.size)
    .map(([feature, kinds]) => ({ feature, opKinds: [...kinds].sort() }));
}

/** The coverage of a campaign split into streams: the first stream's, with every stream's op mix added up. */
export function mergeCoverage(
  parts: readonly (Coverage | undefined)[],
  ops: number,
  compared?: number,
): Coverage | undefined {
  const first = parts.find((c) => c !== undefined);
  if (!first) return undefined;
  const mix: OpMix = {};
  for (const c of parts)
    for (const [kind, k] of Object.entries(c?.opKinds ?? {})) {
      const e = entry(mix, kind);
      e.ops += k.ops;
      e.errors += k.errors;
      e.idle += k.idle;
    }
  const total = Object.values(mix).reduce((a, k) => a + k.ops, 0);
  const idle = Object.values(mix).reduce((a, k) => a + k.errors + k.idle, 0);
  return {
    ...first,
    opKinds: mix,
    effective: total ? (total - idle) / total : 0,
    compared: compared === undefined || !ops ? undefined : compared / ops,
  };
}
