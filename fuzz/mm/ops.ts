// Op arbitraries for the mm layer. Addresses cluster in four regions spread over the address space, so a small
// window and a huge one see the same density of hits (mapped pages, neighbours, overlaps), just placed apart.
import fc from "fast-check";
import { hugeSize, type MadviseAdvice, type MmGeometry, type MmOp } from "../../models/mm/types.ts";

/** Pids the generator names: spawn and fork take the lowest free pid, so live processes stay in 1..k. */
export const MM_MAX_PID = 6;
/** Handles likewise: pins take the lowest free handle. */
export const MM_MAX_HANDLE = 4;

/** Low numbers live longest (spawn and fork, like pin, fill the lowest free one), so name them most often: 1 half the time. */
const lowWeighted = (max: number) =>
  fc.oneof(
    ...Array.from({ length: max }, (_, i) => ({
      weight: Math.max(1, 2 ** (max - 1 - i)),
      arbitrary: fc.constant(i + 1),
    })),
  );

export function mmOpArbitrary(g: MmGeometry, features: ReadonlySet<string>): fc.Arbitrary<MmOp> {
  const regions = 4;
  const huge = hugeSize(g);
  // Regions start huge-aligned where the window allows, so THP-sized mappings happen often.
  const raw = Math.floor(g.pages / regions);
  const stride = raw >= huge ? raw - (raw % huge) : raw;
  const span = Math.max(1, Math.min(Math.max(8, huge), stride));
  const pid = lowWeighted(MM_MAX_PID);
  const handle = lowWeighted(MM_MAX_HANDLE);
  // Region 0 is named as often as the other three together, so accesses find what mmap put there.
  const region = fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: regions - 1 }) },
  );
  const page = fc.tuple(region, fc.nat(span - 1)).map(([r, o]) => r * stride + o);
  const pages = fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 1, max: span }) },
    { weight: 10, arbitrary: fc.constant(span) }, // whole regions: huge-page-sized and aligned
    { weight: 1, arbitrary: fc.constant(0) },
  );
  const start = fc.oneof({ weight: 1, arbitrary: page }, { weight: 1, arbitrary: region.map((r) => r * stride) });
  const prot = fc.constantFrom("r" as const, "rw" as const, "rw" as const);
  const cell = fc.nat(g.cellsPerPage - 1);
  // Few distinct values, so KSM finds twins.
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) },
  );
  const has = (f: string) => features.has(f);
  const files = has("file") && g.files > 0;
  const file = fc.nat(Math.max(0, g.files - 1));
  const advice = fc.constantFrom<MadviseAdvice>(
    "dontneed",
    "dontfork",
    "dofork",
    "wipeonfork",
    "keeponfork",
    ...(has("thp") ? (["hugepage", "hugepage", "hugepage", "nohugepage"] as const) : []),
    ...(has("ksm") ? (["mergeable", "mergeable", "unmergeable"] as const) : []),
  );
  const mmap = fc
    .record({
      op: fc.constant("mmap" as const),
      pid,
      page: start,
      pages,
      prot,
      shared: fc.constantFrom(false, false, true),
    })
    .chain((m) =>
      files ? fc.option(file, { freq: 3 }).map((f) => (f === null ? m : { ...m, file: f })) : fc.constant(m),
    );
  const arbitraries: fc.WeightedArbitrary<MmOp>[] = [
    { weight: 25, arbitrary: fc.record({ op: fc.constant("read" as const), pid, page }) },
    { weight: 25, arbitrary: fc.record({ op: fc.constant("write" as const), pid, page, cell, value }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("fork" as const), pid }) },
    { weight: 10, arbitrary: mmap },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("munmap" as const), pid, page, pages }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant("mprotect" as const), pid, page, pages, prot }) },
    {
      weight: 5 + (has("thp") ? 3 : 0) + (has("ksm") ? 2 : 0),
      arbitrary: fc.record({ op: fc.constant("madvise" as const), pid, page: start, pages, advice }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("exit" as const), pid }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("exec" as const), pid }) },
    { weight: 2, arbitrary: fc.constant({ op: "spawn" as const }) },
  ];
  if (has("gup")) {
    // an engine offering "pin" lists "gup" too
    const get = fc.constant({ kind: "get" as const, write: false });
    const how = has("pin")
      ? fc.oneof(get, fc.record({ kind: fc.constantFrom("pin" as const, "longterm" as const), write: fc.boolean() }))
      : has("longterm")
        ? fc.oneof(get, fc.constant({ kind: "longterm" as const, write: true }))
        : get;
    arbitraries.push(
      {
        weight: 6,
        arbitrary: fc.tuple(pid, page, how).map(([p, pg, h]) => ({ op: "pin" as const, pid: p, page: pg, ...h })),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("unpin" as const), handle }) },
      { weight: 6, arbitrary: fc.record({ op: fc.constant("pinRead" as const), handle }) },
    );
    if (has("longterm"))
      arbitraries.push({
        weight: 3,
        arbitrary: fc.record({ op: fc.constant("pinWrite" as const), handle, cell, value }),
      });
  }
  if (has("thp"))
    arbitraries.push({ weight: 3, arbitrary: fc.record({ op: fc.constant("collapse" as const), pid, page }) });
  if (has("ksm")) arbitraries.push({ weight: 2, arbitrary: fc.constant({ op: "ksmScan" as const }) });
  if (files) {
    arbitraries.push(
      { weight: 3, arbitrary: fc.record({ op: fc.constant("fileRead" as const), file, page }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant("fileWrite" as const), file, page, cell, value }) },
    );
  }
  return fc.oneof(...arbitraries);
}

