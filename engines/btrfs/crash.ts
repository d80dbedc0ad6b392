// Crash testing on real Btrfs, the CrashMonkey method in user space (engines/blockdev: a FUSE file under a loop
// device logs every block write and flush). Random sequences of the snapshot layer's ops (its own generator, btrfs
// flavour) run on a fresh filesystem on the logged device, with a mark after each op; the layer's model runs beside
// them and gives, after each op, the state the trees must show. Then every crash state the log allows is rebuilt as
// an image: the state at every flush, after every write prefix, and sampled reorderings of the writes since the last
// flush. Each must pass `btrfs check`, mount (log replay and orphan cleanup run), and read as exactly one committed
// state at an op boundary from the last acknowledged commit on: the state the last commit op published, or one after
// a later op (a transaction Btrfs committed by itself: a sync(2) of any process commits every filesystem), up to
// the op in flight. A crash after the last record of an op that committed must find that op's state.
//
// The negative control rebuilds, for each commit, two states a faulty device would leave: the commit's superblock
// without the tree blocks it wrote before it (reordered across the flush), and the commit acknowledged with its
// superblock lost. The campaign must find violations: the first fails `btrfs check`, the second reads as the state
// before a commit the op had finished.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import {
  type AnyLayer,
  type CrashCampaignOptions,
  type CrashCampaignResult,
  deepEqual,
  type Engine,
  type EngineFailure,
} from "../../core/index.ts";
import {
  defaultSnapshotGeometry,
  type SnapshotGeometry,
  type SnapshotObs,
  type SnapshotOp,
  type SnapshotState,
} from "../../models/snapshot/types.ts";
import {
  type CrashState,
  crashStates,
  type LoggedDevice,
  type LogRecord,
  loopDevice,
  materialize,
  startLoggedDevice,
} from "../blockdev.ts";
import { BtrfsEngine } from "./engine.ts";
import { DEVICE_BYTES, type FsContent, MountedBtrfs, readContent } from "./fs.ts";

/** The primary superblock's place and size (btrfs_sb_offset(0), BTRFS_SUPER_INFO_SIZE). */
const SUPER_OFFSET = 64 << 10;
const OPS = { min: 10, max: 24 };
/** Reorderings sampled per flush epoch; write prefixes per sequence at most (evenly spread). */
const REORDERINGS = 4;
const PREFIXES = 48;

export type BtrfsViolationKind = "check" | "mount" | "read" | "state";

/** The trees a filesystem or the model shows, in one comparable form. */
type Content = [number, boolean, [number, number[]][]][];
const canonical = (c: FsContent): Content =>
  [...c.trees].sort(([a], [b]) => a - b).map(([t, x]) => [t, x.readonly, [...x.entries].sort(([a], [b]) => a - b)]);

type Model = Engine<SnapshotOp, SnapshotObs, SnapshotState>;

/** What the layer's model shows: its trees (as the open transaction sees them), each one scanned. */
async function modelContent(model: Model): Promise<Content> {
  const out: Content = [];
  const trees = (await model.inspect!()).trees;
  for (const t of Object.keys(trees)
    .map(Number)
    .sort((a, b) => a - b)) {
    const scan = (await model.apply({ op: "scan", tree: t })) as { entries: [number, number[]][] };
    out.push([t, trees[t]!.readonly, scan.entries]);
  }
  return out;
}

const describe = (c: Content): string =>
  c
    .map(
      ([t, ro, entries]) => `t${t}${ro ? " (ro)" : ""} {${entries.map(([k, d]) => `${k}:${d.join(".")}`).join(" ")}}`,
    )
    .join(" ") || "no trees";

/** One sequence's ops: the layer's generator for the btrfs flavour, without what the engine lacks, then a commit. */
function sequenceOps(layer: AnyLayer, g: SnapshotGeometry, seed: number): SnapshotOp[] {
  const features = new Set(BtrfsEngine.FEATURES);
  const kinds = layer.opKinds(g, features) as fc.WeightedArbitrary<SnapshotOp>[];
  const [ops] = fc.sample(fc.array(fc.oneof(...kinds), { minLength: OPS.min, maxLength: OPS.max }), {
    seed,
    numRuns: 1,
  });
  const arranged = (layer.arrange?.(ops!, g, features) ?? ops!) as SnapshotOp[];
  return [...arranged, { op: "commit" }];
}

interface Window {
  /** The op's index, or -1 for the filesystem's making. */
  readonly op: number;
  /** Records from..to (exclusive) were issued during it. */
  readonly from: number;
  readonly to: number;
  /** The states a crash in it may recover. */
  readonly allowed: Content[];
  readonly what: string;
}

