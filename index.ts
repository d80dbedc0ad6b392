// cowcheck as a library: layers (ops arbitraries, oracles, models, properties, mutants), the runner, traces.

export { resolveEngine } from "./engines/resolve.ts";
export { StdioEngine } from "./engines/stdio.ts";
export type { Engine, EngineFactory, LayerName } from "./engines/types.ts";
export { EngineFailure, InputError } from "./engines/types.ts";
export { type CampaignOptions, type CampaignResult, runCampaign, sequenceArbitrary } from "./fuzz/campaign.ts";
export { checkEngine, expectEngineHolds } from "./fuzz/check-engine.ts";
export { minimize } from "./fuzz/minimize.ts";
export { checkTrace } from "./fuzz/replay.ts";
export { checkSequence, checkWith, deepEqual, type Failure, type Step } from "./fuzz/runner.ts";
export { loadTrace, type Trace, validateTrace } from "./fuzz/trace.ts";
export { findLayer, layers } from "./layers/index.ts";
export type { AnyLayer, Layer, Mutant } from "./layers/layer.ts";