/**
 * Generated sequences are arranged so ops meet live processes and mapped memory, as a real workload would:
 * - pid k names the k-th live process (cyclically) at that point; lifetimes follow from the ops alone (spawn and
 *   fork of a live process take the lowest free pid; exit frees it). The last selector stays literal, so ESRCH
 *   still occurs; and when nothing lives, a spawn comes first.
 * - three accesses in four (read, write, pin, collapse) that would miss the process's mappings go to a page it
 *   has mapped instead. Mappings are tracked approximately (mmap adds, munmap removes, fork copies): it is a bias,
 *   not a claim about the engine.
 * - as programs using THP or KSM do, some private anonymous mmaps are followed at once by MADV_HUGEPAGE (three in
 *   four huge-aligned ones, with "thp") or MADV_MERGEABLE (every other one, with "ksm"; only one in four of the
 *   MADV_HUGEPAGE ones, since ksmd splits a THP whose pages it can merge and KSM pages keep collapse away).
 */
export function mmArrange(ops: MmOp[], g: MmGeometry, features: ReadonlySet<string>): MmOp[] {
  const huge = hugeSize(g);
  let mmaps = 0;
  const mapped = new Map<number, Set<number>>(); // live pid → pages it has mapped
  const add = (pages: Set<number>): number => {
    let pid = 1;
    while (mapped.has(pid)) pid++;
    mapped.set(pid, pages);
    return pid;
  };
  const out: MmOp[] = [];
  for (const op of ops) {
    let o = op;
    if ("pid" in o) {
      if (mapped.size === 0 && o.op !== "exit") {
        out.push({ op: "spawn" });
        add(new Set());
      }
      const live = [...mapped.keys()].sort((a, b) => a - b);
      if (live.length && o.pid < MM_MAX_PID) o = { ...o, pid: live[(o.pid - 1) % live.length] };
    }
    const pages = "pid" in o ? mapped.get(o.pid) : undefined;
    if (
      pages?.size &&
      (o.op === "read" || o.op === "write" || o.op === "pin" || o.op === "collapse") &&
      !pages.has(o.page) &&
      o.page % 4 !== 3
    ) {
      const list = [...pages];
      o = { ...o, page: list[o.page % list.length] };
    }
    out.push(o);
    if (o.op === "mmap" && !o.shared && o.file === undefined && o.pages > 0) {
      const k = mmaps++;
      const range = { pid: o.pid, page: o.page, pages: o.pages };
      const hugepage = features.has("thp") && o.page % huge === 0 && o.pages >= huge && k % 4 !== 3;
      if (hugepage) out.push({ op: "madvise", ...range, advice: "hugepage" });
      // seldom both: ksmd splits a THP whose pages it can merge, and a KSM page keeps collapse away
      if (features.has("ksm") && k % 2 === 0 && (!hugepage || k % 8 === 0))
        out.push({ op: "madvise", ...range, advice: "mergeable" });
    }
    if (o.op === "spawn") add(new Set());
    else if (!pages) continue;
    else if (o.op === "fork") add(new Set(pages));
    else if (o.op === "exit") mapped.delete(o.pid);
    else if (o.op === "exec") pages.clear();
    else if ((o.op === "mmap" || o.op === "munmap") && o.pages > 0 && o.page + o.pages <= g.pages) {
      for (let p = o.page; p < o.page + o.pages; p++) {
        if (o.op === "mmap") pages.add(p);
        else pages.delete(p);
      }
    }
  }
  return out;
}

