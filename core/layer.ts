// A layer descriptor bundles everything the generic runner needs; the runner knows nothing else about a layer.
import type fc from "fast-check";
import type { z } from "zod";
import type { Engine, EngineFactory } from "./engine.ts";
import type { Graph, TitledPicture } from "./picture.ts";
import type { Failure, Property, PropertyKind, Step } from "./property.ts";

export interface Mutant<Op, Obs, State, G> {
  readonly name: string;
  /** The real bug (class) it mimics, one line. */
  readonly mimics: string;
  /** The only kind of property expected to kill it, where that matters (an eager engine fails only economy). */
  readonly killedBy?: PropertyKind;
  /**
   * Geometry fields it cannot run without (e.g. mvcc's {"flavour":"sqlite"}: it mutates that flavour's model). The
   * geometry rule puts them last, over the user's (core/geometry.ts).
   */
  readonly geometry?: Partial<G>;
  /**
   * Geometry fields it needs unless the user says otherwise (mm's mTHP mutants: a huge page large enough for an
   * order below it), as a real engine's defaults are.
   */
  readonly prefers?: Partial<G>;
  /** Only an interleaving kills it (docs/races.md): a bug between the steps of one path while another runs. */
  readonly interleaved?: boolean;
  create(geometry: G): Engine<Op, Obs, State>;
}

/** A mutant from a subclass of the layer's model: the one way every zoo declares its members. */
export function mutantOf<Op, Obs, State, G>(
  name: string,
  mimics: string,
  Model: new (geometry: G) => Engine<Op, Obs, State>,
  killedBy?: PropertyKind,
  geometry?: Partial<G>,
  prefers?: Partial<G>,
): Mutant<Op, Obs, State, G> {
  return { name, mimics, killedBy, geometry, prefers, create: (g) => new Model(g) };
}

