// The kernel's CoW selftest (cow.c) as traces: every case of cow.c's plan is enumerated (the count is cow.c's own
// formula), the committed files are what the enumerator writes, the model replays each with every recorded
// observation and every property, the last observation is the one cow.c asserts, and each family catches the bug
// class it exists for. The corpus scenarios (fuzz/mm/cow.ts, the small-geometry seeds of every campaign) likewise.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { formatTrace } from "../core/index.ts";
import { cowScenarios } from "../fuzz/mm/cow.ts";
import { checkTrace } from "../index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { MmModel } from "../models/mm/model.ts";
import { defaultMmGeometry } from "../models/mm/types.ts";
import { allCowCases, cowIndex, cowTrace, cowTraceDir, writtenCowCases } from "../scenarios/mm-cow.ts";

const load = (name: string) => JSON.parse(readFileSync(`${cowTraceDir}${name}.trace.json`, "utf8"));

test("every case of cow.c's plan is enumerated, as ksft_set_plan counts them on x86-64 6.18", () => {
  // main(): anon cases × tests_per_anon_test_case + anon THP cases × 1 + non-anon cases × tests_per_non_anon_test_case
  const thpSizes = 8; // 16 KiB … 2 MiB
  const hugetlbSizes = 2; // 2 MiB, 1 GiB
  const anon = 14 * (2 + hugetlbSizes + 6 * thpSizes + 2);
  const plan = anon + 4 * 1 + 3 * (3 + hugetlbSizes + 1);
  expect(plan).toBe(778);
  const own = allCowCases.filter((c) => c.variant === "cow.c");
  expect(own.length).toBe(plan);
  expect(new Set(allCowCases.map((c) => c.name)).size).toBe(allCowCases.length);
  // a case is written exactly when nothing blocks it
  expect(writtenCowCases.every((c) => c.ops.length > 0)).toBe(true);
  expect(allCowCases.filter((c) => c.gaps.length).every((c) => c.ops.length === 0)).toBe(true);
});

test("the committed traces and index are the enumerator's (regenerate: npx tsx scenarios/mm-cow.ts)", () => {
  const files = readdirSync(cowTraceDir).filter((f) => f.endsWith(".trace.json"));
  expect(files.sort()).toEqual(writtenCowCases.map((c) => `${c.name}.trace.json`).sort());
  for (const c of writtenCowCases) {
    expect(readFileSync(`${cowTraceDir}${c.name}.trace.json`, "utf8"), c.name).toBe(formatTrace(cowTrace(c)));
  }
  expect(readFileSync(`${cowTraceDir}index.json`, "utf8")).toBe(cowIndex());
});

test("the model replays every written case with every recorded observation and property, and cow.c's assertion holds", async () => {
  for (const c of writtenCowCases) {
    const trace = load(c.name);
    expect(trace.expected.at(-1), `${c.name}: the oracle`).toEqual(c.asserts);
    expect(await checkTrace(trace, { engine: "model" }), c.name).toBeUndefined();
  }
});

// Each family against the bug class it exists for (the mutant that class's real incident gave).
const families: [string, string][] = [
  ["basic-cow--base-page", "fork-parent-writable"],
  ["basic-cow--base-page--mirrored", "fork-keeps-exclusive"],
  ["basic-cow-mprotect--pte-mapped-thp-2048k", "wp-reuse-shared"],
  ["vmsplice-unmap-in-child--base-page", "wp-reuse-by-mapcount"],
  ["vmsplice-unmap-in-child--thp-2048k", "thp-reuse-by-mapcount"],
  ["vmsplice-before-fork-unmap-in-parent--thp-2048k", "thp-reuse-by-mapcount"],
  ["iouring-fork--base-page", "fork-shares-pinned"],
  ["ro-pin-on-ro-mapped-shared-page--base-page", "ro-pin-no-unshare"],
  ["ro-fast-pin-on-ro-mapped-previously-shared-page--thp-2048k", "ro-pin-no-unshare"],
  ["cow--shared-zeropage", "zero-page-written"],
  ["cow--huge-zeropage", "huge-zero-written"],
  ["cow--memfd", "private-file-stale"],
  ["basic-cow--pte-mapped-thp-64k", "mthp-reuse-shared"],
  ["basic-cow--partially-mremapped-thp-16k", "mthp-reuse-shared"],
  ["basic-cow--single-pte-of-thp-1024k", "mthp-head-only-exclusive"],
  ["basic-cow--swapped-out-base-page", "swap-fork-keeps-exclusive"],
  ["basic-cow--swapped-out-thp-2048k", "swap-fork-keeps-exclusive"],
  ["vmsplice-unmap-in-child--swapped-out-base-page", "swapin-reuse-by-mapcount"],
  ["vmsplice-unmap-in-child--swapped-out-pte-mapped-thp-64k", "swapin-reuse-by-mapcount"],
  ["iouring-fork--hugetlb-2048k--mirrored", "fork-shares-pinned"],
  ["ro-pin-on-ro-mapped-shared-page--hugetlb-2048k", "ro-pin-no-unshare"],
  ["ro-longterm-pin--memfd-hugetlb-2048k", "ro-pin-no-unshare"],
];
test.each(families)("%s catches mutant %s", async (name, mutant) => {
  expect(mmLayer.mutants.some((m) => m.name === mutant)).toBe(true);
  expect(await checkTrace(load(name), { engine: `mutant:${mutant}` }), `${mutant} passes ${name}`).toBeDefined();
});

describe.each(cowScenarios.map((s) => [s.name, s] as const))("corpus scenario %s", (name, s) => {
  test("the model gives the decisive observation, every property holding", async () => {
    const trace = { cowcheck: 1, layer: "mm", geometry: defaultMmGeometry, features: [], ops: s.ops };
    expect(await checkTrace(trace, { engine: "model" })).toBeUndefined();
    const model = new MmModel(defaultMmGeometry);
    const obs = s.ops.map((op) => model.apply(op));
    expect(obs.at(s.decisive.at)).toEqual(s.decisive.obs);
  });

  test.each(s.kills.map((m) => [m]))("catches mutant %s", async (mutant) => {
    expect(mmLayer.mutants.some((m) => m.name === mutant)).toBe(true);
    const trace = { cowcheck: 1, layer: "mm", geometry: defaultMmGeometry, features: [], ops: s.ops };
    expect(await checkTrace(trace, { engine: `mutant:${mutant}` }), `${mutant} passes ${name}`).toBeDefined();
  });
});

test("the scenarios exercise what they name: a THP is mapped by PMD, then split by the CoW", () => {
  const s = cowScenarios.find((x) => x.name === "basic-cow-pmd-thp")!;
  const model = new MmModel(defaultMmGeometry);
  const forkAt = s.ops.findIndex((op) => op.op === "fork");
  for (const op of s.ops.slice(0, forkAt + 1)) model.apply(op);
  const thp = model.frames.get(model.procs.get(1)!.pmds.get(0)!.pfn)!;
  expect(thp).toMatchObject({ nr: 4, entireMapcount: 2, refcount: 2 });
  for (const op of s.ops.slice(forkAt + 1)) model.apply(op);
  expect(model.procs.get(1)!.pmds.has(0)).toBe(true); // the parent keeps its PMD
  expect(model.procs.get(2)!.pmds.has(0)).toBe(false); // the child's was split
  expect(model.procs.get(2)!.ptes.get(0)!.pfn).toBe(thp.pfn); // its other pages still map the THP
  expect(model.procs.get(2)!.ptes.get(1)!.pfn).not.toBe(thp.pfn + 1); // one page copied
  expect(model.copiedPages).toBe(1);
});
