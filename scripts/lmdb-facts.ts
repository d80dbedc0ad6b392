// Facts about the real LMDB library, measured on the agent (engines/lmdb/agent.c) for docs/snapshot.md:
//   - how many pages one commit frees (its freelist record), and how many it writes, by the tree's depth;
//   - which meta slot each commit writes (txn & 1);
//   - that a page a commit writes over is one a freelist record T held, with T older than the oldest reader and
//     than the last committed txn (mdb_page_alloc, mdb_find_oldest), and never a page of a committed state;
//   - how the file grows over 100 commits with and without a reader pinning the first state;
//   - a durable commit's time against MDB_NOSYNC's.
// `npx tsx scripts/lmdb-facts.ts [seed]` prints them as JSON; measureLmdbFacts() returns them.
import { pathToFileURL } from "node:url";
import seedrandom from "seedrandom";
import { lmdbFolder, startLmdbAgent } from "../engines/lmdb/build.ts";
import { snapshotLayer } from "../layers/snapshot/index.ts";
import type { SnapshotObs, SnapshotOp } from "../models/snapshot/types.ts";
import type { LmdbEnvView } from "../views/snapshot/lmdb.ts";

const GEOMETRY = { trees: 4, keys: 1024, readers: 2 };

interface Steps {
  steps: (number | "flush")[];
  inflight: number;
  wrote: boolean;
}

const summary = (xs: number[]): { min: number; max: number; mean: number; n: number } => ({
  min: Math.min(...xs),
  max: Math.max(...xs),
  mean: Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100,
  n: xs.length,
});

export interface LmdbFacts {
  /** Per depth of the tree written: pages one single-put commit frees (its freelist record) and writes. */
  perCommit: { depth: number; freed: ReturnType<typeof summary>; written: ReturnType<typeof summary> }[];
  /** Commits after which the meta slot txn & 1 held txn, and the other slot txn - 1. */
  metaParity: { commits: number; held: number };
  /**
   * Pages commits wrote over (below the file's end before the commit; meta pages aside): each was in a freelist
   * record T before the commit; `bound` = min(oldest reader, last committed txn). Reuses with T >= bound, and pages
   * written that no record held, are violations; `tightest` is the largest T - bound seen (-1: a record just older
   * than the bound was reused).
   */
  reuse: { commits: number; reused: number; fromRecordAtOrAfterBound: number; notFree: number; tightest: number };
  /** lastPage + 1 and the file's bytes after 100 single-put commits, without and with a reader on the first state. */
  growth: {
    commits: number;
    withoutReader: { pages: number; bytes: number };
    withReader: { pages: number; bytes: number };
  };
  /** Milliseconds per commit (mdb_txn_commit alone) of a one-put transaction, durable and with MDB_NOSYNC. */
  commitMs: { commits: number; durable: number; nosync: number; folder: string };
}

