// The snapshot layer's incremental check: the model's inspect after ops hands back untouched nodes as they were and
// says what it touched; the invariants and economy bounds then check only what changed (properties/snapshot/track.ts)
// and must reach the verdict the whole check reaches on the same state, op by op, for the model and every mutant.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { Checker, Named } from "../core/index.ts";
import { runCampaign, sequenceArbitrary } from "../fuzz/campaign.ts";
import { checkSequence } from "../fuzz/runner.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { SnapshotModel } from "../models/snapshot/model.ts";
import { snapshotMutants } from "../models/snapshot/mutants/index.ts";
import {
  defaultSnapshotGeometry,
  type NodeImage,
  type SnapshotGeometry,
  type SnapshotObs,
  type SnapshotOp,
  type SnapshotState,
} from "../models/snapshot/types.ts";
import { deltaOf } from "../properties/snapshot/track.ts";

type Make = (g: SnapshotGeometry) => SnapshotModel;
const targets: { name: string; geometry?: Partial<SnapshotGeometry>; make: Make }[] = [
  { name: "model", make: (g) => new SnapshotModel(g) },
  ...snapshotMutants.map((m) => ({ name: m.name, geometry: m.geometry, make: m.create as unknown as Make })),
];
const FLAVOURS = [undefined, "lmdb", "btrfs", "zfs"] as const;

/** The first property a set of checkers reports for this op, or undefined. */
function verdict(
  checkers: { name: string; c: Checker<SnapshotOp, SnapshotObs, SnapshotState> }[],
  op: SnapshotOp,
  obs: SnapshotObs,
  s: SnapshotState,
  full: boolean,
): string | undefined {
  for (const { name, c } of checkers) {
    const v: string | Named | undefined = c.after(op, obs, s, full);
    if (v) return typeof v === "string" ? name : v.property;
  }
  return undefined;
}

