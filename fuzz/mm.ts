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
  const pages = fc.integer({ min: 1, max: span });
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
