// The registry: every layer cowcheck knows. Adding a layer is its own files plus one line here; the runner, the
// engines, the reports and the CLI loop over this list.
import { type AnyLayer, InputError, parseTrace, readTraceFile, type Trace } from "../core/index.ts";
import { mmLayer } from "./mm/index.ts";
import { mvccLayer } from "./mvcc/index.ts";
import { overlayLayer } from "./overlay/index.ts";
import { snapshotLayer } from "./snapshot/index.ts";

const registry: AnyLayer[] = [mmLayer, overlayLayer, snapshotLayer, mvccLayer];

/** The layers, in the order `cowcheck run` checks them. */
export const layers: readonly AnyLayer[] = registry;

const listed = new Set(registry);
/** Whether worker threads know the layer: one listed above, not one registered at run time. */
export const threadsKnow = (layer: AnyLayer): boolean => listed.has(layer);

/**
 * Add a layer for this process (a library user's own, or a test's): the CLI's commands, engine resolution and
 * trace loading find it by name from then on. Worker threads (`--workers`) know only the layers listed above.
 */
export function registerLayer(layer: AnyLayer): void {
  if (registry.some((l) => l.name === layer.name)) throw new InputError(`a layer named "${layer.name}" exists`);
  registry.push(layer);
}

export function findLayer(name: string): AnyLayer | undefined {
  return registry.find((l) => l.name === name);
}

/** The layer of that name; an unknown name is an input error listing the known ones. */
export function layerNamed(name: string): AnyLayer {
  const l = findLayer(name);
  if (!l) throw new InputError(`unknown layer "${name}" (known: ${registry.map((x) => x.name).join(", ")})`);
  return l;
}

/** Validate a parsed JSON value as a trace of a known layer; errors name the op index and field. */
export function validateTrace(json: unknown, source = "trace"): { layer: AnyLayer; trace: Trace } {
  return parseTrace(json, registry, source);
}

/** Read and validate a trace file. */
export function loadTrace(path: string): { layer: AnyLayer; trace: Trace } {
  return parseTrace(readTraceFile(path), registry, path);
}