export async function measureLmdbFacts(seed = 1): Promise<LmdbFacts> {
  const folder = lmdbFolder("lmdb-facts-");
  const agent = await startLmdbAgent(snapshotLayer, folder.path, GEOMETRY);
  const rng = seedrandom(`lmdb-facts:${seed}`);
  const int = (k: number): number => Math.floor(rng() * k);
  const op = async (o: SnapshotOp): Promise<void> => {
    const obs = (await agent.apply(o)) as SnapshotObs;
    if ("error" in obs) throw new Error(`${JSON.stringify(o)} answered ${JSON.stringify(obs)}`);
  };
  const view = async (): Promise<LmdbEnvView> => (await agent.send({ inspect: "env" })) as LmdbEnvView;
  const value = (): number[] => Array.from({ length: 16 }, () => int(256));
  /** Commit under watch (two subsets per prefix: the steps are what is wanted here, not the crash states). */
  const commit = async (): Promise<Steps> => (await agent.send({ crashcheck: { drop: 0, sample: 2, seed } })) as Steps;
  try {
    // ---- pages freed and written per commit, by depth
    const perCommit: LmdbFacts["perCommit"] = [];
    for (const fill of [8, 1024]) {
      await agent.reset();
      for (let k = 0; k < fill; k++) await op({ op: "put", tree: 0, key: k, data: value() });
      await commit();
      const freed: number[] = [];
      const written: number[] = [];
      for (let i = 0; i < 30; i++) {
        await op({ op: "put", tree: 0, key: int(fill), data: value() });
        const c = await commit();
        const v = await view();
        freed.push(v.freelist[c.inflight]?.length ?? 0);
        written.push(c.steps.filter((s) => s !== "flush" && s > 1).length);
      }
      perCommit.push({ depth: (await view()).trees[0]!.depth, freed: summary(freed), written: summary(written) });
    }

    // ---- meta parity, and what commits write over, with readers coming and going between commits
    await agent.reset();
    for (let k = 0; k < 300; k++) await op({ op: "put", tree: 0, key: k, data: value() });
    await commit();
    const reuse = {
      commits: 0,
      reused: 0,
      fromRecordAtOrAfterBound: 0,
      notFree: 0,
      tightest: Number.NEGATIVE_INFINITY,
    };
    const metaParity = { commits: 0, held: 0 };
    const live = new Set<number>();
    for (let i = 0; i < 200; i++) {
      if (rng() < 0.15) {
        const r = int(GEOMETRY.readers);
        await op(live.has(r) ? { op: "end-read", reader: r } : { op: "begin-read", reader: r });
        if (live.has(r)) live.delete(r);
        else live.add(r);
      }
      const before = await view();
      const owner = new Map<number, number>();
      for (const [t, pages] of Object.entries(before.freelist)) for (const p of pages) owner.set(p, Number(t));
      const bound = Math.min(before.lastTxn, ...Object.values(before.readers));
      for (let k = 1 + int(3); k > 0; k--) await op({ op: "put", tree: 0, key: int(300), data: value() });
      const c = await commit();
      if (!c.wrote) continue;
      reuse.commits++;
      for (const p of c.steps) {
        if (p === "flush" || p < 2 || p > before.lastPage) continue; // meta pages, and pages past the file's end
        reuse.reused++;
        const t = owner.get(p);
        if (t === undefined) reuse.notFree++;
        else {
          if (t >= bound) reuse.fromRecordAtOrAfterBound++;
          reuse.tightest = Math.max(reuse.tightest, t - bound);
        }
      }
      const after = await view();
      metaParity.commits++;
      const slot = after.lastTxn & 1;
      if (after.metas[slot]?.txn === after.lastTxn && after.metas[1 - slot]?.txn === after.lastTxn - 1)
        metaParity.held++;
    }

    // ---- file growth over 100 commits, without and with a reader pinning the first state
    const grow = async (pin: boolean): Promise<{ pages: number; bytes: number }> => {
      await agent.reset();
      for (let k = 0; k < 64; k++) await op({ op: "put", tree: 0, key: k, data: value() });
      await op({ op: "commit" });
      if (pin) await op({ op: "begin-read", reader: 0 });
      for (let i = 0; i < 100; i++) {
        await op({ op: "put", tree: 0, key: int(64), data: value() });
        await op({ op: "commit" });
      }
      const v = await view();
      if (pin) await op({ op: "end-read", reader: 0 });
      return { pages: v.lastPage + 1, bytes: v.fileBytes };
    };
    const growth = { commits: 100, withoutReader: await grow(false), withReader: await grow(true) };

    // ---- commit time, durable and MDB_NOSYNC
    const bench = async (nosync: boolean): Promise<number> =>
      ((await agent.send({ bench: { commits: 500, nosync: nosync ? 1 : 0 } })) as { commitMs: number }).commitMs;
    const commitMs = { commits: 500, durable: await bench(false), nosync: await bench(true), folder: folder.path };
    return { perCommit, metaParity, reuse, growth, commitMs };
  } finally {
    await agent.close();
    folder.remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  console.log(JSON.stringify(await measureLmdbFacts(Number(process.argv[2] ?? 1)), null, 2));
