// Malformed input (issue 15): the regression test of each defect, then the standing fuzz test. Traces of every layer
// (generated and committed), mutated by fast-check with a fixed seed (wrong types, missing and unknown fields, huge
// numbers, deep nesting, long strings, control characters, ops of the wrong layer or flavour), go through the code
// paths of `replay` and `minimize`, and malformed protocol lines through the stdio client. Each must end in a clear
// verdict (exit 2 for bad input, 0 or 1 for valid input; a protocol failure for a bad line), never an uncaught
// exception, within a small time and memory bound.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { SaxesParser } from "saxes";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { main } from "../cli/main.ts";
import {
  type CampaignResult,
  type EngineFactory,
  EngineFailure,
  InputError,
  resolveGeometry,
  type Trace,
  visible,
} from "../core/index.ts";
import { resolveEngine } from "../engines/resolve.ts";
import { StdioEngine } from "../engines/stdio.ts";
import { sequenceArbitrary } from "../fuzz/campaign.ts";
import { minimizeTrace } from "../fuzz/minimize.ts";
import { replayTrace } from "../fuzz/replay.ts";
import { checkTrace } from "../index.ts";
import { layers, loadTrace, validateTrace } from "../layers/index.ts";
import { encodeMmState } from "../models/mm/state.ts";
import type { MmState } from "../models/mm/types.ts";
import { overlayGeometrySchema, overlayOpSchema, VOID } from "../models/overlay/types.ts";
import { explainFailure, regressionTest } from "../reports/explain.ts";
import { ReportWriter } from "../reports/writer.ts";
import { captureOutput, tempDirs } from "./helpers.ts";

const { out, err } = captureOutput();
const tmp = tempDirs("cowcheck-malformed-");
const stderr = (): string => err.join("");
const write = (dir: string, name: string, json: unknown): string => {
  const file = join(dir, name);
  writeFileSync(file, typeof json === "string" ? json : JSON.stringify(json));
  return file;
};
/** A terminal's controls: C0 but newline and tab, DEL, C1. */
const CONTROL = /(?![\n\t])\p{Cc}/u;

// ---- the regression tests, one per defect

describe("2: an op of the other mvcc flavour is bad input, refused when the trace is validated", () => {
  const cases = [
    {
      geometry: undefined,
      ops: [
        { op: "begin", tx: 1, level: "rc" },
        { op: "checkpoint", mode: "passive" },
      ],
      says: 'ops[1]: checkpoint is an op of the sqlite flavour (geometry {"flavour":"sqlite"})',
    },
    {
      geometry: { flavour: "postgres" },
      ops: [{ op: "begin", tx: 1, level: "deferred" }],
      says: `ops[0]: BEGIN deferred is SQLite's (geometry {"flavour":"sqlite"}); PostgreSQL's levels are rc, rr, ser`,
    },
    {
      geometry: { flavour: "sqlite" },
      ops: [{ op: "begin", tx: 1, level: "rc" }],
      says: "ops[0]: BEGIN rc is PostgreSQL's; the sqlite flavour has deferred and immediate",
    },
    {
      geometry: { flavour: "sqlite" },
      ops: [{ op: "insert", tx: 1, key: 1, value: 1 }, { op: "vacuum" }],
      says: "ops[1]: vacuum is an op of the postgres flavour; the sqlite flavour has checkpoint",
    },
  ];

  test.each(cases)("$says", async ({ geometry, ops, says }) => {
    const dir = tmp();
    const file = write(dir, "t.json", { cowcheck: 1, layer: "mvcc", geometry, ops });
    expect(await main(["replay", file, "--quiet"])).toBe(2);
    expect(stderr()).toBe(`cowcheck: ${file}: ${says}\n`);
    err.length = 0;
    const min = join(dir, "t.min.json");
    expect(await main(["minimize", file, "--out", min])).toBe(2);
    expect(stderr()).toBe(`cowcheck: ${file}: ${says}\n`);
    expect(existsSync(min)).toBe(false); // no "engine failure" trace
    await expect(checkTrace({ cowcheck: 1, layer: "mvcc", geometry, ops })).rejects.toThrow(
      new InputError(`trace: ${says}`),
    );
  });

  test("each flavour's own ops stay valid, and the committed traces of both still load", () => {
    for (const dir of ["traces/mvcc/postgres", "traces/mvcc/sqlite"])
      for (const f of readdirSync(dir)) expect(() => loadTrace(join(dir, f))).not.toThrow();
  });
});