// ---- Canonical renaming for minimization.
// Pids are allocated lowest-free, so deleting a spawn or fork renumbers every later process and ddmin alone
// cannot remove it. Here processes are tracked by identity: a candidate removes one process-creating op, hands
// that process's ops to its parent (or drops them, for a spawn), and recomputes every pid.

type Identity = number;

/** Per op: the process identity it acts on (undefined: no such process), and the identity it creates. */
function identities(ops: readonly MmOp[]): {
  actor: (Identity | undefined)[];
  created: (Identity | undefined)[];
  parent: Map<Identity, Identity>;
} {
  const live = new Map<number, Identity>();
  const parent = new Map<Identity, Identity>();
  const actor: (Identity | undefined)[] = [];
  const created: (Identity | undefined)[] = [];
  let next = 0;
  const allocate = (id: Identity): void => {
    let pid = 1;
    while (live.has(pid)) pid++;
    live.set(pid, id);
  };
  for (const op of ops) {
    const who = "pid" in op ? live.get(op.pid) : undefined;
    actor.push(who);
    let made: Identity | undefined;
    if (op.op === "spawn" || (op.op === "fork" && who !== undefined)) {
      made = next++;
      if (who !== undefined) parent.set(made, who);
      allocate(made);
    } else if (op.op === "exit" && who !== undefined) {
      live.delete(op.pid);
    }
    created.push(made);
  }
  return { actor, created, parent };
}

/** Rebuild concrete pids for ops given by identity (lowest-free allocation, as the engines do). */
function withPids(ops: readonly { op: MmOp; actor: Identity | undefined; created: Identity | undefined }[]): MmOp[] {
  const pidOf = new Map<Identity, number>();
  const used = new Set<number>();
  const out: MmOp[] = [];
  for (const { op, actor, created } of ops) {
    const pid = actor === undefined ? undefined : pidOf.get(actor);
    if (pid === undefined && actor !== undefined) continue; // its process no longer exists
    const rewritten = pid === undefined ? op : { ...op, pid };
    out.push(rewritten);
    if (created !== undefined) {
      let p = 1;
      while (used.has(p)) p++;
      used.add(p);
      pidOf.set(created, p);
    }
    if (op.op === "exit" && pid !== undefined) {
      used.delete(pid);
      pidOf.delete(actor!);
    }
  }
  return out;
}

export function* mmSimplifications(ops: readonly MmOp[]): Iterable<MmOp[]> {
  const { actor, created, parent } = identities(ops);
  for (let i = 0; i < ops.length; i++) {
    const gone = created[i];
    if (gone === undefined) continue;
    const heir = parent.get(gone);
    const rest: { op: MmOp; actor: Identity | undefined; created: Identity | undefined }[] = [];
    for (let j = 0; j < ops.length; j++) {
      if (j === i) continue;
      const a = actor[j] === gone ? heir : actor[j];
      if (actor[j] === gone && (heir === undefined || ops[j].op === "exit")) continue; // a spawn's ops go; the heir does not exit
      rest.push({ op: ops[j], actor: a, created: created[j] });
    }
    yield withPids(rest);
  }
}

/**
 * The exploration alphabet: two processes, one page, each op kind once or twice, and GUP references (with
 * "pin"). Small enough for BFS to depth 4 in seconds; rich enough for every fork/CoW/TLB/rmap/pin interleaving
 * on one page.
 */
export function mmAlphabet(_g: MmGeometry): MmOp[] {
  const range = { page: 0, pages: 1 };
  return [
    { op: "fork", pid: 1 },
    { op: "fork", pid: 2 },
    { op: "exit", pid: 2 },
    { op: "mmap", pid: 1, ...range, prot: "rw", shared: false },
    { op: "mmap", pid: 1, ...range, prot: "rw", shared: true },
    { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
    { op: "write", pid: 2, page: 0, cell: 0, value: 2 },
    { op: "read", pid: 1, page: 0 },
    { op: "read", pid: 2, page: 0 },
    { op: "mprotect", pid: 1, ...range, prot: "r" },
    { op: "mprotect", pid: 1, ...range, prot: "rw" },
    { op: "madvise", pid: 1, ...range, advice: "dontneed" },
    { op: "madvise", pid: 1, ...range, advice: "wipeonfork" },
    { op: "madvise", pid: 1, ...range, advice: "dontfork" },
    { op: "munmap", pid: 1, ...range },
    { op: "pin", pid: 2, page: 0, kind: "get", write: false },
    { op: "pin", pid: 1, page: 0, kind: "longterm", write: false },
    { op: "pinRead", handle: 1 },
  ];
}
