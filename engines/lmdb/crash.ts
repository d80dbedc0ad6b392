// Crash testing on the real LMDB library. Random sequences of transactions (puts and deletes over a few named
// databases, creates and drops, small values and values of several overflow pages, half of the sequences with a
// reader pinning their first state) run on the LMDB agent. Each commit runs under watch (agent.c's "crashcheck"):
// the agent logs its steps (page writes and flushes), then builds every crash image the steps allow (every prefix,
// and for each every subset of the writes since the last flush, or a fixed-seed sample of them when there are more),
// opens each with LMDB in a child process, reads every tree and audits every page. A recovered image must be exactly
// the last committed state or the in-flight one (its txn id and its whole content), never a mix, an open failure, a
// read failure or a page the audit finds wrong. Independently of LMDB, this module keeps its own model of what each
// op must answer and what each committed state holds, and checks LMDB's answers against it.
//
// The negative control (`dropDataSync`) makes each commit's first fdatasync a no-op (the flush between the data
// pages and the meta page): the campaign must then find violations, silently wrong data among them.
import seedrandom from "seedrandom";
import type { AnyLayer } from "../../core/index.ts";
import type { SnapshotObs, SnapshotOp } from "../../models/snapshot/types.ts";
import type { StdioEngine } from "../stdio.ts";
import { lmdbFolder, startLmdbAgent } from "./build.ts";

export interface LmdbCrashCampaignOptions {
  /** The snapshot layer (its observations validate the agent's answers). */
  readonly layer: AnyLayer;
  readonly seed: number;
  /** Random sequences of transactions; each starts from a fresh environment. */
  readonly sequences: number;
  /** The negative control: each commit's first fdatasync does nothing. */
  readonly dropDataSync?: boolean;
  /** Subsets of the writes since the last flush tried per prefix when there are more than this (default 64). */
  readonly sample?: number;
}

export interface LmdbCrashExample {
  readonly sequence: number;
  /** The in-flight transaction's id. */
  readonly txn: number;
  /** The commit's steps: page numbers written, and flushes. */
  readonly steps: readonly (number | "flush")[];
  /** Power was lost after this many steps… */
  readonly after: number;
  /** …with these of the writes since the last flush on the disk (0 = the first write after it)… */
  readonly kept: readonly number[];
  /** …out of this many. */
  readonly pending: number;
  readonly kind: LmdbViolationKind;
  readonly what: string;
}

/**
 * open: LMDB could not open the image; read: a read failed (MDB_CORRUPTED…); signal: reading it killed the process
 * (a page past the file's end); silent: LMDB read it without an error, and its content is neither state; audit: the
 * content is right but a page is both free and in use, free twice, or leaked.
 */
export type LmdbViolationKind = "open" | "read" | "signal" | "silent" | "audit";

export interface LmdbCrashCampaignResult {
  readonly seed: number;
  readonly sequences: number;
  readonly dropDataSync: boolean;
  /** Commits that wrote something, each one's crash states enumerated. */
  readonly commits: number;
  /** Of them, commits made while a reader pinned an older state. */
  readonly commitsWithReader: number;
  /** Distinct crash images opened with LMDB and checked. */
  readonly states: number;
  /** (prefix, subset) pairs enumerated; several give the same image. */
  readonly pairs: number;
  /** Prefixes with more than log2(sample) writes since the last flush, whose subsets were sampled, not all tried. */
  readonly sampledPrefixes: number;
  readonly recoveredLast: number;
  readonly recoveredInflight: number;
  /** Crash images that recovered anything but exactly the last or the in-flight state. */
  readonly violations: number;
  /** The violations by kind. */
  readonly kinds: Readonly<Record<LmdbViolationKind, number>>;
  /** The first few violations (at most 10). */
  readonly examples: readonly LmdbCrashExample[];
  /** The most page writes one commit made. */
  readonly maxWrites: number;
  /** Answers of LMDB compared with this module's own model (ops, scans after each commit, readers' reads). */
  readonly checks: number;
  /** Answers that differed from the model: none unless the agent or LMDB is wrong. */
  readonly mismatches: readonly string[];
  /** Wall time of the whole campaign, and per crash state. */
  readonly ms: number;
  readonly msPerState: number;
  /** The agent's time building, writing, opening, reading and auditing the images, per state. */
  readonly verifyMsPerState: number;
}

