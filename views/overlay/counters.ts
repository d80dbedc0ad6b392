// The counters view of an overlay engine without `inspect`: the copy-ups it performed and the data bytes they copied
// since the sequence began, held to the reference model's, run in lockstep (docs/protocol.md, "Economy counters for
// engines without inspect"): an engine that copies the image up at mount (cp -a, the vfs driver's way) fails.
import { z } from "zod";
import { countersView, type LayerView } from "../../core/index.ts";
import type { OverlayState } from "../../models/overlay/types.ts";

const n = z.number().int().min(0);
export const overlayCountersSchema = z
  .object({
    /** Objects copied up (files, directories, symlinks; a metacopy file's later data copy counts again). */
    copyUps: n,
    /** Bytes of file data copied up (none for a metacopy copy-up, a directory or a symlink). */
    bytesCopied: n,
  })
  .strict();
export type OverlayCounters = z.infer<typeof overlayCountersSchema>;

export const overlayCountersView: LayerView<OverlayState> = countersView(
  overlayCountersSchema,
  (reference) => ({ copyUps: reference.copiedTotal?.copyUps ?? 0, bytesCopied: reference.copiedTotal?.bytes ?? 0 }),
  { copyUps: "copied up more objects", bytesCopied: "copied more bytes up" },
);
