// cowcheck as a library: layers (ops arbitraries, oracles, models, properties, mutants), the runner, traces.
export { layers, findLayer } from "./layers/index.ts";
export type { Layer, Mutant, AnyLayer } from "./layers/layer.ts";
export type { Engine, EngineFactory, LayerName } from "./engines/types.ts";
export { EngineFailure, InputError } from "./engines/types.ts";
export { resolveEngine } from "./engines/resolve.ts";
export { StdioEngine } from "./engines/stdio.ts";
export { checkSequence, checkWith, deepEqual, type Failure, type Step } from "./fuzz/runner.ts";
export { runCampaign, sequenceArbitrary, type CampaignOptions, type CampaignResult } from "./fuzz/campaign.ts";
export { checkTrace } from "./fuzz/replay.ts";
export { validateTrace, loadTrace, type Trace } from "./fuzz/trace.ts";
export { minimize } from "./fuzz/minimize.ts";
export { checkEngine, expectEngineHolds } from "./fuzz/check-engine.ts";
