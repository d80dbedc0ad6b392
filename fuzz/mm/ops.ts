// Op arbitraries for the mm layer. Addresses cluster in four regions spread over the address space, so a small
// window and a huge one see the same density of hits (mapped pages, neighbours, overlaps), just placed apart.
import fc from "fast-check";
import { hugeSize, type MadviseAdvice, MM_MAX_HUGE_ORDER, type MmGeometry, type MmOp } from "../../models/mm/types.ts";

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

export function mmOpKinds(g: MmGeometry, features: ReadonlySet<string>): fc.WeightedArbitrary<MmOp>[] {
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
  // a file an op names: a regular one (shmem), or one time in three a disk file (feature "disk")
  const regular = has("file") ? g.files : 0;
  const disks = has("disk") ? (g.diskFiles ?? 0) : 0;
  const files = regular + disks > 0;
  const fileRef: fc.Arbitrary<{ file: number; disk?: true }> = fc.oneof(
    ...(regular ? [{ weight: 2, arbitrary: fc.nat(regular - 1).map((f) => ({ file: f })) }] : []),
    ...(disks ? [{ weight: 1, arbitrary: fc.nat(disks - 1).map((f) => ({ file: f, disk: true as const })) }] : []),
    ...(files ? [] : [{ weight: 1, arbitrary: fc.constant({ file: 0 }) }]), // (never drawn: oneof needs one)
  );
  const advice = fc.constantFrom<MadviseAdvice>(
    "dontneed",
    "dontfork",
    "dofork",
    "wipeonfork",
    "keeponfork",
    ...(has("thp") ? (["hugepage", "hugepage", "hugepage", "nohugepage"] as const) : []),
    ...(has("ksm") ? (["mergeable", "mergeable", "unmergeable"] as const) : []),
    ...(has("swap") ? (["pageout", "pageout", "pageout"] as const) : []),
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
      // one mmap in four maps a file: anonymous memory is where most copy-on-write happens
      files
        ? fc.oneof(
            { weight: 3, arbitrary: fc.constant(m) },
            { weight: 1, arbitrary: fileRef.map((f) => ({ ...m, ...f })) },
          )
        : fc.constant(m),
    );
  const ranges = has("range");
  // a range of an access op: up to a region, huge-page-sized often (cow.c reads, writes and pins whole THPs)
  const span1 = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 2, max: Math.max(2, span) }) },
    { weight: 1, arbitrary: fc.constant(Math.max(2, Math.min(huge, span))) },
  );
  const read = fc.record({ op: fc.constant("read" as const), pid, page });
  const arbitraries: fc.WeightedArbitrary<MmOp>[] = [
    {
      weight: 25,
      arbitrary: ranges
        ? fc.oneof(
            { weight: 4, arbitrary: read },
            { weight: 1, arbitrary: fc.tuple(read, span1).map(([r, n]) => ({ ...r, pages: n })) },
          )
        : read,
    },
    { weight: 25, arbitrary: fc.record({ op: fc.constant("write" as const), pid, page, cell, value }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant("fork" as const), pid }) },
    { weight: 10, arbitrary: mmap },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("munmap" as const), pid, page, pages }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant("mprotect" as const), pid, page, pages, prot }) },
    {
      weight: 5 + (has("thp") ? 3 : 0) + (has("ksm") ? 2 : 0) + (has("swap") ? 3 : 0),
      arbitrary: fc.record({ op: fc.constant("madvise" as const), pid, page: start, pages, advice }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("exit" as const), pid }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("exec" as const), pid }) },
    { weight: 2, arbitrary: fc.constant({ op: "spawn" as const }) },
  ];
  if (ranges)
    arbitraries.push({
      weight: 4,
      arbitrary: fc.record({ op: fc.constant("fill" as const), pid, page, pages: span1, value }),
    });
  if (has("mremap")) {
    // moved to a region's start or anywhere, the same size half the time (a move of several VMAs), else resized
    const to = fc.option(start, { nil: undefined, freq: 3 });
    arbitraries.push({
      weight: 3,
      arbitrary: fc.tuple(pid, start, pages, fc.oneof(fc.constant(-1), pages), to).map(([p, pg, n, m, t]) => ({
        op: "mremap" as const,
        pid: p,
        page: pg,
        pages: n,
        newPages: m < 0 ? n : m,
        ...(t === undefined ? {} : { to: t }),
      })),
    });
  }
  if (has("gup")) {
    // an engine offering "pin" lists "gup" too
    const get = fc.constant({ kind: "get" as const, write: false });
    const how = has("pin")
      ? fc.oneof(
          get,
          fc.record({
            kind: fc.constantFrom("pin" as const, "longterm" as const),
            write: fc.boolean(),
            fast: fc.boolean(),
          }),
        )
      : has("longterm")
        ? fc.oneof(get, fc.constant({ kind: "longterm" as const, write: true }))
        : get;
    const n = ranges ? fc.option(span1, { nil: undefined, freq: 3 }) : fc.constant(undefined);
    arbitraries.push(
      {
        weight: 6,
        arbitrary: fc.tuple(pid, page, how, n).map(([p, pg, h, k]) => ({
          op: "pin" as const,
          pid: p,
          page: pg,
          ...(k === undefined ? {} : { pages: k }),
          ...h,
        })),
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
  if (has("force"))
    // /proc/self/mem, as a debugger pokes a read-only mapping
    arbitraries.push(
      { weight: 5, arbitrary: fc.record({ op: fc.constant("forceWrite" as const), pid, page, cell, value }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant("forceRead" as const), pid, page }) },
    );
  if (has("thp"))
    arbitraries.push({ weight: 3, arbitrary: fc.record({ op: fc.constant("collapse" as const), pid, page }) });
  if (has("ksm")) arbitraries.push({ weight: 2, arbitrary: fc.constant({ op: "ksmScan" as const }) });
  if (has("mthp")) {
    // mostly a THP order (2 … hugeOrder), now and then one without a knob; mostly switched on
    const order = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: Math.min(2, g.hugeOrder), max: g.hugeOrder }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: Math.min(g.hugeOrder + 1, MM_MAX_HUGE_ORDER) }) },
    );
    const enabled = fc.constantFrom("always", "always", "always", "madvise", "never", "inherit" as const);
    arbitraries.push({ weight: 4, arbitrary: fc.record({ op: fc.constant("thpPolicy" as const), order, enabled }) });
  }
  if (files) {
    arbitraries.push(
      {
        weight: 3,
        arbitrary: fc.tuple(fileRef, page).map(([f, pg]) => ({ op: "fileRead" as const, ...f, page: pg })),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(fileRef, page, cell, value)
          .map(([f, pg, c, v]) => ({ op: "fileWrite" as const, ...f, page: pg, cell: c, value: v })),
      },
    );
  }
  if (has("hugetlb")) {
    // MAP_HUGETLB memory and hugetlb memfds, mostly from a region's start (a huge page where the window allows);
    // the other ops meet it at any page, so cuts off a huge boundary (EINVAL) come up too
    const hugetlbFile =
      (g.hugetlbFiles ?? 0) > 0 ? fc.option(fc.nat(g.hugetlbFiles! - 1), { nil: undefined }) : fc.constant(undefined);
    const at = fc.oneof({ weight: 6, arbitrary: region.map((r) => r * stride) }, { weight: 1, arbitrary: page });
    arbitraries.push({
      weight: 4,
      arbitrary: fc.tuple(pid, at, pages, prot, fc.boolean(), hugetlbFile).map(([p, pg, n, pr, shared, f]) => ({
        op: "mmap" as const,
        pid: p,
        page: pg,
        pages: n,
        prot: pr,
        shared,
        hugetlb: true,
        ...(f === undefined ? {} : { file: f }),
      })),
    });
    if ((g.hugetlbFiles ?? 0) > 0)
      arbitraries.push({
        weight: 1,
        arbitrary: fc
          .tuple(fc.nat(g.hugetlbFiles! - 1), page)
          .map(([f, pg]) => ({ op: "fileRead" as const, file: f, page: pg, hugetlb: true })),
      });
  }
  return arbitraries;
}

