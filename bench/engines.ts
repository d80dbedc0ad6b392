// npm run bench:engines: every real system a layer can be checked against, where this machine can run it. The same
// generated sequences (seed 42, the ops the engine offers) run twice, wall time with start-up included: checked as
// `cowcheck run` checks them (engine + oracle + observation compare + every property the engine allows), and the
// floor, the engine alone (its own adapter and the system, nothing of the harness). The harness's share is the part
// of the checked run spent outside the engine's calls (apply, inspect, start, close): what cowcheck itself costs.
import fc from "fast-check";
import {
  type AnyLayer,
  type Engine,
  type EngineFactory,
  isPromise,
  resolveGeometry,
  type SystemEngine,
} from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { checkWith } from "../fuzz/runner.ts";
import { layers } from "../layers/index.ts";

export interface EngineRate {
  readonly engine: string;
  readonly layer: string;
  /** Checked ops per second, wall time (engine start-up and close included). */
  readonly opsPerSec: number;
  /** Of the checked run's wall time, the part spent outside the engine's calls. */
  readonly harnessShare: number;
  /** Ops per second of the engine alone on the same sequences (no oracle, no properties). */
  readonly floor: number;
  readonly ops: number;
  readonly sequences: number;
  /** Sequences a property or the oracle failed (a real finding: the run goes on with the next). */
  readonly failed: number;
}

export interface EngineSkip {
  readonly engine: string;
  readonly layer: string;
  readonly skipped: string;
}

export interface EngineBenchOptions {
  /** Sequences per engine, each of up to `maxOps` ops. */
  readonly sequences: number;
  readonly maxOps: number;
  /** Only these engines (by name), if given. */
  readonly only?: readonly string[];
  readonly onEngine?: (name: string) => void;
}

/** A factory whose engines add the time spent in each of their calls (and in their start) to `clock.ms`. */
function timed(factory: EngineFactory, clock: { ms: number }): EngineFactory {
  const time = <T>(f: () => T | Promise<T>): T | Promise<T> => {
    const t0 = performance.now();
    const v = f();
    if (!isPromise(v)) {
      clock.ms += performance.now() - t0;
      return v;
    }
    return v.finally(() => {
      clock.ms += performance.now() - t0;
    });
  };
  const wrap = (e: Engine<unknown, unknown>): Engine<unknown, unknown> => ({
    layer: e.layer,
    features: e.features,
    apply: (op) => time(() => e.apply(op)),
    inspect: e.inspect && (() => time(() => e.inspect!())),
    inspectView: e.inspectView && ((name) => time(() => e.inspectView!(name))),
    close: e.close && (() => time(() => e.close!())),
  });
  return {
    ...factory,
    create: async (g) => wrap(await time(() => factory.create(g))),
  };
}

async function measure(layer: AnyLayer, system: SystemEngine, o: EngineBenchOptions): Promise<EngineRate> {
  const factory = await resolveEngine(layer, system.name, { registry: layers });
  try {
    const geometry = resolveGeometry(layer, { engine: factory });
    const probe = await factory.create(geometry);
    const features = probe.features;
    await probe.close?.();
    const seqs = fc.sample(sequenceArbitrary(layer, geometry, features, o.maxOps), { seed: 42, numRuns: o.sequences });
    const clock = { ms: 0 };
    const engine = timed(factory, clock);
    let ops = 0;
    let failed = 0;
    const t0 = performance.now();
    for (const s of seqs) {
      const f = await checkWith(layer, geometry, engine, s);
      ops += f ? f.index + 1 : s.length;
      if (f) failed++;
    }
    const wall = performance.now() - t0;
    // the floor: the same ops (up to each failure), through the engine alone
    const t1 = performance.now();
    let floorOps = 0;
    for (const s of seqs) {
      const e = await factory.create(geometry);
      try {
        for (const op of s) {
          const v = e.apply(op);
          if (isPromise(v)) await v;
          floorOps++;
        }
      } finally {
        await e.close?.();
      }
    }
    const floorMs = performance.now() - t1;
    return {
      engine: system.name,
      layer: layer.name,
      opsPerSec: (ops / wall) * 1000,
      harnessShare: (wall - clock.ms) / wall,
      floor: (floorOps / floorMs) * 1000,
      ops,
      sequences: seqs.length,
      failed,
    };
  } finally {
    await factory.dispose?.();
  }
}

/** Every real engine of every layer, measured where the machine can run it, skipped (with the reason) where not. */
export async function engineBench(o: EngineBenchOptions): Promise<(EngineRate | EngineSkip)[]> {
  const out: (EngineRate | EngineSkip)[] = [];
  for (const layer of layers)
    for (const system of layer.engines ?? []) {
      if (o.only && !o.only.includes(system.name)) continue;
      const why = system.unavailable();
      if (why) {
        out.push({ engine: system.name, layer: layer.name, skipped: `it ${why}` });
        continue;
      }
      o.onEngine?.(system.name);
      out.push(await measure(layer, system, o));
    }
  return out;
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(10);

export function printEngines(rates: readonly (EngineRate | EngineSkip)[], o: EngineBenchOptions): void {
  console.log(
    `real engines, ${o.sequences} sequences of ≤${o.maxOps} ops each (seed 42), wall time with start-up, ops/s (node ${process.version}):`,
  );
  console.log(
    `  ${"engine".padEnd(10)}${"layer".padEnd(10)}${"checked".padStart(10)}${"floor".padStart(10)}  floor/checked  harness share`,
  );
  for (const r of rates) {
    if ("skipped" in r) {
      console.log(`  ${r.engine.padEnd(10)}${r.layer.padEnd(10)}  skipped: ${r.skipped}`);
      continue;
    }
    console.log(
      `  ${r.engine.padEnd(10)}${r.layer.padEnd(10)}${fmt(r.opsPerSec)}${fmt(r.floor)}  ${`${(r.floor / r.opsPerSec).toFixed(2)}x`.padStart(13)}  ${`${(100 * r.harnessShare).toFixed(1)}%`.padStart(13)}${r.failed ? `  (${r.failed} sequence(s) failed a check)` : ""}`,
    );
  }
  console.log(
    "  floor: the engine alone on the same ops (its adapter and the system, no oracle or property); harness share: the checked run's time outside the engine's calls",
  );
}

export function engineJson(rates: readonly (EngineRate | EngineSkip)[]): unknown[] {
  return rates.map((r) =>
    "skipped" in r
      ? r
      : {
          engine: r.engine,
          layer: r.layer,
          opsPerSec: Math.round(r.opsPerSec),
          harnessShare: Number(r.harnessShare.toFixed(3)),
          floor: Math.round(r.floor),
          ops: r.ops,
          sequences: r.sequences,
          failed: r.failed,
        },
  );
}
