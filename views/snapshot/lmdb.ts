// The env view: what a real LMDB environment shows of itself (engines/lmdb/agent.c answers {"inspect":"env"}),
// compared with the snapshot layer's model in its lmdb flavour for `--against model`.
//
// Compared, because LMDB and the model must agree on them whatever the page geometry: the last committed
// transaction (the model's open txn - 1) and the open one, which meta slot holds which transaction (slot txn & 1)
// and which trees each slot's state has (empty or not), the trees the open transaction sees and the entries of each,
// and the readers' pinned transactions. LMDB's page
// numbers, tree depths, freelist records and file size depend on its own page geometry (4 KiB pages holding
// hundreds of entries, its main and free databases being B+trees of their own), not the model's, and are not
// compared; the view still checks LMDB against itself: its page audit (every page in use exactly once or free
// exactly once, each tree's record counting what its pages hold) and its lock file's reader table against the
// agent's readers.
import { z } from "zod";
import type { LayerView, ViewVerdict } from "../../core/index.ts";
import type { SnapshotState } from "../../models/snapshot/types.ts";

const n = z.number().int().min(0);
const meta = z
  .object({
    txn: n,
    lastPage: n,
    free: n.nullable(),
    main: n.nullable(),
    /** The named databases its main database holds (read from the file), each one's root page (null: empty). */
    roots: z.record(z.string(), n.nullable()),
  })
  .strict()
  .nullable();

export const lmdbEnvSchema = z
  .object({
    /** LMDB's page size. */
    psize: n,
    /** mdb_env_info: the newest meta's transaction and last page. */
    lastTxn: n,
    lastPage: n,
    /** The open write transaction's id, or null if none is open. */
    open: n.nullable(),
    fileBytes: n,
    /** Both meta pages as the data file holds them (null: not a valid meta page): txn, last page, the roots of the
     * free and main databases, and of each tree. */
    metas: z.tuple([meta, meta]),
    /** The lock file's reader table (mdb_reader_list): the transactions live readers pinned. */
    lockTable: z.array(n),
    /** The agent's reader slots: slot → the transaction its read txn pinned. */
    readers: z.record(z.string(), n),
    /** FREE_DBI in a read txn on the committed state: txn → the pages it freed, not yet reused. */
    freelist: z.record(z.string(), z.array(n)),
    /** mdb_stat of each tree the open transaction sees (the committed state if none is open). */
    trees: z.record(z.string(), z.object({ entries: n, depth: n, branch: n, leaf: n, overflow: n }).strict()),
    /**
     * The agent's walk of the committed state's pages (the data file): pages (the meta's last page + 1), those in use
     * (reached from a tree) and free (in a freelist record), and how many of them lie past the file's end (free pages
     * LMDB allocated and freed in one txn without writing them).
     */
    audit: z
      .object({ ok: z.boolean(), pages: n, used: n, free: n, pastEnd: n, problem: z.string().optional() })
      .strict(),
  })
  .strict();
export type LmdbEnvView = z.infer<typeof lmdbEnvSchema>;

/** Entries of a tree of the model: the keys of the leaves its root reaches. */
function entriesOf(state: SnapshotState, root: number | null): number {
  if (root === null) return 0;
  let count = 0;
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const node = state.nodes[id];
    if (!node) continue;
    if (node.kids?.length) stack.push(...node.kids);
    else count += node.keys.length;
  }
  return count;
}

const diverge = (property: string, message: string): ViewVerdict => ({ divergence: { property, message } });
const sorted = (xs: number[]): string => JSON.stringify([...xs].sort((a, b) => a - b));
const show = (r: Record<string, number>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => Number(a) - Number(b))));

export const lmdbEnvView: LayerView<SnapshotState> = {
  name: "env",
  decode: (json) => lmdbEnvSchema.parse(json),
  compare(view, reference): ViewVerdict {
    const v = view as LmdbEnvView;
    if (!v.audit.ok) return diverge("lmdb-page-audit", `LMDB's committed pages fail the audit: ${v.audit.problem}`);
    const lockTable = sorted(v.lockTable);
    if (lockTable !== sorted(Object.values(v.readers)))
      return diverge(
        "lmdb-reader-table",
        `LMDB's lock file lists readers at txns ${lockTable}, the agent's read txns pinned ${show(v.readers)}`,
      );
    const last = reference.txn - 1;
    if (v.lastTxn !== last)
      return diverge("lmdb-last-txn", `LMDB's last committed txn is ${v.lastTxn}, the model's ${last}`);
    if (v.open !== null && v.open !== reference.txn)
      return diverge("lmdb-open-txn", `LMDB's open write txn is ${v.open}, the model's ${reference.txn}`);
    for (const slot of [0, 1] as const) {
      const mine = v.metas[slot];
      const model = reference.metas[slot];
      if (mine?.txn !== model.txn)
        return diverge(
          "lmdb-meta-slots",
          `LMDB's meta slot ${slot} holds txn ${mine?.txn ?? "(no valid meta)"}, the model's txn ${model.txn} (slot txn & 1 is written by txn's commit)`,
        );
      // which trees the slot's state has, and which of them are empty (page numbers are LMDB's own)
      const shape = (roots: Record<string, number | null>): string =>
        Object.keys(roots)
          .sort((a, b) => Number(a) - Number(b))
          .map((t) => `${t}${roots[t] === null ? " (empty)" : ""}`)
          .join(", ") || "none";
      if (shape(mine.roots) !== shape(model.roots))
        return diverge(
          "lmdb-meta-roots",
          `LMDB's meta slot ${slot} (txn ${model.txn}) has trees ${shape(mine.roots)}, the model's ${shape(model.roots)}`,
        );
    }
    const treesOf = (ids: string[]): string => ids.sort((a, b) => Number(a) - Number(b)).join(", ") || "none";
    const mineTrees = treesOf(Object.keys(v.trees));
    const modelTrees = treesOf(Object.keys(reference.trees));
    if (mineTrees !== modelTrees)
      return diverge("lmdb-trees", `LMDB's open transaction sees trees ${mineTrees}, the model's ${modelTrees}`);
    for (const [t, stat] of Object.entries(v.trees)) {
      const model = entriesOf(reference, reference.trees[t]!.root);
      if (stat.entries !== model)
        return diverge("lmdb-entries", `tree ${t} has ${stat.entries} entries in LMDB, ${model} in the model`);
    }
    const readers = show(v.readers);
    const modelReaders = show(reference.readers ?? {});
    if (readers !== modelReaders)
      return diverge("lmdb-readers", `LMDB's readers pinned txns ${readers}, the model's ${modelReaders}`);
    return {};
  },
};
