// The heap view: the tuple versions a real PostgreSQL table holds (pageinspect's heap_page_items: key, value,
// t_xmin, t_xmax) and the fate of their xids, compared with the reference model's heap for
// `cowcheck run --engine postgres --against model`. The engine numbers xids from its sequence's start, as the model
// does (the first xid assigned is 1). Page order is not compared: VACUUM frees line pointers that later inserts reuse.
import { z } from "zod";
import { type LayerView, minus, type ViewVerdict } from "../../core/index.ts";
import type { MvccState, Version } from "../../models/mvcc/types.ts";

const xid = z.number().int().min(0);
export const heapViewSchema = z
  .object({
    versions: z.array(z.object({ key: z.number().int(), value: z.number().int(), xmin: xid, xmax: xid }).strict()),
    /** The fate of every xid the versions name: absent means still in progress. */
    clog: z.record(z.string(), z.enum(["committed", "aborted"])),
  })
  .strict();
export type HeapView = z.infer<typeof heapViewSchema>;

const tuple = (v: Pick<Version, "key" | "value" | "xmin" | "xmax">) =>
  `(${v.key}=${v.value} xmin ${v.xmin} xmax ${v.xmax})`;

export const heapView: LayerView<MvccState> = {
  name: "heap",
  decode: (json) => heapViewSchema.parse(json),
  compare(view, reference): ViewVerdict {
    const real = view as HeapView;
    if ("wal" in reference) return { desync: "the sqlite flavour has no heap" };
    const mine = real.versions.map(tuple);
    const model = reference.versions.map(tuple);
    const extra = minus(mine, model);
    if (extra.length)
      return {
        divergence: {
          property: "heap",
          message: `the server's heap has ${extra.join(", ")}, which the model's has not`,
        },
      };
    const missing = minus(model, mine);
    if (missing.length)
      return {
        divergence: {
          property: "heap",
          message: `the model's heap has ${missing.join(", ")}, which the server's has not`,
        },
      };
    const xids = new Set(real.versions.flatMap((v) => [v.xmin, v.xmax]).filter((x) => x !== 0));
    for (const x of xids) {
      const [a, b] = [real.clog[x] ?? "in progress", reference.clog[x] ?? "in progress"];
      if (a !== b)
        return { divergence: { property: "heap", message: `xid ${x} is ${a} on the server and ${b} in the model` } };
    }
    return {};
  },
};
