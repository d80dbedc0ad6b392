// The pagemap view and the lockstep comparison behind `cowcheck run --against model`, in process: the model's
// projection, each divergence the comparison reports, each allowance, and that the comparison has teeth (a mutant
// whose data is right but whose sharing is wrong is caught by structure alone).
import { describe, expect, test } from "vitest";
import type { Engine } from "../core/index.ts";
import { isOneOf, withoutKinds } from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { runCampaign } from "../fuzz/campaign.ts";
import { checkSequence, emptyStats, OTHER_CHOICE } from "../fuzz/runner.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { mmMutants } from "../models/mm/mutants/index.ts";
import { defaultMmGeometry, keyOf, type MmGeometry, type MmObs, type MmOp, pidOf } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";
import { comparePagemap, decodePagemap, encodePagemap, PAGE, type PagemapView } from "../views/mm/pagemap.ts";

const g: MmGeometry = { ...defaultMmGeometry, pages: 16, hugeOrder: 2 };

function modelAfter(ops: MmOp[], geometry = g): MmModel {
  const m = new MmModel(geometry);
  for (const op of ops) m.apply(op);
  return m;
}

/** An engine that answers the pagemap view from its own (model) state, as the Linux agent answers from /proc. */
function withPagemap(engine: Engine<MmOp, MmObs> & { inspect(): unknown }): Engine<unknown, unknown> {
  return {
    layer: "mm",
    features: new Set([...engine.features, "pagemap"]),
    apply: (op) => engine.apply(op as MmOp),
    inspectView: () => decodePagemap(JSON.parse(JSON.stringify(encodePagemap(engine.inspect() as MmModel)))),
  };
}

const forked: MmOp[] = [
  { op: "spawn" },
  { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false },
  { op: "write", pid: 1, page: 1, cell: 0, value: 7 },
  { op: "read", pid: 1, page: 2 },
  { op: "fork", pid: 1 },
];

describe("the model's pagemap", () => {
  test("a page shared after fork is one frame for both, mapped twice; the zero page is neither file nor exclusive", () => {
    const v = decodePagemap(encodePagemap(modelAfter(forked)));
    const [p1, p2] = [v.pages.get(keyOf(1, 1))!, v.pages.get(keyOf(2, 1))!];
    expect(p1.pfn).toBe(p2.pfn);
    expect(p1.flags).toBe(PAGE.anon); // mapped twice: not exclusive
    expect(v.pages.get(keyOf(1, 2))!.flags).toBe(PAGE.zero);
    expect(v.pages.has(keyOf(1, 3))).toBe(false);
    const after = decodePagemap(
      encodePagemap(modelAfter([...forked, { op: "write", pid: 2, page: 1, cell: 0, value: 1 }])),
    );
    expect(after.pages.get(keyOf(1, 1))!.flags).toBe(PAGE.anon | PAGE.exclusive);
    expect(after.pages.get(keyOf(2, 1))!.pfn).not.toBe(after.pages.get(keyOf(1, 1))!.pfn);
  });

  test("frames are matched by who maps them, not by number", () => {
    const m = modelAfter(forked);
    const v = decodePagemap(encodePagemap(m));
    const renumbered: PagemapView = {
      ...v,
      pages: new Map([...v.pages].map(([k, p]) => [k, { ...p, pfn: p.pfn * 7 + 100_000 }])),
    };
    expect(comparePagemap(renumbered, m)).toEqual({});
  });

  test("MADV_HUGEPAGE on a range whose flags already say so splits no VMA (madvise_update_vma), and VMAs merge back", () => {
    const m = modelAfter([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false },
      { op: "madvise", pid: 1, page: 0, pages: 8, advice: "hugepage" },
      { op: "madvise", pid: 1, page: 1, pages: 2, advice: "hugepage" },
      { op: "mprotect", pid: 1, page: 2, pages: 2, prot: "r" },
      { op: "mprotect", pid: 1, page: 2, pages: 2, prot: "rw" },
    ]);
    expect(m.procs.get(1)!.vmas.map((v) => [v.start, v.end])).toEqual([[0, 8]]);
  });
});