export async function runBtrfsCrashCampaign(
  layer: AnyLayer,
  { seed, sequences, negativeControl, onProgress }: CrashCampaignOptions,
): Promise<CrashCampaignResult> {
  const g: SnapshotGeometry = { ...defaultSnapshotGeometry, flavour: "btrfs", blockSize: 4096 };
  const kinds: Record<BtrfsViolationKind, number> = { check: 0, mount: 0, read: 0, state: 0 };
  const examples: string[] = [];
  const mismatches: string[] = [];
  let states = 0;
  let commits = 0;
  let violations = 0;
  let recoveredLast = 0;
  let recoveredInflight = 0;
  /** States after an op between the last acknowledged commit and the op in flight (a commit Btrfs made itself). */
  let recoveredBetween = 0;
  let writes = 0;
  let flushes = 0;
  let checkMs = 0;
  const t0 = Date.now();
  for (let s = 0; s < sequences; s++) {
    const ops = sequenceOps(layer, g, seed * 100_003 + s);
    const device = await startLoggedDevice({ sizeBytes: DEVICE_BYTES });
    let engine: BtrfsEngine | undefined;
    try {
      engine = BtrfsEngine.start(MountedBtrfs.make(device.device, join(device.folder, "fs")));
      const model = layer.model(g) as Model;
      device.mark("ready");
      // The records issued up to each mark; the committing ops and the states after each op.
      const marks: number[] = [device.records().length];
      const after: Content[] = [await modelContent(model)];
      const committed: boolean[] = [];
      let agreed = true;
      for (const [i, op] of ops.entries()) {
        let commitsHere = 0;
        engine.onCommit = () => commitsHere++;
        const seen = engine.apply(op);
        const expected = await model.apply(op);
        if (!deepEqual(seen, expected)) {
          mismatches.push(
            `sequence ${s} op ${i} ${JSON.stringify(op)}: Btrfs answered ${JSON.stringify(seen)}, the model ${JSON.stringify(expected)}`,
          );
          agreed = false; // the model's states are no longer Btrfs's: its crash states cannot be judged
          break;
        }
        device.mark(`op ${i}`);
        marks.push(device.records().length);
        after.push(await modelContent(model));
        committed.push(commitsHere > 0);
        commits += commitsHere;
      }
      engine.close();
      if (!agreed) continue;
      const records = device.records().slice(0, marks[marks.length - 1]);
      for (const r of records) r.kind === "write" ? writes++ : r.kind === "flush" && flushes++;
      const windows = opWindows(ops, marks, after, committed);
      const chosen = negativeControl
        ? negativeStates(records, windows, committed)
        : pick(crashStates(records, { reorderings: REORDERINGS, seed: seed + s, prefixes: true }), marks[0]!);
      for (const state of chosen) {
        const w = windows.find((x) => state.upTo > x.from && state.upTo <= x.to) ?? windows[windows.length - 1]!;
        // Everything the op issued reached the disk (a state is named by the first point it stands for, often its
        // last flush, not the op's end): if the op committed, its commit was acknowledged and must be found.
        const done =
          committed[w.op] === true &&
          state.kind !== "reorder" &&
          records.slice(state.upTo, w.to).every((r) => r.kind === "mark");
        const t = Date.now();
        const verdict = recover(device, state, done ? { ...w, allowed: w.allowed.slice(-1) } : w);
        checkMs += Date.now() - t;
        states++;
        if (verdict.kind) {
          violations++;
          kinds[verdict.kind]++;
          if (examples.length < 10)
            examples.push(
              `sequence ${s}, ${w.what}, ${state.kind} state ${state.name}: ${verdict.kind}: ${verdict.what}`,
            );
        } else if (done || verdict.index === w.allowed.length - 1) recoveredInflight++;
        else if (verdict.index === 0) recoveredLast++;
        else recoveredBetween++;
      }
    } finally {
      engine?.close(); // the filesystem goes before the device under it (a no-op once closed)
      await device.close();
    }
    onProgress?.({ sequences: s + 1, states, violations });
  }
  const ms = Date.now() - t0;
  return {
    commits,
    states,
    violations,
    kinds,
    examples: [...mismatches.map((m) => `Btrfs answered other than the model: ${m}`), ...examples],
    msPerState: states ? checkMs / states : 0,
    detail: `${sequences} sequences, ${commits} commits, ${writes} block writes and ${flushes} flushes logged; ${recoveredLast} states recovered the last committed op, ${recoveredInflight} the op in flight (or just done) and ${recoveredBetween} an op between them (a transaction committed without us); ${(ms / 1000).toFixed(1)} s in all${mismatches.length ? `; ${mismatches.length} answers differed from the model` : ""}`,
  };
}

/**
 * Each op's window of records, and the states a crash in it may recover: the state after any op from the last
 * acknowledged commit up to this op (a transaction may commit between our commits: a sync(2) by any process
 * commits every filesystem, and then what was written by then is durable too).
 */
