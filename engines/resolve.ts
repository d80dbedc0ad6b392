// Turn an --engine spec into a factory: model, oracle, mutant:NAME, a real system the layer lists, stdio:"CMD", or
// a JavaScript or TypeScript module that exports an engine factory. Only entry points (the CLI, the library's
// trace replay, a worker thread) resolve names; everything below them takes factories.
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { type AnyLayer, type Engine, type EngineFactory, InputError } from "../core/index.ts";
import { stdioFactory } from "./stdio.ts";

export interface ResolveOptions {
  /** Per-message timeout for stdio engines. */
  readonly timeoutMs?: number;
  /** Every layer, so that a real engine of another layer is named as such rather than as unknown. */
  readonly registry?: readonly AnyLayer[];
}

/** A spec that names a module file rather than an engine. */
const isModuleSpec = (spec: string): boolean => /^\.{0,2}\//.test(spec) || /\.[cm]?[jt]s$/.test(spec);

export async function resolveEngine(
  layer: AnyLayer,
  spec: string,
  options: ResolveOptions = {},
): Promise<EngineFactory> {
  if (spec === "model") return { name: `${layer.name}:model`, create: (g) => layer.model(g) };
  if (spec === "oracle") return { name: `${layer.name}:oracle`, create: (g) => layer.oracle(g) };
  if (spec.startsWith("mutant:")) {
    const name = spec.slice("mutant:".length);
    const m = layer.mutants.find((x) => x.name === name);
    if (!m) {
      const known = layer.mutants.map((x) => x.name).join(", ") || "none";
      throw new InputError(`no mutant "${name}" in layer ${layer.name} (known: ${known})`);
    }
    return {
      name: `${layer.name}:mutant:${name}`,
      fixedGeometry: m.geometry,
      geometry: m.prefers,
      create: (g) => m.create(g),
    };
  }
  if (spec.startsWith("stdio:")) {
    const command = spec.slice("stdio:".length).trim();
    if (!command) throw new InputError('stdio engine needs a command: --engine stdio:"CMD"');
    return stdioFactory(layer, command, { timeoutMs: options.timeoutMs });
  }
  if (isModuleSpec(spec)) return moduleFactory(layer, spec);
  const system = layer.engines?.find((e) => e.name === spec);
  if (system) {
    const why = system.unavailable();
    if (why) throw new InputError(`the ${spec} engine cannot run here: it ${why}`);
    const f = system.factory(layer, { timeoutMs: options.timeoutMs });
    return {
      name: f.name,
      geometry: system.geometry,
      fixedGeometry: system.fixedGeometry,
      create: (g) => f.create(g),
      dispose: () => f.dispose?.(),
      fresh: () => f.fresh?.(),
      ...(f.race ? { race: f.race } : {}),
    };
  }
  const owner = options.registry?.find((l) => l.engines?.some((e) => e.name === spec));
  if (owner) throw new InputError(`the ${spec} engine speaks the ${owner.name} layer, not ${layer.name}`);
  throw new InputError(`unknown engine "${spec}" for layer ${layer.name} (use ${engineSpecs(layer)})`);
}

/** The engine specs a layer accepts, for help and error messages. */
export function engineSpecs(layer?: AnyLayer, registry: readonly AnyLayer[] = layer ? [layer] : []): string {
  const systems = [...new Set(registry.flatMap((l) => (l.engines ?? []).map((e) => e.name)))];
  return ["model", "oracle", "mutant:NAME", ...systems, 'stdio:"CMD"', "./engine.js"].join(" | ");
}

export interface EngineInfo {
  readonly spec: string;
  readonly available: boolean;
  readonly why: string;
}