describe("comparePagemap", () => {
  const m = modelAfter(forked);
  const mine = decodePagemap(encodePagemap(m));
  const edit = (f: (pages: Map<number, { pfn: number; flags: number }>) => void): PagemapView => {
    const pages = new Map(mine.pages);
    f(pages);
    return { ...mine, pages };
  };

  test("a page only Linux maps, in anonymous memory, is a divergence", () => {
    const v = edit((p) => p.set(keyOf(1, 5), { pfn: 999_999, flags: PAGE.anon | PAGE.exclusive }));
    expect(comparePagemap(v, m).divergence?.property).toBe("pagemap-present");
  });

  test("a page only the model maps is a divergence", () => {
    const v = edit((p) => p.delete(keyOf(2, 1)));
    expect(comparePagemap(v, m).divergence).toMatchObject({
      property: "pagemap-present",
      message: expect.stringContaining("pid 2 page 1"),
    });
  });

  test("two pages sharing a frame on one side only is a divergence, either way round", () => {
    const split = edit((p) => p.set(keyOf(2, 1), { ...p.get(keyOf(2, 1))!, pfn: 888_888 }));
    expect(comparePagemap(split, m).divergence?.property).toBe("pagemap-sharing");
    const merged = edit((p) => p.set(keyOf(1, 2), { ...p.get(keyOf(1, 1))! }));
    expect(comparePagemap(merged, m).divergence?.property).toBe("pagemap-sharing");
  });

  test("different flags are a divergence", () => {
    const v = edit((p) => p.set(keyOf(1, 1), { ...p.get(keyOf(1, 1))!, flags: PAGE.anon | PAGE.exclusive }));
    expect(comparePagemap(v, m).divergence?.property).toBe("pagemap-flags");
  });

  test("allowance fault-around: a cached file page Linux maps around a read fault, with the exclusive bits it changes", () => {
    const f = modelAfter([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 8, prot: "r", shared: true, file: 0 },
      { op: "fileWrite", file: 0, page: 1, cell: 0, value: 1 },
      { op: "read", pid: 1, page: 0 },
    ]);
    const v = decodePagemap(encodePagemap(f));
    expect(comparePagemap(v, f)).toEqual({});
    const around = new Map(v.pages).set(keyOf(1, 1), { pfn: 777_777, flags: PAGE.file | PAGE.exclusive });
    expect(comparePagemap({ ...v, pages: around }, f)).toEqual({ allowed: ["fault-around"] });
  });

  test("allowance ksm-timing: ksmd ran outside the sequence's ksmScan while it had mergeable memory; otherwise it does not matter", () => {
    const ops: MmOp[] = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 4, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "write", pid: 1, page: 1, cell: 0, value: 1 },
    ];
    const plain = modelAfter(ops);
    const mergeable = modelAfter([...ops, { op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" }]);
    // what a foreign ksmd would have done: pages 0 and 1 share one KSM frame in Linux, not in the model
    const merged = (m: MmModel): PagemapView => {
      const v = decodePagemap(encodePagemap(m));
      const k = { pfn: v.pages.get(keyOf(1, 0))!.pfn, flags: PAGE.anon | PAGE.ksm };
      return { ...v, pages: new Map(v.pages).set(keyOf(1, 0), k).set(keyOf(1, 1), k), ksmdRan: true };
    };
    expect(comparePagemap(merged(mergeable), mergeable)).toEqual({ desync: "ksm-timing" });
    expect(comparePagemap({ ...merged(mergeable), ksmdRan: false }, mergeable).divergence).toBeDefined();
    // without mergeable memory a foreign ksmd cannot have touched the sequence: the difference is a divergence
    expect(comparePagemap(merged(plain), plain).divergence).toBeDefined();
    expect(decodePagemap({ procs: [], ksmdRan: true }).ksmdRan).toBe(true);
  });

  test("allowance ksm-foreign: a page merged with another process's copy, where the agent counted more mappings than its own", () => {
    const m = modelAfter([
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 1, prot: "rw", shared: false },
      { op: "madvise", pid: 1, page: 0, pages: 1, advice: "mergeable" },
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "ksmScan" },
    ]);
    // Linux: the page is a KSM page (its only copy in the sequence merged with a page outside it)
    const v = decodePagemap(encodePagemap(m));
    const merged = (ksmForeign: boolean): PagemapView => ({
      ...v,
      pages: new Map(v.pages).set(keyOf(1, 0), { pfn: v.pages.get(keyOf(1, 0))!.pfn, flags: PAGE.anon | PAGE.ksm }),
      ksmForeign,
    });
    expect(comparePagemap(merged(true), m)).toEqual({ desync: "ksm-foreign" });
    expect(comparePagemap(merged(false), m).divergence?.property).toBe("pagemap-flags");
    expect(decodePagemap({ procs: [], ksmForeign: true }).ksmForeign).toBe(true);
    expect(decodePagemap({ procs: [] }).ksmForeign).toBe(false);
  });

  test("allowance ksm-split-busy: a large folio ksmd left unsplit where the model has the zero page, in mergeable memory only", () => {
    const ops = (mergeable: boolean): MmOp[] => [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 4, prot: "r", shared: false },
      ...(mergeable ? [{ op: "madvise", pid: 1, page: 0, pages: 4, advice: "mergeable" } as MmOp] : []),
      { op: "read", pid: 1, page: 2 },
    ];
    // Linux still maps the page of a large anonymous folio where the model maps the shared zero page
    const unsplit = (m: MmModel): PagemapView => {
      const v = decodePagemap(encodePagemap(m));
      expect(v.pages.get(keyOf(1, 2))!.flags & PAGE.zero).toBeTruthy();
      return { ...v, pages: new Map(v.pages).set(keyOf(1, 2), { pfn: 2_048_130, flags: PAGE.anon | PAGE.thp }) };
    };
    const mergeable = modelAfter(ops(true));
    expect(comparePagemap(unsplit(mergeable), mergeable)).toEqual({ desync: "ksm-split-busy" });
    const plain = modelAfter(ops(false));
    expect(comparePagemap(unsplit(plain), plain).divergence).toBeDefined();
  });
});