describe("3: deep nesting and large ops give exit 2 and a bounded message", () => {
  test.each([5000, 100_000])("an op nested %i deep, as an op and inside a field", async (depth) => {
    const dir = tmp();
    const nested = `${"[".repeat(depth)}1${"]".repeat(depth)}`;
    const asOp = write(dir, "a.json", `{"cowcheck":1,"layer":"mm","ops":[{"op":"spawn"},${nested}]}`);
    const inField = write(dir, "b.json", `{"cowcheck":1,"layer":"overlay","ops":[{"op":"umount","c":${nested}}]}`);
    const inObs = write(dir, "c.json", `{"cowcheck":1,"layer":"mm","ops":[{"op":"spawn"}],"expected":[${nested}]}`);
    expect(await main(["replay", asOp, "--quiet"])).toBe(2);
    expect(await main(["minimize", asOp])).toBe(2);
    expect(await main(["replay", inField, "--quiet"])).toBe(2);
    expect(await main(["replay", inObs, "--quiet"])).toBe(2);
    expect(err).toEqual([
      `cowcheck: ${asOp}: ops[1]: nested deeper than 64 levels\n`,
      `cowcheck: ${asOp}: ops[1]: nested deeper than 64 levels\n`,
      `cowcheck: ${inField}: ops[0]: nested deeper than 64 levels\n`,
      `cowcheck: ${inObs}: expected[0]: nested deeper than 64 levels\n`,
    ]);
  });

  test("an op nested just within the bound is quoted as an excerpt, depth-limited", async () => {
    const nested = `${"[".repeat(60)}1${"]".repeat(60)}`;
    const file = write(tmp(), "t.json", `{"cowcheck":1,"layer":"mm","ops":[{"op":"spawn","x":${nested}}]}`);
    expect(await main(["replay", file, "--quiet"])).toBe(2);
    expect(stderr()).toContain('(op: {"op":"spawn","x":[[[[[[[[…]');
    expect(stderr().length).toBeLessThan(600);
  });

  test("a 22 MB op, a huge layer name and control characters are quoted as bounded excerpts, made visible", async () => {
    const dir = tmp();
    const big = write(dir, "big.json", { cowcheck: 1, layer: "mm", ops: [{ op: "spawn", x: "\u001b".repeat(22e6) }] });
    expect(await main(["replay", big, "--quiet"])).toBe(2);
    const bigErr = stderr();
    expect(bigErr.length).toBeLessThan(1000);
    expect(bigErr).toContain(`${big}: ops[0]: Unrecognized key: "x" (op: {"op":"spawn","x":"\\u001b`);
    err.length = 0;
    const layer = write(dir, "layer.json", { cowcheck: 1, layer: `\u001b]0;pwned\u0007${"x".repeat(1e6)}`, ops: [] });
    expect(await main(["replay", layer, "--quiet"])).toBe(2);
    expect(stderr().length).toBeLessThan(300);
    expect(stderr()).toMatch(/unknown layer "\\u001b\]0;pwned\\u0007x+… \(known: mm, overlay, snapshot, mvcc/);
    err.length = 0;
    // zod's message quotes the key it did not expect, whole, with its C1 controls raw
    const keys = write(dir, "keys.json", {
      cowcheck: 1,
      layer: "mm",
      ops: [{ op: "spawn", ["\u009b2J".repeat(1e5)]: 1 }],
    });
    expect(await main(["replay", keys, "--quiet"])).toBe(2);
    expect(stderr().length).toBeLessThan(800);
    expect(stderr()).not.toMatch(CONTROL);
    expect(stderr()).toContain('ops[0]: Unrecognized key: "\\u009b2J\\u009b2J');
  });
});

describe("4: overlay names, paths and symlink targets within the kernel's limits", () => {
  const valid = (op: unknown): boolean => overlayOpSchema.safeParse(op).success;
  const name = (n: number): string => "a".repeat(n);

  test("a name of NAME_MAX (255) bytes is valid, 256 is not; nor NUL, nor a slash inside a name", () => {
    expect(valid({ op: "mkdir", c: 1, path: name(255), mode: 0o755 })).toBe(true);
    expect(valid({ op: "mkdir", c: 1, path: `b/${name(255)}/c`, mode: 0o755 })).toBe(true);
    expect(valid({ op: "mkdir", c: 1, path: name(256), mode: 0o755 })).toBe(false);
    expect(valid({ op: "mkdir", c: 1, path: name(300), mode: 0o755 })).toBe(false);
    expect(valid({ op: "stat", c: 1, path: `b/${name(256)}` })).toBe(false);
    expect(valid({ op: "create", c: 1, path: "a\u0000b", mode: 0o644 })).toBe(false);
    expect(valid({ op: "create", c: 1, path: "a//b", mode: 0o644 })).toBe(false);
    expect(valid({ op: "layer", entries: [{ type: "dir", path: name(256) }] })).toBe(false);
    // a path leaves room below PATH_MAX for where an engine mounts
    const long = Array.from({ length: 15 }, () => name(255)).join("/"); // 3,839 bytes
    expect(valid({ op: "stat", c: 1, path: long })).toBe(true);
    expect(valid({ op: "stat", c: 1, path: `${long}/bb` })).toBe(false);
  });

  test("a symlink target: no NUL, no '..' component, ASCII, names of at most 255 bytes, below PATH_MAX", () => {
    const link = (target: string) => ({ op: "symlink", c: 1, target, path: "l" });
    expect(valid(link(`${VOID}a`))).toBe(true);
    expect(valid(link(`${VOID}a/./b//c`))).toBe(true);
    expect(valid(link(`${VOID}a\u0000`))).toBe(false);
    expect(valid(link(`${VOID}..`))).toBe(false);
    expect(valid(link(`${VOID}../etc/passwd`))).toBe(false);
    expect(valid(link(`${VOID}a/../../etc`))).toBe(false);
    expect(valid(link(`${VOID}é`))).toBe(false);
    expect(valid(link(`${VOID}\ud800`))).toBe(false);
    expect(valid(link(VOID + name(255)))).toBe(true);
    expect(valid(link(VOID + name(256)))).toBe(false);
    const longest = VOID + Array.from({ length: 16 }, () => name(254)).join("/"); // 15 + 16·254 + 15 = 4,094
    expect(valid(link(longest))).toBe(true);
    expect(valid(link(`${longest}/a`))).toBe(false); // 4,096 bytes: no room for the NUL
    expect(valid({ op: "layer", entries: [{ type: "symlink", path: "l", target: `${VOID}a\u0000` }] })).toBe(false);
  });

  test("a target inside the mount: names and '..' ending in a name; a layer of at most 4,096 entries", () => {
    const link = (target: string) => ({ op: "symlink", c: 1, target, path: "l" });
    for (const t of ["a", "../a", "../../b/c", "a/../b", `${name(255)}/a`]) expect(valid(link(t)), t).toBe(true);
    for (const t of ["", "..", "a/..", "./a", "a/", "a//b", "/a", "A", "a-b", "../", `${name(256)}`])
      expect(valid(link(t)), t).toBe(false);
    expect(valid(link(Array.from({ length: 16 }, () => name(254)).join("/")))).toBe(true); // 4,079 bytes
    expect(valid(link(Array.from({ length: 17 }, () => name(254)).join("/")))).toBe(false); // 4,334: over PATH_MAX
    const files = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "file", path: `f${i}`, data: "" }));
    expect(valid({ op: "layer", entries: files(4096) })).toBe(true);
    expect(valid({ op: "layer", entries: files(4097) })).toBe(false);
  });

  test("the geometry's names follow NAME_MAX; the generator's ops stay valid at the largest geometry", () => {
    expect(overlayGeometrySchema.safeParse({ names: [name(256)], depth: 1, containers: 1 }).success).toBe(false);
    const overlay = layers.find((l) => l.name === "overlay")!;
    const biggest = { names: Array.from({ length: 16 }, (_, i) => `${"abcdefghijklmnop"[i]}${name(254)}`), depth: 6 };
    for (const user of [{}, biggest]) {
      const g = resolveGeometry(overlay, { user });
      const features = overlay.model(g).features;
      const sequences = fc.sample(sequenceArbitrary(overlay, g, features, 30), { seed: 15, numRuns: 60 });
      for (const ops of sequences) for (const op of ops) expect(overlayOpSchema.safeParse(op).error).toBeUndefined();
    }
  });

  const overlayfs = layers.find((l) => l.name === "overlay")!.engines!.find((e) => e.name === "overlayfs")!;
  const longNames = (engine: string) => async () => {
    const file = write(tmp(), "t.json", {
      cowcheck: 1,
      layer: "overlay",
      ops: [
        { op: "layer", entries: [{ type: "dir", path: name(255), mode: 0o755 }] },
        { op: "mount", c: 1, layers: [1], redirectDir: false, index: false, metacopy: false },
        { op: "symlink", c: 1, target: VOID + name(255), path: `${name(255)}/${name(255)}` },
        { op: "readlink", c: 1, path: `${name(255)}/${name(255)}` },
        { op: "stat", c: 1, path: `${name(255)}/${name(255)}` },
        { op: "create", c: 1, path: `${name(255)}/${name(254)}`, mode: 0o644 },
        { op: "rename", c: 1, from: `${name(255)}/${name(254)}`, to: name(255).replace(/^a/, "b") },
        { op: "readdir", c: 1, path: "" },
      ],
    });
    expect(await main(["replay", file, "--quiet", "--engine", engine])).toBe(0);
  };
  test("a trace with 255-byte names and a long target replays on the model", longNames("model"));
  test.skipIf(overlayfs.unavailable() !== undefined)(
    "… and on a real OverlayFS mount, which agrees",
    longNames("overlayfs"),
  );
});

