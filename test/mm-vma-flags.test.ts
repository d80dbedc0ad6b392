// VMA flags the model keeps as mm/mprotect.c and mm/vma.c do, where only the VMA layout (the pagemap view's VMAs)
// shows them: VM_ACCOUNT decides merges.
import { expect, test } from "vitest";
import { loadTrace } from "../layers/index.ts";
import { MmModel } from "../models/mm/model.ts";
import type { MmGeometry, MmOp } from "../models/mm/types.ts";

test("mprotect leaves a VMA whose protection does not change alone: it keeps VM_ACCOUNT, so it does not merge", () => {
  // traces/mm/linux/mprotect-unchanged-vma-keeps-account.trace.json, as the kernel lays it out
  const { trace } = loadTrace("traces/mm/linux/mprotect-unchanged-vma-keeps-account.trace.json");
  const model = new MmModel(trace.geometry as MmGeometry);
  for (const op of trace.ops) model.apply(op as MmOp);
  const child = model.procs.get(2)!.vmas;
  expect(child.map((v) => [v.start, v.end, v.prot, v.account])).toEqual([
    [0, 2, "rw", true],
    [2, 4, "r", false], // made read-only, never had an anon_vma: uncharged
    [4, 8, "r", true], // already read-only: unchanged (newflags == oldflags)
    [8, 10, "r", false],
    [10, 12, "rw", true],
  ]);
});
