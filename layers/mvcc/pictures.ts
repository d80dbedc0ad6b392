// Pictures of a failing mvcc trace: each client's timeline, and an anomaly's dependency graph with its cycle.
import {
  deepEqual,
  type Failure,
  type Graph,
  type GraphEdge,
  type GraphNode,
  type LaneEvent,
  type Lanes,
  type Step,
  type TitledPicture,
} from "../../core/index.ts";
import { inSnapshot, visible } from "../../models/mvcc/state.ts";
import {
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  selection,
  selects,
  type Version,
} from "../../models/mvcc/types.ts";
import { label as anomalyLabel, classifyMvcc, History, missedBy, type Txn } from "./anomaly.ts";

type Answer = MvccObs | MvccResult;
type Woken = { tx: number; result: MvccResult }[];

const woken = (o: unknown): Woken =>
  o && typeof o === "object" && "unblocked" in o ? ((o as { unblocked?: Woken }).unblocked ?? []) : [];
/** An observation's answers: itself, or each allowed one of a `{oneOf}`. */
const choices = (o: unknown): Answer[] =>
  o && typeof o === "object" && "oneOf" in o ? (o as { oneOf: Answer[] }).oneOf : o === undefined ? [] : [o as Answer];
/** An answer without the statements it woke. */
function ownAnswer(o: unknown): unknown {
  if (!o || typeof o !== "object" || !("unblocked" in o)) return o;
  const { unblocked: _, ...rest } = o as Record<string, unknown>;
  return rest;
}
const errorOf = (r: Answer): string | undefined => ("error" in r ? r.error : undefined);

/** What a statement did, in the timeline's words: reads as key=value, writes as key:=value. */
function describe(op: MvccOp, r?: Answer): string {
  const none = "∅";
  switch (op.op) {
    case "read": {
      const values = r && "values" in r ? (r.values.length ? r.values.join(",") : none) : undefined;
      return values === undefined ? `read ${op.key}` : `${op.key}=${values}`;
    }
    case "scan": {
      const rows = r && "rows" in r ? (r.rows.length ? r.rows.map(([k, v]) => `${k}=${v}`).join(" ") : none) : "";
      return `scan ${op.lo}..${op.hi}${rows ? ` ${rows}` : ""}`;
    }
    case "insert":
      return `insert ${op.key}:=${op.value}`;
    case "update":
      return op.add !== undefined ? `${op.key}:=v${op.add < 0 ? "" : "+"}${op.add}` : `${op.key}:=${op.value ?? "v"}`;
    case "delete":
      return `delete ${op.key}`;
    case "updateWhere": {
      const to = op.add !== undefined ? `v${op.add < 0 ? "" : "+"}${op.add}` : `${op.value ?? "v"}`;
      return `${op.lo}..${op.hi}${op.eq === undefined ? "" : `[v=${op.eq}]`}:=${to}`;
    }
    case "deleteWhere":
      return `delete ${op.lo}..${op.hi}${op.eq === undefined ? "" : `[v=${op.eq}]`}`;
    case "begin":
      return `begin ${op.level}${op.readOnly ? " read only" : ""}`;
    case "checkpoint":
      return `checkpoint ${op.mode}`;
    default:
      return op.op;
  }
}

/** A result's words after the statement's: rows changed, an error, what a checkpoint found. */
function outcome(op: MvccOp, r: Answer): string {
  if ("error" in r) return ` → ${r.error}`;
  if ("rolledBack" in r) return " → rolled back";
  if ("count" in r && (op.op === "update" || op.op === "delete")) return r.count === 1 ? "" : ` (${r.count} rows)`;
  if ("count" in r && (op.op === "updateWhere" || op.op === "deleteWhere"))
    return ` (${r.count} row${r.count === 1 ? "" : "s"})`;
  if ("checkpoint" in r)
    return ` (busy ${r.checkpoint.busy}, log ${r.checkpoint.log}, done ${r.checkpoint.checkpointed})`;
  return "";
}