/**
 * Generated sequences are arranged so ops meet live processes, mapped memory and live pins, as a real workload
 * would:
 * - pid k names the k-th live process (cyclically) at that point; lifetimes follow from the ops alone (spawn and
 *   fork of a live process take the lowest free pid; exit frees it). The last selector stays literal, so ESRCH
 *   still occurs; and when nothing lives, a spawn comes first.
 * - three ops in four that would miss go where they can act: an access (read, write, pin, collapse, and the
 *   forced ones) to a page the process has mapped (a write or writable pin to a writable one; a forced write to
 *   any, since read-only private pages are what it is for), a range op (munmap, mprotect, madvise) to a
 *   range starting at a mapped page, and a handle op (unpin, pinRead, pinWrite) to a live pin (pinWrite to a
 *   writable one); half the collapses go to a range holding one of the process's pins (khugepaged must leave a
 *   pinned page alone). Mappings and pins are tracked approximately (mmap adds, munmap removes, mprotect changes,
 *   fork copies; pins follow the lowest-free rule): it is a bias, not a claim about the engine. The fourth is
 *   left as generated, so faults and errors stay exercised.
 * - as programs using THP or KSM do, some private anonymous mmaps are followed at once by MADV_HUGEPAGE (three in
 *   four huge-aligned ones, with "thp") or MADV_MERGEABLE (every other one, with "ksm"; only one in four of the
 *   MADV_HUGEPAGE ones, since ksmd splits a THP whose pages it can merge and KSM pages keep collapse away).
 */
