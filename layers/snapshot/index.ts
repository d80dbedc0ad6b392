// The snapshot layer assembled: copy-on-write B+trees in Rodeh's, LMDB's, Btrfs's and ZFS's flavours, their eager
// oracle, properties and mutants.
import type { Layer } from "../../core/index.ts";
import { btrfsEngine } from "../../engines/btrfs/index.ts";
import { lmdbEngine } from "../../engines/lmdb/index.ts";
import { zfsEngine } from "../../engines/zfs/index.ts";
import { lowered } from "../../fuzz/minimize.ts";
import {
  snapshotAlphabet,
  snapshotArrange,
  snapshotOpKinds,
  snapshotSimplifications,
} from "../../fuzz/snapshot/ops.ts";
import { snapshotRaceArbitrary, snapshotRaces } from "../../fuzz/snapshot/races.ts";
import { SnapshotModel } from "../../models/snapshot/model.ts";
import { snapshotMutants } from "../../models/snapshot/mutants/index.ts";
import { snapshotPicture } from "../../models/snapshot/picture.ts";
import { decodeSnapshotState, renderSnapshotState } from "../../models/snapshot/state.ts";
import {
  defaultSnapshotGeometry,
  type SnapshotGeometry,
  type SnapshotObs,
  type SnapshotOp,
  type SnapshotState,
  snapshotGeometrySchema,
  snapshotObsSchema,
  snapshotOpFeature,
  snapshotOpInvalid,
  snapshotOpSchema,
} from "../../models/snapshot/types.ts";
import { SnapshotOracle } from "../../oracles/snapshot.ts";
import { snapshotEconomy } from "../../properties/snapshot/economy.ts";
import { snapshotStructure } from "../../properties/snapshot/invariants.ts";
import { btrfsExtentsView } from "../../views/snapshot/btrfs.ts";
import { snapshotCountersView } from "../../views/snapshot/counters.ts";
import { lmdbEnvView } from "../../views/snapshot/lmdb.ts";

export const snapshotLayer: Layer<SnapshotOp, SnapshotObs, SnapshotState, SnapshotGeometry> = {
  name: "snapshot",
  description:
    'copy-on-write B+trees: shadowing, Rodeh refcounts, snapshots, clones, drops with reclaim, send/receive, space, crashes at write boundaries; flavours {"flavour":"lmdb"|"btrfs"|"zfs"}',
  defaultGeometry: defaultSnapshotGeometry,
  flavours: [
    { name: "lmdb", geometry: { flavour: "lmdb" } },
    { name: "btrfs", geometry: { flavour: "btrfs" } },
    { name: "zfs", geometry: { flavour: "zfs" } },
  ],
  geometrySchema: snapshotGeometrySchema,
  opSchema: snapshotOpSchema,
  obsSchema: snapshotObsSchema,
  observations:
    '{"ok":true} | {"data":[…]} | {"entries":[[key,[…]],…]} | {"referenced":N,"exclusive":N} | {"recovered":"last"|"inflight"} | {"error":"ENOENT"|"NOTFOUND"|…} (docs/snapshot.md)',
  opKinds: snapshotOpKinds,
  checkOp: snapshotOpInvalid,
  requires: snapshotOpFeature,
  alphabet: snapshotAlphabet,
  prelude: [],
  arrange: snapshotArrange,
  *simplify(ops) {
    yield* snapshotSimplifications(ops);
    yield* lowered(ops);
  },
  model: (g) => new SnapshotModel(g),
  oracle: (g) => new SnapshotOracle(g),
  mutants: snapshotMutants,
  properties: [snapshotStructure, ...snapshotEconomy],
  decodeState: decodeSnapshotState,
  renderState: renderSnapshotState,
  picture: snapshotPicture,
  views: [lmdbEnvView, btrfsExtentsView, snapshotCountersView],
  engines: [lmdbEngine, btrfsEngine, zfsEngine],
  races: snapshotRaces,
  raceArbitrary: snapshotRaceArbitrary,
};
