// The kernel's CoW selftest (tools/testing/selftests/mm/cow.c) as cowcheck traces: every case of fuzz/mm/cow-cases.ts
// that the vocabulary can write, at the real geometry (4 KiB pages, 2 MiB THPs), with every observation recorded
// (the oracle's). `npx tsx scenarios/mm-cow.ts` rewrites traces/mm/cow/ and its index.json (every case, with what
// blocks the rest), so `npx cowcheck replay traces/mm/cow/<name>.trace.json --engine …` checks an engine.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { allows, formatTrace, type Trace } from "../core/index.ts";
import { type CowCase, caseFeatures, cowCases } from "../fuzz/mm/cow-cases.ts";
import type { MmGeometry, MmObs, MmOp } from "../models/mm/types.ts";
import { MmOracle } from "../oracles/mm.ts";

/** x86-64's pages and PMD, one observed cell per page (cow.c's memset writes whole pages), one file (the memfd). */
export const cowGeometry: MmGeometry = { pageSize: 4096, cellsPerPage: 1, pages: 2048, hugeOrder: 9, files: 1 };

export const allCowCases: readonly CowCase[] = cowCases(cowGeometry);
export const writtenCowCases: readonly CowCase[] = allCowCases.filter((c) => c.gaps.length === 0);

/** The geometry of a case's trace: with a hugetlb memfd, or a disk file, where it maps one. */
export const cowCaseGeometry = (c: CowCase): MmGeometry => {
  const maps = (kind: "hugetlb" | "disk") => c.ops.some((op) => op.op === "mmap" && op[kind] && op.file !== undefined);
  return {
    ...cowGeometry,
    ...(maps("hugetlb") ? { hugetlbFiles: 1 } : {}),
    ...(maps("disk") ? { diskFiles: 1 } : {}),
  };
};

/** A case as a trace file, with every observation recorded (the oracle's). */
export function cowTrace(c: CowCase): Trace<MmOp, MmObs> & { note: string } {
  const geometry = cowCaseGeometry(c);
  const oracle = new MmOracle(geometry);
  const expected = c.ops.map((op) => oracle.apply(op) as MmObs);
  // an XFAIL case records the leak cow.c expects, which the oracle must allow
  if (c.xfail) {
    if (!allows(expected.at(-1), c.asserts)) throw new Error(`${c.name}: the oracle does not allow cow.c's XFAIL leak`);
    expected[expected.length - 1] = c.asserts;
  }
  const variant = c.variant === "cow.c" ? "" : ` [cowcheck's ${c.variant} variant]`;
  const omits = c.omits ? ` Leaves out ${c.omits}.` : "";
  const asserts = c.xfail
    ? `cow.c expects it to fail (XFAIL: ${c.xfail}): the last observation is that leak, as 6.18 shows it`
    : "the last observation is what cow.c asserts";
  return {
    cowcheck: 1,
    layer: "mm",
    geometry,
    features: caseFeatures(c),
    note: `cow.c '${c.test}' with ${c.backing}${variant}: ${asserts}.${omits}`,
    ops: [...c.ops],
    expected,
  };
}

/** The index: every case, written or not, and what the unwritten ones lack. */
export function cowIndex(): string {
  const own = allCowCases.filter((c) => c.variant === "cow.c");
  const head = {
    source: "tools/testing/selftests/mm/cow.c (Linux 6.18), on x86-64 with THP orders 2-9 and hugetlb 2 MiB, 1 GiB",
    cases: own.length,
    written: own.filter((c) => c.gaps.length === 0).length,
    variants: allCowCases.length - own.length,
    variantsWritten: writtenCowCases.filter((c) => c.variant !== "cow.c").length,
  };
  const rows = allCowCases.map((c) =>
    JSON.stringify({ name: c.name, test: c.test, backing: c.backing, variant: c.variant, gaps: c.gaps }),
  );
  return `${JSON.stringify(head, null, 1).slice(0, -2)},\n "rows": [\n  ${rows.join(",\n  ")}\n ]\n}\n`;
}

export const cowTraceDir = fileURLToPath(new URL("../traces/mm/cow/", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(cowTraceDir, { recursive: true });
  for (const f of readdirSync(cowTraceDir)) if (f.endsWith(".trace.json")) rmSync(`${cowTraceDir}${f}`);
  for (const c of writtenCowCases) writeFileSync(`${cowTraceDir}${c.name}.trace.json`, formatTrace(cowTrace(c)));
  writeFileSync(`${cowTraceDir}index.json`, cowIndex());
  console.log(`wrote ${writtenCowCases.length} traces and index.json to ${cowTraceDir}`);
}