/** How the arrangement believes a page is mapped: writable, and private anonymous. */
interface Page {
  readonly rw: boolean;
  readonly anon: boolean;
}

/** Ops that act on pages a process has mapped. */
const RANGED = new Set([
  "read",
  "write",
  "fill",
  "pin",
  "collapse",
  "munmap",
  "mprotect",
  "madvise",
  "mremap",
  "forceRead",
  "forceWrite",
]);

export function mmArrange(ops: MmOp[], g: MmGeometry, features: ReadonlySet<string>): MmOp[] {
  const huge = hugeSize(g);
  let mmaps = 0;
  let steered = 0;
  const mapped = new Map<number, Map<number, Page>>(); // live pid → page → how it is mapped
  const pins = new Map<number, { pid: number; page: number; writable: boolean }>(); // live handle → its pin
  const lowestFree = (used: ReadonlyMap<number, unknown>): number => {
    let n = 1;
    while (used.has(n)) n++;
    return n;
  };
  let live: number[] | undefined; // the live pids in order, made again after a spawn, fork or exit
  const add = (pages: Map<number, Page>): number => {
    const pid = lowestFree(mapped);
    mapped.set(pid, pages);
    live = undefined;
    return pid;
  };
  const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!;
  const out: MmOp[] = [];
  for (const op of ops) {
    let o = op;
    if ("pid" in o) {
      if (mapped.size === 0 && o.op !== "exit") {
        out.push({ op: "spawn" });
        add(new Map());
      }
      live ??= [...mapped.keys()].sort((a, b) => a - b);
      if (live.length && o.pid < MM_MAX_PID) o = { ...o, pid: pick(live, o.pid - 1) };
    }
    const steer = steered++ % 4 !== 3;
    if (steer && "pid" in o && RANGED.has(o.op) && !mapped.get(o.pid)?.size) {
      // a process with nothing mapped can only fault: one with mappings acts instead
      const holders = [...mapped].filter(([, p]) => p.size).map(([pid]) => pid);
      if (holders.length) o = { ...o, pid: pick(holders, o.pid - 1) };
    }
    const pages = "pid" in o ? mapped.get(o.pid) : undefined;
    if (steer && pages?.size) {
      const all = [...pages.keys()];
      const writable = all.filter((p) => pages.get(p)!.rw);
      const wants =
        (o.op === "write" || o.op === "fill" || (o.op === "pin" && o.write)) && writable.length ? writable : all;
      const fits =
        wants === writable
          ? pages.get((o as { page: number }).page)?.rw === true
          : pages.has((o as { page: number }).page);
      // collapse visits a range it can collapse (private anonymous memory over a whole huge page), half the time
      // one where the process holds a pin (which khugepaged must leave alone)
      const pid = (o as { pid: number }).pid;
      // each huge page looked at once, and only for a collapse (a huge page is hundreds of pages)
      const bases = new Map<number, boolean>();
      const whole = (p: number): boolean => {
        const base = p - (p % huge);
        let yes = bases.get(base);
        if (yes === undefined) {
          yes = true;
          for (let q = base; q < base + huge && yes; q++) if (!pages.get(q)?.anon) yes = false;
          bases.set(base, yes);
        }
        return yes;
      };
      const pinned =
        o.op === "collapse" ? [...pins.values()].filter((p) => p.pid === pid && whole(p.page)).map((p) => p.page) : [];
      const collapsible = o.op === "collapse" ? all.filter(whole) : [];
      if (o.op === "collapse" && pinned.length && o.page % 2 === 0) o = { ...o, page: pick(pinned, o.page >> 1) };
      else if (o.op === "collapse" && collapsible.length && !whole(o.page))
        o = { ...o, page: pick(collapsible, o.page) };
      else if (
        (o.op === "read" ||
          o.op === "write" ||
          o.op === "fill" ||
          o.op === "pin" ||
          o.op === "collapse" ||
          o.op === "forceRead" ||
          o.op === "forceWrite") &&
        !fits
      )
        o = { ...o, page: pick(wants, o.page) };
      else if (
        (o.op === "munmap" || o.op === "mprotect" || o.op === "madvise" || o.op === "mremap") &&
        !pages.has(o.page)
      )
        o = { ...o, page: pick(all, o.page) };
      // a range access stays within what is mapped from its page (writable, for a write)
      if ((o.op === "fill" || o.op === "read" || o.op === "pin") && o.pages !== undefined) {
        const rw = o.op === "fill" || (o.op === "pin" && o.write);
        let run = 0;
        while (run < o.pages && pages.get(o.page + run) && (!rw || pages.get(o.page + run)!.rw)) run++;
        if (run) o = { ...o, pages: run };
      }
    }
    if (steer && (o.op === "unpin" || o.op === "pinRead" || o.op === "pinWrite") && !pins.has(o.handle)) {
      const handles = [...pins.keys()].sort((a, b) => a - b);
      const writable = handles.filter((h) => pins.get(h)!.writable);
      const from = o.op === "pinWrite" && writable.length ? writable : handles;
      if (from.length) o = { ...o, handle: pick(from, o.handle - 1) };
    }
    out.push(o);
    if (o.op === "mmap" && !o.shared && o.file === undefined && !o.hugetlb && o.pages > 0) {
      const k = mmaps++;
      const range = { pid: o.pid, page: o.page, pages: o.pages };
      const hugepage = features.has("thp") && o.page % huge === 0 && o.pages >= huge && k % 4 !== 3;
      if (hugepage) out.push({ op: "madvise", ...range, advice: "hugepage" });
      // seldom both: ksmd splits a THP whose pages it can merge, and a KSM page keeps collapse away
      if (features.has("ksm") && k % 2 === 0 && (!hugepage || k % 8 === 0))
        out.push({ op: "madvise", ...range, advice: "mergeable" });
    }
    if (o.op === "spawn") add(new Map());
    else if (o.op === "unpin") pins.delete(o.handle);
    else if (!pages) continue;
    else if (o.op === "fork") add(new Map(pages));
    else if (o.op === "exit") {
      mapped.delete(o.pid);
      live = undefined;
      for (const [h, p] of pins) if (p.pid === o.pid) pins.delete(h);
    } else if (o.op === "exec") pages.clear();
    else if (o.op === "pin" && pages.has(o.page) && (!o.write || pages.get(o.page)!.rw))
      pins.set(lowestFree(pins), { pid: o.pid, page: o.page, writable: o.write && o.kind !== "get" });
    else if (o.op === "mremap" && o.pages > 0 && o.newPages > 0) {
      // roughly: the kept part moves to `to` (a growth maps like the last page), the rest goes
      const kept = Math.min(o.pages, o.newPages);
      const moved = [...pages].filter(([p]) => p >= o.page && p < o.page + o.pages);
      for (const [p] of moved) pages.delete(p);
      const dest = o.to ?? o.page;
      const last = moved.length ? moved[moved.length - 1]![1] : undefined;
      for (const [p, how] of moved) if (p < o.page + kept) pages.set(dest + (p - o.page), how);
      if (last) for (let p = dest + o.pages; p < dest + o.newPages && p < g.pages; p++) pages.set(p, last);
    } else if (
      (o.op === "mmap" || o.op === "munmap" || o.op === "mprotect") &&
      o.pages > 0 &&
      o.page + o.pages <= g.pages
    ) {
      // a hugetlb mmap maps whole huge pages (from an aligned start; an unaligned one fails)
      const huge = hugeSize(g);
      const n =
        o.op === "mmap" && o.hugetlb
          ? o.page % huge
            ? 0
            : Math.min(Math.ceil(o.pages / huge) * huge, g.pages - o.page)
          : o.pages;
      for (let p = o.page; p < o.page + n; p++) {
        if (o.op === "mmap")
          pages.set(p, { rw: o.prot === "rw", anon: !o.shared && o.file === undefined && !o.hugetlb });
        else if (o.op === "munmap") pages.delete(p);
        else if (pages.has(p)) pages.set(p, { ...pages.get(p)!, rw: o.prot === "rw" });
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

/** An op with the process it acts on and the process it creates, by identity. */
type Tagged = { op: MmOp; actor: Identity | undefined; created: Identity | undefined };

/**
 * Minimization rewrites (fuzz/minimize.ts takes one that still fails and is smaller in its size order):
 * - a process removed: its creating op goes, its ops go to its parent (a spawn's ops go with it);
 * - a creator and a destroyer together: process X merged into process Y (created before it): X's spawn or fork and
 *   Y's exit go, X's ops become Y's (X's own exit kept as the merged process's, or dropped), as when `spawn; fork 1;
 *   exit 1; …` becomes `spawn; …`;
 * - an mprotect folded into the mmap of a range holding its own (the mmap then maps just that range);
 * - a pin removed with the ops on its handle, later handles renumbered (pins take the lowest free handle too);
 * - smaller numbers: every mapping address moved down together, and per op a lower page, fewer pages in a range,
 *   a lower cell or value (down to 1), a lower file (renamed everywhere), an anonymous mapping for a file one, private for shared,
 *   read-only for read-write, a weaker pin.
 * Pids are recomputed after every rewrite that changes which processes exist (lowest free, as the engines do).
 */
export function* mmSimplifications(ops: readonly MmOp[]): Iterable<MmOp[]> {
  const { actor, created, parent } = identities(ops);
  const tagged = (j: number, a = actor[j]): Tagged => ({ op: ops[j]!, actor: a, created: created[j] });
  for (let i = 0; i < ops.length; i++) {
    const gone = created[i];
    if (gone === undefined) continue;
    const heir = parent.get(gone);
    const rest: Tagged[] = [];
    for (let j = 0; j < ops.length; j++) {
      if (j === i) continue;
      const a = actor[j] === gone ? heir : actor[j];
      if (actor[j] === gone && (heir === undefined || ops[j]!.op === "exit")) continue; // a spawn's ops go; the heir does not exit
      rest.push(tagged(j, a));
    }
    yield withPids(rest);
  }
  // process X merged into an older process Y: a creator and a destroyer removed together
  const born = new Map<Identity, number>();
  const exits = new Map<Identity, number>();
  for (let i = 0; i < ops.length; i++) {
    if (created[i] !== undefined) born.set(created[i]!, i);
    if (ops[i]!.op === "exit" && actor[i] !== undefined && !exits.has(actor[i]!)) exits.set(actor[i]!, i);
  }
  for (const [x, bx] of born) {
    for (const [y, by] of born) {
      if (by >= bx) continue;
      const ex = exits.get(x);
      const ey = exits.get(y);
      for (const keepExit of ex === undefined ? [false] : [false, true]) {
        const rest: Tagged[] = [];
        for (let j = 0; j < ops.length; j++) {
          if (j === bx || j === ey || (j === ex && !keepExit)) continue;
          rest.push(tagged(j, actor[j] === x ? y : actor[j]));
        }
        yield withPids(rest);
      }
    }
  }
  // an mprotect folded into the mmap of its range before it (the process's, with nothing between remapping it): the
  // mmap maps just that range, with that protection
  for (let j = 0; j < ops.length; j++) {
    const m = ops[j]!;
    if (m.op !== "mprotect") continue;
    for (let i = j - 1; i >= 0; i--) {
      const o = ops[i]!;
      if (o.op === "mmap" && actor[i] === actor[j] && o.page <= m.page && m.page + m.pages <= o.page + o.pages) {
        const folded = { ...o, page: m.page, pages: m.pages, prot: m.prot };
        yield ops.flatMap((p, k) => (k === j ? [] : k === i ? [folded] : [p]));
        break;
      }
      if (created[i] === actor[j] || ((o.op === "mmap" || o.op === "munmap") && actor[i] === actor[j])) break;
    }
  }
  yield* withoutPins(ops);
  yield* smallerNumbers(ops);
}

/** Per op: the pin it creates and the pin it names, by identity (pins and unpins as the model does them). */
function* withoutPins(ops: readonly MmOp[]): Iterable<MmOp[]> {
  const live = new Map<number, Identity>();
  const made: (Identity | undefined)[] = [];
  const named: (Identity | undefined)[] = [];
  let next = 0;
  for (const op of ops) {
    named.push("handle" in op ? live.get(op.handle) : undefined);
    let id: Identity | undefined;
    if (op.op === "pin") {
      id = next++;
      let h = 1;
      while (live.has(h)) h++;
      live.set(h, id);
    } else if (op.op === "unpin") live.delete(op.handle);
    made.push(id);
  }
  for (let i = 0; i < ops.length; i++) {
    const gone = made[i];
    if (gone === undefined) continue;
    const handleOf = new Map<Identity, number>();
    const used = new Set<number>();
    const out: MmOp[] = [];
    for (let j = 0; j < ops.length; j++) {
      const op = ops[j]!;
      if (j === i || named[j] === gone) continue;
      const h = named[j] === undefined ? undefined : handleOf.get(named[j]!);
      out.push(h === undefined || !("handle" in op) ? op : { ...op, handle: h });
      if (made[j] !== undefined) {
        let free = 1;
        while (used.has(free)) free++;
        used.add(free);
        handleOf.set(made[j]!, free);
      } else if (op.op === "unpin" && h !== undefined) {
        used.delete(h);
        handleOf.delete(named[j]!);
      }
    }
    yield out;
  }
}

/** Lower values for a number, lowest first: the minimum, halfway down, one less. */
function lower(value: number, min: number): number[] {
  return [...new Set([min, Math.floor((min + value) / 2), value - 1])].filter((x) => x >= min && x < value);
}

const mapsPages = (op: MmOp): op is Extract<MmOp, { pid: number; page: number }> => "pid" in op && "page" in op;

function* smallerNumbers(ops: readonly MmOp[]): Iterable<MmOp[]> {
  const at = (i: number, op: MmOp): MmOp[] => [...ops.slice(0, i), op, ...ops.slice(i + 1)];
  // every address moved down together (by the lowest, or keeping an alignment), so mappings and accesses still meet
  const addresses = ops
    .filter(mapsPages)
    .flatMap((o) => (o.op === "mremap" && o.to !== undefined ? [o.page, o.to] : [o.page]));
  const least = addresses.length ? Math.min(...addresses) : 0;
  const shifts = new Set<number>();
  for (let align = 1; align <= least; align *= 2) shifts.add(least - (least % align));
  for (const d of [...shifts].sort((a, b) => b - a))
    yield ops.map((o) =>
      !mapsPages(o)
        ? o
        : o.op === "mremap" && o.to !== undefined
          ? { ...o, page: o.page - d, to: o.to - d }
          : { ...o, page: o.page - d },
    );
  // files renamed to a lower number everywhere
  const files = new Set(ops.flatMap((o) => ("file" in o && o.file !== undefined ? [o.file] : [])));
  for (const f of files)
    for (const g of lower(f, 0))
      if (!files.has(g)) yield ops.map((o) => ("file" in o && o.file === f ? { ...o, file: g } : o));
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if ("page" in o) for (const page of lower(o.page, 0)) yield at(i, { ...o, page });
    if ("pages" in o && o.pages !== undefined)
      for (const pages of lower(o.pages, Math.min(1, o.pages))) yield at(i, { ...o, pages });
    if ((o.op === "read" || o.op === "pin") && o.pages === 1) {
      const { pages: _, ...one } = o;
      yield at(i, one);
    }
    if (o.op === "mremap") {
      for (const newPages of lower(o.newPages, Math.min(1, o.newPages))) yield at(i, { ...o, newPages });
      if (o.newPages !== o.pages) yield at(i, { ...o, newPages: o.pages });
      if (o.to !== undefined) for (const to of lower(o.to, 0)) yield at(i, { ...o, to });
    }
    if ("cell" in o) for (const cell of lower(o.cell, 0)) yield at(i, { ...o, cell });
    if ("value" in o) for (const value of lower(o.value, Math.min(1, o.value))) yield at(i, { ...o, value }); // 0 reads as untouched
    if (o.op === "mmap") {
      if (o.file !== undefined) {
        const { file: _, disk: __, ...anonymous } = o;
        yield at(i, anonymous);
      }
      if (o.shared) yield at(i, { ...o, shared: false });
    }
    if ((o.op === "mmap" || o.op === "mprotect") && o.prot === "rw") yield at(i, { ...o, prot: "r" });
    if (o.op === "pin") {
      if (o.fast !== undefined) {
        const { fast: _, ...either } = o;
        yield at(i, either);
      }
      if (o.write) yield at(i, { ...o, write: false });
      if (o.kind !== "get") yield at(i, { ...o, kind: "get", write: false });
      if (o.kind === "longterm") yield at(i, { ...o, kind: "pin" });
    }
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