describe("5: junit.xml and report.html hold whatever an engine printed", () => {
  /** Every character XML 1.0 forbids, ANSI sequences, C1 controls, markup. */
  const nasty = `\u0000\u0001\u0008\u000b\u000c\u000e\u001b[31mred\u001b[0m\u001f\u007f\u0085\u009b2J\ufffe\uffff lone \ud800 and \udfff <b>&amp;</b> "q" 'a' ]]> --> \r\n tab\t`;
  /** XML 1.0's Char production, negated: what may appear neither raw nor as a character reference. */
  const forbidden = (c: number): boolean =>
    c <= 8 ||
    c === 0xb ||
    c === 0xc ||
    (c >= 0xe && c <= 0x1f) ||
    c === 0xfffe ||
    c === 0xffff ||
    (c >= 0xd800 && c <= 0xdfff);
  /** The first character XML forbids, as `U+XXXX at N`, or undefined. */
  const firstForbidden = (s: string): string | undefined => {
    let i = 0;
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      if (forbidden(c)) return `U+${c.toString(16).padStart(4, "0")} at ${i}`;
      i += ch.length;
    }
    return undefined;
  };

  /** A strict, conforming XML 1.0 parser's reading (saxes): the testcases' failure and error messages and texts. */
  function parseXml(text: string): { attributes: Record<string, string>[]; texts: string[] } {
    const parser = new SaxesParser();
    const attributes: Record<string, string>[] = [];
    const texts: string[] = [];
    parser.on("error", (e) => {
      throw e;
    });
    parser.on("opentag", (t) => {
      if (t.name === "failure" || t.name === "error") attributes.push(t.attributes as Record<string, string>);
    });
    parser.on("text", (t) => {
      if (t.trim()) texts.push(t);
    });
    parser.write(text).close();
    return { attributes, texts };
  }

  const base = { engine: "e", layer: "mm", seed: 1, runs: 1, ops: 1, elapsedMs: 5 } as const;
  const trace: Trace = { cowcheck: 1, layer: "mm", geometry: {}, features: [], ops: [{ op: "spawn" }] };
  const results: CampaignResult[] = [
    { ...base, status: "engine-failure", trace, engineFailure: { kind: "crash", message: nasty, detail: nasty } },
    {
      ...base,
      status: "failed",
      trace,
      failure: { index: 0, property: "p", kind: "equivalence", message: nasty, observed: { data: nasty }, expected: 1 },
      state: nasty,
    },
  ];

  test("every character XML forbids is shown visibly; a strict XML parser (saxes) reads the document and gets the text back", async () => {
    const dir = tmp();
    const w = await ReportWriter.open(dir, ["run", nasty]);
    results.forEach((r, i) => void w.add(`t${i}-${nasty}`, "pass", `stdio:${nasty}`, r));
    w.finish("failed");
    const xml = readFileSync(join(dir, "junit.xml"), "utf8");
    const parsed = parseXml(xml);
    expect(parsed.attributes.map((a) => a.message)).toEqual([visible(nasty), visible(nasty)]);
    expect(parsed.texts.join("")).toContain(visible(nasty));
    expect(visible(nasty)).toContain("\\u0000\\u0001\\u0008\\u000b\\u000c\\u000e\\u001b[31mred");
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).not.toMatch(/(?![\n\t\r])\p{Cc}/u);
    expect(firstForbidden(html)).toBeUndefined();
    expect(html).toContain("\\u001b[31mred\\u001b[0m");
    expect(html).toContain("&lt;b&gt;&amp;amp;&lt;/b&gt;");
  });
});

