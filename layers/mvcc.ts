// The mvcc layer assembled: PostgreSQL-style MVCC (READ COMMITTED, REPEATABLE READ), its eager oracle, properties
// and mutants.
import { mvccAlphabet, mvccArrange, mvccOpArbitrary } from "../fuzz/mvcc.ts";
import { mvccMutants } from "../models/mvcc/mutants/index.ts";
import { MvccModel } from "../models/mvcc/model.ts";
import { decodeMvccState, renderMvccState } from "../models/mvcc/state.ts";
import { defaultMvccGeometry, mvccGeometrySchema, mvccObsSchema, mvccOpSchema, type MvccGeometry, type MvccObs, type MvccOp, type MvccState } from "../models/mvcc/types.ts";
import { MvccOracle } from "../oracles/mvcc.ts";
import { mvccEconomy } from "../properties/mvcc/economy.ts";
import { mvccStructure } from "../properties/mvcc/invariants.ts";
import type { Layer } from "./layer.ts";

export const mvccLayer: Layer<MvccOp, MvccObs, MvccState, MvccGeometry> = {
  name: "mvcc",
  description: "PostgreSQL MVCC: heap tuples with xmin/xmax, snapshots, READ COMMITTED (EvalPlanQual), REPEATABLE READ (first-updater-wins), row locks, deadlocks, vacuum",
  defaultGeometry: defaultMvccGeometry,
  geometrySchema: mvccGeometrySchema,
  opSchema: mvccOpSchema,
  obsSchema: mvccObsSchema as never,
  observations: '{"ok":true} | {"value":N|null} | {"rows":[[k,v]…]} | {"count":N} | {"rolledBack":true} | {"error":"40001"|"40P01"|"23505"|"25P02"} | {"blocked":true} | {"skipped":true}, each optionally with "unblocked":[{tx,result}] (docs/mvcc.md)',
  opArbitrary: mvccOpArbitrary,
  alphabet: mvccAlphabet,
  prelude: [
    { op: "begin", tx: 1, level: "rc" },
    { op: "insert", tx: 1, key: 1, value: 10 },
    { op: "insert", tx: 1, key: 2, value: 20 },
    { op: "insert", tx: 1, key: 3, value: 30 },
    { op: "commit", tx: 1 },
  ],
  arrange: mvccArrange,
  model: (g) => new MvccModel(g),
  oracle: (g) => new MvccOracle(g),
  mutants: mvccMutants,
  properties: [mvccStructure, ...mvccEconomy],
  decodeState: decodeMvccState,
  renderState: renderMvccState,
};