test("allowance swap-in-size: a swap-in of another size than the model's (slots Linux happened to give consecutively)", () => {
  const mg: MmGeometry = { ...g, pages: 32, hugeOrder: 3 };
  const ops: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false },
    ...[0, 1, 2, 3].map((page): MmOp => ({ op: "fill", pid: 1, page, pages: 1, value: page + 1 })),
    // four base pages out, the last first: their slots do not follow their pages
    { op: "madvise", pid: 1, page: 3, pages: 1, advice: "pageout" },
    { op: "madvise", pid: 1, page: 0, pages: 3, advice: "pageout" },
    { op: "thpPolicy", order: 2, enabled: "always" },
    { op: "read", pid: 1, page: 1 },
  ];
  const m = modelAfter(ops, mg);
  const v = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
  expect(v.swapped?.size).toBe(3); // the model read page 1 alone
  expect(comparePagemap(v, m)).toEqual({});
  // Linux read the four pages back as one order-2 folio (their slots happened to be consecutive and aligned)
  const pages = new Map(v.pages);
  for (let i = 0; i < 4; i++) pages.set(keyOf(1, i), { pfn: 4096 + i, flags: PAGE.anon | PAGE.thp | PAGE.exclusive });
  const large = { ...v, pages, swapped: new Map<number, number>() };
  expect(comparePagemap(large, m)).toEqual({ desync: "swap-in-size" });
  // a pageout Linux did not do (the whole folio present there, all of it swapped out in the model) is no such thing
  const before = modelAfter(ops.slice(0, -1), mg);
  const bv = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(before))));
  expect(bv.swapped?.size).toBe(4);
  expect(comparePagemap({ ...bv, pages, swapped: new Map<number, number>() }, before).divergence).toBeDefined();
  // a swapped-out page present in Linux as a base page is no such thing: a divergence
  const small = new Map(v.pages).set(keyOf(1, 0), { pfn: 4000, flags: PAGE.anon | PAGE.exclusive });
  expect(comparePagemap({ ...v, pages: small }, m).divergence).toBeDefined();
});