describe("6: the generated regression test is data, and passes --against on", () => {
  const payload =
    "\u2028;globalThis.__cowcheckPwned = 1;//\u2029;globalThis.__cowcheckPwned = 2;/* */ `\u0024{1}` ' \" \n\r\\";
  const base = { engine: "e", layer: "mm", seed: 1, runs: 1, ops: 1, elapsedMs: 5 } as const;
  const r: CampaignResult = {
    ...base,
    status: "failed",
    trace: { cowcheck: 1, layer: "mm", geometry: { pages: 16 }, features: [], ops: [{ op: "spawn" }], note: payload },
    failure: {
      index: 0,
      property: `observational-equivalence${payload}`,
      kind: "equivalence",
      message: payload,
      observed: { data: payload },
      expected: { pid: 1 },
    },
  };

  /** The file's statements, checked to be the imports, the trace and the test call; what they hold, as values. */
  function parse(src: string, imports: string[]) {
    const diagnostics = ts.transpileModule(src, { reportDiagnostics: true }).diagnostics;
    expect(diagnostics).toEqual([]);
    const sf = ts.createSourceFile("x.regression.test.ts", src, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const st = [...sf.statements];
    const kind = (s: ts.Statement): string =>
      ts.isImportDeclaration(s)
        ? "ImportDeclaration"
        : ts.isVariableStatement(s)
          ? "VariableStatement"
          : ts.isExpressionStatement(s)
            ? "ExpressionStatement"
            : ts.SyntaxKind[s.kind];
    expect(st.map(kind)).toEqual([
      ...imports.map(() => "ImportDeclaration"),
      "VariableStatement",
      "ExpressionStatement",
    ]);
    expect(
      st.slice(0, imports.length).map((s) => ((s as ts.ImportDeclaration).moduleSpecifier as ts.StringLiteral).text),
    ).toEqual(imports);
    const decl = (st[imports.length] as ts.VariableStatement).declarationList.declarations;
    expect(decl.map((d) => d.name.getText(sf))).toEqual(["trace"]);
    const trace = JSON.parse(decl[0].initializer!.getText(sf));
    const call = (st[imports.length + 1] as ts.ExpressionStatement).expression as ts.CallExpression;
    expect(call.expression.getText(sf)).toBe("test");
    expect(call.arguments.length).toBe(2);
    const name = (call.arguments[0] as ts.StringLiteral).text;
    const body = (call.arguments[1] as ts.ArrowFunction).body as ts.Block;
    // const failure = await checkTrace(trace, {...}); expect(failure, failure?.message).toBeUndefined();
    expect(body.statements.length).toBe(2);
    const init = (
      (body.statements[0] as ts.VariableStatement).declarationList.declarations[0].initializer as ts.AwaitExpression
    ).expression as ts.CallExpression;
    expect(init.expression.getText(sf)).toBe("checkTrace");
    expect(init.arguments[0].getText(sf)).toBe("trace");
    const options: Record<string, unknown> = {};
    for (const p of (init.arguments[1] as ts.ObjectLiteralExpression).properties) {
      const a = p as ts.PropertyAssignment;
      options[a.name.getText(sf)] = ts.isStringLiteral(a.initializer) ? a.initializer.text : a.initializer.getText(sf);
    }
    expect(body.statements[1].getText(sf)).toBe("expect(failure, failure?.message).toBeUndefined();");
    return { trace, name, options };
  }

  /** Run the file as vitest would, with the imports stubbed: what checkTrace was given; no payload ran. */
  async function run(src: string): Promise<unknown[]> {
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS } }).outputText;
    const calls: unknown[] = [];
    const tests: (() => Promise<void>)[] = [];
    const stubs: Record<string, unknown> = {
      vitest: { test: (_: string, fn: () => Promise<void>) => tests.push(fn), expect: () => ({ toBeUndefined() {} }) },
      cowcheck: { checkTrace: async (...args: unknown[]) => void calls.push(args) },
      "./my-engine.js": { default: "the user's factory" },
    };
    new Function("require", "exports", js)((m: string) => stubs[m], {});
    for (const t of tests) await t();
    expect((globalThis as { __cowcheckPwned?: number }).__cowcheckPwned).toBeUndefined();
    return calls;
  }

  test("U+2028, U+2029, */, backticks, ${, quotes and newlines in every field stay data", async () => {
    const spec = `stdio:${payload}`;
    const src = regressionTest(`mm-${payload}`, r, spec, `model${payload}`);
    expect(src).not.toMatch(/[\u2028\u2029]/);
    const { trace, name, options } = parse(src, ["vitest", "cowcheck"]);
    expect(trace).toEqual({ ...r.trace, note: `${r.failure!.property}: ${payload}` });
    expect(name).toBe(`cowcheck regression: mm-${payload}`);
    expect(options).toEqual({ engine: spec, against: `model${payload}` });
    expect(await run(src)).toEqual([[trace, { engine: spec, against: `model${payload}` }]]);
    // an engine given to the library as a function: the test imports the user's factory
    const lib = regressionTest(payload, r);
    expect(parse(lib, ["vitest", "cowcheck", "./my-engine.js"]).options).toEqual({ engine: "createEngine" });
    expect(await run(lib)).toEqual([[trace, { engine: "the user's factory" }]]);
  });

  test("a failure only --against sees: the report's regression test passes the reference on, and reproduces it", async () => {
    const engine = "./test/fixtures/eager-pagemap.ts";
    const ops = [
      { op: "spawn" },
      { op: "mmap", pid: 1, page: 0, pages: 8, prot: "rw", shared: false },
      { op: "write", pid: 1, page: 1, cell: 0, value: 7 },
      { op: "fork", pid: 1 },
    ];
    const json: Trace = { cowcheck: 1, layer: "mm", geometry: { pages: 16, hugeOrder: 2 }, features: [], ops };
    const failure = await checkTrace(json, { engine, against: "model" });
    expect(failure?.kind).toBe("structure");
    expect(await checkTrace(json, { engine })).toBeUndefined(); // without --against, nothing to see
    const dir = tmp();
    const w = await ReportWriter.open(dir, []);
    const rec = w.add("mm-eager", "pass", engine, { ...r, trace: json, failure }, { against: "model" });
    const file = rec.files.find((f) => f.endsWith(".regression.test.ts"))!;
    const { trace, options } = parse(readFileSync(file, "utf8"), ["vitest", "cowcheck"]);
    expect(options).toEqual({ engine, against: "model" });
    const again = await checkTrace(trace, options as { engine: string; against: string });
    expect(again?.property).toBe(failure!.property);
    expect(again?.index).toBe(failure!.index);
    // and the CLI gives the report writer the reference it ran with
    const report = tmp();
    const args = ["run", "--layer", "mm", "--engine", engine, "--against", "model", "--seed", "1", "--quiet"];
    expect(await main([...args, "--report", report])).toBe(1);
    const written = readdirSync(report).find((f) => f.endsWith(".regression.test.ts"))!;
    const cli = parse(readFileSync(join(report, written), "utf8"), ["vitest", "cowcheck"]);
    expect(cli.options).toEqual({ engine, against: "model" });
    expect(await checkTrace(cli.trace, cli.options as { engine: string; against: string })).toBeDefined();
  });
});

