// The snapshot layer: scenarios with the observations and the structure Rodeh's paper and each flavour's code say,
// run on the model and the oracle; the economy facts (a path per first write, a root per snapshot, reuse before
// growth); crashes at every step of a commit; and fixed-seed campaigns in every flavour (mutants: mutants-snapshot-1.test.ts and -2).
import { readdirSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { allows } from "../core/index.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkWith } from "../fuzz/runner.ts";
import { loadTrace } from "../layers/index.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { SnapshotModel } from "../models/snapshot/model.ts";
import {
  defaultSnapshotGeometry,
  type SnapshotGeometry,
  type SnapshotObs,
  type SnapshotOp,
  type SnapshotState,
} from "../models/snapshot/types.ts";
import { SnapshotOracle } from "../oracles/snapshot.ts";
import { contents, reach } from "../properties/snapshot/walk.ts";
import { campaignOn } from "./helpers.ts";

const geometry = (flavour?: SnapshotGeometry["flavour"]): SnapshotGeometry => ({
  ...defaultSnapshotGeometry,
  ...(flavour ? { flavour } : {}),
});

/** Run ops on the model and the oracle; each observation must be the one given and one the oracle allows. */
function run(g: SnapshotGeometry, steps: [SnapshotOp, SnapshotObs?][]): SnapshotModel {
  const model = new SnapshotModel(g);
  const oracle = new SnapshotOracle(g);
  for (const [i, [op, want]] of steps.entries()) {
    const got = model.apply(op);
    const expected = oracle.apply(op);
    expect(
      allows(expected, got),
      `op ${i} ${JSON.stringify(op)}: model ${JSON.stringify(got)}, oracle ${JSON.stringify(expected)}`,
    ).toBe(true);
    oracle.chose?.(got);
    if (want) expect(got, `op ${i} ${JSON.stringify(op)}`).toEqual(want);
  }
  return model;
}

const put = (key: number, data: number[] = [key], tree = 0): [SnapshotOp] => [{ op: "put", tree, key, data }];
const ok: SnapshotObs = { ok: true };
const fill = (n: number, tree = 0): [SnapshotOp][] => [...Array(n).keys()].map((k) => put(k, [k], tree));

describe("Rodeh: shadowing and lazy reference counts", () => {
  test("a snapshot copies the root only; the first write after it copies one root-to-leaf path, the next on that path nothing", () => {
    const m = run(geometry(), [...fill(6), [{ op: "commit" }], [{ op: "snapshot", tree: 0, as: 1 }, ok]]);
    let s = m.inspect();
    expect(s.last.allocated).toHaveLength(1);
    expect(s.last.copied).toEqual([]);
    const root = s.nodes[s.trees[0]!.root!]!;
    expect(root.kids!.length).toBeGreaterThan(1);
    // Both roots point at the children: each child's count is 2, as Rodeh's clone makes it.
    for (const k of root.kids!) expect(s.nodes[k]!.refs).toBe(2);
    m.apply({ op: "put", tree: 0, key: 0, data: [9] });
    s = m.inspect();
    expect(s.last.copied).toHaveLength(2); // the root and the leaf
    m.apply({ op: "put", tree: 0, key: 1, data: [8] });
    expect(m.inspect().last.copied).toEqual([]);
    run(geometry(), [
      ...fill(6),
      [{ op: "snapshot", tree: 0, as: 1 }],
      put(0, [9]),
      [{ op: "get", tree: 1, key: 0 }, { data: [0] }],
      [{ op: "get", tree: 0, key: 0 }, { data: [9] }],
      [{ op: "put", tree: 1, key: 0, data: [7] }, { error: "EROFS" }],
    ]);
  });

  test("dropping a snapshot frees what only it referenced and nothing its source still uses", () => {
    const m = run(geometry(), [
      ...fill(6),
      [{ op: "snapshot", tree: 0, as: 1 }],
      put(0, [9]),
      [{ op: "drop", tree: 1 }, ok],
      [{ op: "commit" }],
      [
        { op: "scan", tree: 0 },
        {
          entries: [
            [0, [9]],
            [1, [1]],
            [2, [2]],
            [3, [3]],
            [4, [4]],
            [5, [5]],
          ],
        },
      ],
    ]);
    const s = m.inspect();
    const used = reach(s, [s.trees[0]!.root]).nodes;
    expect(new Set(Object.keys(s.nodes).map(Number))).toEqual(used);
    for (const id of used) expect(s.nodes[id]!.refs).toBe(1);
  });

  test("a root collapsing onto a child shared with a clone keeps the child for the clone", () => {
    // Found by review: the collapse freed the only child, which the clone's tree still used.
    const g = { ...geometry(), keys: 20, trees: 6, leafKeys: 2 };
    run(g, [
      put(17, [4, 0, 7]),
      [{ op: "commit" }],
      ...[5, 11, 12, 0].map((k) => put(k, [k])),
      [{ op: "del", tree: 0, key: 17 }],
      [{ op: "clone", tree: 0, as: 1 }],
      ...[0, 5, 11].map((k): [SnapshotOp, SnapshotObs] => [{ op: "del", tree: 1, key: k }, ok]),
      [{ op: "commit" }],
      [
        { op: "scan", tree: 0 },
        {
          entries: [
            [0, [0]],
            [5, [5]],
            [11, [11]],
            [12, [12]],
          ],
        },
      ],
      [{ op: "scan", tree: 1 }, { entries: [[12, [12]]] }],
    ]);
  });

  test("errors: ENOENT, EEXIST, EROFS, NOTFOUND, EINVAL", () => {
    run(geometry(), [
      [{ op: "get", tree: 2, key: 0 }, { error: "ENOENT" }],
      [{ op: "create", tree: 0 }, { error: "EEXIST" }],
      [{ op: "drop", tree: 0 }, { error: "EINVAL" }],
      [{ op: "del", tree: 0, key: 3 }, { error: "NOTFOUND" }],
      put(1, [1, 2]),
      [{ op: "patch", tree: 0, key: 1, block: 2, value: 5 }, { error: "EINVAL" }],
      [{ op: "snapshot", tree: 0, as: 1 }, ok],
      [{ op: "send", snap: 0, as: 2 }, { error: "EINVAL" }],
      [{ op: "snapshot", tree: 0, as: 1 }, { error: "EEXIST" }],
      [{ op: "del", tree: 1, key: 1 }, { error: "EROFS" }],
    ]);
  });

  test("send and receive: the received tree equals the snapshot, unchanged values stay shared with the base", () => {
    const m = run(geometry(), [
      ...fill(6),
      [{ op: "snapshot", tree: 0, as: 1 }],
      put(2, [7]),
      [{ op: "del", tree: 0, key: 4 }],
      [{ op: "snapshot", tree: 0, as: 2 }],
      [{ op: "send", snap: 2, base: 1, as: 3 }, ok],
      [
        { op: "scan", tree: 3 },
        {
          entries: [
            [0, [0]],
            [1, [1]],
            [2, [7]],
            [3, [3]],
            [5, [5]],
          ],
        },
      ],
    ]);
    const s = m.inspect();
    // Only the changed leaf's nodes were read from the snapshot: the rest it shares with its base.
    const snap = reach(s, [s.trees[2]!.root]).nodes;
    expect(s.last.send).toBeUndefined(); // the last op was a scan
    const base = reach(s, [s.trees[1]!.root]).nodes;
    expect([...snap].filter((id) => !base.has(id)).length).toBeLessThan(snap.size);
  });
});

describe("btrfs: extents and generations", () => {
  test("a partly overwritten extent stays whole: its space counts until no block of it is used", () => {
    const B = 4096;
    run(geometry("btrfs"), [
      put(0, [1, 2, 3]),
      [
        { op: "space", tree: 0 },
        { referenced: 3 * B, exclusive: 3 * B },
      ],
      [{ op: "snapshot", tree: 0, as: 1 }],
      [{ op: "patch", tree: 0, key: 0, block: 1, value: 9 }, ok],
      [{ op: "get", tree: 0, key: 0 }, { data: [1, 9, 3] }],
      // The old 3-block extent is still referenced (blocks 0 and 2), and shared with the snapshot.
      [
        { op: "space", tree: 0 },
        { referenced: 4 * B, exclusive: 1 * B },
      ],
      [
        { op: "space", tree: 1 },
        { referenced: 3 * B, exclusive: 0 },
      ],
      put(0, [5]),
      [
        { op: "space", tree: 1 },
        { referenced: 3 * B, exclusive: 3 * B },
      ],
    ]);
  });

  test("snapshot records last_snapshot on both trees: only blocks born by then consult their count", () => {
    const m = run(geometry("btrfs"), [...fill(4), [{ op: "snapshot", tree: 0, as: 1 }]]);
    const s = m.inspect();
    expect(s.trees[0]!.lastSnapshot).toBe(s.trees[1]!.taken);
    expect(s.trees[1]!.lastSnapshot).toBe(s.trees[1]!.taken);
  });
});

describe("zfs: births, deadlists, clones, incremental send", () => {
  test("dataset rules: EINVAL for a snapshot of a snapshot or a clone of a dataset, EBUSY, EXDEV", () => {
    run(geometry("zfs"), [
      put(0),
      [{ op: "snapshot", tree: 0, as: 1 }, ok],
      [{ op: "snapshot", tree: 1, as: 2 }, { error: "EINVAL" }],
      [{ op: "clone", tree: 0, as: 2 }, { error: "EINVAL" }],
      [{ op: "clone", tree: 1, as: 2 }, ok],
      [{ op: "drop", tree: 1 }, { error: "EBUSY" }],
      [{ op: "drop", tree: 0 }, { error: "EINVAL" }],
      [{ op: "snapshot", tree: 2, as: 3 }, ok],
      [{ op: "drop", tree: 2 }, { error: "EBUSY" }],
    ]);
    run({ ...geometry("zfs"), trees: 6 }, [
      put(0),
      [{ op: "snapshot", tree: 0, as: 1 }],
      [{ op: "clone", tree: 1, as: 2 }],
      [{ op: "snapshot", tree: 2, as: 3 }],
      // Tree 3 is a snapshot of the clone: its origin, tree 1, is earlier in its history.
      [{ op: "send", snap: 3, base: 1, as: 4 }, ok],
      [{ op: "snapshot", tree: 0, as: 5 }],
      [{ op: "drop", tree: 4 }, ok],
      [{ op: "send", snap: 1, base: 5, as: 4 }, { error: "EXDEV" }],
    ]);
  });

  test("a block killed after a snapshot goes to the deadlist; destroying the snapshot frees it (process_old_cb)", () => {
    const B = 4096;
    const m = run(geometry("zfs"), [
      put(0, [1]),
      [{ op: "snapshot", tree: 0, as: 1 }],
      put(0, [2]),
      [{ op: "snapshot", tree: 0, as: 2 }],
      put(0, [3]),
      // Tree 2's block [2] was born after snapshot 1 and killed before now: it is snapshot 2's alone.
      [
        { op: "space", tree: 2 },
        { referenced: B, exclusive: B },
      ],
      [
        { op: "space", tree: 1 },
        { referenced: B, exclusive: B },
      ],
      [{ op: "commit" }],
    ]);
    let s = m.inspect();
    const born = (e: number) => s.extents[e]!.birth;
    expect(s.trees[0]!.deadlist!.map(born)).toEqual([s.trees[2]!.taken]);
    m.apply({ op: "drop", tree: 2 });
    m.apply({ op: "commit" });
    s = m.inspect();
    // The block only snapshot 2 had is gone; snapshot 1's block is still there.
    expect(Object.values(s.extents).map((e) => e.data)).toEqual([[1], [3]]);
  });

  test("an incremental send frees what was deleted since its base (the hole birth)", () => {
    run(geometry("zfs"), [
      ...fill(5),
      [{ op: "snapshot", tree: 0, as: 1 }],
      [{ op: "del", tree: 0, key: 3 }],
      [{ op: "snapshot", tree: 0, as: 2 }],
      [{ op: "send", snap: 2, base: 1, as: 3 }, ok],
      [
        { op: "scan", tree: 3 },
        {
          entries: [
            [0, [0]],
            [1, [1]],
            [2, [2]],
            [4, [4]],
          ],
        },
      ],
    ]);
  });
});

describe("lmdb: the freelist and readers", () => {
  const lmdb = geometry("lmdb");

  test("a reader keeps its snapshot while the writer commits; its pages are not reused until it ends", () => {
    const m = run(lmdb, [
      put(1, [1]),
      [{ op: "commit" }],
      [{ op: "begin-read", reader: 0 }, ok],
      ...[2, 3, 4, 5].flatMap((v): [SnapshotOp][] => [put(1, [v]), [{ op: "commit" }]]),
      [{ op: "read", reader: 0, tree: 0, key: 1 }, { data: [1] }],
      [{ op: "begin-read", reader: 0 }, { error: "EINVAL" }],
    ]);
    const pinned = m.inspect().nextPage!;
    expect(pinned).toBeGreaterThan(4); // every commit took a new page
    m.apply({ op: "end-read", reader: 0 });
    for (const v of [6, 7, 8, 9, 10, 11]) {
      m.apply({ op: "put", tree: 0, key: 1, data: [v] });
      m.apply({ op: "commit" });
    }
    // With no reader, a page freed two commits back is reused: the file stops growing.
    expect(m.inspect().nextPage).toBe(pinned);
  });

  test("a page freed by the last commit waits one more (mdb_find_oldest is the last txn); older ones are reused", () => {
    const m = run(lmdb, [put(1, [1]), [{ op: "commit" }], put(1, [2]), [{ op: "commit" }]]);
    expect(m.inspect().freelist).toEqual({ 3: [2] });
    m.apply({ op: "put", tree: 0, key: 1, data: [3] });
    // Txn 4 may not reuse what txn 3 freed (3 is not older than the last committed, 3): the file grows.
    expect(m.inspect().nextPage).toBe(5);
    m.apply({ op: "commit" });
    m.apply({ op: "put", tree: 0, key: 1, data: [4] });
    // Txn 5 reuses page 2, freed by txn 3.
    expect(m.inspect().last.allocated).toEqual([2]);
  });
});

describe("crashes", () => {
  const steps = (s: SnapshotState) => s.last.crash!.schedule;

  test.each([undefined, "lmdb", "btrfs", "zfs"] as const)(
    "%s: at every step of a commit, with any subset of unflushed writes, recovery finds one committed state",
    (flavour) => {
      const setup: SnapshotOp[] = [
        ...fill(5).map(([op]) => op),
        { op: "commit" },
        { op: "put", tree: 0, key: 2, data: [9] },
      ];
      const probe = new SnapshotModel(geometry(flavour));
      for (const op of setup) probe.apply(op);
      probe.apply({ op: "crash", after: 1000, keep: 0 });
      const n = steps(probe.inspect()).length;
      expect(steps(probe.inspect()).slice(-3)).toEqual(["flush", "meta", "flush"]);
      let inflight = 0;
      for (let after = 0; after <= n; after++)
        for (let keep = 0; keep < 8; keep++) {
          const m = run(geometry(flavour), [...setup.map((op): [SnapshotOp] => [op]), [{ op: "crash", after, keep }]]);
          const s = m.inspect();
          const recovered = s.last.crash!.recovered;
          if (recovered === "inflight") inflight++;
          // The meta is the last write before the last flush: only then is the in-flight commit found.
          expect(recovered === "inflight").toBe(after >= n - 1 && (after === n || (keep & 1) === 1));
          const got = contents(s, s.trees[0]!.root).find(([k]) => k === 2)![1];
          expect(got).toEqual(recovered === "inflight" ? [9] : [2]);
          // Nothing the recovered trees reach was lost on the way to the disk.
          expect(Object.values(s.nodes).some((n) => n.lost)).toBe(false);
        }
      expect(inflight).toBeGreaterThan(0);
    },
  );
});

describe("campaigns: model against oracle, every property checked", () => {
  test.each([undefined, "btrfs", "zfs"] as const)(
    "%s flavour in a deeper geometry (leaves of 2, 20 keys, 6 trees), seed 7",
    async (flavour) => {
      const r = await runCampaign(
        snapshotLayer,
        { name: "model", create: (g) => snapshotLayer.model(g as SnapshotGeometry) },
        {
          seed: 7,
          runs: 300,
          maxOps: 150,
          geometry: { ...(flavour ? { flavour } : {}), keys: 20, trees: 6, leafKeys: 2, fanout: 3 },
        },
      );
      expect(r.failure?.message).toBeUndefined();
      expect(r.status).toBe("passed");
    },
  );

  test("zfs: a send that walks the whole snapshot fails send-reads-changes (births at or before the base)", async () => {
    const r = await campaignOn(snapshotLayer, "mutant:send-full-walk", {
      seed: 1,
      runs: 2000,
      maxOps: 200,
      geometry: { flavour: "zfs" },
    });
    expect(r.failure).toMatchObject({ property: "send-reads-changes" });
    expect(r.failure!.message).toMatch(/born at or before its base/);
  });

  test.each([undefined, "lmdb", "btrfs", "zfs"] as const)("%s flavour, seed 1", async (flavour) => {
    const r = await runCampaign(
      snapshotLayer,
      { name: "model", create: (g) => snapshotLayer.model(g as SnapshotGeometry) },
      {
        seed: 1,
        runs: 400,
        maxOps: 120,
        geometry: flavour ? { flavour } : {},
      },
    );
    expect(r.failure?.message).toBeUndefined();
    expect(r.status).toBe("passed");
    expect(r.ops).toBeGreaterThan(10_000);
  });
});

test("the Btrfs findings (traces/snapshot/btrfs) pass on the model and the oracle, where any machine can check them", async () => {
  const files = readdirSync("traces/snapshot/btrfs");
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    const { trace } = loadTrace(`traces/snapshot/btrfs/${f}`);
    const model = { name: "model", create: (g: unknown) => snapshotLayer.model(g as never) };
    expect(await checkWith(snapshotLayer, trace.geometry, model, trace.ops), f).toBeUndefined();
  }
});

