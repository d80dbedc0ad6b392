// The wal-index view: what a real SQLite keeps in the -shm file (walformat.html: the wal-index header's mxFrame and
// salt-1, the checkpoint info's nBackfill and read marks 1..4), compared with the reference model's WAL for
// `cowcheck run --engine sqlite --against model`. The engine reads it from the file's first 136 bytes after each op.
import { z } from "zod";
import type { LayerView, ViewVerdict } from "../../core/index.ts";
import type { MvccState } from "../../models/mvcc/types.ts";
import type { WalState } from "../../models/mvcc/wal-state.ts";

const frame = z.number().int().min(0);
export const walIndexSchema = z
  .object({
    mxFrame: frame,
    nBackfill: frame,
    /** aReadMark[1..4]; null: READMARK_NOT_USED (0xffffffff). */
    marks: z.array(frame.nullable()).length(4),
  })
  .strict();
export type WalIndex = z.infer<typeof walIndexSchema>;

export const walIndexView: LayerView<MvccState | WalState> = {
  name: "wal-index",
  decode: (json) => walIndexSchema.parse(json),
  compare(view, reference): ViewVerdict {
    if (!("wal" in reference)) return { desync: "the postgres flavour has no WAL" };
    const real = view as WalIndex;
    const model: WalIndex = { mxFrame: reference.mxFrame, nBackfill: reference.nBackfill, marks: reference.marks };
    for (const k of ["mxFrame", "nBackfill", "marks"] as const) {
      if (JSON.stringify(real[k]) !== JSON.stringify(model[k])) {
        return {
          divergence: {
            property: "wal-index",
            message: `${k} is ${JSON.stringify(real[k])} in the -shm file and ${JSON.stringify(model[k])} in the model`,
          },
        };
      }
    }
    return {};
  },
};