describe("12: engine output reaches the terminal with its control characters visible", () => {
  const controls = "\u0000\u0007\u001b[2J\u001b]0;title\u0007\u007f\u0085\u009b31m\r\u2028";
  test("an engine failure's message and stderr", () => {
    const text = explainFailure({
      engine: "e",
      layer: "mm",
      seed: 1,
      runs: 1,
      ops: 1,
      elapsedMs: 1,
      status: "engine-failure",
      engineFailure: { kind: "crash", message: `boom ${controls}`, detail: `line 1\n\tline 2 ${controls}` },
    });
    expect(text).not.toMatch(CONTROL);
    expect(text).toContain("boom \\u0000\\u0007\\u001b[2J\\u001b]0;title\\u0007\\u007f\\u0085\\u009b31m\\u000d\\u2028");
    expect(text).toContain("line 1\n\tline 2 \\u0000");
  });

  test("a failure's message, observations and state picture", () => {
    const text = explainFailure({
      engine: "e",
      layer: "overlay",
      seed: 1,
      runs: 1,
      ops: 1,
      elapsedMs: 1,
      status: "failed",
      trace: { cowcheck: 1, layer: "overlay", geometry: {}, features: [], ops: [{ op: "read", c: 1, path: "a" }] },
      failure: {
        index: 0,
        property: "observational-equivalence",
        kind: "equivalence",
        message: `differs ${controls}`,
        observed: { data: controls },
        expected: { data: "" },
      },
      state: controls,
    });
    expect(text).not.toMatch(CONTROL);
    expect(text).not.toMatch(/[\u2028\u2029]/);
    expect(text).toContain("differs \\u0000\\u0007\\u001b[2J");
  });

  test("the CLI: a wrong answer and an engine's error, on stdout and stderr", async () => {
    const dir = tmp();
    const engine = "./test/fixtures/noisy-engine.ts";
    const ops = (op: object) => write(dir, "t.json", { cowcheck: 1, layer: "overlay", ops: [op] });
    const read = ops({ op: "read", c: 1, path: "a" });
    out.length = 0;
    expect(await main(["replay", read, "--engine", engine])).toBe(1);
    const said = out.join("\n");
    expect(said).toContain("\\u001b[2J\\u001b]0;pwned\\u0007\\u009b31m");
    expect(said).not.toMatch(CONTROL);
    err.length = 0;
    expect(await main(["replay", ops({ op: "umount", c: 1 }), "--engine", engine])).toBe(3);
    expect(stderr()).toContain("boom \\u001b[2J");
    expect(stderr()).not.toMatch(CONTROL);
  });
});

describe("the stdio client on a deeply nested or huge answer", () => {
  const hello = JSON.stringify({ hello: { protocol: 1, layer: "mm", name: "deep", features: [] } });
  const answer = async (obs: string): Promise<unknown> => {
    const file = write(tmp(), "lines", `${hello}\n{"id":1,"ok":true,"obs":${obs}}\nsentinel: not JSON\n`);
    const mm = layers.find((l) => l.name === "mm")!;
    const engine = await StdioEngine.start(
      mm,
      mm.defaultGeometry,
      `exec /bin/sh test/fixtures/replay-lines.sh ${file}`,
    );
    try {
      return await engine.apply({ op: "spawn" }).then(
        () => "accepted",
        (e: Error) => e,
      );
    } finally {
      await engine.close();
    }
  };
  // an answer that is none of the layer's observations is quoted as an excerpt: whole, one nested 100,000 deep would
  // overflow JSON.stringify's stack, and a 5 MB one would make a 5 MB message
  test("is a protocol failure whose message quotes a bounded excerpt", async () => {
    for (const obs of [`${"[".repeat(100_000)}1${"]".repeat(100_000)}`, JSON.stringify({ x: "\u001b".repeat(5e6) })]) {
      const e = await answer(obs);
      expect(e).toBeInstanceOf(EngineFailure);
      expect((e as EngineFailure).kind).toBe("protocol");
      expect((e as EngineFailure).message.length).toBeLessThan(2000);
    }
  });
});

// ---- the standing test: malformed traces and protocol lines, generated from valid ones

const SEED = 15;
/** Library-path traces (replay's own functions), traces through `main` (replay and minimize), protocol lines. */
const COUNTS = { library: 9000, replay: 300, minimize: 100, protocol: 600 };
/**
 * Bounds: per case (a hang, not a speed: generous, so that a loaded machine passes), and on the heap's growth over
 * the whole run.
 */
const MAX_CASE_MS = 30_000;
const MAX_HEAP_GROWTH = 256 << 20;

/** A value too large or too deep to build and stringify as a plain value: put into the text as it is serialized. */
class Raw {
  constructor(
    readonly what: string,
    readonly text: () => string,
  ) {}
}

/** JSON text of a value whose Raw parts are spliced in as text. */
function serialize(value: unknown): string {
  const raws: Raw[] = [];
  const text = JSON.stringify(value, (_k, v) => (v instanceof Raw ? `\u0001raw${raws.push(v) - 1}\u0001` : v));
  return text.replace(/"\\u0001raw(\d+)\\u0001"/g, (_, i) => raws[Number(i)].text());
}

/** Each Raw's text is made once. */
const made = new Map<string, string>();
const raw = (what: string, text: () => string): Raw =>
  new Raw(what, () => {
    let t = made.get(what);
    if (t === undefined) {
      t = text();
      made.set(what, t);
    }
    return t;
  });
const deep = (n: number, array: boolean): Raw =>
  raw(`nested ${n} ${array}`, () =>
    array ? `${"[".repeat(n)}0${"]".repeat(n)}` : `${'{"a":'.repeat(n)}0${"}".repeat(n)}`,
  );
const long = (n: number, unit: string): Raw => raw(`string ${n} ${unit}`, () => JSON.stringify(unit.repeat(n)));
const wide = (n: number, object: boolean): Raw =>
  raw(`wide ${n} ${object}`, () =>
    object
      ? `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",")}}`
      : `[${Array.from({ length: n }, (_, i) => i).join(",")}]`,
  );

const nastyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom(
    "",
    "\u0000",
    "\u001b[2J\u001b]0;x\u0007",
    "\u2028\u2029",
    "\ud800",
    "\udfff",
    "*/`\u0024{'\"\\",
    "\u009b31m",
    "\r\n",
    "../../etc/passwd",
    `${VOID}../x`,
    `${VOID}a\u0000`,
    `${VOID}${"a".repeat(256)}`,
    "a".repeat(255),
    "a".repeat(256),
    "__proto__",
    "constructor",
    "sqlite",
    "postgres",
  ),
  fc.string({
    unit: fc.constantFrom("\u0000", "\u001b", "\u2028", "\ud800", "a", "é", "😀", "/", ".."),
    maxLength: 40,
  }),
);
const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 31,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 24 + 1,
  1e21,
  1e-7,
  0.5,
  -0,
  -1,
  1e300,
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(null, true, false, 0, 1, -1, 2, "", [], {}, [1], { op: "spawn" }) },
  { weight: 4, arbitrary: fc.oneof(hugeNumber, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
  { weight: 4, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.tuple(fc.constantFrom(300, 5000, 70_000), fc.constantFrom("a", "\u001b", "é", "\ud800", "a/", "\u2028")),
        fc.constant([1_000_000, "a"] as const),
      )
      .map(([n, u]) => long(n, u)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(10, 63, 64, 65, 1000, 5000, 100_000), fc.boolean()).map(([n, a]) => deep(n, a)),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(1000, 20_000), fc.boolean()).map(([n, o]) => wide(n, o)) },
);

/** One mutation of a trace; `at` picks a node (any value in the trace, envelope included) modulo their number. */
type Mutation =
  | { kind: "replace"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "add"; at: number; key: string; value: unknown }
  | { kind: "foreign-op"; at: number; from: number }
  | { kind: "flavour"; at: number; which: number }
  | { kind: "envelope"; field: string; value: unknown }
  | { kind: "expected"; values: unknown[] }
  | { kind: "long-trace"; times: number }
  | { kind: "text"; cut: number; garbage: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: anyValue }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      at: fc.nat(),
      key: fc.oneof(nastyString, fc.constantFrom("op", "flavour", "extra", "x")),
      value: anyValue,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("foreign-op" as const), at: fc.nat(), from: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("flavour" as const), at: fc.nat(), which: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("envelope" as const),
      field: fc.constantFrom("cowcheck", "layer", "geometry", "features", "seed", "ops", "expected", "note", "extra"),
      value: anyValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("expected" as const), values: fc.array(anyValue, { maxLength: 4 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("long-trace" as const), times: fc.integer({ min: 2, max: 20 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("text" as const),
      cut: fc.nat(),
      garbage: fc.constantFrom("", "\u0000", "}", "\uffff", "\ufeff", "{", "]]", "\ud800", "null"),
    }),
  },
);

/** A deep copy of a (shallow) value, Raw parts shared: inputs are mutated in place, the pools never. */
const copy = (v: unknown): unknown =>
  v instanceof Raw || typeof v !== "object" || v === null
    ? v
    : Array.isArray(v)
      ? v.map(copy)
      : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));

/** Set a key as an own property, "__proto__" included. */
const put = (o: Record<string, unknown> | unknown[], key: string | number, value: unknown): void =>
  void Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });

/** Every [container, key] of a JSON tree, walked without recursion (Raw parts are leaves). */
function slots(root: object): [Record<string, unknown> | unknown[], string | number][] {
  const all: [Record<string, unknown> | unknown[], string | number][] = [];
  const stack: object[] = [root];
  while (stack.length) {
    const v = stack.pop()!;
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) {
      all.push([v as Record<string, unknown>, k]);
      if (typeof x === "object" && x !== null && !(x instanceof Raw)) stack.push(x);
    }
  }
  return all;
}

/** Ops of the other mvcc flavour, and flavour flips. */
const otherFlavour = [
  { op: "checkpoint", mode: "passive" },
  { op: "checkpoint", mode: "truncate" },
  { op: "vacuum" },
  { op: "begin", tx: 1, level: "rc" },
  { op: "begin", tx: 2, level: "deferred" },
  { op: "begin", tx: 1, level: "immediate", readOnly: true },
];

interface Source {
  readonly trace: Record<string, unknown>;
}

/** The text of a mutated trace, and what was done to it (for the counts). */
function mutate(
  source: Source,
  muts: readonly Mutation[],
  foreign: readonly unknown[],
): { text: string; kind: string; json: boolean } {
  const t = copy(source.trace) as Record<string, unknown> & { ops: unknown[] };
  let cut: { at: number; garbage: string } | undefined;
  for (const m of muts) {
    const ops = Array.isArray(t.ops) ? t.ops : undefined;
    switch (m.kind) {
      case "replace": {
        const all = slots(t);
        if (!all.length) break;
        const [parent, key] = all[m.at % all.length];
        put(parent, key, copy(m.value));
        break;
      }
      case "delete": {
        const all = slots(t);
        if (!all.length) break;
        const [parent, key] = all[m.at % all.length];
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      }
      case "add": {
        const objects = slots(t)
          .map(([p, k]) => (p as Record<string, unknown>)[k])
          .filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v));
        const target = [t, ...objects].filter((o) => !(o instanceof Raw));
        put(target[m.at % target.length], m.key, copy(m.value));
        break;
      }
      case "foreign-op":
        if (ops?.length) ops[m.at % ops.length] = copy(foreign[m.from % foreign.length]);
        break;
      case "flavour":
        if (m.which % 4 === 3) t.geometry = { ...(t.geometry as object), flavour: "sqlite" };
        else if (m.which % 4 === 2) t.geometry = { ...(t.geometry as object), flavour: "postgres" };
        else if (ops) ops.splice(m.at % (ops.length + 1), 0, copy(otherFlavour[m.which % otherFlavour.length]));
        break;
      case "envelope":
        t[m.field] = copy(m.value);
        break;
      case "expected":
        t.expected = copy(m.values);
        break;
      case "long-trace":
        // of small ops only: a long string or a deep value repeated would only test the machine's memory
        if (ops && !slots(ops).some(([p, k]) => (p as Record<string, unknown>)[k] instanceof Raw))
          t.ops = Array.from({ length: m.times }, () => ops).flat();
        break;
      case "text":
        cut = { at: m.cut, garbage: m.garbage };
        break;
    }
  }
  let text = serialize(t);
  if (cut) {
    const at = cut.at % (text.length + 1);
    text = text.slice(0, at) + cut.garbage + (cut.at % 2 ? text.slice(at) : "");
  }
  return { text, kind: muts.length ? muts[0].kind : "valid", json: cut === undefined };
}