export interface Layer<Op, Obs, State, G> {
  /** What `--layer` and traces call it. */
  readonly name: string;
  readonly description: string;
  readonly defaultGeometry: G;
  /** Other flavours of the layer, as geometry overrides: `cowcheck run` with no --geometry checks each model too. */
  readonly flavours?: readonly Flavour<G>[];
  readonly geometrySchema: z.ZodType<G>;
  readonly opSchema: z.ZodType<Op>;
  readonly obsSchema: z.ZodType<Obs>;
  /** The observation forms in one line, for messages to engine authors. */
  readonly observations: string;
  /**
   * The op kinds, each an arbitrary with its weight; ops needing a feature outside `features` are left out. A
   * campaign draws each sequence from all of them, or (swarm testing) from a random subset of them.
   */
  opKinds(geometry: G, features: ReadonlySet<string>): readonly fc.WeightedArbitrary<Op>[];
  /**
   * Named scenarios (a real system's own test families): a campaign runs each first, then splices random ops into
   * them for a share of its sequences, so the states they reach are explored further. Each is a whole sequence
   * (the prelude is not added) and is arranged like a generated one; one longer than `maxOps` is left out.
   */
  corpus?(geometry: G): readonly { readonly name: string; readonly ops: readonly Op[] }[];
  /** The feature(s) an op needs beyond the layer's base set, if any (an engine without one is never sent the op). */
  requires?(op: Op): string | readonly string[] | undefined;
  /**
   * Why an op the schema accepts is still not valid in this geometry (mvcc: `checkpoint` outside the sqlite
   * flavour), or undefined. Trace validation calls it for each op with the trace's completed geometry, so that such
   * an op is refused as bad input (exit 2) with its index, before anything runs.
   */
  checkOp?(op: Op, geometry: G): string | undefined;
  /** A small finite op set for exhaustive exploration (`cowcheck explore`). */
  alphabet?(geometry: G): Op[];
  /**
   * Rewrite a generated sequence (prelude included) before it runs, e.g. to resolve the names ops use against
   * what the sequence itself has created so far. Applied after generation, so shrinking stays consistent.
   */
  arrange?(ops: Op[], geometry: G, features: ReadonlySet<string>): Op[];
  /** Ops every generated sequence starts with (so a run does not waste its first ops on a missing process). */
  readonly prelude: readonly Op[];
  model(geometry: G): Engine<Op, Obs, State>;
  /**
   * The eager oracle. Where the system may legitimately choose, it answers `{ oneOf: [...] }`: any of them is right;
   * a `oneOf` may also stand for one part of an observation (any of its members there is right: core/json.ts allows).
   */
  oracle(geometry: G): Engine<Op, unknown>;
  readonly mutants: readonly Mutant<Op, Obs, State, G>[];
  readonly properties: readonly Property<Op, Obs, State>[];
  /** Candidate rewrites of a failing sequence that plain deletion cannot reach (canonical renaming). */
  simplify?(ops: readonly Op[]): Iterable<Op[]>;
  /** The anomaly a failure shows, in the layer's own terms (mvcc: Adya's G0…G2), for failure reports. */
  classify?(ops: readonly Op[], failure: Failure, geometry: G): string | undefined;
  /** A compact human-readable picture of the state, for failure reports. */
  renderState?(state: State): string;
  /**
   * The state as a graph, for the report's op-by-op stepper: its parts with stable ids (a frame's number, a path, a
   * node's id), so that what an op changed can be marked. Drawn from an inspected state (the engine's, or the
   * model's where the engine cannot be inspected).
   */
  picture?(state: State, geometry: G): Graph;
  /**
   * Pictures of a failing trace as a whole, from its steps (mvcc: the clients' timeline, the dependency cycle of an
   * anomaly): what no single state shows.
   */
  tracePictures?(steps: readonly Step[], failure: Failure, geometry: G): readonly TitledPicture[];
  /** Turn the JSON an external engine returns for `inspect` into the state the properties read. */
  decodeState(json: unknown, geometry: G): State;
  /**
   * Partial views of the state a real system can report though it cannot report the whole (mm: "pagemap"). An
   * engine offering one lists its name among its features; `--against model` compares it with the model's state.
   */
  readonly views?: readonly LayerView<State>[];
  /** The real systems this layer can be checked against (`--engine NAME`), each in its own folder of engines/. */
  readonly engines?: readonly SystemEngine[];
  /**
   * The locks an op holds from its first step to its last, for interleavings (docs/races.md): two ops whose locks
   * conflict never overlap. Absent: ops may overlap anywhere.
   */
  locks?(op: Op): readonly OpLock[];
  /**
   * Named programs of threads whose steps the interleaving explorer runs in every order (docs/races.md): a real
   * system's own race tests, each needing the features it names.
   */
  races?(geometry: G): readonly { readonly name: string; readonly program: Program<Op> }[];
  /**
   * What of an op takes effect before the op itself, for the interleaving judge (docs/races.md): for an op that
   * has one, how to make it from the oracle when the judge places it, anywhere from the op's start to the op (mm: a
   * write's copy-on-write break, the same write of the value the cell holds then); undefined for an op without.
   */
  precursor?(op: Op): ((oracle: Engine<Op, unknown>) => Op | undefined) | undefined;
  /**
   * Generated race programs, run after `races`: threads contending for the same state (docs/races.md); undefined
   * in a geometry with nothing to race (snapshot: a flavour without readers).
   */
  raceArbitrary?(geometry: G, features: ReadonlySet<string>): fc.Arbitrary<Program<Op>> | undefined;
}

/** Threads of ops run interleaved (docs/races.md), with the ops that set the scene and the ops that look after. */
export interface Program<Op = unknown> {
  /** Run one by one before the threads start. */
  readonly prelude: readonly Op[];
  /** Each thread's ops, in program order. */
  readonly threads: readonly (readonly Op[])[];
  /** Run one by one after every thread has ended: their observations are judged too. */
  readonly epilogue: readonly Op[];
}

/**
 * A lock an op holds throughout (mm: its process's mmap_lock), shared (a reader's) or not; a name ending in `*`
 * stands for every lock whose name starts with the rest (ksmd: every mm's mmap_lock).
 */
export interface OpLock {
  readonly name: string;
  readonly shared: boolean;
}

/** A named set of geometry overrides that selects another model of the layer (mvcc: "sqlite"). */
export interface Flavour<G> {
  readonly name: string;
  readonly geometry: Readonly<Partial<G>>;
}

