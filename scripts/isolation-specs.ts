// PostgreSQL's isolation specs (src/test/isolation/specs/*.spec, with expected/*.out) as mvcc traces.
//
//   npx tsx scripts/isolation-specs.ts <src/test/isolation> [--out traces/mvcc/isolation] [--source "<where from>"]
//
// <src/test/isolation> is a PostgreSQL source tree's folder (specs/ and expected/ in it), or one folder holding the
// .spec and .out files side by side. Every spec is parsed as isolationtester's grammar reads it (specparse.y,
// specscanner.l); every permutation its .out shows whose SQL the mvcc vocabulary says exactly (docs/mvcc.md) becomes a
// trace, `<spec>.<n>.trace.json` (n counts the .out's permutations from 1), and the README lists every spec, translated
// or not, with the reasons.
//
// The observations come from the .out, never from a model: query results, ERROR lines (their message mapped to the
// SQLSTATE), `<waiting ...>` (blocked) and `<... completed>` (in the `unblocked` of the op that woke it). Where the
// .out cannot give an op's observation (isolationtester prints no row count for UPDATE or DELETE, for one), that op is
// left unrecorded. A trace's `expected` can only be a prefix of its ops, so it holds the observations up to the first
// unrecorded op, and `<spec>.<n>.expected.jsonl` holds them all, a line an op: {"op","obs"} or {"op","unrecorded"}.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { formatTrace, type Trace } from "../core/index.ts";
import type { MvccGeometry, MvccObs, MvccOp, MvccResult, PgLevel, SqlState } from "../models/mvcc/types.ts";

// ---------------------------------------------------------------- the spec file (specscanner.l, specparse.y)

interface Step {
  readonly name: string;
  readonly sql: string;
  readonly session: number;
}
interface Session {
  readonly name: string;
  readonly setup?: string;
  readonly steps: Step[];
  readonly teardown?: string;
}
/** A permutation entry: a step, and its blocking markers ("*", a step name, or "<step> notices <n>"). */
interface PermStep {
  readonly name: string;
  readonly markers: string[];
}
interface Spec {
  readonly setups: string[];
  readonly teardown?: string;
  readonly sessions: Session[];
  readonly permutations: PermStep[][];
}

type Token =
  | { t: "kw"; v: "setup" | "teardown" | "session" | "step" | "permutation" | "notices" }
  | { t: "id"; v: string }
  | { t: "sql"; v: string }
  | { t: "int"; v: number }
  | { t: "punct"; v: string };

const keywords = new Set(["setup", "teardown", "session", "step", "permutation", "notices"]);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "#") while (i < text.length && text[i] !== "\n") i++;
    else if (c === "{") {
      // the block runs to the first "}"; leading and trailing whitespace trimmed, as the scanner does
      const end = text.indexOf("}", i);
      if (end < 0) throw new Error("unterminated sql block");
      out.push({
        t: "sql",
        v: text
          .slice(i + 1, end)
          .replace(/^[ \t\r\f]+/, "")
          .replace(/[ \t\r\f]+$/, ""),
      });
      i = end + 1;
    } else if (c === '"') {
      let v = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new Error("unterminated quoted identifier");
        if (text[i] === '"' && text[i + 1] === '"') {
          v += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else v += text[i++];
      }
      out.push({ t: "id", v });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(text.slice(i))![0];
      out.push({ t: "int", v: Number(m) });
      i += m.length;
    } else if (/[A-Za-z_\x80-\xff]/.test(c)) {
      const m = /^[A-Za-z_\x80-\xff][A-Za-z_\x80-\xff0-9$]*/.exec(text.slice(i))![0];
      out.push(keywords.has(m) ? ({ t: "kw", v: m } as Token) : { t: "id", v: m });
      i += m.length;
    } else if (",()*".includes(c)) {
      out.push({ t: "punct", v: c });
      i++;
    } else throw new Error(`unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}

function parseSpec(text: string): Spec {
  const toks = tokenize(text);
  let p = 0;
  const peek = () => toks[p];
  const isKw = (v: string) => peek()?.t === "kw" && peek()!.v === v;
  const sql = (): string => {
    const tok = toks[p++];
    if (tok?.t !== "sql") throw new Error(`expected an SQL block at token ${p}`);
    return tok.v;
  };
  const ident = (): string => {
    const tok = toks[p++];
    if (tok?.t !== "id") throw new Error(`expected an identifier at token ${p}`);
    return tok.v;
  };
  const setups: string[] = [];
  while (isKw("setup")) {
    p++;
    setups.push(sql());
  }
  let teardown: string | undefined;
  if (isKw("teardown")) {
    p++;
    teardown = sql();
  }
  const sessions: Session[] = [];
  while (isKw("session")) {
    p++;
    const name = ident();
    let setup: string | undefined;
    if (isKw("setup")) {
      p++;
      setup = sql();
    }
    const steps: Step[] = [];
    while (isKw("step")) {
      p++;
      const stepName = ident();
      steps.push({ name: stepName, sql: sql(), session: sessions.length });
    }
    if (!steps.length) throw new Error(`session ${name} has no steps`);
    let td: string | undefined;
    if (isKw("teardown")) {
      p++;
      td = sql();
    }
    sessions.push({ name, setup, steps, teardown: td });
  }
  if (!sessions.length) throw new Error("no sessions");
  const permutations: PermStep[][] = [];
  while (isKw("permutation")) {
    p++;
    const perm: PermStep[] = [];
    while (peek()?.t === "id") {
      const name = ident();
      const markers: string[] = [];
      if (peek()?.t === "punct" && peek()!.v === "(") {
        p++;
        for (;;) {
          const tok = toks[p++];
          if (tok?.t === "punct" && tok.v === "*") markers.push("*");
          else if (tok?.t === "id") {
            if (isKw("notices")) {
              p++;
              const n = toks[p++];
              markers.push(`${tok.v} notices ${n?.t === "int" ? n.v : "?"}`);
            } else markers.push(tok.v);
          } else throw new Error(`bad marker in permutation at token ${p}`);
          const sep = toks[p++];
          if (sep?.t === "punct" && sep.v === ")") break;
          if (!(sep?.t === "punct" && sep.v === ",")) throw new Error(`expected , or ) at token ${p}`);
        }
      }
      perm.push({ name, markers });
    }
    if (!perm.length) throw new Error("empty permutation");
    permutations.push(perm);
  }
  if (p !== toks.length) throw new Error(`unexpected token ${JSON.stringify(toks[p])}`);
  return { setups, teardown, sessions, permutations };
}

// ---------------------------------------------------------------- the .out file (isolationtester.c)

/** A result set as PQprint shows it: column names, and each row's fields as text. */
interface ResultSet {
  readonly cols: string[];
  readonly rows: string[][];
}
type Printed = { table: ResultSet } | { error: string };
type Event =
  | { kind: "launch"; step: string; waiting: boolean; printed: Printed[] }
  | { kind: "complete"; step: string; printed: Printed[] };
interface OutPermutation {
  readonly names: string[];
  /** What the setups printed (a SELECT in a setup block), before the first step. */
  readonly preamble: Printed[];
  readonly events: Event[];
  /** Lines the parser could not place: a permutation with any is not translated. */
  readonly strange: string[];
}

const noticeLine = /^[^\s:]+: (NOTICE|WARNING|INFO|LOG|DEBUG\d?):/;
const detailLine = /^(DETAIL|HINT|CONTEXT|QUERY|LINE \d+):/;

/** The printed results from `lines[i]` on, up to the next step or the end: tables (PQprint, aligned) and errors. */
function printedFrom(lines: string[], i: number, strange: string[]): { printed: Printed[]; next: number } {
  const printed: Printed[] = [];
  while (i < lines.length && !lines[i]!.startsWith("step ")) {
    const line = lines[i]!;
    if (i + 1 < lines.length && /^-+(\+-+)*$/.test(lines[i + 1]!)) {
      const cols = line.split("|").map((c) => c.trim());
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && !/^\(\d+ rows?\)$/.test(lines[i]!))
        rows.push(lines[i++]!.split("|").map((c) => c.trim()));
      i++;
      printed.push({ table: { cols, rows } });
    } else if (line === "" || noticeLine.test(line) || detailLine.test(line) || /^\s/.test(line)) i++;
    else if (line.startsWith("ERROR:  ")) {
      printed.push({ error: line.slice("ERROR:  ".length) });
      i++;
    } else {
      strange.push(line);
      i++;
    }
  }
  return { printed, next: i };
}

function parseOut(text: string, spec: Spec): OutPermutation[] {
  const steps = new Map(spec.sessions.flatMap((s) => s.steps).map((s) => [s.name, s]));
  const blocks = text.split(/^starting permutation: /m).slice(1);
  return blocks.map((block) => {
    const nl = block.indexOf("\n");
    const names = block.slice(0, nl).trim().split(/\s+/);
    const body = block.slice(nl + 1);
    const strange: string[] = [];
    const events: Event[] = [];
    // step SQL can span lines: find each launch by its exact text
    let pos = 0;
    const lineEnd = (at: number) => {
      const e = body.indexOf("\n", at);
      return e < 0 ? body.length : e;
    };
    const linesFrom = (at: number) => body.slice(at).split("\n");
    let preamble: Printed[] = [];
    {
      const first = body.search(/^step /m);
      const head = body.slice(0, first < 0 ? body.length : first).split("\n");
      preamble = printedFrom(head, 0, strange).printed;
      pos = first < 0 ? body.length : first;
    }
    let launched = 0;
    while (pos < body.length) {
      const completed = /^step ([^:\n]+): <\.\.\. completed>\n/.exec(body.slice(pos));
      let event: Event;
      let after: number;
      if (completed) {
        after = pos + completed[0].length;
        event = { kind: "complete", step: completed[1]!, printed: [] };
      } else {
        const name = names[launched];
        const step = name === undefined ? undefined : steps.get(name);
        const head = step ? `step ${step.name}: ${step.sql}` : undefined;
        if (!step || !head || !body.startsWith(head, pos)) {
          strange.push(body.slice(pos, lineEnd(pos)));
          break;
        }
        launched++;
        const rest = body.slice(pos + head.length, lineEnd(pos + head.length));
        if (rest !== "" && rest !== " <waiting ...>") {
          strange.push(body.slice(pos, lineEnd(pos + head.length)));
          break;
        }
        after = lineEnd(pos + head.length) + 1;
        event = { kind: "launch", step: step.name, waiting: rest !== "", printed: [] };
      }
      const lines = linesFrom(after);
      const { printed, next } = printedFrom(lines, 0, strange);
      event.printed.push(...printed);
      events.push(event);
      pos = after + lines.slice(0, next).reduce((n, l) => n + l.length + 1, 0);
    }
    if (launched !== names.length) strange.push(`${names.length - launched} step(s) of the permutation not found`);
    return { names, preamble, events, strange };
  });
}

// ---------------------------------------------------------------- SQL the vocabulary says

/** Why something is not translated: a category (the README groups by it) and where. */
class Untranslatable extends Error {
  constructor(
    readonly category: string,
    readonly detail: string,
  ) {
    super(`${category}: ${detail}`);
  }
}
const refuse = (category: string, detail: string): never => {
  throw new Untranslatable(category, detail);
};

type Lit = { int: number } | { str: string } | { null: true };
const litKey = (l: Lit): string => ("int" in l ? `i${l.int}` : "str" in l ? `s${l.str}` : "null");

/** The spec's table, as t(k, v): its name, its columns, which is the key and which (if any) the value. */
interface Table {
  readonly name: string;
  readonly cols: string[];
  readonly key: number;
  readonly value?: number;
  readonly keyType: "int" | "text";
  readonly valueType?: "int" | "text";
}

type Stmt =
  | { s: "begin"; level: PgLevel; readOnly: boolean }
  | { s: "commit" }
  | { s: "abort" }
  | { s: "vacuum" }
  /** keys: the one key of a read, the keys of a scan, or every key; agg: an aggregate's text (no rows to compare). */
  | { s: "select"; keys: Lit[] | "all"; range?: [Lit, Lit]; agg?: string }
  | { s: "insert"; key: Lit; value?: Lit; returning: boolean }
  | { s: "update"; key: Lit; set: { value: Lit } | { add: number }; returning: boolean }
  | { s: "delete"; key: Lit; returning: boolean }
  /** A write by predicate: every key, or a BETWEEN of keys, and with `eq` only the rows of that value. */
  | { s: "updateWhere"; keys: "all" | [Lit, Lit]; eq?: Lit; set: { value: Lit } | { add: number }; returning: boolean }
  | { s: "deleteWhere"; keys: "all" | [Lit, Lit]; eq?: Lit; returning: boolean };

const prints = (st: Stmt): boolean => st.s === "select" || ("returning" in st && st.returning);

/** Split an SQL string into statements (on ; outside quotes), comments removed, whitespace collapsed. */
function statements(sql: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      cur += c;
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      cur += " ";
    } else if (c === "$" && /^\$[A-Za-z_]*\$/.test(sql.slice(i))) {
      // a dollar-quoted body: kept whole (no statement the vocabulary has contains one)
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end < 0 ? sql.length : end + tag.length;
      cur += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === ";") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out.map((x) => x.replace(/\s+/g, " ").trim()).filter((x) => x !== "");
}

/** Split on commas outside parentheses and quotes. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = "";
  for (const c of text) {
    if (c === "'") quoted = !quoted;
    if (!quoted && c === "(") depth++;
    if (!quoted && c === ")") depth--;
    if (!quoted && depth === 0 && c === ",") {
      parts.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  parts.push(cur.trim());
  return parts;
}

const ident = `("(?:[^"]|"")+"|[A-Za-z_][A-Za-z_0-9$]*)`;
const unquote = (id: string): string => (id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id.toLowerCase());