/** Valid traces of every layer and flavour: generated by the campaign's own arbitrary, and the committed ones. */
function validSources(): Source[] {
  const sources: Source[] = [];
  for (const layer of layers) {
    for (const flavour of [undefined, ...(layer.flavours ?? []).map((f) => f.name)]) {
      const geometry = resolveGeometry(layer, { flavour });
      const features = layer.model(geometry).features;
      const seqs = fc.sample(sequenceArbitrary(layer, geometry, features, 10), { seed: SEED, numRuns: 25 });
      for (const ops of seqs) sources.push({ trace: { cowcheck: 1, layer: layer.name, geometry, features: [], ops } });
    }
  }
  const files = [
    "test/fixtures/seed-article.trace.json",
    ...readdirSync("traces", { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".json"))
      .map((f) => join("traces", f)),
  ];
  for (const f of files) sources.push({ trace: JSON.parse(readFileSync(f, "utf8")) });
  return sources;
}

/** A heap measure after a full collection, where one can be had. */
const gc = ((): (() => void) | undefined => {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
})();
const heapUsed = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed;
};

interface Tally {
  readonly byKind: Map<string, Map<string, number>>;
  readonly uncaught: string[];
  maxMs: number;
  slowest: string;
  cases: number;
  maxStderr: number;
  maxStdout: number;
}
const tally = (): Tally => ({
  byKind: new Map(),
  uncaught: [],
  maxMs: 0,
  slowest: "",
  cases: 0,
  maxStderr: 0,
  maxStdout: 0,
});
function count(t: Tally, kind: string, outcome: string, ms: number, what: string): void {
  const m = t.byKind.get(kind) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  t.byKind.set(kind, m);
  t.cases++;
  if (ms > t.maxMs) {
    t.maxMs = ms;
    t.slowest = what;
  }
}
const summary = (name: string, t: Tally): string =>
  [
    `${name}: ${t.cases} inputs, slowest ${t.maxMs.toFixed(0)} ms (${t.slowest.slice(0, 80)})` +
      (t.maxStderr ? `, longest stderr ${t.maxStderr} chars, longest stdout ${t.maxStdout} chars` : ""),
    ...[...t.byKind]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, m]) => `  ${k.padEnd(12)} ${[...m].map(([o, n]) => `${o}: ${n}`).join(", ")}`),
  ].join("\n");

