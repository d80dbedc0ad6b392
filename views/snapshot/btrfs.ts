// The extents view: what Btrfs shows of its data extents through FIEMAP (engines/btrfs answers {"inspect":"extents"}),
// compared with the snapshot layer's model in its btrfs flavour for `--against model`.
//
// Compared: which blocks are one and the same on disk. Each block of each key of each tree maps to a physical block
// in Btrfs and to [extent, block within it] in the model; the two maps must pair one to one (a block the model shares
// between two trees, or keeps after a patch, is one physical block in Btrfs, and a block the model wrote afresh is a
// new one). And FIEMAP's SHARED flag: Btrfs flags an extent shared when another tree or another file refers to it
// (btrfs_is_data_extent_shared), the model when values of two (tree, key) pairs refer to it. Tree nodes are not
// compared: Btrfs's 16 KiB leaves hold hundreds of items (inodes, directory entries, extent items), the model's a
// few keys, so their shapes have nothing to pair. An incremental receive Btrfs could not apply on the same
// filesystem (its stream cloned from a base that was never received: btrfs receive looks clone sources up by
// received UUID only) is done whole by the engine, and the rest of the sequence is compared by observations only.
import { z } from "zod";
import type { LayerView, ViewVerdict } from "../../core/index.ts";
import type { SnapshotState } from "../../models/snapshot/types.ts";

const block = z.tuple([z.number().int().min(0), z.boolean()]);
export const btrfsExtentsSchema = z
  .object({
    trees: z.record(z.string(), z.record(z.string(), z.array(block))),
    /** Incremental receives done whole: btrfs receive could not apply a clone from a base never received. */
    wholeReceives: z.number().int().min(1).optional(),
  })
  .strict();
export type BtrfsExtents = z.infer<typeof btrfsExtentsSchema>;

const diverge = (property: string, message: string): ViewVerdict => ({ divergence: { property, message } });

/** tree → key → each block as [extent id, block within it], from the model's leaves. */
function modelBlocks(state: SnapshotState): Map<string, Map<string, [number, number][]>> {
  const out = new Map<string, Map<string, [number, number][]>>();
  for (const [t, tree] of Object.entries(state.trees)) {
    const keys = new Map<string, [number, number][]>();
    const walk = (id: number): void => {
      const n = state.nodes[id]!;
      if (n.kids?.length) for (const k of n.kids) walk(k);
      else for (const [i, k] of n.keys.entries()) keys.set(String(k), n.vals![i]!);
    };
    if (tree.root !== null) walk(tree.root);
    out.set(t, keys);
  }
  return out;
}

const names = (xs: Iterable<string>): string => [...xs].sort((a, b) => Number(a) - Number(b)).join(", ") || "none";

export const btrfsExtentsView: LayerView<SnapshotState> = {
  name: "extents",
  decode: (json) => btrfsExtentsSchema.parse(json),
  compare(view, reference): ViewVerdict {
    const v = view as BtrfsExtents;
    if (v.wholeReceives)
      return {
        desync:
          "an incremental receive done whole: btrfs receive finds a clone source by its received UUID only, and the base was a local snapshot",
      };
    const model = modelBlocks(reference);
    if (names(Object.keys(v.trees)) !== names(model.keys()))
      return diverge("btrfs-trees", `Btrfs has trees ${names(Object.keys(v.trees))}, the model ${names(model.keys())}`);
    // which (tree, key) pairs refer to each model extent, for its shared flag
    const users = new Map<number, Set<string>>();
    for (const [t, keys] of model)
      for (const [k, blocks] of keys)
        for (const [e] of blocks) users.set(e, (users.get(e) ?? new Set()).add(`${t}/${k}`));
    const physicalOf = new Map<string, number>();
    const modelOf = new Map<number, string>();
    for (const [t, keys] of model) {
      const mine = v.trees[t]!;
      if (names(Object.keys(mine)) !== names(keys.keys()))
        return diverge(
          "btrfs-keys",
          `tree ${t} has keys ${names(Object.keys(mine))} in Btrfs, ${names(keys.keys())} in the model`,
        );
      for (const [k, blocks] of keys) {
        const real = mine[k]!;
        if (real.length !== blocks.length)
          return diverge(
            "btrfs-blocks",
            `tree ${t} key ${k} has ${real.length} blocks in Btrfs, ${blocks.length} in the model`,
          );
        for (const [i, [e, b]] of blocks.entries()) {
          const [physical, shared] = real[i]!;
          const m = `extent ${e} block ${b}`;
          const where = `tree ${t} key ${k} block ${i}`;
          const before = physicalOf.get(m);
          if (before !== undefined && before !== physical)
            return diverge(
              "btrfs-same-block",
              `${where} is the model's ${m}, which another key's block also is, but Btrfs keeps it at physical block ${physical}, the other at ${before}`,
            );
          const other = modelOf.get(physical);
          if (other !== undefined && other !== m)
            return diverge(
              "btrfs-same-block",
              `${where} is physical block ${physical} in Btrfs, as another key's block is, but the model's ${m} is not that block's ${other}`,
            );
          physicalOf.set(m, physical);
          modelOf.set(physical, m);
          const modelShared = users.get(e)!.size > 1;
          if (shared !== modelShared)
            return diverge(
              "btrfs-shared",
              `${where} (physical block ${physical}): FIEMAP says its extent is ${shared ? "" : "not "}shared, the model's extent ${e} is referred to by ${[...users.get(e)!].join(", ")}`,
            );
        }
      }
    }
    return {};
  },
};
