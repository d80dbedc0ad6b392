// Turn an --engine spec (model, oracle, mutant:NAME, stdio:CMD) into a factory the runner can use.
import type { AnyLayer } from "../layers/layer.ts";
import { linuxAgent, linuxFeatures, linuxGeometry, linuxUnavailable } from "./linux/index.ts";
import { overlayfsFactory, overlayfsFeatures, overlayfsUnavailable } from "./overlayfs/index.ts";
import { postgresFactory, postgresUnavailable } from "./postgres/index.ts";
import { sqliteFactory, sqliteUnavailable } from "./sqlite/index.ts";
import { StdioEngine } from "./stdio.ts";
import { type Engine, type EngineFactory, InputError } from "./types.ts";

export interface EngineInfo {
  readonly spec: string;
  readonly available: boolean;
  readonly why: string;
}

export interface ResolveOptions {
  /** Per-message timeout for stdio engines. */
  readonly timeoutMs?: number;
}

export function resolveEngine(layer: AnyLayer, spec: string, options: ResolveOptions = {}): EngineFactory {
  if (spec === "model") return { name: `${layer.name}:model`, create: (g) => layer.model(g) };
  if (spec === "oracle") return { name: `${layer.name}:oracle`, create: (g) => layer.oracle(g) };
  if (spec.startsWith("mutant:")) {
    const name = spec.slice("mutant:".length);
    const m = layer.mutants.find((x) => x.name === name);
    if (!m)
      throw new InputError(
        `no mutant "${name}" in layer ${layer.name} (known: ${layer.mutants.map((x) => x.name).join(", ")})`,
      );
    return { name: `${layer.name}:mutant:${name}`, geometry: m.geometry, create: (g) => m.create(g) };
  }
  if (spec === "linux") {
    if (layer.name !== "mm") throw new InputError(`the linux engine speaks the mm layer, not ${layer.name}`);
    const why = linuxUnavailable();
    if (why) throw new InputError(`the linux engine cannot run here: it ${why}`);
    let command: string | undefined;
    const inner = () => (command ??= JSON.stringify(linuxAgent()));
    let factory: EngineFactory | undefined;
    return {
      name: "mm:linux",
      geometry: linuxGeometry,
      create: (g) => {
        factory ??= stdioFactory(layer, inner(), options.timeoutMs);
        return factory.create(g);
      },
      dispose: () => factory?.dispose?.(),
    };
  }
  if (spec === "overlayfs") {
    if (layer.name !== "overlay")
      throw new InputError(`the overlayfs engine speaks the overlay layer, not ${layer.name}`);
    const why = overlayfsUnavailable();
    if (why) throw new InputError(`the overlayfs engine cannot run here: it ${why}`);
    return overlayfsFactory();
  }
  if (spec === "postgres") {
    if (layer.name !== "mvcc") throw new InputError(`the postgres engine speaks the mvcc layer, not ${layer.name}`);
    const why = postgresUnavailable();
    if (why) throw new InputError(`the postgres engine cannot run here: it ${why}`);
    return postgresFactory();
  }
  if (spec === "sqlite") {
    if (layer.name !== "mvcc") throw new InputError(`the sqlite engine speaks the mvcc layer, not ${layer.name}`);
    const why = sqliteUnavailable();
    if (why) throw new InputError(`the sqlite engine cannot run here: it ${why}`);
    return sqliteFactory();
  }
  if (spec.startsWith("stdio:")) {
    const command = spec.slice("stdio:".length).trim();
    if (!command) throw new InputError('stdio engine needs a command: --engine stdio:"CMD"');
    return stdioFactory(layer, command, options.timeoutMs);
  }
  throw new InputError(
    `unknown engine "${spec}" (use model, oracle, mutant:NAME, linux, overlayfs, postgres, sqlite or stdio:"CMD")`,
  );
}

/** What `cowcheck engines` lists for a layer. Real-system engines are added by their own issues. */
export function engineCatalogue(layer: AnyLayer): EngineInfo[] {
  return [
    { spec: "model", available: true, why: "reference model, in process" },
    { spec: "oracle", available: true, why: "eager-copy oracle, in process (no inspect: data properties only)" },
    ...layer.mutants.map((m) => ({ spec: `mutant:${m.name}`, available: true, why: m.mimics })),
    ...(layer.name === "mm" ? [linuxInfo()] : []),
    ...(layer.name === "overlay" ? [overlayfsInfo()] : []),
    ...(layer.name === "mvcc" ? [postgresInfo(), sqliteInfo()] : []),
    { spec: 'stdio:"CMD"', available: true, why: "any program speaking the JSON-lines protocol (docs/protocol.md)" },
  ];
}

function linuxInfo(): EngineInfo {
  const why = linuxUnavailable();
  if (why)
    return {
      spec: "linux",
      available: false,
      why: `the running kernel (engines/linux/agent.c); unavailable: it ${why}`,
    };
  const { offered, missing } = linuxFeatures();
  const lacks = Object.entries(missing).map(([f, reason]) => `${f}: ${reason}`);
  return {
    spec: "linux",
    available: true,
    why: `the running kernel (engines/linux/agent.c); features ${offered.join(", ")}; without ${lacks.join("; ")}`,
  };
}

function postgresInfo(): EngineInfo {
  const what =
    "PostgreSQL (engines/postgres): a private server it starts, or COWCHECK_PG_URL; view heap (pageinspect, for --against model) where the server has it";
  const why = postgresUnavailable();
  return { spec: "postgres", available: !why, why: why ? `${what}; unavailable: it ${why}` : what };
}

function sqliteInfo(): EngineInfo {
  const what =
    "SQLite in WAL mode through better-sqlite3 (engines/sqlite), the sqlite flavour: a fresh database file per sequence";
  const why = sqliteUnavailable();
  return { spec: "sqlite", available: !why, why: why ? `${what}; unavailable: it ${why}` : what };
}

function overlayfsInfo(): EngineInfo {
  const what = "a real OverlayFS mount of the running kernel on a private tmpfs (engines/overlayfs)";
  const why = overlayfsUnavailable();
  if (why) return { spec: "overlayfs", available: false, why: `${what}; unavailable: it ${why}` };
  return { spec: "overlayfs", available: true, why: `${what}; features ${overlayfsFeatures.join(", ")}` };
}

/**
 * A stdio engine per sequence; an engine that offers "reset" is kept when a sequence ends and reset for the
 * next one (same geometry), instead of a new process each time. A failed reset is an engine failure.
 */
function stdioFactory(layer: AnyLayer, command: string, timeoutMs: number | undefined): EngineFactory {
  let idle: { engine: StdioEngine; geometry: string } | undefined;
  const dispose = async (): Promise<void> => {
    const e = idle?.engine;
    idle = undefined;
    await e?.close();
  };
  return {
    name: `${layer.name}:stdio:${command}`,
    dispose,
    async create(g): Promise<Engine<unknown, unknown>> {
      const geometry = JSON.stringify(g);
      let engine = idle?.geometry === geometry ? idle.engine : undefined;
      if (engine) {
        idle = undefined;
        await engine.reset();
      } else {
        await dispose();
        engine = await StdioEngine.start(layer, g, command, { timeoutMs });
      }
      if (!engine.features.has("reset")) return engine;
      const e = engine;
      return {
        layer: e.layer,
        features: e.features,
        apply: (op) => e.apply(op),
        inspect: () => e.inspect(),
        inspectView: (name) => e.inspectView(name),
        close: async () => {
          if (e.healthy && !idle) idle = { engine: e, geometry };
          else await e.close();
        },
      };
    },
  };
}