const outside = "uses SQL outside the vocabulary";
const whereForm = "has a WHERE clause the vocabulary has no form for (only key = K, IN, BETWEEN)";
const valuePredicate = "selects rows by the value column";

function parseLit(text: string, where: string): Lit {
  const t = text
    .trim()
    .replace(/^\((.*)\)$/, "$1")
    .trim();
  if (/^-?\d+$/.test(t)) return { int: Number(t) };
  if (/^'(?:[^']|'')*'$/.test(t)) return { str: t.slice(1, -1).replace(/''/g, "'") };
  if (/^null$/i.test(t)) return { null: true };
  return refuse(
    "computes a value or key (an expression where the vocabulary has a constant)",
    `${where}: ${text.trim()}`,
  );
}

/** Statements no op says, whatever the table: their category. */
const kinds: [RegExp, string][] = [
  [/\bFOR (NO KEY UPDATE|UPDATE|KEY SHARE|SHARE)\b/, "uses SELECT … FOR UPDATE / FOR SHARE row locks"],
  [/PG_(TRY_)?ADVISORY/, "uses advisory locks"],
  [/^(SAVEPOINT|ROLLBACK TO|RELEASE)\b/, "needs savepoints"],
  [/^LOCK\b/, "uses LOCK TABLE"],
  [/^(PREPARE TRANSACTION|COMMIT PREPARED|ROLLBACK PREPARED)\b/, "uses prepared transactions (two-phase commit)"],
  [/\bON CONFLICT\b/, "uses INSERT … ON CONFLICT"],
  [/\bMERGE\b/, "uses MERGE"],
  [/^(NOTIFY|LISTEN|UNLISTEN)\b|PG_NOTIFY/, "uses LISTEN/NOTIFY"],
  [/^(SET|RESET|SHOW)\b|SET_CONFIG\(/, "uses session settings (SET)"],
  [/\bDEFERRABLE\b/, "uses SERIALIZABLE READ ONLY DEFERRABLE"],
  [/\bREAD UNCOMMITTED\b/, "uses READ UNCOMMITTED"],
  [
    /^(CREATE|DROP|ALTER|REINDEX|CLUSTER|TRUNCATE|GRANT|REVOKE|COMMENT|REFRESH|DISCARD|CHECKPOINT)\b/,
    "runs DDL or other utility commands in a step",
  ],
  [/^(VACUUM|ANALYZE) ?\(|^VACUUM (FULL|FREEZE|ANALYZE|VERBOSE)\b|^ANALYZE\b/, "runs VACUUM with options, or ANALYZE"],
  [/^(COPY|DO|CALL|EXECUTE|PREPARE|DEALLOCATE|DECLARE|FETCH|CLOSE|MOVE|EXPLAIN)\b/, outside],
  [/^WITH\b/, "uses a WITH query (CTE)"],
  [
    /\b(PG_SLEEP|PG_CANCEL_BACKEND|PG_TERMINATE_BACKEND|TXID_|PG_CURRENT_XACT_ID|PG_STAT|PG_LOCKS|PG_CLASS|PG_TABLE_SIZE)/,
    "calls server functions or reads catalogs",
  ],
];
function kindOf(stmt: string): string | undefined {
  const u = stmt.toUpperCase();
  return kinds.find(([re]) => re.test(u))?.[1];
}

/** A statement as an op of the vocabulary, on the spec's table; refused with the reason otherwise. */
function parseStmt(stmt: string, table: Table | undefined, where: string): Stmt {
  const at = `${where}: ${stmt}`;
  const kind = kindOf(stmt);
  if (kind) return refuse(kind, at);
  const u = stmt.toUpperCase();
  let m: RegExpExecArray | null = /^(BEGIN|START TRANSACTION)( TRANSACTION| WORK)?(.*)$/i.exec(stmt);
  if (m) {
    let level: PgLevel = "rc";
    let readOnly = false;
    for (const mode of m[3]!.split(",").map((x) => x.trim().toUpperCase())) {
      if (mode === "" || mode === "READ WRITE" || mode === "NOT DEFERRABLE") continue;
      if (mode === "ISOLATION LEVEL SERIALIZABLE") level = "ser";
      else if (mode === "ISOLATION LEVEL REPEATABLE READ") level = "rr";
      else if (mode === "ISOLATION LEVEL READ COMMITTED") level = "rc";
      else if (mode === "READ ONLY") readOnly = true;
      else return refuse(outside, at);
    }
    return { s: "begin", level, readOnly };
  }
  if (/^(COMMIT|END)( TRANSACTION| WORK)?$/.test(u)) return { s: "commit" };
  if (/^(ROLLBACK|ABORT)( TRANSACTION| WORK)?$/.test(u)) return { s: "abort" };
  if (!table) return refuse(outside, at);
  const tableNamed = (id: string) => {
    if (unquote(id) !== table.name) refuse("uses a second table", at);
  };
  const col = (id: string): "k" | "v" => {
    const i = table.cols.indexOf(unquote(id.replace(/^.*\./, "")));
    if (i === table.key) return "k";
    if (i >= 0 && i === table.value) return "v";
    return refuse(outside, `${at} (column ${id})`);
  };
  /**
   * An UPDATE's or DELETE's rows: key = K; or by predicate, every row (no WHERE), v = C, or k BETWEEN a AND b.
   */
  const rowsOf = (cond: string | undefined): { key: Lit } | { keys: "all" | [Lit, Lit]; eq?: Lit } => {
    if (!cond) return { keys: "all" };
    const between = new RegExp(`^${ident} BETWEEN (\\S+) AND (\\S+)$`, "i").exec(cond.trim());
    if (between && col(between[1]!) === "k")
      return { keys: [parseLit(between[2]!, where), parseLit(between[3]!, where)] };
    const c = new RegExp(`^${ident} = (.+)$`, "i").exec(cond.trim());
    if (c && !/\b(AND|OR)\b|\(/i.test(cond) && col(c[1]!) === "v") return { keys: "all", eq: parseLit(c[2]!, where) };
    return { key: byKey(cond) };
  };
  /** key = K */
  const byKey = (cond: string): Lit => {
    const c = new RegExp(`^${ident} = (.+)$`, "i").exec(cond.trim());
    if (!c || /\b(AND|OR)\b|\(/i.test(cond)) {
      const first = new RegExp(`^${ident}`).exec(cond.trim());
      if (first && table.cols.indexOf(unquote(first[1]!)) === table.value) return refuse(valuePredicate, at);
      return refuse(whereForm, at);
    }
    if (col(c[1]!) !== "k") return refuse(valuePredicate, at);
    return parseLit(c[2]!, where);
  };
  m = /^VACUUM (\S+)$/i.exec(stmt);
  if (m) {
    tableNamed(m[1]!);
    return { s: "vacuum" };
  }
  if (/\(\s*SELECT\b/i.test(stmt)) return refuse("uses a subquery", at);
  if (/^SELECT\b/i.test(stmt)) {
    m = /^SELECT (.+?) FROM (.+?)(?: WHERE (.+?))?(?: ORDER BY (.+?))?$/i.exec(stmt);
    if (!m) return refuse(outside, at);
    const from = m[2]!.trim();
    if (/,|\bJOIN\b/i.test(from)) return refuse("uses a second table (a join)", at);
    const f = new RegExp(`^${ident}(?: (?:AS )?[A-Za-z_]\\w*)?$`, "i").exec(from);
    if (!f) return refuse(outside, at);
    tableNamed(f[1]!);
    const list = m[1]!.trim();
    let agg: string | undefined;
    const a = /^(count|sum|min|max|avg)\s*\(\s*(\*|[\w".]+)\s*\)$/i.exec(list);
    if (a) agg = list;
    else if (/\(|::|\|\||\bcase\b/i.test(list)) return refuse("selects an expression or calls a function", at);
    else if (list !== "*") for (const c of splitTop(list)) col(c);
    if (m[4] && !/^[\w".]+( (ASC|DESC))?(, ?[\w".]+( (ASC|DESC))?)*$/i.test(m[4])) return refuse(outside, at);
    const cond = m[3]?.trim();
    if (!cond) return { s: "select", keys: "all", agg };
    let c = new RegExp(`^${ident} = (.+)$`, "i").exec(cond);
    if (c && !/\b(AND|OR)\b/i.test(cond)) {
      if (col(c[1]!) !== "k") return refuse(valuePredicate, at);
      return { s: "select", keys: [parseLit(c[2]!, where)], agg };
    }
    c = new RegExp(`^${ident} IN \\(([^()]+)\\)$`, "i").exec(cond);
    if (c) {
      if (col(c[1]!) !== "k") return refuse(valuePredicate, at);
      return { s: "select", keys: splitTop(c[2]!).map((x) => parseLit(x, where)), agg };
    }
    c = new RegExp(`^${ident} BETWEEN (\\S+) AND (\\S+)$`, "i").exec(cond);
    if (c) {
      if (col(c[1]!) !== "k") return refuse(valuePredicate, at);
      return { s: "select", keys: [], range: [parseLit(c[2]!, where), parseLit(c[3]!, where)], agg };
    }
    const first = new RegExp(`^${ident}`).exec(cond);
    if (first && table.cols.indexOf(unquote(first[1]!)) === table.value) return refuse(valuePredicate, at);
    return refuse(whereForm, at);
  }
  const ret = / RETURNING .+$/i.exec(stmt);
  const body = ret ? stmt.slice(0, ret.index) : stmt;
  const returning = ret !== null;
  if (/^INSERT\b/i.test(body)) {
    m = new RegExp(`^INSERT INTO ${ident}(?: ?\\(([^)]*)\\))? VALUES ?(\\(.+)$`, "i").exec(body);
    if (!m) {
      if (/^INSERT INTO \S+( ?\([^)]*\))? ?(SELECT|DEFAULT VALUES)\b/i.test(body))
        return refuse("uses INSERT … SELECT or DEFAULT VALUES", at);
      return refuse(outside, at);
    }
    tableNamed(m[1]!);
    const tuples = splitTop(m[3]!);
    if (tuples.length !== 1) return refuse("inserts several rows in one statement", at);
    const vals = splitTop(tuples[0]!.replace(/^\((.*)\)$/, "$1"));
    const names = m[2] ? splitTop(m[2]).map(col) : table.cols.map((_, i) => (i === table.key ? "k" : "v"));
    if (names.length !== vals.length) return refuse(outside, at);
    const ki = names.indexOf("k");
    const vi = names.indexOf("v");
    if (ki < 0) return refuse("inserts a row without its key", at);
    if (table.value !== undefined && vi < 0) return refuse("inserts a row without its value (NULL or a default)", at);
    return {
      s: "insert",
      key: parseLit(vals[ki]!, where),
      value: vi < 0 ? undefined : parseLit(vals[vi]!, where),
      returning,
    };
  }
  if (/^UPDATE\b/i.test(body)) {
    m = new RegExp(`^UPDATE ${ident} SET (.+?)(?: WHERE (.+))?$`, "i").exec(body);
    if (!m) return refuse(outside, at);
    tableNamed(m[1]!);
    const sets = splitTop(m[2]!);
    if (sets.length !== 1) return refuse("updates several columns", at);
    const a = new RegExp(`^${ident} = (.+)$`, "i").exec(sets[0]!);
    if (!a) return refuse(outside, at);
    if (col(a[1]!) !== "v") return refuse("updates the key column", at);
    const rows = rowsOf(m[3]);
    const e = new RegExp(`^${ident} ([+-]) (\\d+)$`, "i").exec(a[2]!.trim());
    let set: { value: Lit } | { add: number };
    if (e && unquote(e[1]!) === table.cols[table.value!]) {
      if (table.valueType !== "int")
        return refuse("computes a value or key (an expression where the vocabulary has a constant)", at);
      set = { add: (e[2] === "-" ? -1 : 1) * Number(e[3]) };
    } else set = { value: parseLit(a[2]!, where) };
    return "key" in rows
      ? { s: "update", key: rows.key, set, returning }
      : { s: "updateWhere", ...rows, set, returning };
  }
  if (/^DELETE\b/i.test(body)) {
    m = new RegExp(`^DELETE FROM ${ident}(?: WHERE (.+))?$`, "i").exec(body);
    if (!m) return refuse(outside, at);
    tableNamed(m[1]!);
    const rows = rowsOf(m[2]);
    return "key" in rows ? { s: "delete", key: rows.key, returning } : { s: "deleteWhere", ...rows, returning };
  }
  return refuse(outside, at);
}

// ---------------------------------------------------------------- the setup: one table, renamed t(k, v)

const notT = "a table other than t(k int primary key, v int)";
const intTypes =
  /^(int|integer|int4|int8|bigint|smallint|int2|numeric|decimal|numeric\(\d+(, ?\d+)?\)|decimal\(\d+(, ?\d+)?\))$/i;
const textTypes = /^(text|varchar(\(\d+\))?|character varying(\(\d+\))?|char\(\d+\)|character\(\d+\))$/i;

function parseCreate(stmt: string): Table {
  const at = `setup: ${stmt}`;
  if (/^CREATE TABLE \S+ AS\b/i.test(stmt)) return refuse(`${notT}: created by a query`, at);
  const head = new RegExp(`^CREATE TABLE ${ident} ?\\(`, "i").exec(stmt);
  if (!head) return refuse(`${notT}: another kind of table`, at);
  // the column list runs to the parenthesis that closes the first one
  let depth = 0;
  let close = -1;
  for (let i = head[0].length - 1; i < stmt.length && close < 0; i++) {
    if (stmt[i] === "(") depth++;
    else if (stmt[i] === ")" && --depth === 0) close = i;
  }
  if (close < 0) return refuse(`${notT}: another kind of table`, at);
  const m = [stmt, head[1]!, stmt.slice(head[0].length, close), stmt.slice(close + 1)];
  if (m[3]!.trim()) return refuse(`${notT}: partitioned, inherited or with storage options`, at);
  const cols: string[] = [];
  const types: string[] = [];
  let key: number | undefined;
  for (const part of splitTop(m[2]!)) {
    if (part === "") return refuse(`${notT}: no columns`, at);
    const pk = /^(CONSTRAINT \S+ )?PRIMARY KEY ?\(([^)]*)\)(.*)$/i.exec(part);
    if (pk) {
      const ks = splitTop(pk[2]!).map(unquote);
      if (ks.length !== 1) return refuse(`${notT}: a composite primary key`, at);
      if (pk[3]!.trim()) return refuse(`${notT}: a constraint, default or generated column`, at);
      key = cols.indexOf(ks[0]!);
      continue;
    }
    const c = new RegExp(`^${ident} (.+?)( NOT NULL)?( PRIMARY KEY)?( NOT NULL)?$`, "i").exec(part);
    if (!c || /\b(REFERENCES|CHECK|UNIQUE|DEFAULT|GENERATED|COLLATE|CONSTRAINT|FOREIGN)\b/i.test(part))
      return refuse(`${notT}: a constraint, default or generated column`, at);
    cols.push(unquote(c[1]!));
    types.push(c[2]!.trim());
    if (c[4]) key = cols.length - 1;
  }
  if (cols.length > 2) return refuse(`${notT}: more than two columns`, at);
  const typeOf = (t: string): "int" | "text" => {
    if (intTypes.test(t)) return "int";
    if (textTypes.test(t)) return "text";
    return refuse(`${notT}: a column of another type (serial, date, oid, array, …)`, `${at} (${t})`);
  };
  const kinds = types.map(typeOf);
  if (key === undefined || key < 0) return refuse(`${notT}: no primary key`, at);
  const value = cols.length === 2 ? 1 - key : undefined;
  return {
    name: unquote(m[1]!),
    cols,
    key,
    value,
    keyType: kinds[key]!,
    valueType: value === undefined ? undefined : kinds[value],
  };
}

interface Setup {
  readonly table: Table;
  /** The rows and changes of the setup, run by the setup client in autocommit. */
  readonly stmts: Stmt[];
}

/** The setup as a table and its rows, with every reason it is not (all of them, for the README). */
function analyzeSetup(setups: string[]): { setup?: Setup; reasons: Untranslatable[] } {
  const reasons: Untranslatable[] = [];
  const note = (e: unknown) => {
    if (!(e instanceof Untranslatable)) throw e;
    if (!reasons.some((r) => r.category === e.category)) reasons.push(e);
  };
  let table: Table | undefined;
  let tables = 0;
  const stmts: Stmt[] = [];
  for (const sql of setups.flatMap(statements)) {
    try {
      if (/^DROP TABLE IF EXISTS /i.test(sql)) continue; // nothing to drop in a fresh database
      if (/^CREATE (TEMP |TEMPORARY |UNLOGGED )?TABLE\b/i.test(sql)) {
        if (++tables === 2) refuse("uses a second table", `setup: ${sql}`);
        if (tables === 1) table = parseCreate(sql);
        continue;
      }
      const kind = /^(CREATE|ALTER|DROP|GRANT|REVOKE|COMMENT|SELECT|SET|DO|VACUUM|ANALYZE)\b/i.exec(sql);
      if (kind)
        refuse(
          "setup runs SQL besides the table and its rows (functions, roles, indexes, sequences, settings, …)",
          `setup: ${sql}`,
        );
      if (!table) {
        if (!tables) refuse(outside, `setup: ${sql}`);
        continue;
      }
      const ins = new RegExp(`^INSERT INTO ${ident}( ?\\([^)]*\\))? VALUES ?(\\(.+)$`, "i").exec(sql);
      if (ins && !/ RETURNING /i.test(sql) && unquote(ins[1]!) === table.name) {
        // several rows in one INSERT: a statement each (the setup's rows are all committed before any step)
        for (const tuple of splitTop(ins[3]!))
          stmts.push(parseStmt(`INSERT INTO ${ins[1]}${ins[2] ?? ""} VALUES ${tuple}`, table, "setup"));
        continue;
      }
      if (/^INSERT INTO \S+( ?\([^)]*\))? ?SELECT\b/i.test(sql))
        refuse("setup generates rows with a query (INSERT … SELECT)", `setup: ${sql}`);
      const st = parseStmt(sql, table, "setup");
      if (st.s !== "insert" && st.s !== "update" && st.s !== "delete") refuse(outside, `setup: ${sql}`);
      stmts.push(st);
    } catch (e) {
      note(e);
    }
  }
  if (!tables) note(new Untranslatable(`${notT}: no table`, "the setup creates no table"));
  if (reasons.length || !table) return { reasons };
  return { setup: { table, stmts }, reasons };
}

// ---------------------------------------------------------------- renaming keys and values

/** The spec's keys and values as the vocabulary's integers. */
class Names {
  private readonly keyLits = new Map<string, Lit>();
  private readonly valueLits = new Map<string, Lit>();
  private readonly keyMap = new Map<string, number>();
  private readonly valueMap = new Map<string, number>();
  private renamedKeys = false;
  constructor(readonly table: Table) {}

  seeKey(l: Lit, where: string): void {
    if (!(this.table.keyType === "int" ? "int" in l : "str" in l)) refuse(outside, `${where}: a key of another type`);
    this.keyLits.set(litKey(l), l);
  }
  seeValue(l: Lit, where: string): void {
    if (this.table.valueType === "int" && !("int" in l))
      refuse("a value the vocabulary has no form for (NULL, or not an integer)", where);
    if ("int" in l && Math.abs(l.int) > 1_000_000) refuse("a value beyond the vocabulary's ±1,000,000", where);
    this.valueLits.set(litKey(l), l);
  }
  see(st: Stmt, where: string): void {
    if (st.s === "insert" || st.s === "update" || st.s === "delete") this.seeKey(st.key, where);
    if (st.s === "insert" && st.value) this.seeValue(st.value, where);
    if ((st.s === "update" || st.s === "updateWhere") && "value" in st.set) this.seeValue(st.set.value, where);
    if (st.s === "updateWhere" || st.s === "deleteWhere") {
      if (st.eq) this.seeValue(st.eq, where);
      if (st.keys !== "all") for (const k of st.keys) this.seeKey(k, where);
    }
    if (st.s === "select" && st.keys !== "all") for (const k of st.keys) this.seeKey(k, where);
  }
  /** Keys are kept when every one is an integer 1..64, else numbered 1..n in order; text values 1..n as they come. */
  freeze(): void {
    const keys = [...this.keyLits.values()];
    if (keys.every((l) => "int" in l && l.int >= 1 && l.int <= 64))
      for (const l of keys) this.keyMap.set(litKey(l), (l as { int: number }).int);
    else {
      this.renamedKeys = true;
      const order = (l: Lit) => ("int" in l ? l.int : (l as { str: string }).str);
      for (const [i, l] of keys.sort((a, b) => (order(a) < order(b) ? -1 : 1)).entries())
        this.keyMap.set(litKey(l), i + 1);
    }
    if (this.keyMap.size > 64) refuse("names more than 64 keys", `${this.keyMap.size} keys`);
    if (this.table.valueType === "text")
      for (const [i, l] of [...this.valueLits.values()].entries()) this.valueMap.set(litKey(l), i + 1);
  }
  key(l: Lit): number {
    return this.keyMap.get(litKey(l))!;
  }
  value(l: Lit | undefined): number {
    if (l === undefined) return 0; // a table of one column: v is always 0
    return this.table.valueType === "int" ? (l as { int: number }).int : this.valueMap.get(litKey(l))!;
  }
  /** A key as the .out prints it, if the spec names it. */
  printedKey(text: string): number | undefined {
    return this.keyMap.get(this.table.keyType === "int" ? `i${Number(text)}` : `s${text}`);
  }
  /** A value as the .out prints it (an integer, or a text the spec names). */
  printedValue(text: string): number | undefined {
    if (this.table.valueType === "int") {
      const n = Number(text);
      return text !== "" && Number.isInteger(n) ? n : undefined;
    }
    return this.valueMap.get(text === "" ? "null" : `s${text}`);
  }
  keys(): number[] {
    return [...new Set(this.keyMap.values())].sort((a, b) => a - b);
  }
  intKeysIn(lo: number, hi: number): number[] {
    return [...this.keyLits.values()]
      .filter((l): l is { int: number } => "int" in l && l.int >= lo && l.int <= hi)
      .map((l) => this.key(l));
  }
  describe(): string[] {
    const show = (l: Lit) => ("int" in l ? String(l.int) : "str" in l ? `'${l.str}'` : "NULL");
    const out: string[] = [];
    const keys = [...this.keyLits.values()].sort((a, b) => this.key(a) - this.key(b));
    if (this.renamedKeys) out.push(`keys ${keys.map((l) => `${show(l)}→${this.key(l)}`).join(", ")}`);
    if (this.valueMap.size)
      out.push(`values ${[...this.valueLits.values()].map((l) => `${show(l)}→${this.value(l)}`).join(", ")}`);
    return out;
  }
}

// ---------------------------------------------------------------- SQLSTATEs from the messages

const errorCodes: [RegExp, SqlState][] = [
  [/^could not serialize access due to /, "40001"],
  [/^deadlock detected$/, "40P01"],
  [/^duplicate key value violates unique constraint /, "23505"],
  [/^current transaction is aborted, commands ignored until end of transaction block$/, "25P02"],
  [/^cannot execute (INSERT|UPDATE|DELETE) in a read-only transaction$/, "25006"],
  [/^SET TRANSACTION ISOLATION LEVEL must be called before any query$/, "25001"],
];
const sqlstate = (message: string): SqlState | undefined => errorCodes.find(([re]) => re.test(message))?.[1];

// ---------------------------------------------------------------- one permutation

interface Translated {
  readonly ops: MvccOp[];
  /** The .out's observation of each op; a string: why it has none. */
  readonly observations: (MvccObs | string)[];
  readonly geometry: MvccGeometry;
}

interface Planned {
  readonly stmt: Stmt;
  readonly sql: string;
}

/** A statement's op, for client `tx`. */
function opOf(st: Stmt, tx: number, names: Names, where: string): MvccOp {
  switch (st.s) {
    case "begin":
      return st.readOnly ? { op: "begin", tx, level: st.level, readOnly: true } : { op: "begin", tx, level: st.level };
    case "commit":
      return { op: "commit", tx };
    case "abort":
      return { op: "abort", tx };
    case "vacuum":
      return { op: "vacuum" };
    case "insert":
      return { op: "insert", tx, key: names.key(st.key), value: names.value(st.value) };
    case "delete":
      return { op: "delete", tx, key: names.key(st.key) };
    case "update":
      return "add" in st.set
        ? { op: "update", tx, key: names.key(st.key), add: st.set.add }
        : { op: "update", tx, key: names.key(st.key), value: names.value(st.set.value) };
    case "updateWhere":
    case "deleteWhere": {
      const [lo, hi] = rangeOf(st.keys === "all" ? { keys: "all" } : { keys: [], range: st.keys }, names, where);
      const eq = st.eq ? { eq: names.value(st.eq) } : {};
      if (st.s === "deleteWhere") return { op: "deleteWhere", tx, lo, hi, ...eq };
      const set = "add" in st.set ? { add: st.set.add } : { value: names.value(st.set.value) };
      return { op: "updateWhere", tx, lo, hi, ...eq, ...set };
    }
    case "select": {
      if (st.keys !== "all" && st.keys.length === 1) return { op: "read", tx, key: names.key(st.keys[0]!) };
      const [lo, hi] = rangeOf(st, names, where);
      return { op: "scan", tx, lo, hi };
    }
  }
}

/** The keys a statement covers as a range lo..hi of the keys the spec names (none other can exist). */
function rangeOf(st: { keys: Lit[] | "all"; range?: [Lit, Lit] }, names: Names, where: string): [number, number] {
  const all = names.keys();
  let covered: number[];
  if (st.keys === "all") covered = all;
  else if (st.range) {
    const [a, b] = st.range;
    if (!("int" in a) || !("int" in b)) return refuse(whereForm, `${where} (a range of text keys)`);
    covered = names.intKeysIn(a.int, b.int);
  } else covered = st.keys.map((l) => names.key(l));
  covered = [...new Set(covered)].sort((a, b) => a - b);
  if (!covered.length) return refuse(whereForm, `${where} (no key the spec names is in it)`);
  const lo = covered[0]!;
  const hi = covered.at(-1)!;
  // lo..hi holds the same rows only if no other key the spec names lies between (no other can exist)
  if (all.filter((k) => k >= lo && k <= hi).length !== covered.length)
    return refuse("selects a set of keys that is not a range of them", where);
  return [lo, hi];
}

function translatePermutation(
  spec: Spec,
  setup: Setup,
  names: Names,
  out: OutPermutation,
  perm: PermStep[] | undefined,
): Translated {
  if (out.strange.length) refuse("the .out has lines the translator cannot place", out.strange[0]!);
  if (out.preamble.length) refuse("a setup prints results", JSON.stringify(out.preamble[0]));
  const { table } = setup;
  const setupTx = spec.sessions.length + 1;
  const ops: MvccOp[] = [];
  const obs: (MvccObs | string | undefined)[] = [];
  const unrecord = (i: number, why: string) => {
    if (typeof obs[i] !== "string") obs[i] = why;
  };
  const steps = new Map(spec.sessions.flatMap((s) => s.steps).map((s) => [s.name, s]));
  const markers = new Map((perm ?? []).filter((p) => p.markers.length).map((p) => [p.name, p.markers]));

  /** What a finished statement gives, from what the .out printed for it; a string: why the .out cannot say. */
  const resultOf = (st: Stmt, printed: Printed | undefined, failedTx: boolean): MvccResult | string => {
    if (printed && "error" in printed) {
      const code = sqlstate(printed.error);
      return code ? { error: code } : refuse("the .out shows an error the vocabulary has no code for", printed.error);
    }
    const table0 = printed && "table" in printed ? printed.table : undefined;
    switch (st.s) {
      case "begin":
      case "abort":
      case "vacuum":
        return { ok: true };
      case "commit":
        // COMMIT of a transaction an error aborted answers ROLLBACK, which the .out does not print
        return failedTx ? { rolledBack: true } : { ok: true };
      case "insert":
        return { count: table0 ? table0.rows.length : 1 };
      case "update":
      case "delete":
      case "updateWhere":
      case "deleteWhere":
        return table0
          ? { count: table0.rows.length }
          : `${st.s.replace("Where", "").toUpperCase()}: isolationtester prints no row count`;
      case "select": {
        if (st.agg) return `${st.agg}: an aggregate, not the rows`;
        const t = table0!;
        const kc = t.cols.indexOf(table.cols[table.key]!);
        const vc = table.value === undefined ? -1 : t.cols.indexOf(table.cols[table.value]!);
        if (table.value !== undefined && vc < 0) return "the SELECT does not show the value column";
        const values: number[] = [];
        for (const r of t.rows) {
          const v = vc < 0 ? 0 : names.printedValue(r[vc]!);
          if (v === undefined) return `a value the spec does not name: ${r[vc]}`;
          values.push(v);
        }
        if (st.keys !== "all" && st.keys.length === 1) return { values: values.sort((a, b) => a - b) };
        if (kc < 0) return "the SELECT does not show the key column";
        const rows: [number, number][] = [];
        for (const [i, r] of t.rows.entries()) {
          const k = names.printedKey(r[kc]!);
          if (k === undefined) return `a key the spec does not name: ${r[kc]}`;
          rows.push([k, values[i]!]);
        }
        return { rows: rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]) };
      }
    }
  };

  // the setup client, in autocommit, before every session
  for (const st of setup.stmts) {
    const i = ops.push(opOf(st, setupTx, names, "setup")) - 1;
    const r = resultOf(st, undefined, false);
    obs[i] = typeof r === "string" ? `setup's ${r}` : r;
  }

  interface Client {
    inTx: boolean;
    failed: boolean;
    /** The step it runs: waiting for a lock, or its report held back by a marker. */
    pending?: { step: string; first: number; stmts: Planned[]; marked: boolean };
  }
  const clients = spec.sessions.map((): Client => ({ inTx: false, failed: false }));

  /** The effect of a finished statement on its client's transaction. */
  const settle = (c: Client, st: Stmt, r: MvccResult | string) => {
    const error = typeof r === "object" && "error" in r;
    if (st.s === "begin" && !error) c.inTx = true;
    else if (st.s === "commit" || st.s === "abort") [c.inTx, c.failed] = [false, false];
    else if (error && c.inTx) c.failed = true;
  };

  /** A step's statements, as the simple query protocol runs a string of several. */
  const plan = (name: string, sql: string, c: Client): Planned[] => {
    const list = statements(sql).map((s) => ({ stmt: parseStmt(s, table, `step ${name}`), sql: s }));
    if (!list.length) refuse(outside, `step ${name}: empty`);
    if (list.length > 1 && !c.inTx && list[0]!.stmt.s !== "begin")
      refuse("runs several statements outside a transaction (an implicit transaction block)", `step ${name}: ${sql}`);
    return list;
  };

  /** Each statement of a step its observation, from what the step printed; the last one left out if it waits still. */
  const finish = (name: string, c: Client, first: number, stmts: Planned[], printed: Printed[], lastToo: boolean) => {
    let p = 0;
    const n = lastToo ? stmts.length : stmts.length - 1;
    for (let j = 0; j < n; j++) {
      const st = stmts[j]!.stmt;
      const next = printed[p];
      let mine: Printed | undefined;
      if (next && "error" in next) {
        // an error ends the string: the statements after it never run, which no op sequence says. Only BEGIN, which
        // does not fail, can come before the one that failed.
        if (j < stmts.length - 1) {
          if (st.s !== "begin")
            refuse("fails in a step of several statements (the rest of the step does not run)", `step ${name}`);
        } else mine = printed[p++];
      } else if (prints(st)) {
        mine = printed[p++];
        if (!mine) refuse("the .out has lines the translator cannot place", `step ${name}: no result`);
      }
      const r = resultOf(st, mine, c.failed);
      settle(c, st, r);
      obs[first + j] = r;
    }
    return p;
  };

  const launch = (name: string, sql: string, session: number, waiting: boolean, printed: Printed[]) => {
    const c = clients[session]!;
    if (c.pending)
      refuse("the .out has lines the translator cannot place", `step ${name} launched while its session waits`);
    const stmts = plan(name, sql, c);
    const first = ops.length;
    for (const { stmt, sql: s } of stmts) ops.push(opOf(stmt, session + 1, names, `step ${name}: ${s}`));
    if (!waiting) {
      const used = finish(name, c, first, stmts, printed, true);
      if (used !== printed.length) refuse("the .out has lines the translator cannot place", `step ${name}`);
      return;
    }
    // only the last statement can wait: the ones before it must be ones that never wait on a row
    if (stmts.slice(0, -1).some(({ stmt }) => stmt.s !== "begin" && stmt.s !== "select"))
      refuse("waits in a step of several statements (which one waits cannot be read)", `step ${name}`);
    if (printed.length) refuse("the .out has lines the translator cannot place", `step ${name}`);
    const marks = markers.get(name) ?? [];
    c.pending = { step: name, first, stmts, marked: marks.length > 0 };
    obs[ops.length - 1] = marks.length
      ? `marked (${marks.join(", ")}): its <waiting ...> may be the marker's, not a lock's`
      : { blocked: true };
  };

  // the session setups first, in session order (isolationtester runs them before the steps, printing nothing)
  for (const [i, s] of spec.sessions.entries()) if (s.setup) launch(`${s.name} (setup)`, s.setup, i, false, []);

  let windowOp = -1; // the last op of the step launched last: the one whose window the .out is in
  let windowStep: string | undefined;
  let windowWaited = false;
  const woken = new Map<number, { tx: number; result: MvccResult }[]>();
  let marked = 0; // marked steps launched and not reported complete: their wait may end at any op meanwhile
  for (const ev of out.events) {
    const step = steps.get(ev.step);
    if (!step) return refuse("the .out has lines the translator cannot place", `step ${ev.step}`);
    const c = clients[step.session]!;
    if (ev.kind === "launch") {
      const before = ops.length;
      launch(step.name, step.sql, step.session, ev.waiting, ev.printed);
      if (marked) for (let i = before; i < ops.length; i++) unrecord(i, "a marked step's wait may end here");
      if (c.pending?.marked) marked++;
      windowOp = ops.length - 1;
      windowStep = step.name;
      windowWaited = ev.waiting;
      continue;
    }
    // "<... completed>": a step that waited has finished
    const pend = c.pending;
    if (!pend || pend.step !== ev.step)
      return refuse("the .out has lines the translator cannot place", `step ${ev.step} completed`);
    c.pending = undefined;
    // the statements before the one that waited finished at once; their results are printed now, first
    const used = finish(step.name, c, pend.first, pend.stmts, ev.printed, false);
    const last = pend.stmts.at(-1)!.stmt;
    const mine = ev.printed[used];
    if (ev.printed.length !== used + (mine ? 1 : 0) || (prints(last) && !mine))
      refuse("the .out has lines the translator cannot place", `step ${ev.step} completed`);
    const r = resultOf(last, mine, c.failed);
    settle(c, last, r);
    const at = pend.first + pend.stmts.length - 1;
    if (typeof r === "object" && "error" in r && r.error === "40P01" && !windowWaited)
      refuse("reports a deadlock after a later step (when it broke cannot be read)", `step ${ev.step}`);
    if (pend.marked) {
      marked--;
      unrecord(windowOp, `a marked step (${ev.step}) is reported complete here: when its wait ended cannot be read`);
      continue;
    }
    if (ev.step === windowStep && at === windowOp) {
      // it waited and finished before another step ran: a deadlock broken while it waited
      obs[at] = typeof r === "string" ? `waited, then ${r}` : r;
      continue;
    }
    if (typeof r === "string") unrecord(windowOp, `wakes step ${ev.step}, whose ${r}`);
    else woken.set(windowOp, [...(woken.get(windowOp) ?? []), { tx: step.session + 1, result: r }]);
  }
  for (const c of clients)
    if (c.pending) refuse("the .out has lines the translator cannot place", `step ${c.pending.step} never completes`);
  for (const [i, list] of woken) {
    const o = obs[i];
    if (typeof o === "object") obs[i] = { ...o, unblocked: list.sort((a, b) => a.tx - b.tx) } as MvccObs;
  }
  return {
    ops,
    observations: ops.map((_, i) => obs[i] ?? "not placed"),
    geometry: { keys: Math.max(1, ...names.keys()), txs: setupTx },
  };
}

// ---------------------------------------------------------------- the corpus

/**
 * Traces the model or the server is known not to give as the .out does, and why (the README lists them, and
 * test/isolation-specs.test.ts expects exactly these failures).
 */
const knownFailures: Record<string, string> = {
  "read-only-anomaly-2.1.trace.json":
    "the model and the server answer s2's COMMIT (op 11) with `{\"rolledBack\":true}`; the .out's COMMIT succeeds. " +
    "Not a model bug: the .out ran with index scans, whose SIREAD locks are on index pages and tuples, so s1's read of Y " +
    "does not conflict with s2's UPDATE of X. The engine turns index and bitmap scans off, and the model takes the " +
    "relation-level SIREAD lock a sequential scan takes (docs/mvcc.md), so s1 →rw s2 →rw s1 with s1 committed first: " +
    "s2's UPDATE of X (op 10, unrecorded) fails with 40001. On PostgreSQL 15.18 this permutation gives the .out's " +
    "answers with enable_indexscan on, and 40001 at s2wx with it off. The oracle allows both.",
};

interface SpecResult {
  readonly name: string;
  readonly permutations: number;
  readonly translated: { n: number; recorded: number; ops: number }[];
  /** Permutations not translated: their number (from 1) and why. */
  readonly refused: { n: number; category: string; detail: string }[];
  /** Why the spec as a whole is not translated: every reason found, in the order found. */
  readonly reasons: { category: string; detail: string }[];
  readonly renamed: string[];
  readonly table?: string;
}

function locate(dir: string, sub: string, file: string): string | undefined {
  return [join(dir, sub, file), join(dir, file)].find((p) => existsSync(p));
}

/** isolationtester runs every interleaving of the sessions' steps when a spec lists none: (Σn)! / Π(n!). */
function interleavings(sessions: Session[]): number {
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const ns = sessions.map((s) => s.steps.length);
  return Math.round(fact(ns.reduce((a, b) => a + b, 0)) / ns.reduce((a, n) => a * fact(n), 1));
}

function translateSpec(dir: string, name: string, outDir: string): SpecResult {
  const result: SpecResult = { name, permutations: 0, translated: [], refused: [], reasons: [], renamed: [] };
  const whole = (category: string, detail: string): SpecResult => ({ ...result, reasons: [{ category, detail }] });
  let spec: Spec;
  try {
    spec = parseSpec(readFileSync(locate(dir, "specs", `${name}.spec`)!, "utf8"));
  } catch (e) {
    return whole("the spec does not parse", (e as Error).message);
  }
  const outPath = locate(dir, "expected", `${name}.out`);
  if (!outPath) return whole("has no expected output", `${name}.out`);
  const outs = parseOut(readFileSync(outPath, "utf8"), spec);
  Object.assign(result, { permutations: outs.length });
  const expectedCount = spec.permutations.length || interleavings(spec.sessions);
  if (outs.length !== expectedCount)
    return whole("the .out has lines the translator cannot place", `${outs.length} permutations, not ${expectedCount}`);

  // every reason the spec is not expressible: the setup's, then each statement's (each category once)
  const { setup, reasons } = analyzeSetup(spec.setups);
  const note = (e: unknown) => {
    if (!(e instanceof Untranslatable)) throw e;
    if (!reasons.some((r) => r.category === e.category)) reasons.push(e);
  };
  const variants = readdirSync(dirname(outPath)).filter((f) => new RegExp(`^${name}_\\d+\\.out$`).test(f));
  if (variants.length)
    note(new Untranslatable("has alternative expected outputs (results that vary by timing)", variants.join(", ")));
  if (spec.sessions.length + 1 > 16)
    note(new Untranslatable("has more sessions than a geometry's 15 clients", `${spec.sessions.length}`));
  const stepReasons: Untranslatable[] = [];
  const noteStep = (e: unknown) => {
    if (!(e instanceof Untranslatable)) throw e;
    if (![...reasons, ...stepReasons].some((r) => r.category === e.category)) stepReasons.push(e);
  };
  const names = setup ? new Names(setup.table) : undefined;
  if (setup && names) for (const st of setup.stmts) names.see(st, "setup");
  for (const s of spec.sessions)
    for (const [sql, stepName] of [
      ...(s.setup ? [[s.setup, undefined]] : []),
      ...s.steps.map((x) => [x.sql, x.name]),
    ] as [string, string | undefined][]) {
      for (const stmt of statements(sql)) {
        try {
          const where = stepName ? `step ${stepName}` : `setup of ${s.name}`;
          const st = setup ? parseStmt(stmt, setup.table, where) : undefined;
          if (!setup) {
            const kind = kindOf(stmt);
            if (kind) refuse(kind, `${where}: ${stmt}`);
          }
          if (st && names) names.see(st, `${where}: ${stmt}`);
        } catch (e) {
          // a session's setup rules out every permutation; a step, those that run it (each is tried below)
          if (!stepName) note(e);
          else if (spec.permutations.length === 0 || spec.permutations.some((p) => p.some((x) => x.name === stepName)))
            noteStep(e);
        }
      }
    }
  if (!setup || !names || reasons.length) return { ...result, reasons: [...reasons, ...stepReasons] };
  try {
    names.freeze();
  } catch (e) {
    note(e);
    return { ...result, reasons: [...reasons, ...stepReasons] };
  }
  Object.assign(result, { renamed: names.describe(), table: `${setup.table.name}(${setup.table.cols.join(", ")})` });

  for (const [i, o] of outs.entries()) {
    const n = i + 1;
    const listed = spec.permutations[i];
    try {
      if (listed && listed.map((p) => p.name).join(" ") !== o.names.join(" "))
        refuse("the .out has lines the translator cannot place", "its permutation is not the spec's");
      const t = translatePermutation(spec, setup, names, o, listed);
      const recorded = t.observations.filter((x) => typeof x === "object").length;
      const firstGap = t.observations.findIndex((x) => typeof x === "string");
      const prefix = (firstGap < 0 ? t.observations : t.observations.slice(0, firstGap)) as MvccObs[];
      const file = `${name}.${n}.trace.json`;
      const sessions = spec.sessions.map((s, j) => `${s.name}→tx ${j + 1}`).join(", ");
      const note1 = [
        `PostgreSQL's isolation spec ${name} (source: README.md), permutation ${n} of ${outs.length}: ${o.names.join(" ")}.`,
        `Table ${setup.table.name}(${setup.table.cols.join(", ")}) as t(k, v)${setup.table.value === undefined ? " (v always 0)" : ""};`,
        `sessions ${sessions}; the setup's rows by tx ${spec.sessions.length + 1} in autocommit${result.renamed.length ? `; ${result.renamed.join("; ")}` : ""}.`,
        `Observations from expected/${name}.out: ${recorded} of ${t.ops.length} recorded${recorded < t.ops.length ? `; "expected" holds the first ${prefix.length}, ${name}.${n}.expected.jsonl all (an op the .out cannot give: "unrecorded", with the reason)` : ""}.`,
        ...(knownFailures[file] ? [`Known failure: ${knownFailures[file]}`] : []),
      ].join(" ");
      const trace: Trace = {
        cowcheck: 1,
        layer: "mvcc",
        geometry: t.geometry,
        features: [],
        note: note1,
        ops: t.ops,
        ...(prefix.length ? { expected: prefix } : {}),
      };
      writeFileSync(join(outDir, file), formatTrace(trace));
      const lines = t.ops.map((op, j) => {
        const x = t.observations[j]!;
        return JSON.stringify(typeof x === "string" ? { op, unrecorded: x } : { op, obs: x });
      });
      writeFileSync(join(outDir, `${name}.${n}.expected.jsonl`), `${lines.join("\n")}\n`);
      result.translated.push({ n, recorded, ops: t.ops.length });
    } catch (e) {
      if (!(e instanceof Untranslatable)) throw e;
      result.refused.push({ n, category: e.category, detail: e.detail });
    }
  }
  if (!result.translated.length) {
    const all = stepReasons.map(({ category, detail }) => ({ category, detail }));
    for (const { category, detail } of result.refused)
      if (!all.some((x) => x.category === category)) all.push({ category, detail });
    return { ...result, reasons: all };
  }
  return result;
}

// ---------------------------------------------------------------- the README

function readme(results: SpecResult[], source: string): string {
  const translated = results.filter((r) => r.translated.length);
  const refused = results.filter((r) => !r.translated.length);
  const perms = translated.reduce((n, r) => n + r.translated.length, 0);
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s+/g, " ").slice(0, 180);
  const byReason = new Map<string, string[]>();
  for (const r of refused)
    for (const x of r.reasons) byReason.set(x.category, [...(byReason.get(x.category) ?? []), r.name]);
  const out: string[] = [
    "# PostgreSQL's isolation specs as mvcc traces",
    "",
    "Generated by `npx tsx scripts/isolation-specs.ts <src/test/isolation>`: do not edit by hand.",
    "",
    `Source: ${source}.`,
    "",
    "The specs and their expected outputs are PostgreSQL's, under the PostgreSQL License (Portions Copyright (c)",
    "1996-2022, PostgreSQL Global Development Group; Portions Copyright (c) 1994, The Regents of the University of",
    "California). Only what is derived from them is kept here: a trace per translated permutation, and its observations.",
    "",
    `**Translated: ${translated.length} of ${results.length} specs (${perms} permutations).**`,
    "",
    'How a spec becomes traces (docs/mvcc.md, "PostgreSQL\'s isolation specs"):',
    "",
    '- The setup must create one table: a primary key and at most one other column, integer or text, renamed t(k, v) (with one column, v is always 0). Its rows are inserted by one more client, in autocommit, before the sessions start; each insert\'s observation is `{"count":1}`.',
    "- Sessions are clients 1, 2, … in the spec's order, each session's setup first. Teardowns are left out: they run after the last step.",
    "- Keys are kept when all are integers 1 to 64, and otherwise numbered 1, 2, … in order; text values are numbered as they first appear. Each trace's note gives the renaming.",
    "- `SELECT … WHERE key = K` is `read`. A `SELECT` of the whole table, of an `IN` list or of a `BETWEEN` is `scan` over the keys it covers, when no other key the spec names lies between them (no other key can ever exist). An aggregate (`SUM(v)`) is read as that `read` or `scan`, its observation unrecorded. `INSERT`, `UPDATE … SET v = C | v = v ± C` and `DELETE` by key are `insert`, `update` and `delete`; an `UPDATE` or `DELETE` of every row, of `WHERE v = C` or of a key `BETWEEN` is `updateWhere` or `deleteWhere` over the keys it covers (with `eq`: C); `BEGIN [ISOLATION LEVEL …] [READ ONLY]`, `COMMIT`, `ROLLBACK` and `VACUUM t` are themselves. A step of several statements is an op each, when it runs in a transaction and no statement before its last can fail or wait.",
    '- Observations come from the .out: result tables (compared in the vocabulary\'s order), `ERROR:` lines by message (40001 could not serialize access, 40P01 deadlock detected, 23505 duplicate key, 25P02 current transaction is aborted, 25006 read-only transaction, 25001 SET TRANSACTION ISOLATION LEVEL), `<waiting ...>` as `{"blocked":true}`, and `<... completed>` in the `unblocked` of the op of the step after which the .out reports it. A COMMIT after an error in its transaction is `{"rolledBack":true}` (the server answers ROLLBACK, which the .out does not print).',
    "- Unrecorded, with the reason: an UPDATE's or DELETE's row count (isolationtester prints none) and so the observation of the op that wakes one, an aggregate's, a setup UPDATE's; a step marked `(*)` or `(step)` that shows `<waiting ...>` (the marker, not a lock, may hold its report back), and every op until its completion is reported.",
    '- A trace\'s `expected` can only be a prefix of its ops: it holds the observations up to the first unrecorded op. `<spec>.<n>.expected.jsonl` holds them all, a line an op: `{"op","obs"}`, or `{"op","unrecorded": why}`. `test/isolation-specs.test.ts` replays every trace on the model, the oracle and the server with all of them.',
    "",
    "## Translated",
    "",
    "n counts the .out's permutations from 1; `recorded` is ops with an observation from the .out, of all ops.",
    "",
    "| spec | table | permutations translated | recorded | renamed | permutations not translated |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of translated) {
    const rec = r.translated.map((t) => `${t.n}: ${t.recorded}/${t.ops}`).join(", ");
    const not = r.refused.map((x) => `${x.n}: ${x.category} (${cell(x.detail)})`).join("; ") || "—";
    out.push(
      `| ${r.name} | ${r.table} | ${r.translated.length} of ${r.permutations} | ${rec} | ${r.renamed.join("; ") || "—"} | ${not} |`,
    );
  }
  out.push("", "## Known failures", "");
  const known = Object.entries(knownFailures);
  if (!known.length) out.push("None: the model, the oracle and the server give every recorded observation.");
  for (const [file, why] of known) out.push(`- \`${file}\`: ${why}`);
  out.push(
    "",
    "## Not translated",
    "",
    `${refused.length} specs. Every reason found, with the specs it rules out (a spec can have several):`,
    "",
  );
  for (const [cat, specs] of [...byReason].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0])))
    out.push(`- ${cat} (${specs.length}): ${specs.join(", ")}`);
  out.push("", "| spec | permutations | reasons | first found |", "| --- | --- | --- | --- |");
  for (const r of refused) {
    const first = r.reasons[0] ?? { category: "—", detail: "" };
    out.push(
      `| ${r.name} | ${r.permutations} | ${r.reasons.map((x) => x.category).join("; ")} | ${cell(first.detail)} |`,
    );
  }
  return `${out.join("\n")}\n`;
}

