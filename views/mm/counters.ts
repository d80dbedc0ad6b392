// The counters view of an mm engine without `inspect`: the pages it copied and allocated since the sequence began,
// held to the reference model's, run in lockstep (docs/protocol.md, "Economy counters for engines without
// inspect"): an engine may copy or allocate no more than the lazy model did for the same ops, so one that copies
// every page at fork fails, though it cannot report its refcounts or rmaps.
import { z } from "zod";
import { countersView, type LayerView } from "../../core/index.ts";
import type { MmState } from "../../models/mm/types.ts";

const n = z.number().int().min(0);
export const mmCountersSchema = z
  .object({
    /** Base pages whose contents were copied from another page (the model's `copiedPages`). */
    pagesCopied: n,
    /** Base pages allocated, zeroed or copied, a huge folio counting each of its pages (the model's `allocatedPages`). */
    pagesAllocated: n,
  })
  .strict();
export type MmCounters = z.infer<typeof mmCountersSchema>;

/** The model's counters, as an engine reports them. */
export const mmCountersOf = (s: MmState): MmCounters => ({
  pagesCopied: s.copiedPages,
  pagesAllocated: s.allocatedPages,
});

export const mmCountersView: LayerView<MmState> = countersView(mmCountersSchema, mmCountersOf, {
  pagesCopied: "copied more pages",
  pagesAllocated: "allocated more pages",
});