const said = (op: MvccOp, r: Answer): string =>
  "blocked" in r
    ? `${describe(op)} waits`
    : "skipped" in r
      ? `${describe(op)} not sent`
      : describe(op, r) + outcome(op, r);

interface Lane {
  readonly events: LaneEvent[];
  /** The open transaction: where it began, its level; implicit: one statement's (autocommit). */
  txn?: { start: number; level: string; implicit: boolean; failed: boolean };
  /** The statement waiting, since which op, whether that op is the failing one (and what it should have answered). */
  wait?: { at: number; op: MvccOp; failing: boolean; words: string };
}

/**
 * One lane per client: its transactions' lives ("commit"/"abort" by how they ended), each statement at its op, each
 * wait on a row lock as an interval from the op that blocked to the op that woke it ("blocked"); errors are "abort" in
 * the PostgreSQL flavour (the transaction is aborted), "error" in SQLite's and InnoDB's (it stays open; InnoDB's
 * deadlock and ER_CHECKREAD end it: "abort"); the failing op "failed".
 * Vacuum and checkpoints run from a connection of their own: a lane of theirs.
 */
export function mvccTimeline(steps: readonly Step[], failure: Failure, geometry: MvccGeometry): Lanes {
  const sqlite = geometry.flavour === "sqlite";
  const staysOpen = sqlite || geometry.flavour === "innodb";
  const lanes = new Map<number, Lane>();
  const laneOf = (tx: number): Lane => {
    const l = lanes.get(tx) ?? { events: [] };
    lanes.set(tx, l);
    return l;
  };
  const server: LaneEvent[] = [];
  const last = steps.length ? steps[steps.length - 1]!.index : 0;
  const mark = (failing: boolean, ...marks: (string | undefined)[]): string[] =>
    [...marks, failing ? "failed" : undefined].filter((m): m is string => m !== undefined);
  const errorMark = (l: Lane): string => {
    if (l.txn && !staysOpen) l.txn.failed = true;
    return staysOpen ? "error" : "abort";
  };
  const close = (l: Lane, at: number, fate: "commit" | "abort" | undefined) => {
    const t = l.txn;
    l.txn = undefined;
    if (!t || t.implicit) return;
    l.events.push({
      at: t.start,
      until: at,
      label: `${t.level} transaction${fate ? "" : " (open)"}`,
      ...(fate ? { marks: [fate] } : {}),
    });
  };

  /** A statement's (or BEGIN's, COMMIT's, ROLLBACK's) answer, at op `at`. */
  const finish = (l: Lane, op: MvccOp, r: Answer, at: number, failing: boolean, extra = "") => {
    const text = said(op, r) + extra;
    const error = errorOf(r) !== undefined || "rolledBack" in r;
    switch (op.op) {
      case "begin":
        if (!error) l.txn ??= { start: at, level: op.level, implicit: false, failed: false };
        l.events.push({ at, label: text, marks: mark(failing, error ? errorMark(l) : undefined) });
        return;
      case "commit":
      case "abort": {
        const open = l.txn !== undefined;
        const fate = op.op === "abort" || error || l.txn?.failed ? "abort" : "commit";
        const label = open ? text : `${text} (no transaction)`;
        l.events.push({ at, label, marks: mark(failing, open ? fate : error ? errorMark(l) : undefined) });
        close(l, at, fate);
        return;
      }
      default: {
        if (!l.txn || l.txn.implicit) {
          // a statement alone commits itself, or rolls back on an error
          l.events.push({ at, label: `${text} (autocommit)`, marks: mark(failing, error ? "abort" : "commit") });
          l.txn = undefined;
          return;
        }
        const e = errorOf(r);
        if (e === "ER_LOCK_DEADLOCK" || e === "ER_CHECKREAD") {
          // InnoDB rolls the whole transaction back
          l.events.push({ at, label: text, marks: mark(failing, "abort") });
          close(l, at, "abort");
          return;
        }
        l.events.push({ at, label: text, marks: mark(failing, error ? errorMark(l) : undefined) });
      }
    }
  };

  /** What the oracle allowed instead, where the op's own answer is not one of them. */
  const expectedWords = (op: MvccOp, observed: unknown, expected: unknown): string => {
    const all = choices(expected);
    if (!all.length || all.some((e) => deepEqual(ownAnswer(e), ownAnswer(observed)))) return "";
    return ` ≠ expected ${[...new Set(all.map((e) => said(op, ownAnswer(e) as Answer)))].join(" or ")}`;
  };
  /** Whether the oracle allowed what a statement woken by the op answered. */
  const allowedWoken = (expected: unknown, w: Woken[number]): boolean =>
    choices(expected).some((e) => woken(e).some((x) => x.tx === w.tx && deepEqual(x.result, w.result)));

  for (const step of steps) {
    const op = step.op as MvccOp;
    const at = step.index;
    const obs = step.observed as MvccObs;
    const words = at === failure.index ? expectedWords(op, obs, step.expected) : "";
    // the failing op is marked on its own answer, unless only a statement it woke answered wrong
    const failing = at === failure.index && (words !== "" || woken(obs).every((w) => allowedWoken(step.expected, w)));
    if (!("tx" in op)) {
      server.push({ at, label: said(op, obs) + words, marks: mark(failing) });
    } else {
      const l = laneOf(op.tx);
      if ("skipped" in obs) l.events.push({ at, label: said(op, obs), marks: mark(failing) });
      else if ("blocked" in obs) {
        l.txn ??= { start: at, level: "autocommit", implicit: true, failed: false };
        l.wait = { at, op, failing, words };
      } else finish(l, op, obs, at, failing, words);
    }
    // the statements this op woke: each wait ends here, and the statement answers
    for (const w of woken(obs)) {
      const l = laneOf(w.tx);
      const waited = l.wait;
      l.wait = undefined;
      // a woken answer the oracle did not allow fails the op that woke it
      const wrong = at === failure.index && !allowedWoken(step.expected, w);
      const instead = wrong
        ? ` ≠ expected ${choices(step.expected)
            .flatMap((e) => woken(e).filter((x) => x.tx === w.tx))
            .map((x) => (waited ? said(waited.op, x.result) : outcome(op, x.result)))
            .join(" or ")}`
        : "";
      if (!waited) {
        l.events.push({ at, label: `woken${outcome(op, w.result)}${instead}`, marks: mark(wrong) });
        continue;
      }
      l.events.push({
        at: waited.at,
        until: at,
        label: `${describe(waited.op)} waits${waited.words}`,
        marks: mark(waited.failing, "blocked"),
      });
      finish(l, waited.op, w.result, at, wrong, instead);
    }
  }
  for (const l of lanes.values()) {
    if (l.wait)
      l.events.push({
        at: l.wait.at,
        until: last,
        label: `${describe(l.wait.op)} waits${l.wait.words}`,
        marks: mark(l.wait.failing, "blocked"),
      });
    if (l.txn) close(l, last, undefined);
  }
  const byAt = (a: LaneEvent, b: LaneEvent) => a.at - b.at || (a.until ?? a.at) - (b.until ?? b.at);
  const out: Lanes["lanes"][number][] = [...lanes]
    .sort((a, b) => a[0] - b[0])
    .map(([tx, l]) => ({ id: `client${tx}`, label: `client ${tx}`, events: [...l.events].sort(byAt) }));
  if (server.length) out.push({ id: "server", label: sqlite ? "checkpoints" : "vacuum", events: server.sort(byAt) });
  return {
    kind: "lanes",
    lanes: out,
    caption: "reads key=value, writes key:=value; a bar: a transaction's life, or a statement waiting on a row lock",
  };
}

