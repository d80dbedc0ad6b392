// The mm layer's vocabulary: geometry, ops, observations and the inspected state that invariants read.
import { z } from "zod";

export const mmGeometrySchema = z
  .object({
    /** Bytes per page; only real systems care (the model stores cells). */
    pageSize: z.number().int().positive(),
    /** Observable cells (bytes at real geometry) per page; cell i sits at byte i * pageSize / cellsPerPage. */
    cellsPerPage: z.number().int().min(1).max(4096),
    /** Pages of address space the ops may name: the window [0, pages). */
    pages: z.number().int().min(4).max(1 << 24),
  })
  .strict();
export type MmGeometry = z.infer<typeof mmGeometrySchema>;

export const defaultMmGeometry: MmGeometry = { pageSize: 4096, cellsPerPage: 4, pages: 16 };

const pid = z.number().int().min(1);
const page = z.number().int().min(0);
const pages = z.number().int().min(0);
const prot = z.enum(["r", "rw"]);
export type Prot = z.infer<typeof prot>;
export const madviseAdvice = z.enum(["dontneed", "dontfork", "dofork", "wipeonfork", "keeponfork"]);
export type MadviseAdvice = z.infer<typeof madviseAdvice>;

export const mmOpSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("spawn") }).strict(),
  z.object({ op: z.literal("fork"), pid }).strict(),
  z.object({ op: z.literal("exit"), pid }).strict(),
  z.object({ op: z.literal("exec"), pid }).strict(),
  z.object({ op: z.literal("mmap"), pid, page, pages, prot, shared: z.boolean() }).strict(),
  z.object({ op: z.literal("munmap"), pid, page, pages }).strict(),
  z.object({ op: z.literal("mprotect"), pid, page, pages, prot }).strict(),
  z.object({ op: z.literal("madvise"), pid, page, pages, advice: madviseAdvice }).strict(),
  /** Reads every cell of the page: one read shows any difference anywhere in it. */
  z.object({ op: z.literal("read"), pid, page }).strict(),
  z.object({ op: z.literal("write"), pid, page, cell: z.number().int().min(0), value: z.number().int().min(0).max(255) }).strict(),
]);
export type MmOp = z.infer<typeof mmOpSchema>;

/** Errors are errno names as Linux returns them; a fault is what the MMU delivered (SIGSEGV). */
export const mmErrno = z.enum(["ESRCH", "EINVAL", "ENOMEM"]);
export type MmErrno = z.infer<typeof mmErrno>;

export const mmObsSchema = z.union([
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ pid }).strict(),
  z.object({ data: z.array(z.number().int().min(0).max(255)) }).strict(),
  z.object({ fault: z.literal("SEGV") }).strict(),
  z.object({ error: mmErrno }).strict(),
]);
export type MmObs = z.infer<typeof mmObsSchema>;

export const OK: MmObs = Object.freeze({ ok: true as const });
export const SEGV: MmObs = Object.freeze({ fault: "SEGV" as const });
export const err = (error: MmErrno): MmObs => ({ error });

// ---- Inspected state: what invariants read. The model hands out its live structures; an external engine's
// JSON is decoded into the same shape (see state.ts).

/** A (pid, virtual page) pair packed in one number, so page-table sets stay cheap. */
export const keyOf = (pid: number, vpage: number): number => pid * 0x1_0000_0000 + vpage;
export const pidOf = (key: number): number => Math.floor(key / 0x1_0000_0000);
export const vpageOf = (key: number): number => key % 0x1_0000_0000;

export interface MmFrameView {
  readonly pfn: number;
  readonly refcount: number;
  readonly mapcount: number;
  readonly anonExclusive: boolean;
  /** The shared zero page: mapped read-only, never counted (vm_normal_page returns NULL for it). */
  readonly zero: boolean;
  /** Held by a shmem page cache (shared anonymous memory): one reference of its own. */
  readonly cached: boolean;
  /** Reverse map: keys of every PTE that maps this frame. */
  readonly rmap: ReadonlySet<number>;
}

export interface MmPteView {
  readonly pfn: number;
  readonly writable: boolean;
  readonly dirty: boolean;
  readonly young: boolean;
}

export interface MmTlbView {
  readonly pfn: number;
  readonly writable: boolean;
  readonly dirty: boolean;
}

export interface MmVmaView {
  /** [start, end) in pages. */
  readonly start: number;
  readonly end: number;
  readonly prot: Prot;
  readonly shared: boolean;
  readonly dontfork: boolean;
  readonly wipeonfork: boolean;
}

export interface MmProcView {
  readonly pid: number;
  /** Sorted by start, disjoint. */
  readonly vmas: readonly MmVmaView[];
  readonly ptes: ReadonlyMap<number, MmPteView>;
  readonly tlb: ReadonlyMap<number, MmTlbView>;
}

export interface MmTouched {
  /** Keys whose PTE or TLB entry the last op changed. */
  readonly keys: ReadonlySet<number>;
  /** Frames whose counts, flags or rmap the last op changed (live or freed). */
  readonly frames: ReadonlySet<number>;
  /** Frames the last op freed, as they were when freed. */
  readonly freed: readonly MmFrameView[];
}

export interface MmState {
  readonly geometry: MmGeometry;
  readonly procs: ReadonlyMap<number, MmProcView>;
  /** Every live frame, the zero page included. */
  readonly frames: ReadonlyMap<number, MmFrameView>;
  /** Frames allocated since boot (monotonic): economy bounds read its growth per op. */
  readonly allocations: number;
  /** What the last op touched; absent means "check everything". */
  readonly touched?: MmTouched;
}

export function findVma<V extends MmVmaView>(vmas: readonly V[], vpage: number): V | undefined {
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid];
    if (vpage < v.start) hi = mid - 1;
    else if (vpage >= v.end) lo = mid + 1;
    else return v;
  }
  return undefined;
}
