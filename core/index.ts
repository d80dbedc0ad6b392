// The ground floor: the vocabulary every other part of cowcheck shares. It imports nothing else of the project.
export {
  adoptGroup,
  atProcessEnd,
  isTracked,
  killAllGroups,
  killGroups,
  onEngineGroup,
  runFolder,
  runRoot,
  stopAllGroups,
  sweepLeftovers,
  trackGroup,
} from "./cleanup.ts";
export { countersView } from "./counters.ts";
export { type Engine, type EngineFactory, EngineFailure, type EngineFailureKind } from "./engine.ts";
export { describeIssue, InputError } from "./errors.ts";
export { type GeometrySources, resolveGeometry } from "./geometry.ts";
export { allows, deepEqual, excerpt, isOneOf, isPromise, minus, visible, visibleChar } from "./json.ts";
export {
  type AnyLayer,
  type CrashCampaignOptions,
  type CrashCampaignResult,
  type Flavour,
  featuresNeeded,
  type Layer,
  type LayerView,
  type Mutant,
  mutantOf,
  type OpLock,
  type Program,
  type SystemEngine,
  type ViewVerdict,
  withoutKinds,
} from "./layer.ts";
export {
  DRAWN_OPS,
  type Graph,
  type GraphEdge,
  type GraphGroup,
  type GraphNode,
  type LaneEvent,
  type Lanes,
  MARKS,
  type Picture,
  type TitledPicture,
} from "./picture.ts";
export {
  type Checker,
  type Failure,
  type Named,
  type Property,
  type PropertyKind,
  type Step,
  stateless,
  stepwise,
} from "./property.ts";
export {
  type CampaignResult,
  type Coverage,
  entry,
  type OpMix,
  opKindOf,
  type StructureStats,
  tally,
} from "./result.ts";
export {
  formatTrace,
  MAX_NESTING,
  MAX_TRACE_BYTES,
  MAX_TRACE_OPS,
  parseTrace,
  readTraceFile,
  type Trace,
} from "./trace.ts";