/** What `cowcheck engines` lists for a layer. */
export function engineCatalogue(layer: AnyLayer): EngineInfo[] {
  return [
    { spec: "model", available: true, why: "reference model, in process" },
    { spec: "oracle", available: true, why: "eager-copy oracle, in process (no inspect: data properties only)" },
    ...layer.mutants.map((m) => ({ spec: `mutant:${m.name}`, available: true, why: m.mimics })),
    ...(layer.engines ?? []).map((e): EngineInfo => {
      const why = e.unavailable();
      if (why) return { spec: e.name, available: false, why: `${e.description}; unavailable: it ${why}` };
      const parts = [e.description];
      const f = e.features?.();
      if (f?.offered.length) parts.push(`features ${f.offered.join(", ")}`);
      const lacks = Object.entries(f?.missing ?? {}).map(([name, reason]) => `${name}: ${reason}`);
      if (lacks.length) parts.push(`without ${lacks.join("; ")}`);
      if (e.views?.length) parts.push(`views ${e.views.join(", ")} (for --against model)`);
      return { spec: e.name, available: true, why: parts.join("; ") };
    }),
    { spec: 'stdio:"CMD"', available: true, why: "any program speaking the JSON-lines protocol (docs/protocol.md)" },
    {
      spec: "./engine.js",
      available: true,
      why: "a JavaScript or TypeScript module whose default export is an engine factory (docs/architecture.md)",
    },
  ];
}

/** An engine as a library user gives it: a factory, or a function from the geometry to an engine. */
export type EngineSource =
  | EngineFactory
  | ((geometry: unknown) => Engine<unknown, unknown> | Promise<Engine<unknown, unknown>>);

/**
 * A user's engine as a factory: an EngineFactory ({ name, create }), a function from the geometry to an engine, or
 * an engine class whose constructor takes the geometry (a class, or a function with a prototype of its own that has
 * `apply`). Each engine it makes must be of the layer. Anything else is an input error.
 */
export function factoryOf(layer: AnyLayer, source: unknown, name: string, what = "the engine"): EngineFactory {
  const check = async (engine: Engine<unknown, unknown>): Promise<Engine<unknown, unknown>> => {
    if (engine?.layer !== layer.name || typeof engine.apply !== "function") {
      throw new InputError(`${what} made an engine of layer "${engine?.layer}", not an engine of ${layer.name}`);
    }
    return engine;
  };
  if (typeof source === "function") {
    const isClass =
      /^class[\s{]/.test(Function.prototype.toString.call(source)) ||
      typeof (source as { prototype?: { apply?: unknown } }).prototype?.apply === "function";
    const make = source as ((g: unknown) => Engine<unknown, unknown>) & (new (g: unknown) => Engine<unknown, unknown>);
    return { name, create: async (g) => check(isClass ? new make(g) : await make(g)) };
  }
  if (typeof source === "object" && source !== null && typeof (source as EngineFactory).create === "function") {
    const f = source as EngineFactory;
    return {
      name: f.name ?? name,
      geometry: f.geometry,
      fixedGeometry: f.fixedGeometry,
      create: async (g) => check(await f.create(g)),
      dispose: f.dispose ? () => f.dispose!() : undefined,
      fresh: f.fresh ? () => f.fresh!() : undefined,
    };
  }
  throw new InputError(
    `${what} must be an engine factory: a function (geometry) => Engine, an Engine class, or { name, create }`,
  );
}

/**
 * A module's default export as a factory (factoryOf). TypeScript modules load through tsx; a module loaded as
 * CommonJS (a .ts file outside an ESM package, or compiled to CommonJS) has its `export default` one level down.
 */
async function moduleFactory(layer: AnyLayer, spec: string): Promise<EngineFactory> {
  const url = pathToFileURL(resolvePath(spec)).href;
  let module: { default?: unknown };
  try {
    if (/\.[cm]?ts$/.test(spec)) {
      const { tsImport } = await import("tsx/esm/api");
      module = await tsImport(url, import.meta.url);
    } else module = await import(url);
  } catch (e) {
    const why = String((e as Error | undefined)?.message ?? e).split("\n")[0];
    throw new InputError(`cannot load the engine module ${spec}: ${why}`);
  }
  let exported = module.default;
  const inner = exported as { __esModule?: boolean; default?: unknown } | undefined;
  if (inner && typeof inner === "object" && "default" in inner && (inner.__esModule || !("create" in inner))) {
    exported = inner.default;
  }
  return factoryOf(layer, exported, `${layer.name}:${spec}`, `${spec}'s default export`);
}
