// The snapshot layer's race programs (Layer.races, docs/races.md), for the interleaving explorer.
import type { Program } from "../../core/index.ts";
import type { SnapshotGeometry, SnapshotOp } from "../../models/snapshot/types.ts";

export function snapshotRaces(g: SnapshotGeometry): { name: string; program: Program<SnapshotOp> }[] {
  if (g.flavour !== "lmdb" || g.readers < 1 || g.keys < 1) return [];
  const put = (value: number): SnapshotOp => ({ op: "put", tree: 0, key: 0, data: [value] });
  return [
    {
      // OpenLDAP ITS#7970: a reader registering (mdb_txn_renew0) while the writer commits twice and then allocates,
      // reusing the pages freed two commits ago if it did not see the reader; the reader then reads its key
      name: "its7970",
      program: {
        prelude: [put(1), { op: "commit" }],
        threads: [
          [
            { op: "begin-read", reader: 0 },
            { op: "read", reader: 0, tree: 0, key: 0 },
          ],
          [put(2), { op: "commit" }, put(3), { op: "commit" }, put(4)],
        ],
        epilogue: [],
      },
    },
  ];
}
