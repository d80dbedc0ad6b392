// The one geometry rule. Every entry point (the CLI, the library, campaign, explore, replay, minimize) decides a
// run's geometry here, so the same inputs give the same geometry wherever they come from.
import type { EngineFactory } from "./engine.ts";
import { describeIssue, InputError } from "./errors.ts";
import type { AnyLayer } from "./layer.ts";

export interface GeometrySources {
  /** One of the layer's flavours, by name. */
  readonly flavour?: string;
  /** The engine: what it needs unless the user says otherwise, and what it cannot run without (a mutant's flavour). */
  readonly engine?: Pick<EngineFactory, "geometry" | "fixedGeometry">;
  /** What the user gave (--geometry, a trace's geometry, a library option): a JSON object of some fields. */
  readonly user?: unknown;
  /** Where the user's geometry came from, for messages ("--geometry", a trace's path). */
  readonly source?: string;
}

/**
 * The layer's defaults, then the flavour's fields, then the engine's needs, then the user's fields, then what the
 * engine cannot run without; validated by the layer's schema (an error names the field).
 */
export function resolveGeometry(layer: AnyLayer, sources: GeometrySources = {}): unknown {
  const source = sources.source ?? "geometry";
  const user = sources.user === undefined ? {} : sources.user;
  if (typeof user !== "object" || user === null || Array.isArray(user)) {
    throw new InputError(`${source} must be a JSON object, e.g. {"pages":64} (got ${JSON.stringify(user)})`);
  }
  let flavour: object | undefined;
  if (sources.flavour !== undefined) {
    const f = layer.flavours?.find((x) => x.name === sources.flavour);
    if (!f) {
      const known = layer.flavours?.map((x) => x.name).join(", ") || "none";
      throw new InputError(`layer ${layer.name} has no flavour "${sources.flavour}" (known: ${known})`);
    }
    flavour = f.geometry;
  }
  const merged = {
    ...(layer.defaultGeometry as object),
    ...flavour,
    ...sources.engine?.geometry,
    ...user,
    ...sources.engine?.fixedGeometry,
  };
  const r = layer.geometrySchema.safeParse(merged);
  if (!r.success) {
    const issues = r.error.issues.map((i) => describeIssue(source, i));
    throw new InputError(`${issues.join("; ")} (layer ${layer.name})`);
  }
  return r.data;
}
