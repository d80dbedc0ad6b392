// The mm layer assembled: Linux anonymous memory, its eager oracle, properties and mutants.
import { mmAlphabet, mmOpArbitrary, mmSimplifications } from "../fuzz/mm.ts";
import { mmMutants } from "../models/mm/mutants/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { decodeMmState, renderMmState } from "../models/mm/state.ts";
import {
  defaultMmGeometry,
  mmGeometrySchema,
  mmObsSchema,
  mmOpSchema,
  type MmGeometry,
  type MmObs,
  type MmOp,
  type MmState,
} from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";
import { mmEconomy } from "../properties/mm/economy.ts";
import { mmStructure } from "../properties/mm/invariants.ts";
import type { Layer } from "./layer.ts";

export const mmLayer: Layer<MmOp, MmObs, MmState, MmGeometry> = {
  name: "mm",
  description: "Linux anonymous memory: fork, page tables, TLB, refcount/mapcount, rmap, PageAnonExclusive, do_wp_page",
  defaultGeometry: defaultMmGeometry,
  geometrySchema: mmGeometrySchema,
  opSchema: mmOpSchema,
  obsSchema: mmObsSchema,
  observations: '{"ok":true} | {"pid":N} | {"data":[cells]} | {"fault":"SEGV"} | {"error":"ESRCH"|"EINVAL"|"ENOMEM"} (docs/mm.md)',
  opArbitrary: mmOpArbitrary,
  alphabet: mmAlphabet,
  prelude: [{ op: "spawn" }],
  model: (g) => new MmModel(g),
  oracle: (g) => new MmOracle(g),
  mutants: mmMutants,
  properties: [mmStructure, ...mmEconomy],
  simplify: mmSimplifications,
  decodeState: decodeMmState,
  renderState: renderMmState,
};