describe("the incremental snapshot check", () => {
  test.each([
    ["the default geometry", {}],
    ["deeper trees", { keys: 48, trees: 6, leafKeys: 4, fanout: 4 }],
  ])("gives the whole check's verdict after every op, and inspects what a whole inspect gives (%s)", (_, extra) => {
    let ops = 0;
    let kept = 0;
    const killed = new Set<string>();
    for (const t of targets) {
      for (const flavour of t.geometry?.flavour ? [t.geometry.flavour] : FLAVOURS) {
        const g: SnapshotGeometry = {
          ...defaultSnapshotGeometry,
          ...extra,
          ...(flavour ? { flavour } : {}),
          ...t.geometry,
        };
        const props = snapshotLayer.properties.filter((p) => !p.appliesTo || p.appliesTo(g));
        const seqs = fc.sample(sequenceArbitrary(snapshotLayer, g, t.make(g).features, 80), { seed: 7, numRuns: 6 });
        for (const seq of seqs as SnapshotOp[][]) {
          const m = t.make(g);
          // a second model inspected after one op, or after two: what it touched since its last inspect
          const other = t.make(g);
          other.inspect();
          const initial = m.inspect();
          const incremental = props.map((p) => ({ name: p.name, c: p.start(initial) }));
          const whole = props.map((p) => ({ name: p.name, c: p.start(structuredClone(initial)) }));
          for (const [i, op] of seq.entries()) {
            const obs = m.apply(op);
            other.apply(op);
            ops++;
            const last = i === seq.length - 1;
            const s = m.inspect(!last);
            const { touched, ...state } = s;
            expect(last || touched !== undefined).toBe(true);
            kept += Object.keys(state.nodes).length - (touched?.nodes.length ?? 0);
            expect(state, `${t.name} ${flavour} op ${i}`).toEqual(m.inspect());
            if (i % 3 !== 1) {
              const { touched: _, ...o } = other.inspect(true);
              expect(o, `${t.name} ${flavour} op ${i}, inspected after two ops`).toEqual(other.inspect());
            }
            const a = verdict(incremental, op, obs, s, last);
            const b = verdict(whole, op, obs, state, true);
            expect(a, `${t.name} (${flavour ?? "rodeh"}) op ${i} ${JSON.stringify(op)}`).toBe(b);
            if (a) {
              killed.add(t.name);
              break;
            }
          }
        }
      }
    }
    expect(ops).toBeGreaterThan(5000);
    expect(kept).toBeGreaterThan(ops); // most inspects kept most nodes as they were
    expect(killed.size).toBeGreaterThanOrEqual(6); // and the comparison covered failures, not only passes
    expect(killed.has("model")).toBe(false);
  });

  /** After a read, rewrites a committed leaf of tree 0 in place without telling inspect. */
  class Sneaky extends SnapshotModel {
    override apply(op: SnapshotOp): SnapshotObs {
      const obs = super.apply(op);
      if (op.op === "get") {
        const root = this.trees.get(0)?.root;
        const n = root === null || root === undefined ? undefined : this.nodes.get(root);
        if (n && !n.kids) n.keys = n.keys.map((k) => k + 100);
      }
      return obs;
    }
  }

  /** Put, commit, a read that Sneaky follows with its rewrite, and an op that touches none of it. */
  const sneaked: SnapshotOp[] = [
    { op: "put", tree: 0, key: 1, data: [7] },
    { op: "commit" },
    { op: "get", tree: 0, key: 1 },
    { op: "create", tree: 1 },
  ];

  test("a node changed behind the model's record is still caught, on the sequence's last op", async () => {
    const g = defaultSnapshotGeometry;
    const ops = sneaked;
    const f = await checkSequence(snapshotLayer, g, new Sneaky(g), ops);
    expect(f?.index).toBe(3);
    expect(f?.property).toBe("no-write-in-place");
    // and missed if the last op were checked from the record alone: the whole check is what catches it
    const m = new Sneaky(g);
    const checkers = snapshotLayer.properties.map((p) => ({ name: p.name, c: p.start(m.inspect()) }));
    const found = ops.map((op) => verdict(checkers, op, m.apply(op), m.inspect(true), false));
    expect(found).toEqual([undefined, undefined, undefined, undefined]);
  });

  test("a campaign on an engine whose record misses a change minimizes the failure its prefix shows, not calling it a flake", async () => {
    // also leaks a node on create: at the same op the search (checking what was touched) meets reclaim-exact, and
    // the prefix ending there (checked whole on its last op) meets no-write-in-place first
    class Sneakier extends Sneaky {
      override apply(op: SnapshotOp): SnapshotObs {
        const obs = super.apply(op);
        if (op.op === "create") this.newNode({ keys: [1], vals: [[]] });
        return obs;
      }
    }
    const g = defaultSnapshotGeometry;
    const ops: SnapshotOp[] = [...sneaked, { op: "scan", tree: 0 }];
    const search = await checkSequence(snapshotLayer, g, new Sneakier(g), ops);
    const prefix = await checkSequence(snapshotLayer, g, new Sneakier(g), ops.slice(0, search!.index + 1));
    expect([search?.index, search?.property, prefix?.property]).toEqual([3, "reclaim-exact", "no-write-in-place"]);
    // a campaign whose first run is these ops (the layer's corpus runs first) reports the failure, minimized, and
    // not the engine as nondeterministic (which it did when the search's failure was the one held on to)
    const layer = { ...snapshotLayer, corpus: () => [{ name: "sneakier", ops }] };
    const factory = { name: "sneakier", create: (x: unknown) => new Sneakier(x as SnapshotGeometry) };
    const r = await runCampaign(layer, factory, { seed: 1, runs: 1, maxOps: 10 });
    expect(r.status).toBe("failed");
    expect(r.failure?.property).toBe("no-write-in-place");
  });

  test("what an engine's state may say: an id touched twice, a read-only tree without the txn it was taken in", () => {
    const st = (nodes: Record<string, NodeImage>, touched?: number[]): SnapshotState => ({
      flavour: "rodeh",
      txn: 3,
      capacity: { leaf: 3, inner: 3 },
      dirty: false,
      nodes,
      extents: {},
      trees: { 0: { root: 5, readonly: false, kind: "head" } },
      metas: [
        { txn: 0, roots: {} },
        { txn: 1, roots: {} },
      ],
      free: [],
      pending: [],
      pendingExtents: [],
      counters: { copied: 0, allocated: 0, freed: 0, sendVisited: 0 },
      last: { copied: [], allocated: [], freed: [] },
      ...(touched ? { touched: { nodes: touched, extents: [] } } : {}),
    });
    const leaf = (k: number): NodeImage => ({ keys: [k], vals: [[]], birth: 1, refs: 1 });
    const a = st({ 1: leaf(1), 2: leaf(9), 5: { keys: [5], kids: [1, 2], birth: 1, refs: 1 } });
    // node 5 now points at 3 instead of 2, and is named twice: 3 is pointed at once
    const b = st({ 1: leaf(1), 2: leaf(9), 3: leaf(7), 5: { keys: [5], kids: [1, 3], birth: 1, refs: 1 } }, [5, 5, 3]);
    const d = deltaOf(a, b, false)!;
    expect(d.current.cnt.get(3)).toBe(1);
    expect(d.current.has(2)).toBe(false);
    // a read-only tree an engine reports without `taken` is checked, not a property that throws
    const m = new SnapshotModel(defaultSnapshotGeometry);
    const strip = (x: SnapshotState): SnapshotState => {
      const { touched: _, ...y } = structuredClone(x);
      for (const t of Object.values(y.trees)) delete t.taken;
      return y;
    };
    const c = snapshotLayer.properties.find((p) => p.name === "snapshot-structure")!.start(strip(m.inspect()));
    const steps: SnapshotOp[] = [
      { op: "put", tree: 0, key: 1, data: [1] },
      { op: "snapshot", tree: 0, as: 1 },
      { op: "get", tree: 1, key: 1 },
    ];
    for (const op of steps) expect(c.after(op, m.apply(op), strip(m.inspect()), false)).toBeUndefined();
  });
});
