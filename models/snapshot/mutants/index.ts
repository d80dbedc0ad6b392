// The snapshot mutant zoo: the reference model with one deliberate, documented bug each, named after the real bug
// it mimics. The properties must kill every one; `cowcheck mutants --layer snapshot` shows how fast.
import type { Mutant } from "../../../core/index.ts";
import type { SnapshotGeometry, SnapshotObs, SnapshotOp, SnapshotState } from "../types.ts";

export const snapshotMutants: Mutant<SnapshotOp, SnapshotObs, SnapshotState, SnapshotGeometry>[] = [];
