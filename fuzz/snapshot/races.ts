// The snapshot layer's race programs (Layer.races, docs/races.md), for the interleaving explorer.
import fc from "fast-check";
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

/**
 * Generated race programs (Layer.raceArbitrary), lmdb flavour only: after a few committed puts of tree 0, one thread
 * begins a read and reads keys (or ends it and begins again) while the writer puts, deletes, commits and aborts on
 * the same keys; the reader's reads and a final scan of what is committed are judged.
 */
export function snapshotRaceArbitrary(
  g: SnapshotGeometry,
  features: ReadonlySet<string>,
): fc.Arbitrary<Program<SnapshotOp>> | undefined {
  if (g.flavour !== "lmdb" || g.readers < 1) return undefined;
  const key = fc.nat(Math.min(g.keys, 4) - 1);
  const value = fc.integer({ min: 1, max: 9 });
  const write = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(key, value).map(([k, v]): SnapshotOp => ({ op: "put", tree: 0, key: k, data: [v] })),
    },
    { weight: 1, arbitrary: key.map((k): SnapshotOp => ({ op: "del", tree: 0, key: k })) },
    { weight: 4, arbitrary: fc.constant<SnapshotOp>({ op: "commit" }) },
    ...(features.has("abort") ? [{ weight: 1, arbitrary: fc.constant<SnapshotOp>({ op: "abort" }) }] : []),
  );
  const read = fc.oneof(
    { weight: 4, arbitrary: key.map((k): SnapshotOp => ({ op: "read", reader: 0, tree: 0, key: k })) },
    {
      weight: 1,
      arbitrary: fc.constant<SnapshotOp[]>([
        { op: "end-read", reader: 0 },
        { op: "begin-read", reader: 0 },
      ]),
    },
  );
  return fc
    .record({
      setup: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 3 }),
      reads: fc.array(read, { minLength: 1, maxLength: 2 }),
      writes: fc.array(write, { minLength: 1, maxLength: 6 }),
    })
    .map(({ setup, reads, writes }) => ({
      prelude: [
        ...setup.map(([k, v]): SnapshotOp => ({ op: "put", tree: 0, key: k, data: [v] })),
        { op: "commit" } as SnapshotOp,
      ],
      threads: [[{ op: "begin-read", reader: 0 } as SnapshotOp, ...reads.flat()], writes],
      epilogue: [{ op: "commit" }, { op: "scan", tree: 0 }],
    }));
}
