// The mm model seen only through JSON, for the tests that judge the JSON state path (what a stdio engine's inspect
// answers) against the in-process one.
import type { Engine } from "../core/index.ts";
import type { MmModel } from "../models/mm/model.ts";
import { decodeMmState, encodeMmState } from "../models/mm/state.ts";
import type { MmObs, MmOp, MmState } from "../models/mm/types.ts";

/** The model seen only through JSON: inspect encodes, the layer decodes (no `touched`, so every check is full). */
export class ThroughJson implements Engine<MmOp, MmObs, MmState> {
  readonly layer = "mm" as const;
  readonly features: ReadonlySet<string>;
  constructor(private readonly inner: MmModel) {
    this.features = inner.features;
  }
  apply(op: MmOp): MmObs {
    return this.inner.apply(op);
  }
  inspect(): MmState {
    return decodeMmState(JSON.parse(JSON.stringify(encodeMmState(this.inner))), this.inner.geometry);
  }
}
