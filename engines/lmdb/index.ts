// LMDB (liblmdb, the library itself) as an engine of the snapshot layer's lmdb flavour: engines/lmdb/agent.c,
// compiled on first use with the system C compiler into a cache folder keyed by the source's hash (as the Linux
// agent is), linked with -llmdb, then spoken to over the stdio protocol. Each agent keeps its environments in a
// private folder below this run's folder (runRoot), removed when the agent ends, when the factory is disposed, and
// with the run's folder however the run ends.
import type { AnyLayer, EngineFactory, SystemEngine } from "../../core/index.ts";
import { stdioFactory } from "../stdio.ts";
import { lmdbCommand, lmdbFolder, lmdbUnavailable } from "./build.ts";
import { runLmdbCrashCampaign } from "./crash.ts";

/** The views the agent answers (views/snapshot/lmdb.ts). */
export const LMDB_VIEWS = ["env"] as const;

/** A stdio factory whose agents keep their environments in a folder of their own, removed on dispose. */
export function lmdbFactory(layer: AnyLayer, timeoutMs?: number): EngineFactory {
  let folder: { path: string; remove: () => void } | undefined;
  const inner = stdioFactory(
    layer,
    () => {
      folder ??= lmdbFolder();
      return lmdbCommand(folder.path);
    },
    { name: "snapshot:lmdb", timeoutMs },
  );
  return {
    name: inner.name,
    create: (g) => inner.create(g),
    fresh: () => inner.fresh?.(),
    async dispose() {
      await inner.dispose?.();
      folder?.remove(); // a later create makes the folder again (the agent makes it if missing)
    },
    fixedGeometry: { flavour: "lmdb" },
  };
}

/** The snapshot layer's lmdb flavour against the real library. */
export const lmdbEngine: SystemEngine = {
  name: "lmdb",
  description: "LMDB itself (liblmdb), one environment per sequence (engines/lmdb/agent.c)",
  unavailable: lmdbUnavailable,
  features: () => ({
    offered: ["reset", "abort", "crash", ...LMDB_VIEWS],
    missing: {
      inspect:
        "LMDB's pages are not the model's nodes (its trees share no nodes, its freelist holds its own B+tree's pages too): the env view is what LMDB shows",
    },
  }),
  fixedGeometry: { flavour: "lmdb" },
  views: [...LMDB_VIEWS],
  factory: (layer, { timeoutMs }) => lmdbFactory(layer, timeoutMs),
  async crashCampaign(layer, { seed, sequences, negativeControl }) {
    const r = await runLmdbCrashCampaign({ layer, seed, sequences, dropDataSync: negativeControl });
    return {
      commits: r.commits,
      states: r.states,
      violations: r.violations,
      kinds: r.kinds,
      examples: [
        ...r.mismatches.map((m) => `LMDB answered other than its plain-map model: ${m}`),
        ...r.examples.map(
          (e) =>
            `sequence ${e.sequence}, txn ${e.txn}: power lost after ${e.after} of its steps [${e.steps.join(" ")}], ${e.kept.length} of the ${e.pending} unflushed writes kept: ${e.kind}, ${e.what}`,
        ),
      ],
      msPerState: r.msPerState,
      detail: `${r.commits} commits (${r.commitsWithReader} with a reader pinning an older state), ${r.recoveredLast} recovered the last commit and ${r.recoveredInflight} the in-flight one, ${r.sampledPrefixes} prefixes' subsets sampled, at most ${r.maxWrites} page writes in a commit, ${r.checks} answers checked against a plain-map model${r.mismatches.length ? ` (${r.mismatches.length} differed)` : ""}`,
    };
  },
};
