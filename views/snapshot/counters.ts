// The counters view of a snapshot engine without `inspect`: the nodes it copied by shadowing and the nodes it
// allocated since the sequence began, held to the reference model's, run in lockstep (docs/protocol.md, "Economy
// counters for engines without inspect"): an engine that copies a whole tree on a snapshot or a write fails.
import { z } from "zod";
import { countersView, type LayerView } from "../../core/index.ts";
import type { SnapshotState } from "../../models/snapshot/types.ts";

const n = z.number().int().min(0);
export const snapshotCountersSchema = z
  .object({
    /** Nodes copied to be written (a shadowed node), cumulative. */
    nodesCopied: n,
    /** Nodes allocated for any reason (copies, splits, a snapshot's root, a new leaf), cumulative. */
    nodesAllocated: n,
  })
  .strict();

export const snapshotCountersView: LayerView<SnapshotState> = countersView(
  snapshotCountersSchema,
  (reference) => ({ nodesCopied: reference.counters.copied, nodesAllocated: reference.counters.allocated }),
  { nodesCopied: "copied more nodes", nodesAllocated: "allocated more nodes" },
);
