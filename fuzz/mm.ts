// Op arbitraries for the mm layer. Addresses cluster in four regions spread over the address space, so a small
// window and a huge one see the same density of hits (mapped pages, neighbours, overlaps), just placed apart.
import fc from "fast-check";
import { madviseAdvice, type MmGeometry, type MmOp } from "../models/mm/types.ts";

/** Pids the generator names: spawn and fork take the lowest free pid, so live processes stay in 1..k. */
export const MM_MAX_PID = 6;

export function mmOpArbitrary(g: MmGeometry, _features: ReadonlySet<string>): fc.Arbitrary<MmOp> {
  const regions = 4;
  const stride = Math.floor(g.pages / regions);
  const span = Math.max(1, Math.min(8, stride));
  // Low pids live longest (1 is spawned first, forks fill the lowest free pid), so name them most often.
  const pid = fc.oneof(...Array.from({ length: MM_MAX_PID }, (_, i) => ({ weight: MM_MAX_PID - i, arbitrary: fc.constant(i + 1) })));
  const page = fc.tuple(fc.nat(regions - 1), fc.nat(span - 1)).map(([r, o]) => r * stride + o);
  const pages = fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 1, max: span }) }, { weight: 1, arbitrary: fc.constant(0) });
  const prot = fc.constantFrom("r" as const, "rw" as const, "rw" as const);
  const cell = fc.nat(g.cellsPerPage - 1);
  const value = fc.integer({ min: 1, max: 255 });
  return fc.oneof(
    { weight: 25, arbitrary: fc.record({ op: fc.constant("read" as const), pid, page }) },
    { weight: 25, arbitrary: fc.record({ op: fc.constant("write" as const), pid, page, cell, value }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("fork" as const), pid }) },
    { weight: 10, arbitrary: fc.record({ op: fc.constant("mmap" as const), pid, page, pages, prot, shared: fc.constantFrom(false, false, true) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("munmap" as const), pid, page, pages }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant("mprotect" as const), pid, page, pages, prot }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant("madvise" as const), pid, page, pages, advice: fc.constantFrom(...madviseAdvice.options) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("exit" as const), pid }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("exec" as const), pid }) },
    { weight: 1, arbitrary: fc.constant({ op: "spawn" as const }) },
  );
}

// ---- Canonical renaming for minimization.
// Pids are allocated lowest-free, so deleting a spawn or fork renumbers every later process and ddmin alone
// cannot remove it. Here processes are tracked by identity: a candidate removes one process-creating op, hands
// that process's ops to its parent (or drops them, for a spawn), and recomputes every pid.

type Identity = number;

/** Per op: the process identity it acts on (undefined: no such process), and the identity it creates. */
function identities(ops: readonly MmOp[]): { actor: (Identity | undefined)[]; created: (Identity | undefined)[]; parent: Map<Identity, Identity> } {
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
    const who = op.op === "spawn" ? undefined : live.get(op.pid);
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
    if (op.op !== "spawn" && pid === undefined && actor !== undefined) continue; // its process no longer exists
    const rewritten = op.op === "spawn" || pid === undefined ? op : { ...op, pid };
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
 * The exploration alphabet: two processes, one page, each op kind once or twice. Small enough for BFS to depth
 * 4 in seconds; rich enough for every fork/CoW/TLB/rmap interleaving on one page.
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
  ];
}
