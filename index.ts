// cowcheck as a library: the contracts, the layers (op arbitraries, oracles, models, properties, mutants), the
// runner, campaigns, traces and reports.
import type { EngineFactory, Failure, Step } from "./core/index.ts";
import { type EngineSource, resolveEngine } from "./engines/resolve.ts";
import { asFactory } from "./fuzz/check-engine.ts";
import { replayTrace } from "./fuzz/replay.ts";
import { layers, validateTrace } from "./layers/index.ts";

export {
  type AnyLayer,
  allows,
  type CampaignResult,
  type Checker,
  type Coverage,
  deepEqual,
  type Engine,
  type EngineFactory,
  EngineFailure,
  type EngineFailureKind,
  type Failure,
  type Flavour,
  formatTrace,
  InputError,
  type Layer,
  type LayerView,
  type Mutant,
  mutantOf,
  type Named,
  type OpMix,
  type Property,
  type PropertyKind,
  resolveGeometry,
  type Step,
  type StructureStats,
  type SystemEngine,
  stateless,
  type Trace,
  type ViewVerdict,
} from "./core/index.ts";
export { type EngineSource, engineCatalogue, factoryOf, resolveEngine } from "./engines/resolve.ts";
export { StdioEngine, stdioFactory } from "./engines/stdio.ts";
export {
  type CampaignOptions,
  DEFAULT_RUNS,
  type Progress,
  parseReplayToken,
  replayToken,
  runCampaign,
  sequenceArbitrary,
} from "./fuzz/campaign.ts";
export {
  type CheckEngineOptions,
  checkEngine,
  cowcheckMatchers,
  type EngineCheck,
  expectEngineHolds,
} from "./fuzz/check-engine.ts";
export { type ExploreResult, explore, shortestKill } from "./fuzz/explore.ts";
export { minimize, minimizeTrace, type TraceMinimization } from "./fuzz/minimize.ts";
export { replayTrace } from "./fuzz/replay.ts";
export { checkSequence, checkWith } from "./fuzz/runner.ts";
export { findLayer, layers, loadTrace, registerLayer, validateTrace } from "./layers/index.ts";
export { explainFailure, failureReport } from "./reports/explain.ts";
export { ReportWriter } from "./reports/writer.ts";

export interface CheckTraceOptions {
  /** The engine: a spec as `--engine` takes it (default "model"), a factory, or a function from geometry to engine. */
  readonly engine?: string | EngineSource;
  /** A reference engine for `--against`'s lockstep comparison of views, by spec or as a factory. */
  readonly against?: string | EngineSource;
  readonly onStep?: (step: Step) => void;
}

/**
 * Run a trace (a parsed JSON value) on an engine; the first failure, or undefined if every property held. The
 * engines are disposed when it ends.
 */
export async function checkTrace(json: unknown, options: CheckTraceOptions = {}): Promise<Failure | undefined> {
  const { layer, trace } = validateTrace(json);
  const open = (e: string | EngineSource) =>
    typeof e === "string" ? resolveEngine(layer, e, { registry: layers }) : asFactory(layer, e);
  let factory: EngineFactory | undefined;
  let against: EngineFactory | undefined;
  try {
    factory = await open(options.engine ?? "model");
    against = options.against === undefined ? undefined : await open(options.against);
    return await replayTrace(layer, trace, factory, { against, onStep: options.onStep });
  } finally {
    await factory?.dispose?.();
    await against?.dispose?.();
  }
}
