// The overlay layer assembled: OverlayFS, its eager oracle (cp -a at mount), properties and mutants.

import type { Layer } from "../../core/index.ts";
import { overlayfsEngine } from "../../engines/overlayfs/index.ts";
import { overlayAlphabet, overlayArrange, overlayOpKinds, overlaySimplifications } from "../../fuzz/overlay/ops.ts";
import { OverlayModel } from "../../models/overlay/model.ts";
import { overlayMutants } from "../../models/overlay/mutants/index.ts";
import { overlayPicture } from "../../models/overlay/picture.ts";
import { decodeOverlayState, renderOverlayState } from "../../models/overlay/state.ts";
import {
  defaultOverlayGeometry,
  type OverlayGeometry,
  type OverlayObs,
  type OverlayOp,
  type OverlayState,
  overlayGeometrySchema,
  overlayObsSchema,
  overlayOpFeature,
  overlayOpSchema,
} from "../../models/overlay/types.ts";
import { OverlayOracle } from "../../oracles/overlay.ts";
import { overlayEconomy } from "../../properties/overlay/economy.ts";
import { overlayStructure } from "../../properties/overlay/invariants.ts";
import { overlayCountersView } from "../../views/overlay/counters.ts";
import { upperView } from "../../views/overlay/upper.ts";

export const overlayLayer: Layer<OverlayOp, OverlayObs, OverlayState, OverlayGeometry> = {
  name: "overlay",
  description:
    "Linux OverlayFS: image layers, containers, copy-up, whiteouts, opaque dirs, redirect_dir, index, metacopy, readdir merge, commit",
  defaultGeometry: defaultOverlayGeometry,
  geometrySchema: overlayGeometrySchema,
  opSchema: overlayOpSchema,
  obsSchema: overlayObsSchema,
  observations:
    '{"ok":true} | {"layer":N} | {"data":"…"} | {"names":[…]} | {"target":"…"} | {"stat":{type,mode,size?,nlink?,xattrs?}} | {"error":"ENOENT"|…} (docs/overlay.md)',
  opKinds: overlayOpKinds,
  requires: overlayOpFeature,
  alphabet: overlayAlphabet,
  prelude: [],
  arrange: overlayArrange,
  model: (g) => new OverlayModel(g),
  oracle: (g) => new OverlayOracle(g),
  mutants: overlayMutants,
  properties: [overlayStructure, ...overlayEconomy],
  simplify: overlaySimplifications,
  decodeState: decodeOverlayState,
  renderState: renderOverlayState,
  picture: overlayPicture,
  views: [upperView, overlayCountersView],
  engines: [overlayfsEngine],
};