describe("allowance khugepaged-timing", () => {
  test("khugepaged collapsed on its own time while the sequence had memory it may collapse; otherwise it does not matter", () => {
    const ops = (advice: "hugepage" | "nohugepage"): MmOp[] => [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 4, prot: "rw", shared: false },
      { op: "madvise", pid: 1, page: 0, pages: 4, advice },
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "madvise", pid: 1, page: 1, pages: 1, advice: "dontneed" }, // the THP is PTE-mapped now
    ];
    // what khugepaged would have done meanwhile: the range is one PMD-mapped THP again in Linux
    const collapsed = (m: MmModel): PagemapView => {
      const v = decodePagemap(encodePagemap(m));
      const head = 900_000;
      const pages = new Map(v.pages);
      for (let i = 0; i < 4; i++)
        pages.set(keyOf(1, i), { pfn: head + i, flags: PAGE.anon | PAGE.thp | PAGE.exclusive });
      return { ...v, pages, khugepagedRan: true };
    };
    const eligible = modelAfter(ops("hugepage"));
    expect(comparePagemap(collapsed(eligible), eligible)).toEqual({ desync: "khugepaged-timing" });
    expect(comparePagemap({ ...collapsed(eligible), khugepagedRan: false }, eligible).divergence).toBeDefined();
    const never = modelAfter(ops("nohugepage"));
    expect(comparePagemap(collapsed(never), never).divergence).toBeDefined();
  });
});

describe("the lockstep comparison (--against model)", () => {
  const properties = withoutKinds(mmLayer, ["invariant", "economy"]); // structure alone must catch it

  test("an engine whose data is right but which copies eagerly at fork is caught by structure alone", async () => {
    const eager = mmMutants.find((x) => x.name === "eager-fork")!;
    const factory = {
      name: "eager-fork+pagemap",
      create: (geo: unknown) => withPagemap(eager.create(geo as MmGeometry) as MmModel),
    };
    const r = await runCampaign(properties, factory, {
      seed: 1,
      runs: 200,
      maxOps: 60,
      against: await resolveEngine(properties, "model"),
    });
    expect(r.status).toBe("failed");
    expect(r.failure?.kind).toBe("structure");
    expect(r.failure?.property).toMatch(/^pagemap-(sharing|flags)$/); // copies are exclusive where the model's pages are shared
  });

  test("the model against itself agrees after every op", async () => {
    const factory = { name: "model+pagemap", create: (geo: unknown) => withPagemap(new MmModel(geo as MmGeometry)) };
    const r = await runCampaign(properties, factory, {
      seed: 3,
      runs: 150,
      maxOps: 100,
      against: await resolveEngine(properties, "model"),
    });
    expect(r.status).toBe("passed");
    expect(r.structure!.compared).toBe(r.ops);
  });

  test(`an engine that answers another observation the oracle allows stops the comparison (${OTHER_CHOICE})`, async () => {
    // pinRead of a GUP reference taken before a write of the same process: the oracle allows old and new
    const ops: MmOp[] = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 4, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 0, cell: 0, value: 1 },
      { op: "pin", pid: 1, page: 0, kind: "get", write: false },
      { op: "fork", pid: 1 },
      { op: "write", pid: 1, page: 0, cell: 0, value: 2 },
      { op: "pinRead", handle: 1 },
      { op: "read", pid: 1, page: 0 },
    ];
    const oracle = new MmOracle(g);
    const allowed = ops.map((op) => oracle.apply(op));
    expect(isOneOf(allowed[6])).toBe(true);
    const model = new MmModel(g);
    const chooser = withPagemap(model);
    let i = 0;
    const other: Engine<unknown, unknown> = {
      ...chooser,
      apply: (op) => {
        const mine = chooser.apply(op);
        const choices = allowed[i++];
        return isOneOf(choices) ? choices.oneOf.find((c) => JSON.stringify(c) !== JSON.stringify(mine))! : mine;
      },
    };
    const stats = emptyStats();
    const f = await checkSequence(properties, g, other, ops, { against: new MmModel(g), stats });
    expect(f).toBeUndefined();
    expect(stats).toEqual({ compared: 6, allowed: {}, desynced: { [OTHER_CHOICE]: 1 } });
  });
});