// ---- the dependency graph of an anomaly

type Kind = "ww" | "wr" | "rw";
interface Dependency {
  readonly from: Txn;
  readonly to: Txn;
  readonly kind: Kind;
  /** The keys (or a predicate's range) it is over. */
  readonly on: string;
}

/** Labels that name no Adya anomaly: no cycle to look for. */
const NOT_ANOMALIES: readonly string[] = [anomalyLabel.ownWrite, anomalyLabel.duplicate, anomalyLabel.needless];

/**
 * The transactions of the history and their dependencies as Adya (and Elle) draw them: T1 →ww T2, T2 installed the
 * next version of a row T1 wrote; T1 →wr T2, T2 read a version T1 wrote; T1 →rw T2, T1 read a version T2 replaced,
 * or its predicate read missed a row T2 inserted. The history before the failing op is the reference model's (as
 * classifyMvcc runs it); the failing op adds what the engine answered it did (read a version, overwrote a row,
 * committed). The shortest cycle, through the failing op's transaction where there is one, is marked "failed".
 */
export function mvccDependencies(steps: readonly Step[], failure: Failure, geometry: MvccGeometry): Graph | undefined {
  if ((geometry.flavour ?? "postgres") !== "postgres") return undefined;
  const ops = steps.filter((s) => s.index <= failure.index).map((s) => s.op as MvccOp);
  if (ops.length !== failure.index + 1) return undefined;
  const named = classifyMvcc(ops, failure, geometry);
  if (named === undefined || NOT_ANOMALIES.includes(named)) return undefined;

  // the history before the failing op, with the op each transaction ended at and the xid it wrote under (the
  // history keeps a statement's own transaction's xid only if it outlives the op: found here from the commit log)
  const h = new History(geometry);
  const ended = new Map<Txn, number>();
  const xidOf = new Map<Txn, number>();
  for (const [i, op] of ops.slice(0, failure.index).entries()) {
    const fated = new Set(Object.keys(h.state().clog));
    h.apply(op, i);
    for (const t of h.txns) if (t.xid !== undefined) xidOf.set(t, t.xid);
    const now = h.txns.filter((t) => t.end !== undefined && !ended.has(t));
    for (const t of now) ended.set(t, i);
    const known = new Set(xidOf.values());
    const unknown = Object.keys(h.state().clog)
      .filter((x) => !fated.has(x) && !known.has(Number(x)))
      .map(Number);
    const without = now.filter((t) => !xidOf.has(t));
    if (unknown.length === 1 && without.length === 1) xidOf.set(without[0]!, unknown[0]!);
  }
  const s = h.state();
  const txns = [...h.txns];
  const clientOf = new Map<Txn, number>(txns.map((t) => [t, (ops[t.start] as { tx: number }).tx]));
  const op = ops[failure.index]!;
  // the failing op's transaction: the client's open one, or the one the op begins
  let own: Txn | undefined;
  if ("tx" in op) {
    own = h.current.get(op.tx);
    if (!own) {
      own = { start: failure.index, level: "rc", read: new Set(), predicates: [], inserted: [] };
      txns.push(own);
      clientOf.set(own, op.tx);
    }
  }
  const byXid = new Map<number, Txn>([...xidOf].map(([t, x]) => [x, t]));
  const aborted = (xid: number) => s.clog[xid] === "aborted";
  const deps: Dependency[] = [];
  const add = (from: Txn | undefined, to: Txn | undefined, kind: Kind, on: string) => {
    if (from && to && from !== to) deps.push({ from, to, kind, on });
  };
  const readDeps = (t: Txn, v: Version) => {
    add(byXid.get(v.xmin), t, "wr", `${v.key}`);
    if (v.xmax !== 0 && !aborted(v.xmax)) add(t, byXid.get(v.xmax), "rw", `${v.key}`);
  };

  // the history's: each replaced version, each read, each predicate read that missed an insert or a row made to match
  for (const v of s.versions)
    if (v.xmax !== 0 && v.xmax !== v.xmin && !aborted(v.xmin) && !aborted(v.xmax))
      add(byXid.get(v.xmin), byXid.get(v.xmax), "ww", `${v.key}`);
  for (const t of txns) {
    for (const v of t.read) readDeps(t, v);
    for (const p of t.predicates)
      for (const u of txns) {
        const x = xidOf.get(u);
        if (u !== t && u.end !== "aborted" && missedBy(p, u, x, s))
          add(t, u, "rw", `${p.lo}..${p.hi}${p.eq === undefined ? "" : `[v=${p.eq}]`}`);
      }
  }

  // the failing op (and the statements it woke) as the engine answered them
  const claim = (t: Txn, o: MvccOp, r: Answer, wasWaiting = false) => {
    if (!("tx" in o)) return;
    const { snapshot, own: xid } = h.reader(s, o.tx, wasWaiting);
    if ((o.op === "read" || o.op === "scan") && ("values" in r || "rows" in r)) {
      const pairs = "values" in r ? r.values.map((v): [number, number] => [(o as { key: number }).key, v]) : r.rows;
      for (const [k, value] of pairs) {
        const matching = s.versions.filter((v) => v.key === k && v.value === value);
        const seen = matching.filter((v) => visible(s, v, snapshot, xid));
        for (const v of seen.length ? seen : matching) readDeps(t, v);
      }
    }
    if (
      (o.op === "update" || o.op === "delete" || o.op === "updateWhere" || o.op === "deleteWhere") &&
      "count" in r &&
      r.count > 0
    ) {
      // it read its rows through its snapshot: the versions it saw, and whoever replaced those since
      const sel = selection(o);
      const keys = new Set<number>();
      for (const v of s.versions)
        if (selects(sel, v.key, v.value) && visible(s, v, snapshot, xid)) {
          readDeps(t, v);
          keys.add(v.key);
        }
      if (!("lo" in o)) keys.add(o.key);
      // it overwrote each row's newest version, and so what every other reader of that version read
      for (const key of keys) {
        const ofKey = s.versions.filter((v) => v.key === key && !aborted(v.xmin));
        const live = ofKey.filter((v) => v.xmax === 0 || aborted(v.xmax));
        for (const v of live.length ? live : ofKey.slice(-1)) {
          add(byXid.get(v.xmin), t, "ww", `${key}`);
          for (const u of txns) if (u.read.has(v)) add(u, t, "rw", `${key}`);
        }
      }
    }
    if (o.op === "insert" && "count" in r && r.count > 0) {
      const x = xidOf.get(t);
      for (const u of txns)
        for (const p of u.predicates)
          if (o.key >= p.lo && o.key <= p.hi && (x === undefined || inSnapshot(x, p.snapshot)))
            add(u, t, "rw", `${p.lo}..${p.hi}`);
    }
  };
  const observed = (failure.observed ?? steps.find((x) => x.index === failure.index)?.observed) as Answer | undefined;
  const allowed = choices(failure.expected);
  // the transactions whose answers were wrong: the op's own, and those of the statements it woke
  const culprits: Txn[] = [];
  if (own && observed && !allowed.some((e) => deepEqual(ownAnswer(e), ownAnswer(observed)))) {
    claim(own, op, observed);
    culprits.push(own);
  }
  for (const w of observed ? woken(observed) : []) {
    const waiting = h.waiting.get(w.tx);
    const t = h.current.get(w.tx);
    const right = allowed.some((e) => woken(e).some((x) => x.tx === w.tx && deepEqual(x.result, w.result)));
    if (waiting && t && !right) {
      claim(t, waiting, w.result, true);
      culprits.push(t);
    }
  }
  if (!culprits.length && own) culprits.push(own);
  // the failing COMMIT or ROLLBACK ended its transaction, as the engine says
  const endedByEngine =
    op.op === "commit" && observed && "ok" in observed ? "committed" : op.op === "abort" ? "aborted" : undefined;

  // one edge per pair and kind, naming its keys
  const merged = new Map<string, Edge>();
  for (const d of deps) {
    const k = `${txns.indexOf(d.from)}-${txns.indexOf(d.to)}-${d.kind}`;
    const m = merged.get(k) ?? { from: d.from, to: d.to, kind: d.kind, on: [] };
    if (!m.on.includes(d.on)) m.on.push(d.on);
    merged.set(k, m);
  }
  const edges = [...merged.values()];
  const cycle =
    shortest(culprits.map((t) => shortestCycle(edges, t))) ?? shortest(txns.map((t) => shortestCycle(edges, t)));
  const id = (t: Txn) => `T${txns.indexOf(t) + 1}`;
  const nodes: GraphNode[] = txns.map((t) => {
    const byEngine = t === own ? endedByEngine : undefined;
    const fate = byEngine ?? t.end ?? "running";
    const end = byEngine ? failure.index : ended.get(t);
    const xid = xidOf.get(t);
    const lines = [
      `${id(t)}: client ${clientOf.get(t)}`,
      `ops ${t.start}–${end ?? "…"}, ${t.level}${xid !== undefined ? `, xid ${xid}` : ""}`,
      byEngine ? `${fate} (by the engine)` : fate,
    ];
    const marks = [
      fate === "committed" ? "commit" : fate === "aborted" ? "abort" : undefined,
      culprits.includes(t) ? "failed" : undefined,
    ].filter((m): m is string => m !== undefined);
    return { id: id(t), label: lines.join("\n"), ...(marks.length ? { marks } : {}) };
  });
  const graphEdges: GraphEdge[] = edges.map((e) => ({
    from: id(e.from),
    to: id(e.to),
    label: `${e.kind} ${e.on.join(",")}`,
    marks: cycle?.includes(e) ? [e.kind, "failed"] : [e.kind],
  }));
  return {
    kind: "graph",
    direction: "LR",
    nodes,
    edges: graphEdges,
    caption: `${named}. ${cycle ? "The cycle is marked" : "No cycle"}; ww: overwrote, wr: read the write of, rw: read what the other then replaced`,
  };
}

