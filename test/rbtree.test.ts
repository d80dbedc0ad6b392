import fc from "fast-check";
import { expect, test } from "vitest";
import { type RbNode, RbTree } from "../models/mm/rbtree.ts";

/** The red-black rules and the links: in order, a black root, no red child of a red node, one black height. */
function check(t: RbTree<number>): number[] {
  const out: number[] = [];
  const walk = (n: RbNode<number> | null, parent: RbNode<number> | null): number => {
    if (!n) return 1;
    expect(n.parent).toBe(parent);
    if (n.red) expect([n.left?.red, n.right?.red]).not.toContain(true);
    const l = walk(n.left, n);
    out.push(n.value);
    const r = walk(n.right, n);
    expect(l).toBe(r);
    return l + (n.red ? 0 : 1);
  };
  expect(t.root?.red ?? false).toBe(false);
  walk(t.root, null);
  return out;
}

/** A walk down from the root, as unstable_tree_search_insert walks: the node of equal value, or a new one linked. */
function add(t: RbTree<number>, v: number): RbNode<number> {
  let parent: RbNode<number> | null = null;
  let left = false;
  for (let at = t.root; at; ) {
    if (v === at.value) return at;
    parent = at;
    left = v < at.value;
    at = left ? at.left : at.right;
  }
  return t.insert(v, parent, left);
}

test("the red-black tree keeps its order and rules through any inserts and erases", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 300, size: "max" }),
      (steps) => {
        const t = new RbTree<number>();
        const nodes = new Map<number, RbNode<number>>();
        for (const [erase, v] of steps) {
          if (erase && nodes.size) {
            const k = [...nodes.keys()][v % nodes.size]!;
            t.erase(nodes.get(k)!);
            nodes.delete(k);
          } else nodes.set(v, add(t, v));
          expect(check(t)).toEqual([...nodes.keys()].sort((a, b) => a - b));
        }
      },
    ),
    { seed: 7, numRuns: 100 },
  );
});

test("inserts in order rotate as lib/rbtree.c does: 1 to 7 gives 2 at the root and 4 red above 3 and 6", () => {
  const t = new RbTree<number>();
  for (let v = 1; v <= 7; v++) add(t, v);
  const shape = (n: RbNode<number> | null): unknown => n && [n.value, n.red ? "r" : "b", shape(n.left), shape(n.right)];
  expect(shape(t.root)).toEqual([
    2,
    "b",
    [1, "b", null, null],
    [4, "r", [3, "b", null, null], [6, "b", [5, "r", null, null], [7, "r", null, null]]],
  ]);
});