test("allowance swap-in-size: a write that swaps a whole range in, read as one folio by one side only", () => {
  const mg: MmGeometry = { ...g, pages: 32, hugeOrder: 3 };
  const fill: MmOp = { op: "fill", pid: 1, page: 0, pages: 4, value: 1 };
  const ops: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false },
    fill,
    { op: "madvise", pid: 1, page: 0, pages: 4, advice: "pageout" }, // slots 0-3 in the model, in order
    { op: "thpPolicy", order: 2, enabled: "always" },
    fill,
  ];
  const m = modelAfter(ops, mg);
  const v = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
  expect(v.pages.get(keyOf(1, 0))!.flags & PAGE.thp).toBeTruthy(); // the model read one order-2 folio
  expect(comparePagemap(v, m)).toEqual({});
  // Linux's slots were not aligned to the pages: four base pages, each read by its own fault
  const small = new Map(v.pages);
  for (let i = 0; i < 4; i++) small.set(keyOf(1, i), { pfn: 5000 + 2 * i, flags: PAGE.anon | PAGE.exclusive });
  expect(comparePagemap({ ...v, pages: small }, m)).toEqual({ desync: "swap-in-size" });
  // the same order-2 folio taken by a fresh fault (no swap-in) must match Linux's size: a divergence
  const fresh = modelAfter([...ops.slice(0, 2), ops[4], fill], mg);
  const fv = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(fresh))));
  expect(fv.pages.get(keyOf(1, 0))!.flags & PAGE.thp).toBeTruthy();
  const freshSmall = new Map(fv.pages);
  for (let i = 0; i < 4; i++) freshSmall.set(keyOf(1, i), { pfn: 5000 + 2 * i, flags: PAGE.anon | PAGE.exclusive });
  expect(comparePagemap({ ...fv, pages: freshSmall }, fresh).divergence).toBeDefined();
});

test("allowance disk-file-folio: a disk file's large folios, flagged THP, mapped or zapped whole by Linux", () => {
  const fg: MmGeometry = { ...g, diskFiles: 1 };
  const ops = (disk: boolean): MmOp[] => [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 4, pages: 4, prot: "rw", shared: false, file: 0, ...(disk ? { disk } : {}) },
    { op: "read", pid: 1, page: 4 },
  ];
  for (const disk of [true, false]) {
    const m = modelAfter(ops(disk), fg);
    const v = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
    const page = v.pages.get(keyOf(1, 4))!;
    expect(page.flags & PAGE.file).toBeTruthy();
    expect(comparePagemap(v, m)).toEqual({});
    // the page in a large folio: flagged THP, and under a PMD whose head page another process maps, not exclusive
    const thp = {
      ...v,
      pages: new Map(v.pages).set(keyOf(1, 4), { ...page, flags: (page.flags | PAGE.thp) & ~PAGE.exclusive }),
    };
    // a PMD-mapped folio zapped whole: Linux maps nothing there any more
    const zapped = { ...v, pages: new Map([...v.pages].filter(([k]) => k !== keyOf(1, 4))) };
    if (disk) {
      expect(comparePagemap(thp, m)).toEqual({ allowed: ["disk-file-folio"] });
      expect(comparePagemap(zapped, m)).toEqual({ allowed: ["disk-file-folio"] });
    } else {
      // a memfd (shmem, huge=never) has no large folios: both are divergences
      expect(comparePagemap(thp, m).divergence?.property).toBe("pagemap-flags");
      expect(comparePagemap(zapped, m).divergence?.property).toBe("pagemap-present");
    }
  }
});