describe("the standing test: malformed input, generated with a fixed seed", () => {
  const report: string[] = [];
  const models = new Map<string, EngineFactory>();
  let sources: Source[];
  let foreign: unknown[];
  let dir: string;

  beforeAll(async () => {
    sources = validSources();
    foreign = sources.flatMap((s) => (Array.isArray(s.trace.ops) ? s.trace.ops.slice(0, 6) : []));
    for (const l of layers) models.set(l.name, await resolveEngine(l, "model"));
    dir = tmp();
  });
  afterAll(async () => {
    for (const f of models.values()) await f.dispose?.();
    // the counts, for whoever reads the test's output
    process.stdout.write(`\n${report.join("\n")}\n`);
  });

  const cases = (n: number, seed: number) =>
    fc.sample(
      fc.tuple(
        fc.nat(),
        fc.oneof(
          { weight: 1, arbitrary: fc.constant([]) }, // a valid trace: a legitimate verdict
          { weight: 12, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
        ),
      ),
      { seed, numRuns: n },
    );

  test(`${COUNTS.library} traces through replay's and minimize's own functions (validateTrace or loadTrace, replayTrace, minimizeTrace)`, async () => {
    const t = tally();
    const file = join(dir, "library.json");
    const before = heapUsed();
    let peak = before;
    let minimized = 0;
    // in batches, so that no more than a batch of cases is held at once
    for (let b = 0; b < Math.ceil(COUNTS.library / 500); b++) {
      for (const [pick, muts] of cases(500, SEED + b)) {
        const { text, kind, json } = mutate(sources[pick % sources.length], muts, foreign);
        // what `replay` does: the text as JSON (a file, for text that may not be JSON), validated
        if (!json) writeFileSync(file, text);
        const start = performance.now();
        let outcome: string;
        try {
          const { layer, trace } = json ? validateTrace(JSON.parse(text), file) : loadTrace(file);
          const factory = models.get(layer.name)!;
          const failure = await replayTrace(layer, trace, factory);
          outcome = failure ? `exit 1 (${failure.property})` : "exit 0";
          // minimize's path on a sample of the valid ones
          if (t.cases % 8 === 0) {
            const r = await minimizeTrace(layer, trace, factory);
            minimized++;
            outcome += ` (minimize: ${r.kind})`;
          }
        } catch (e) {
          if (e instanceof InputError) outcome = "exit 2";
          else if (e instanceof EngineFailure) outcome = `exit 3 (${e.kind})`;
          else {
            outcome = "uncaught";
            t.uncaught.push(`${kind}: ${(e as Error).stack?.slice(0, 300)} for ${text.slice(0, 200)}`);
          }
        }
        count(t, kind, outcome.replace(/ \(minimize: .*\)/, ""), performance.now() - start, text);
        if (t.cases % 100 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    }
    const growth = heapUsed() - before;
    report.push(
      `${summary("traces, library path", t)}\n  (minimizeTrace ran on ${minimized} of them)\n  heap: ${(before / 2 ** 20).toFixed(0)} MB before, peak ${(peak / 2 ** 20).toFixed(0)} MB, growth ${(growth / 2 ** 20).toFixed(1)} MB (gc ${gc ? "exposed" : "not exposed"})`,
    );
    expect(t.uncaught).toEqual([]);
    const outcomes = new Set([...t.byKind.values()].flatMap((m) => [...m.keys()]));
    for (const o of outcomes) expect(o).toMatch(/^exit [012]\b/);
    expect(t.maxMs).toBeLessThan(MAX_CASE_MS);
    expect(growth).toBeLessThan(MAX_HEAP_GROWTH);
    expect(t.cases).toBe(COUNTS.library);
  });

  test(`${COUNTS.replay} traces through \`cowcheck replay\` and ${COUNTS.minimize} through \`cowcheck minimize\` (main, in process)`, async () => {
    const t = tally();
    const n = COUNTS.replay + COUNTS.minimize;
    for (const [i, [pick, muts]] of cases(n, SEED + 1000).entries()) {
      const { text, kind } = mutate(sources[pick % sources.length], muts, foreign);
      const file = write(dir, `main-${i}.json`, text);
      const command = i < COUNTS.replay ? "replay" : "minimize";
      const args = command === "replay" ? [file, "--quiet"] : [file, "--out", join(dir, `main-${i}.min.json`)];
      out.length = 0;
      err.length = 0;
      const start = performance.now();
      let code: number | string;
      try {
        code = await main([command, ...args]);
      } catch (e) {
        code = "uncaught";
        t.uncaught.push(`${command} ${kind}: ${(e as Error).stack?.slice(0, 300)}`);
      }
      count(t, `${command} ${kind}`, `exit ${code}`, performance.now() - start, text);
      t.maxStderr = Math.max(t.maxStderr, stderr().length);
      t.maxStdout = Math.max(t.maxStdout, out.join("\n").length);
      if (code === 2) expect(stderr()).not.toMatch(CONTROL);
      expect(stderr().length, `stderr of ${command} on ${text.slice(0, 200)}`).toBeLessThan(2000);
    }
    report.push(summary("traces, cowcheck replay / minimize", t));
    expect(t.uncaught).toEqual([]);
    const outcomes = new Set([...t.byKind.values()].flatMap((m) => [...m.keys()]));
    for (const o of outcomes) expect(["exit 0", "exit 1", "exit 2"]).toContain(o);
    expect(t.maxMs).toBeLessThan(MAX_CASE_MS);
  });

  test(`${COUNTS.protocol} protocol lines through the stdio client, from a program that says them`, async () => {
    const t = tally();
    // a valid hello, op, answer and inspect state per layer, to mutate
    const pool = layers.flatMap((layer) => {
      const geometry = resolveGeometry(layer, {});
      const seqs = fc.sample(sequenceArbitrary(layer, geometry, layer.model(geometry).features, 12), {
        seed: SEED,
        numRuns: 10,
      });
      return seqs
        .filter((seq) => seq.length > 0)
        .map((seq) => {
          const model = layer.model(geometry);
          const op = seq[0];
          const obs = model.apply(op);
          const state = model.inspect?.();
          const json =
            layer.name === "mm" ? encodeMmState(state as MmState) : JSON.parse(JSON.stringify(state ?? null));
          return { layer, geometry, op, obs, state: json };
        });
    });
    type Stage = "hello" | "reply" | "inspect" | "raw";
    const raw = fc.oneof(
      nastyString,
      fc.constantFrom(
        "",
        "   ",
        "{",
        '{"id":1,"ok":true,"obs":{"pid":1}}{"id":2}',
        '{"id":1,"ok":true,"obs":{"pid":1}',
        "null",
        "[]",
        '"hello"',
        "\u0000\u0000",
        '{"hello":null}',
        '{"id":1e400,"ok":true}',
      ),
      fc.constantFrom(70_000, 1_000_000).map((n) => "x".repeat(n)), // beyond the client's line limit below
    );
    const protoCases = fc.sample(
      fc.tuple(
        fc.constantFrom<Stage>("hello", "reply", "reply", "inspect", "raw"),
        fc.nat(),
        fc.array(
          mutation.filter((m) => m.kind !== "long-trace"),
          { minLength: 1, maxLength: 2 },
        ),
        raw,
        fc.boolean(),
      ),
      { seed: SEED + 2000, numRuns: COUNTS.protocol },
    );
    const bad = (x: unknown): unknown => x; // the stages below mutate the message as a "trace"
    let maxMessage = 0;
    // the client's bounds: lines up to 64 KiB; every line is there at once, so no case waits for the timeouts
    const options = { timeoutMs: 20_000, startTimeoutMs: 20_000, maxLineLength: 1 << 16 };
    const runOne = async (worker: number, [stage, pick, muts, rawLine, invalidUtf8]: (typeof protoCases)[number]) => {
      const p = pool[pick % pool.length];
      const hello = { hello: { protocol: 1, layer: p.layer.name, name: "malformed", features: ["inspect"] } };
      const answer = { id: 1, ok: true, obs: p.obs };
      const inspect = { id: 2, ok: true, state: p.state };
      const message = stage === "hello" ? hello : stage === "reply" ? answer : inspect;
      const mutated =
        stage === "raw" ? rawLine : mutate({ trace: bad(message) as Record<string, unknown> }, muts, foreign).text;
      const lines = stage === "hello" || stage === "raw" ? [mutated] : [JSON.stringify(hello), JSON.stringify(answer)];
      if (stage === "reply") lines[1] = mutated;
      if (stage === "inspect") lines.push(mutated);
      // after the lines the client asked for, one it must refuse if it reads it (a blank line is no answer)
      const bytes = [Buffer.from(`${lines.join("\n")}\n`), Buffer.from("sentinel: not JSON\n")];
      if (stage === "raw" && invalidUtf8) bytes.unshift(Buffer.from([0xff, 0xfe, 0xc3, 0x0a]));
      const file = join(dir, `lines-${worker}`);
      writeFileSync(file, Buffer.concat(bytes));
      const start = performance.now();
      let outcome: string;
      let engine: StdioEngine | undefined;
      try {
        engine = await StdioEngine.start(
          p.layer,
          p.geometry,
          `exec /bin/sh test/fixtures/replay-lines.sh ${file}`,
          options,
        );
        if (stage !== "hello" && stage !== "raw") await engine.apply(p.op);
        if (stage === "inspect") await engine.inspect();
        outcome = "accepted";
      } catch (e) {
        if (e instanceof EngineFailure) {
          outcome = `engine failure (${e.kind})`;
          maxMessage = Math.max(maxMessage, e.message.length);
        } else {
          outcome = "uncaught";
          t.uncaught.push(`${stage}: ${(e as Error).stack?.slice(0, 300)} for ${mutated.slice(0, 200)}`);
        }
      } finally {
        await engine?.close();
      }
      count(t, stage, outcome, performance.now() - start, mutated);
    };
    // several programs at once: each mostly waits for its process
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        while (next < protoCases.length) await runOne(worker, protoCases[next++]);
      }),
    );
    report.push(`${summary("protocol lines, stdio client", t)}\n  longest engine failure message: ${maxMessage} chars`);
    expect(t.uncaught).toEqual([]);
    const outcomes = new Set([...t.byKind.values()].flatMap((m) => [...m.keys()]));
    for (const o of outcomes) expect(["accepted", "engine failure (protocol)", "engine failure (error)"]).toContain(o);
    expect(t.maxMs).toBeLessThan(MAX_CASE_MS);
    expect(t.cases).toBe(COUNTS.protocol);
  });
});
