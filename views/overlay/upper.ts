// The upper view: what a real mount's upper directory holds (whiteouts, opaque and redirect xattrs, origins,
// metacopy files, the bytes copied up), compared entry by entry with the reference model's upper layers for
// `cowcheck run --against model`. Overlay has no timing to allow for: any difference is a divergence.
import type { LayerView, ViewVerdict } from "../../core/index.ts";
import { type OverlayState, type RawEntry, type UpperView, upperViewSchema } from "../../models/overlay/types.ts";

/** JSON with keys in a fixed order: entries compare by content, whoever built them. */
const canonical = (e: RawEntry | undefined): string | undefined =>
  e &&
  JSON.stringify(
    Object.fromEntries(
      Object.entries(e)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, k === "xattrs" ? Object.fromEntries(Object.entries(v as object).sort()) : v]),
    ),
  );
const show = (e: RawEntry | undefined): string => canonical(e) ?? "nothing";

export const upperView: LayerView<OverlayState> = {
  name: "upper",
  decode: (json) => upperViewSchema.parse(json),
  compare(view, reference): ViewVerdict {
    const seen = view as UpperView;
    const mounted = Object.keys(reference.containers);
    const extra = Object.keys(seen).find((c) => !mounted.includes(c));
    if (extra)
      return {
        divergence: {
          property: "upper-layer",
          message: `the engine reports container ${extra} mounted; the model has ${mounted.join(", ") || "none"}`,
        },
      };
    for (const c of mounted) {
      const mine = new Map((seen[c] ?? []).map((e) => [e.path, e]));
      const model = new Map(reference.containers[c]!.upper.map((e) => [e.path, e]));
      for (const p of [...new Set([...mine.keys(), ...model.keys()])].sort()) {
        if (canonical(mine.get(p)) !== canonical(model.get(p))) {
          return {
            divergence: {
              property: "upper-layer",
              message: `container ${c}, upper ${p}: the engine has ${show(mine.get(p))}, the model ${show(model.get(p))}`,
            },
          };
        }
      }
    }
    return {};
  },
};