export interface LayerView<State> {
  readonly name: string;
  /**
   * What a divergence of this view is: "structure" (the default: the engine's structure differs from the model's), or
   * "economy" (mm's "counters": the engine copied or allocated more than the lazy reference did). An economy view is
   * compared with the layer's model even without `--against`, for an engine that offers it and no `inspect`, and is
   * skipped with the economy bounds (`--skip economy`).
   */
  readonly kind?: "structure" | "economy";
  /** The view from the JSON an engine answers to `{"inspect":"<name>"}`; throws if it is malformed. */
  decode(json: unknown): unknown;
  /** The engine's view against the reference engine's whole state. */
  compare(view: unknown, reference: State): ViewVerdict;
}

/**
 * A comparison's outcome: a divergence, or agreement perhaps thanks to allowances (differences the real system
 * may legitimately make, each with its reason), or `desync`: the real system took another legitimate path and
 * the two states cannot be compared any more in this sequence.
 */
export interface ViewVerdict {
  readonly divergence?: { readonly property: string; readonly message: string };
  readonly allowed?: readonly string[];
  readonly desync?: string;
}

// The registry and the runner hold layers of every type; this is the erased form.
// biome-ignore lint/suspicious/noExplicitAny: the erased form must accept every layer, whose types differ
export type AnyLayer = Layer<any, any, any, any>;

/** The features an op needs beyond its layer's base set (Layer.requires, as a list). */
export function featuresNeeded(layer: AnyLayer, op: unknown): readonly string[] {
  const needs = layer.requires?.(op);
  return needs === undefined ? [] : typeof needs === "string" ? [needs] : needs;
}

/** The layer without the properties of the given kinds (e.g. an engine that is eager on purpose skips economy). */
export function withoutKinds(layer: AnyLayer, kinds: readonly PropertyKind[] | undefined): AnyLayer {
  if (!kinds?.length) return layer;
  return { ...layer, properties: layer.properties.filter((p) => !kinds.includes(p.kind)) };
}

/**
 * A real system a layer can be checked against (the running kernel, a mount, a database server): what its layer
 * descriptor lists, so that `--engine NAME`, `cowcheck engines` and the help text find it.
 */
export interface SystemEngine {
  /** What `--engine` calls it. */
  readonly name: string;
  /** What it runs, in one line (for `cowcheck engines`). */
  readonly description: string;
  /** Why it cannot run on this machine, worded to follow "it " ("needs root"), or undefined when it can. */
  unavailable(): string | undefined;
  /** Features it will offer here, and why each missing one is missing (for `cowcheck engines`). */
  features?(): { readonly offered: readonly string[]; readonly missing: Readonly<Record<string, string>> };
  /** Geometry fields it needs unless the user says otherwise (the real page size, say). */
  readonly geometry?: Readonly<Record<string, unknown>>;
  /** Geometry fields it cannot run without, over the user's (the flavour it speaks). */
  readonly fixedGeometry?: Readonly<Record<string, unknown>>;
  /** The layer's views it offers for `--against model`, where the machine allows. */
  readonly views?: readonly string[];
  /** Its engine factory for the layer; `timeoutMs` bounds each message where it speaks the stdio protocol. */
  factory(layer: AnyLayer, options: { readonly timeoutMs?: number }): EngineFactory;
  /**
   * A storage engine's crash campaign (`cowcheck crash`): every crash state of every commit of random sequences,
   * each recovered by the real system and held to "exactly one committed state".
   */
  crashCampaign?(layer: AnyLayer, options: CrashCampaignOptions): Promise<CrashCampaignResult>;
}

export interface CrashCampaignOptions {
  readonly seed: number;
  readonly sequences: number;
  /** The negative control: the system with its data flush removed, which the campaign must catch. */
  readonly negativeControl?: boolean;
  /** Told after each sequence, for progress on a long campaign. */
  readonly onProgress?: (p: {
    readonly sequences: number;
    readonly states: number;
    readonly violations: number;
  }) => void;
}

export interface CrashCampaignResult {
  readonly commits: number;
  /** Crash states rebuilt, recovered and checked. */
  readonly states: number;
  /** States that recovered anything but exactly the last committed state or the in-flight one. */
  readonly violations: number;
  /** Violations by kind (silently wrong data, a read error, …). */
  readonly kinds: Readonly<Record<string, number>>;
  /** A few violations, in words. */
  readonly examples: readonly string[];
  readonly msPerState: number;
  /** More about the campaign, in one line. */
  readonly detail: string;
}