interface CrashCheck {
  last: number;
  inflight: number;
  wrote: boolean;
  steps: (number | "flush")[];
  examples: { after: number; kept: number[]; pending: number; kind: LmdbViolationKind; what: string }[];
  pairs: number;
  sampledPrefixes: number;
  states: number;
  recoveredLast: number;
  recoveredInflight: number;
  violations: number;
  writes: number;
  verifyMs: number;
  entriesLast: Record<string, number>;
  entriesInflight: Record<string, number>;
  kinds: Record<LmdbViolationKind, number>;
}

const GEOMETRY = { trees: 4, keys: 16, readers: 2 };
/** The reader that pins a sequence's first state, in the sequences that have one. */
const PINNING = 0;

type Tree = Map<number, number[]>;
type Store = Map<number, Tree>;
const copy = (s: Store): Store => new Map([...s].map(([t, m]) => [t, new Map(m)]));

/** What LMDB must answer, from plain maps: the committed state, the open transaction's, each reader's. */
class Expect {
  committed: Store = new Map([[0, new Map()]]);
  open: Store = copy(this.committed);
  readers = new Map<number, Store>();

  answer(op: SnapshotOp): SnapshotObs {
    const err = (error: "ENOENT" | "NOTFOUND" | "EEXIST" | "EINVAL"): SnapshotObs => ({ error });
    switch (op.op) {
      case "put": {
        const t = this.open.get(op.tree);
        if (!t) return err("ENOENT");
        t.set(op.key, [...op.data]);
        return { ok: true };
      }
      case "del": {
        const t = this.open.get(op.tree);
        if (!t) return err("ENOENT");
        return t.delete(op.key) ? { ok: true } : err("NOTFOUND");
      }
      case "get": {
        const t = this.open.get(op.tree);
        if (!t) return err("ENOENT");
        const v = t.get(op.key);
        return v ? { data: v } : err("NOTFOUND");
      }
      case "scan": {
        const t = this.open.get(op.tree);
        if (!t) return err("ENOENT");
        return { entries: [...t].sort((a, b) => a[0] - b[0]) };
      }
      case "create":
        if (this.open.has(op.tree)) return err("EEXIST");
        this.open.set(op.tree, new Map());
        return { ok: true };
      case "drop":
        if (!this.open.has(op.tree)) return err("ENOENT");
        if (op.tree === 0) return err("EINVAL");
        this.open.delete(op.tree);
        return { ok: true };
      case "commit":
        this.committed = copy(this.open);
        return { ok: true };
      case "abort":
        this.open = copy(this.committed);
        return { ok: true };
      case "begin-read":
        if (this.readers.has(op.reader)) return err("EINVAL");
        this.readers.set(op.reader, copy(this.committed));
        return { ok: true };
      case "end-read":
        return this.readers.delete(op.reader) ? { ok: true } : err("EINVAL");
      case "read": {
        const r = this.readers.get(op.reader);
        if (!r) return err("EINVAL");
        const t = r.get(op.tree);
        if (!t) return err("ENOENT");
        const v = t.get(op.key);
        return v ? { data: v } : err("NOTFOUND");
      }
      default:
        throw new Error(`the campaign does not send ${op.op}`);
    }
  }
}