function opWindows(ops: readonly SnapshotOp[], marks: number[], after: Content[], committed: boolean[]): Window[] {
  const out: Window[] = [];
  let last = 0; // index into `after` of the last state a completed commit published (0: the made filesystem)
  for (const [i, op] of ops.entries()) {
    out.push({
      op: i,
      from: marks[i]!,
      to: marks[i + 1]!,
      allowed: after.slice(last, i + 2),
      what: `op ${i} (${JSON.stringify(op)})`,
    });
    if (committed[i]) last = i + 1;
  }
  return out;
}

/** The states worth rebuilding: those after the filesystem was made, every flush and reordering, prefixes spread. */
function pick(all: CrashState[], ready: number): CrashState[] {
  const mine = all.filter((x) => x.upTo > ready);
  const prefixes = mine.filter((x) => x.kind === "prefix");
  const step = Math.max(1, Math.ceil(prefixes.length / PREFIXES));
  return [...mine.filter((x) => x.kind !== "prefix"), ...prefixes.filter((_, i) => i % step === 0)];
}

/**
 * The negative control, two wrong devices per commit: one that wrote the commit's superblock without the tree
 * blocks before it (reordered across the flush), and one that lost the superblock of a commit it had acknowledged.
 */
function negativeStates(records: readonly LogRecord[], windows: readonly Window[], committed: boolean[]): CrashState[] {
  const out: CrashState[] = [];
  const writes = (from: number, to: number, keep: (i: number) => boolean): number[] =>
    records.flatMap((r, i) => (i >= from && i < to && (r.kind === "write" || r.kind === "zero") && keep(i) ? [i] : []));
  const isSuper = (i: number): boolean => {
    const r = records[i]!;
    return r.kind === "write" && r.offset === SUPER_OFFSET;
  };
  let acknowledged = windows[0]?.from ?? 0; // where the last commit we asked for ended
  for (const w of windows) {
    const supers = records.flatMap((_, i) => (i >= w.from && i < w.to && isSuper(i) ? [i] : []));
    if (supers.length === 0) continue;
    for (const sb of supers)
      out.push({
        name: `super-without-trees@${sb}`,
        upTo: sb + 1,
        writes: [...writes(0, w.from, () => true), sb],
        kind: "reorder",
      });
    const sb = supers[0]!;
    // a commit Btrfs made by itself was acknowledged to no one: losing its superblock breaks no promise; and
    // after one since the last acknowledged commit, the state lost may be durable already
    const background = records.some((_, i) => i >= acknowledged && i < w.from && isSuper(i));
    if (committed[w.op]) acknowledged = w.to;
    // nor can a lost commit be seen if what it published reads as what the last one did
    const unseen = deepEqual(w.allowed[0], w.allowed[w.allowed.length - 1]);
    if (!committed[w.op] || background || unseen) continue;
    out.push({
      name: `lost-super@${sb}`,
      upTo: w.to,
      writes: writes(0, w.to, (i) => i < w.from || !isSuper(i)),
      kind: "flush",
    });
  }
  return out;
}

interface Verdict {
  readonly kind?: BtrfsViolationKind;
  readonly what?: string;
  /** Which allowed state it recovered (0: the last committed). */
  readonly index?: number;
}

/** Rebuild one crash state, check it, mount it and read it; compare with the allowed states. */
function recover(device: LoggedDevice, state: CrashState, w: Window): Verdict {
  const image = join(device.folder, "crash.img");
  materialize(device, state, image, DEVICE_BYTES);
  const check = spawnSync("btrfs", ["check", "--readonly", image], { encoding: "utf8", timeout: 120_000 });
  if (check.status !== 0)
    return { kind: "check", what: firstLines(`${check.stderr}${check.stdout}`) || `status ${check.status}` };
  const loop = loopDevice(image);
  let fs: MountedBtrfs | undefined;
  try {
    try {
      fs = MountedBtrfs.mount(loop.device, join(device.folder, "crash-mnt"));
    } catch (e) {
      return { kind: "mount", what: firstLines((e as EngineFailure).detail ?? (e as Error).message) };
    }
    let content: Content;
    try {
      content = canonical(readContent(fs.mnt));
    } catch (e) {
      return { kind: "read", what: (e as Error).message };
    }
    const index = w.allowed.findIndex((a) => deepEqual(a, content));
    if (index < 0)
      return {
        kind: "state",
        what: `read ${describe(content)}; allowed: ${w.allowed.map(describe).join(" | ")}`,
      };
    return { index };
  } finally {
    try {
      fs?.unmount();
    } finally {
      loop.detach();
    }
  }
}

const firstLines = (s: string): string =>
  s
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, 3)
    .join("; ");