function main(argv: string[]): void {
  let outDir = "traces/mvcc/isolation";
  let source: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") outDir = argv[++i]!;
    else if (argv[i] === "--source") source = argv[++i]!;
    else rest.push(argv[i]!);
  }
  const dir = rest[0];
  if (!dir || rest.length > 1 || !outDir || (source !== undefined && !source)) {
    console.error('usage: npx tsx scripts/isolation-specs.ts <src/test/isolation> [--out DIR] [--source "TEXT"]');
    process.exit(2);
  }
  const specDir = existsSync(join(dir, "specs")) ? join(dir, "specs") : dir;
  const specs = readdirSync(specDir)
    .filter((f) => f.endsWith(".spec"))
    .map((f) => f.slice(0, -".spec".length))
    .sort();
  if (!specs.length) {
    console.error(`no .spec files in ${specDir}`);
    process.exit(2);
  }
  source ??= `PostgreSQL's src/test/isolation (${dir})`;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const results = specs.map((s) => translateSpec(dir, s, outDir));
  writeFileSync(join(outDir, "README.md"), readme(results, source));
  const translated = results.filter((r) => r.translated.length);
  const perms = translated.reduce((n, r) => n + r.translated.length, 0);
  console.log(
    `${specs.length} specs: ${translated.length} translated (${perms} permutations), ${specs.length - translated.length} not; in ${outDir}`,
  );
}

main(process.argv.slice(2));