test("an incremental Btrfs receive keeps the blocks its base has at the same place and writes each run of the others as one extent", () => {
  const g = { ...defaultSnapshotGeometry, flavour: "btrfs" as const, blocks: 5 };
  const m = new SnapshotModel(g);
  for (const op of [
    { op: "put", tree: 0, key: 1, data: [1, 2, 3, 4, 5] },
    { op: "snapshot", tree: 0, as: 1 },
    { op: "patch", tree: 0, key: 1, block: 1, value: 7 },
    { op: "patch", tree: 0, key: 1, block: 2, value: 8 },
    { op: "patch", tree: 0, key: 1, block: 4, value: 9 },
    { op: "snapshot", tree: 0, as: 2 },
    { op: "send", snap: 2, base: 1, as: 3 },
  ] as const)
    expect(m.apply(op as never)).toEqual({ ok: true });
  const s = m.inspect();
  const value = (tree: number): [number, number][] => {
    let n = s.nodes[s.trees[tree]!.root!]!;
    while (n.kids?.length) n = s.nodes[n.kids[0]!]!;
    return n.vals![n.keys.indexOf(1)]!;
  };
  const [base, got] = [value(1), value(3)];
  expect(got[0]).toEqual(base[0]);
  expect(got[3]).toEqual(base[3]);
  expect(got[1]![0]).toBe(got[2]![0]); // blocks 1 and 2: one run, one new extent
  expect([got[1]![1], got[2]![1]]).toEqual([0, 1]);
  expect(got[4]![0]).not.toBe(got[1]![0]); // block 4: a run of its own
  expect(new Set([base[0]![0], got[1]![0], got[4]![0]]).size).toBe(3);
  expect(m.apply({ op: "scan", tree: 3 })).toEqual({ entries: [[1, [1, 7, 8, 4, 9]]] });
});
