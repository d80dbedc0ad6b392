// The counters view of an mvcc engine without `inspect`: how many tuple versions its heap holds, held to the
// reference model's, run in lockstep (docs/protocol.md, "Economy counters for engines without inspect"): an engine
// that copies unchanged rows on a write, or whose VACUUM reclaims less than the model's, holds more and fails.
import { z } from "zod";
import { countersView, type LayerView } from "../../core/index.ts";
import type { MvccState } from "../../models/mvcc/types.ts";

export const mvccCountersSchema = z
  .object({
    /** Heap tuple versions the table holds now: live, dead and not yet vacuumed, an insert waiting in its unique check. */
    versions: z.number().int().min(0),
  })
  .strict();
export type MvccCounters = z.infer<typeof mvccCountersSchema>;

export const mvccCountersView: LayerView<MvccState> = countersView(
  mvccCountersSchema,
  // the sqlite flavour has no counters: the comparison stops there
  (reference) => ("wal" in reference ? undefined : { versions: reference.versions.length }),
  { versions: "holds more tuple versions in its heap" },
);