type Edge = { from: Txn; to: Txn; kind: Kind; on: string[] };

/** The shortest cycle through `start` (breadth first), as its edges. */
function shortestCycle(edges: readonly Edge[], start: Txn | undefined): Edge[] | undefined {
  if (!start) return undefined;
  const via = new Map<Txn, Edge>();
  const queue: Txn[] = [start];
  while (queue.length) {
    const t = queue.shift()!;
    for (const e of edges) {
      if (e.from !== t) continue;
      if (e.to === start) {
        const path = [e];
        for (let x = t; x !== start; x = via.get(x)!.from) path.unshift(via.get(x)!);
        return path;
      }
      if (!via.has(e.to)) {
        via.set(e.to, e);
        queue.push(e.to);
      }
    }
  }
  return undefined;
}

const shortest = (cycles: readonly (Edge[] | undefined)[]): Edge[] | undefined =>
  cycles.reduce<Edge[] | undefined>((a, c) => (c && (!a || c.length < a.length) ? c : a), undefined);

/** The trace's pictures: the timeline, and for an Adya anomaly its dependency graph. */
export function mvccTracePictures(
  steps: readonly Step[],
  failure: Failure,
  geometry: MvccGeometry,
): readonly TitledPicture[] {
  const out: TitledPicture[] = [{ title: "timeline", picture: mvccTimeline(steps, failure, geometry) }];
  const deps = mvccDependencies(steps, failure, geometry);
  if (deps) {
    const cyclic = deps.edges.some((e) => e.marks?.includes("failed"));
    out.push({ title: cyclic ? "dependency cycle" : "dependencies", picture: deps });
  }
  return out;
}
