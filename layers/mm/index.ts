// The mm layer assembled: Linux process memory, its eager oracle, properties and mutants.

import type { Layer } from "../../core/index.ts";
import { linuxEngine } from "../../engines/linux/index.ts";
import { cowScenariosFor } from "../../fuzz/mm/cow.ts";
import { mmAlphabet, mmArrange, mmOpKinds, mmSimplifications } from "../../fuzz/mm/ops.ts";
import { mmPrecursor, mmRaceArbitrary, mmRaces } from "../../fuzz/mm/races.ts";
import { MmModel } from "../../models/mm/model.ts";
import { mmMutants } from "../../models/mm/mutants/index.ts";
import { mmPicture } from "../../models/mm/picture.ts";
import { decodeMmState, renderMmState } from "../../models/mm/state.ts";
import {
  defaultMmGeometry,
  type MmGeometry,
  type MmObs,
  type MmOp,
  type MmState,
  mmGeometrySchema,
  mmLocks,
  mmObsSchema,
  mmOpSchema,
  mthpGeometry,
  opFeatures,
} from "../../models/mm/types.ts";
import { MmOracle } from "../../oracles/mm.ts";
import { mmEconomy } from "../../properties/mm/economy.ts";
import { mmStructure } from "../../properties/mm/invariants.ts";
import { mmCountersView } from "../../views/mm/counters.ts";
import { pagemapView } from "../../views/mm/pagemap.ts";

export const mmLayer: Layer<MmOp, MmObs, MmState, MmGeometry> = {
  name: "mm",
  description:
    "Linux process memory: fork, page tables, TLB, refcount/mapcount, rmap, PageAnonExclusive, do_wp_page, GUP pins, THP, KSM, page cache and file mappings",
  defaultGeometry: defaultMmGeometry,
  flavours: [{ name: "mthp", geometry: mthpGeometry }],
  geometrySchema: mmGeometrySchema,
  opSchema: mmOpSchema,
  obsSchema: mmObsSchema,
  observations:
    '{"ok":true} | {"pid":N} | {"data":[cells]} | {"fault":"SEGV"} | {"error":"ESRCH"|"EINVAL"|"ENOMEM"|"EIO"|…} (docs/mm.md)',
  opKinds: mmOpKinds,
  requires: opFeatures,
  alphabet: mmAlphabet,
  prelude: [{ op: "spawn" }],
  corpus: cowScenariosFor,
  arrange: mmArrange,
  model: (g) => new MmModel(g),
  oracle: (g) => new MmOracle(g),
  mutants: mmMutants,
  properties: [mmStructure, ...mmEconomy],
  simplify: mmSimplifications,
  decodeState: decodeMmState,
  renderState: renderMmState,
  picture: mmPicture,
  views: [pagemapView, mmCountersView],
  engines: [linuxEngine],
  locks: mmLocks,
  races: mmRaces,
  raceArbitrary: mmRaceArbitrary,
  precursor: mmPrecursor,
};