/** Run the campaign: see the module's comment. Deterministic for a seed (the sequences and the sampled subsets). */
export async function runLmdbCrashCampaign(options: LmdbCrashCampaignOptions): Promise<LmdbCrashCampaignResult> {
  const { seed, sequences } = options;
  const drop = options.dropDataSync ?? false;
  const sample = options.sample ?? 64;
  const folder = lmdbFolder("lmdb-crash-");
  const started = performance.now();
  const r = {
    commits: 0,
    commitsWithReader: 0,
    states: 0,
    pairs: 0,
    sampledPrefixes: 0,
    recoveredLast: 0,
    recoveredInflight: 0,
    violations: 0,
    kinds: { open: 0, read: 0, signal: 0, silent: 0, audit: 0 } as Record<LmdbViolationKind, number>,
    examples: [] as LmdbCrashExample[],
    maxWrites: 0,
    checks: 0,
    mismatches: [] as string[],
    verifyMs: 0,
  };
  let agent: StdioEngine | undefined;
  try {
    agent = await startLmdbAgent(options.layer, folder.path, GEOMETRY);
    for (let s = 0; s < sequences; s++) await sequence(agent, s);
  } finally {
    await agent?.close();
    folder.remove();
  }
  const ms = performance.now() - started;
  return {
    seed,
    sequences,
    dropDataSync: drop,
    commits: r.commits,
    commitsWithReader: r.commitsWithReader,
    states: r.states,
    pairs: r.pairs,
    sampledPrefixes: r.sampledPrefixes,
    recoveredLast: r.recoveredLast,
    recoveredInflight: r.recoveredInflight,
    violations: r.violations,
    kinds: r.kinds,
    examples: r.examples,
    maxWrites: r.maxWrites,
    checks: r.checks,
    mismatches: r.mismatches,
    ms,
    msPerState: r.states ? ms / r.states : 0,
    verifyMsPerState: r.states ? r.verifyMs / r.states : 0,
  };

  async function sequence(agent: StdioEngine, s: number): Promise<void> {
    const rng = seedrandom(`lmdb-crash:${seed}:${s}`);
    const int = (n: number): number => Math.floor(rng() * n);
    const expect = new Expect();
    await agent.reset();
    const check = async (op: SnapshotOp): Promise<void> => {
      const want = expect.answer(op);
      const got = (await agent.apply(op)) as SnapshotObs;
      r.checks++;
      if (JSON.stringify(got) !== JSON.stringify(want) && r.mismatches.length < 20)
        r.mismatches.push(
          `sequence ${s}: ${JSON.stringify(op).slice(0, 120)} answered ${JSON.stringify(got).slice(0, 120)}, expected ${JSON.stringify(want).slice(0, 120)}`,
        );
    };
    const pinning = s % 2 === 1;
    if (pinning) await check({ op: "begin-read", reader: PINNING });
    const value = (): number[] => {
      const n = rng() < 0.15 ? 2000 + int(10_000) : 1 + int(16); // large ones take overflow pages
      return Array.from({ length: n }, () => int(256));
    };
    const txns = 3 + int(4);
    for (let x = 0; x < txns; x++) {
      const ops = 1 + int(8);
      for (let i = 0; i < ops; i++) {
        const trees = [...expect.open.keys()];
        const tree = trees[int(trees.length)]!;
        const p = rng();
        if (p < 0.5) await check({ op: "put", tree, key: int(GEOMETRY.keys), data: value() });
        else if (p < 0.7) {
          const keys = [...(expect.open.get(tree)?.keys() ?? [])];
          const key = keys.length && rng() < 0.8 ? keys[int(keys.length)]! : int(GEOMETRY.keys);
          await check({ op: "del", tree, key });
        } else if (p < 0.77) await check({ op: "create", tree: int(GEOMETRY.trees) });
        else if (p < 0.82) await check({ op: "drop", tree: int(GEOMETRY.trees) });
        else if (p < 0.9) {
          const reader = 1;
          await check(expect.readers.has(reader) ? { op: "end-read", reader } : { op: "begin-read", reader });
        } else await check({ op: "get", tree, key: int(GEOMETRY.keys) });
      }
      if (rng() < 0.1) {
        await check({ op: "abort" });
        continue;
      }
      const pinned = expect.readers.size > 0;
      const c = (await agent.send({ crashcheck: { drop: drop ? 1 : 0, sample, seed } })) as CrashCheck;
      expect.answer({ op: "commit" });
      tally(c, s, pinned);
      // the committed state, as LMDB reads it, against the model: every tree, and every reader's snapshot
      for (let t = 0; t < GEOMETRY.trees; t++) {
        await check({ op: "scan", tree: t });
        const want = expect.committed.get(t)?.size;
        const got = c.entriesInflight[t];
        r.checks++;
        if (want !== got && r.mismatches.length < 20)
          r.mismatches.push(
            `sequence ${s}, txn ${c.inflight}: tree ${t} has ${got} entries after the commit, expected ${want}`,
          );
      }
      for (const reader of expect.readers.keys())
        for (let k = 0; k < 4; k++)
          await check({ op: "read", reader, tree: int(GEOMETRY.trees), key: int(GEOMETRY.keys) });
    }
  }

  function tally(c: CrashCheck, s: number, pinned: boolean): void {
    if (!c.wrote) return;
    r.commits++;
    if (pinned) r.commitsWithReader++;
    r.states += c.states;
    r.pairs += c.pairs;
    r.sampledPrefixes += c.sampledPrefixes;
    r.recoveredLast += c.recoveredLast;
    r.recoveredInflight += c.recoveredInflight;
    r.violations += c.violations;
    for (const k of Object.keys(r.kinds) as LmdbViolationKind[]) r.kinds[k] += c.kinds[k];
    r.maxWrites = Math.max(r.maxWrites, c.writes);
    r.verifyMs += c.verifyMs;
    for (const e of c.examples)
      if (r.examples.length < 10) r.examples.push({ sequence: s, txn: c.inflight, steps: c.steps, ...e });
  }
}