test("swap-in-size holds for the op that swapped in only, and folios at back-to-back frames are not one", () => {
  const mg: MmGeometry = { ...g, pages: 32, hugeOrder: 3 };
  const ops: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 16, prot: "rw", shared: false },
    { op: "fill", pid: 1, page: 0, pages: 8, value: 1 },
    { op: "madvise", pid: 1, page: 0, pages: 8, advice: "pageout" },
    { op: "thpPolicy", order: 2, enabled: "always" },
    { op: "fill", pid: 1, page: 0, pages: 8, value: 2 }, // two order-2 folios read back, at consecutive frames
  ];
  const m = modelAfter(ops, mg);
  const v = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
  expect(v.pages.get(keyOf(1, 4))!.pfn).toBe(v.pages.get(keyOf(1, 3))!.pfn + 1);
  expect(comparePagemap(v, m)).toEqual({}); // the model agrees with itself
  // one op later, a base page where the model has the folio is a divergence, not a swap-in's choice
  m.apply({ op: "read", pid: 1, page: 9 });
  const later = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
  const small = new Map(later.pages);
  for (let i = 0; i < 4; i++) small.set(keyOf(1, i), { pfn: 5000 + 2 * i, flags: PAGE.anon | PAGE.exclusive });
  expect(comparePagemap({ ...later, pages: small }, m).divergence?.property).toBe("pagemap-flags");
});

test("disk-file-folio excuses a page only the model maps where a PMD could have mapped it, and Linux left none", () => {
  const fg: MmGeometry = { ...g, diskFiles: 1 };
  const one: MmOp[] = [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 5, pages: 1, prot: "rw", shared: true, file: 0, disk: true },
    { op: "write", pid: 1, page: 5, cell: 0, value: 1 },
  ];
  const m = modelAfter(one, fg);
  const v = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
  const gone = { ...v, pages: new Map([...v.pages].filter(([k]) => k !== keyOf(1, 5))) };
  expect(comparePagemap(gone, m).divergence?.property).toBe("pagemap-present"); // no PMD fits a one-page VMA
});

test("disk-file-folio still excuses it after a VMA split: VMAs of the same file cover the huge range, no gap", () => {
  // what Linux 6.18 does (traces/mm/linux/disk-file-pmd-zapped-by-vma-split.trace.json): MADV_MERGEABLE on part of a
  // PMD-mapped disk file splits the VMA and with it the PMD, which __split_huge_pmd zaps
  const fg: MmGeometry = { ...g, diskFiles: 1 };
  const split = (second: MmOp): MmOp[] => [
    { op: "spawn" },
    { op: "mmap", pid: 1, page: 0, pages: 4, prot: "r", shared: false, file: 0, disk: true },
    second,
    { op: "read", pid: 1, page: 0 },
  ];
  const allowedAfter = (ops: MmOp[]) => {
    const m = modelAfter(ops, fg);
    const v = decodePagemap(JSON.parse(JSON.stringify(encodePagemap(m))));
    const gone = { ...v, pages: new Map([...v.pages].filter(([k]) => pidOf(k) !== 1)) };
    return comparePagemap(gone, m);
  };
  expect(allowedAfter(split({ op: "madvise", pid: 1, page: 1, pages: 1, advice: "mergeable" }))).toEqual({
    allowed: ["disk-file-folio"],
  });
  // a hole in the range: no PMD could have mapped it
  expect(allowedAfter(split({ op: "munmap", pid: 1, page: 2, pages: 1 })).divergence?.property).toBe("pagemap-present");
});
