// Name the anomaly a failing mvcc history shows, in Adya's terms as Hermitage uses them: G0 dirty write, G1a aborted
// read, G1b intermediate read, G1c circular information flow, OTV observed transaction vanishes, PMP
// predicate-many-preceders, P4 lost update, G-single read skew, G2-item write skew, G2 anti-dependency cycle through a
// predicate; and, apart from them, a transaction that did not see its own write (no Adya anomaly: his definitions
// take it as given). The history before the failing op is run on the reference model, which records what each
// transaction read; the failing op's wrong answer is then read against the model's heap just before it: which
// version a value the engine should not have answered came from (or which one it left out) says what it saw.
import { type Failure, minus } from "../../core/index.ts";
import { MvccModel } from "../../models/mvcc/model.ts";
import { inSnapshot, visible } from "../../models/mvcc/state.ts";
import {
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccResult,
  type MvccState,
  type Selection,
  type Snapshot,
  selection,
  selects,
  type Version,
} from "../../models/mvcc/types.ts";

/** An observation or a woken statement's result. */
type Answer = MvccObs | MvccResult;

/** The labels, by the rule that gives them. */
export const label = {
  ownWrite: "not an Adya anomaly: it did not see its own write (read-your-own-writes)",
  g0: "G0 (dirty write): it changed a row another open transaction had changed, without waiting",
  g1a: "G1a (aborted read): it read a write of a transaction that aborted",
  g1b: "G1b (intermediate read): it read a version its writer replaced before committing",
  g1c: "G1c (circular information flow): it read a write of a transaction that waits to overwrite its own write",
  dirty: "G1 (dirty read): it read a write of a transaction still running",
  otv: "OTV (observed transaction vanishes): it read a version that a transaction it had already seen replaced",
  otvVacuum: "OTV (observed transaction vanishes): vacuum removed rows its snapshot sees",
  pmp: "PMP (predicate-many-preceders): a predicate read found a row committed after its snapshot (a phantom)",
  p4: "P4 (lost update): it changed a row a concurrent transaction changed and committed",
  repeat:
    "G-single (read skew): it saw a write committed after its snapshot, by a transaction that replaced a version it had read",
  later: "G-single (read skew): it saw a write committed after its snapshot",
  stale: "G-single (read skew): it read a version that a write committed before its snapshot replaced (a stale read)",
  g2: "G2 (anti-dependency cycle): serializable transactions each missed the other's writes, one of them an insert a predicate read missed (a phantom), and none failed",
  g2item: "G2-item (write skew): serializable transactions each missed the other's writes, and none failed",
  duplicate: "a duplicate key: the unique constraint did not hold",
  needless: "no anomaly: a serialization failure where none was needed",
} as const;
type Label = (typeof label)[keyof typeof label];

/** When a failing op shows more than one, the name it gets: its own write first, then Adya's from G1a on. */
const rank: readonly Label[] = [
  label.ownWrite,
  label.g1a,
  label.g1c,
  label.dirty,
  label.g1b,
  label.otvVacuum,
  label.otv,
  label.pmp,
  label.repeat,
  label.later,
  label.stale,
];

/** The anomaly an invariant's failure shows, by the member that failed. */
const byInvariant: Record<string, string> = {
  "one-live-version": "G0 (dirty write): two live versions of one key",
  "old-readers-see-old-state": "G-single (read skew): a repeatable-read snapshot's rows changed under it",
  "vacuum-keeps-visible": "OTV (observed transaction vanishes): vacuum removed a version a live snapshot sees",
};

export function classifyMvcc(ops: readonly MvccOp[], failure: Failure, geometry: MvccGeometry): string | undefined {
  if ((geometry.flavour ?? "postgres") !== "postgres") return undefined; // the history is the PostgreSQL model's
  if (failure.kind === "invariant") return byInvariant[failure.property];
  if (failure.kind !== "equivalence") return undefined;
  const observed = failure.observed as MvccObs;
  const allowed = failure.expected as MvccObs | { oneOf: MvccObs[] };
  const expected = "oneOf" in allowed ? allowed.oneOf[0]! : allowed;
  const history = new History(geometry);
  for (const [i, o] of ops.slice(0, failure.index).entries()) history.apply(o, i);
  const op = ops[failure.index]!;
  const own = statement(history, failure.index, op, observed, expected, history.state());
  if (own) return own;
  // what the op woke: each waiter's statement against what it should have answered, once the op has ended the
  // transaction it waited for
  const woken = (o: MvccObs) => ("unblocked" in o ? (o.unblocked ?? []) : []);
  const ended = history.state(op.op === "commit" || op.op === "abort" ? ending(history, op, expected) : undefined);
  for (const w of woken(observed)) {
    const want = woken(expected).find((x) => x.tx === w.tx)?.result;
    const waiting = history.waiting.get(w.tx);
    if (want && waiting) {
      const found = statement(history, failure.index, waiting, w.result, want, ended, true);
      if (found) return found;
    }
  }
  return undefined;
}

/** The fate the failing COMMIT or ROLLBACK gives its transaction, as the reference engine ran it. */
function ending(h: History, op: MvccOp & { tx: number }, expected: MvccObs): [number, "committed" | "aborted"] | [] {
  const xid = h.state().txs.find((t) => t.tx === op.tx)?.xid;
  if (xid === undefined) return [];
  return [xid, op.op === "commit" && "ok" in expected ? "committed" : "aborted"];
}

/** A transaction of the history, as the reference model ran it. */
export interface Txn {
  /** The index of its first op. */
  readonly start: number;
  level: string;
  xid?: number;
  end?: "committed" | "aborted";
  /** The versions its reads and scans returned. */
  readonly read: Set<Version>;
  /** Every read and scan, as a predicate over keys, with the snapshot it read: an insert it missed is a phantom. */
  /** Its predicate reads: scans, and writes by predicate (with the value they select). */
  readonly predicates: (Selection & { snapshot: Snapshot })[];
  readonly inserted: number[];
}

/** The history up to the failing op, run on the reference model, with what each transaction read. */
export class History {
  private readonly model: MvccModel;
  readonly txns: Txn[] = [];
  /** The open transaction of each client. */
  readonly current = new Map<number, Txn>();
  /** The statement each waiting client waits in. */
  readonly waiting = new Map<number, MvccOp>();
  readonly ops: MvccOp[] = [];

  constructor(geometry: MvccGeometry) {
    this.model = new MvccModel(geometry);
  }

  /** The heap, commit log and sessions now (the commit log copied, with one transaction's fate set if given). */
  state(fate: [number, "committed" | "aborted"] | [] = []): MvccState {
    const s = this.model.inspect();
    const [xid, end] = fate;
    return xid === undefined ? { ...s, clog: { ...s.clog } } : { ...s, clog: { ...s.clog, [xid]: end } };
  }

  apply(op: MvccOp, index: number): void {
    this.ops.push(op);
    const before = this.state();
    let txn: Txn | undefined;
    if ("tx" in op && !this.model.session(op.tx).blocked) {
      txn = this.current.get(op.tx);
      if (!txn) {
        txn = { start: index, level: "rc", read: new Set(), predicates: [], inserted: [] };
        this.current.set(op.tx, txn);
        this.txns.push(txn);
      }
      const aborted = before.txs.some((t) => t.tx === op.tx && t.failed);
      // reads, and the predicate a write by predicate reads its rows by
      if ((op.op === "read" || "lo" in op) && !aborted) {
        const sel: Selection = op.op === "read" ? { lo: op.key, hi: op.key } : op.op === "scan" ? op : selection(op);
        const { snapshot, own } = this.reader(before, op.tx);
        for (const v of before.versions)
          if (selects(sel, v.key, v.value) && visible(before, v, snapshot, own)) txn.read.add(v);
        txn.predicates.push({ ...sel, snapshot });
      }
      if (op.op === "insert") txn.inserted.push(op.key);
    }
    const obs = this.model.apply(op);
    const after = this.model.inspect();
    if ("tx" in op && "blocked" in obs) this.waiting.set(op.tx, op);
    for (const c of [...this.waiting.keys()])
      if (!after.txs.some((t) => t.tx === c && t.waiting)) this.waiting.delete(c);
    for (const [c, t] of [...this.current]) {
      const open = after.txs.find((x) => x.tx === c);
      if (open) {
        t.level = open.level;
        t.xid ??= open.xid;
        continue;
      }
      const failed = t === txn && ("error" in obs || "rolledBack" in obs);
      t.end = t.xid !== undefined ? (after.clog[t.xid] ?? "aborted") : failed ? "aborted" : "committed";
      this.current.delete(c);
    }
  }

  /**
   * The snapshot a statement of the client reads, and its xid: its transaction's snapshot (REPEATABLE READ and
   * SERIALIZABLE, once taken; a waiting statement's own), else a new one as GetSnapshotData takes it.
   */
  reader(s: MvccState, client: number, woken = false): { snapshot: Snapshot; own: number | undefined } {
    const t = s.txs.find((x) => x.tx === client);
    if (t?.snapshot && (woken || t.level !== "rc")) return { snapshot: t.snapshot, own: t.xid };
    const xip = s.txs
      .map((x) => x.xid)
      .filter((x): x is number => x !== undefined && x !== t?.xid && s.clog[x] === undefined)
      .sort((a, b) => a - b);
    return { snapshot: { xmin: Math.min(s.nextXid, ...xip), xmax: s.nextXid, xip }, own: t?.xid };
  }
}

const pairs = (key: number, r: Answer): string[] =>
  "values" in r ? r.values.map((v) => `${key}=${v}`) : "rows" in r ? r.rows.map(([k, v]) => `${k}=${v}`) : [];
const pair = (v: Version): string => `${v.key}=${v.value}`;

/** The anomaly a statement's (or COMMIT's) answer shows against the one it should have given. */
function statement(
  h: History,
  index: number,
  op: MvccOp,
  observed: Answer,
  expected: Answer,
  s: MvccState,
  woken = false,
): string | undefined {
  if (!("tx" in op) || "skipped" in observed || "skipped" in expected) return undefined;
  const has = (o: Answer, k: string) => k in o;
  const error = (o: Answer) => ("error" in o ? o.error : undefined);
  const count = (o: Answer) => ("count" in o ? o.count : undefined);
  const { snapshot, own } = h.reader(s, op.tx, woken);
  const reader: Reader = { h, s, snapshot, own, txn: h.current.get(op.tx), index };
  const ofSel = (sel: Selection, seen: boolean) =>
    s.versions.filter((v) => selects(sel, v.key, v.value) && visible(s, v, snapshot, own) === seen);
  switch (op.op) {
    case "read":
    case "scan": {
      if (has(observed, "blocked") || has(expected, "blocked")) return undefined;
      const key = op.op === "read" ? op.key : 0;
      const [lo, hi] = op.op === "read" ? [op.key, op.key] : [op.lo, op.hi];
      const seen = pairs(key, observed);
      const want = pairs(key, expected);
      const inRange = s.versions.filter((v) => v.key >= lo && v.key <= hi);
      const extra = minus(seen, want).flatMap((p) =>
        inRange.filter((v) => pair(v) === p && !visible(s, v, snapshot, own)).map((v) => unseen(reader, v)),
      );
      const missing = minus(want, seen).flatMap((p) =>
        inRange.filter((v) => pair(v) === p && visible(s, v, snapshot, own)).map((v) => lost(reader, v)),
      );
      return first([...extra, ...missing]);
    }
    case "update":
    case "delete":
    case "updateWhere":
    case "deleteWhere":
    case "insert": {
      if (has(observed, "count") && has(expected, "blocked")) return label.g0;
      const [o, e] = [count(observed), count(expected)];
      const sel = op.op === "insert" ? { lo: op.key, hi: op.key } : selection(op);
      if (error(expected) === "40001" && o !== undefined) {
        // first-updater-wins: a transaction committed after its snapshot changed the row, and it changed the row
        // anyway (a lost update) or found it gone (it saw that change); else SSI's failure, a write skew let through
        const changed =
          op.op === "insert" ? [] : ofSel(sel, true).filter((v) => v.xmax !== 0 && s.clog[v.xmax] === "committed");
        if (changed.length) return o > 0 ? label.p4 : first(changed.map((v) => lost(reader, v)));
        return phantom(h, op.tx) ? label.g2 : label.g2item;
      }
      if (op.op === "insert") {
        const live = s.versions.filter(
          (v) => v.key === op.key && s.clog[v.xmin] !== "aborted" && (v.xmax === 0 || s.clog[v.xmax] === "aborted"),
        );
        if (o !== undefined && error(expected) === "23505")
          return live.some((v) => v.xmin === own) ? label.ownWrite : label.duplicate;
        // it tripped over a row that is gone: whose row says what it saw
        if (error(observed) === "23505" && e !== undefined)
          return first(s.versions.filter((v) => v.key === op.key && !live.includes(v)).map((v) => unseen(reader, v)));
        return undefined;
      }
      if (e === undefined) return undefined;
      // it changed (or tripped over) a row it should not have seen, or missed one it should have changed
      if ((o !== undefined && o > e) || error(observed) === "40001")
        return first(ofSel(sel, false).map((v) => unseen(reader, v)));
      if (o !== undefined && o < e) return first(ofSel(sel, true).map((v) => lost(reader, v)));
      return undefined;
    }
    case "commit":
      if (has(observed, "ok") && error(expected) === "40001") return phantom(h, op.tx) ? label.g2 : label.g2item;
      if (error(observed) === "40001" && has(expected, "ok")) return label.needless;
      return undefined;
    default:
      return undefined;
  }
}

/** The statement whose answer is wrong: what it should read, and what its transaction read before. */
interface Reader {
  readonly h: History;
  readonly s: MvccState;
  readonly snapshot: Snapshot;
  readonly own: number | undefined;
  readonly txn: Txn | undefined;
  readonly index: number;
}

const first = (found: (Label | undefined)[]): Label | undefined =>
  rank.find((l) => found.includes(l)) ?? found.find((l) => l !== undefined);

/** What the engine saw, answering (or acting on) a version its snapshot does not see. */
function unseen(r: Reader, v: Version): Label | undefined {
  const { s, snapshot, own } = r;
  // its own version that it replaced or deleted since, or one it replaced or deleted itself
  if (own !== undefined && (v.xmin === own || v.xmax === own)) return label.ownWrite;
  const fate = s.clog[v.xmin];
  if (fate === "aborted") return label.g1a;
  if (fate === undefined) return waitsOn(r, v.xmin) ? label.g1c : label.dirty;
  if (v.xmax === v.xmin) return label.g1b;
  if (inSnapshot(v.xmin, snapshot)) {
    // committed after its snapshot: a row its snapshot did not have at all is a phantom
    if (!s.versions.some((u) => u.key === v.key && visible(s, u, snapshot, own))) return label.pmp;
    return replacedRead(r, v.xmin) ? label.repeat : label.later;
  }
  // committed before its snapshot, and replaced before it too: an old version
  return observed(r, v.xmax) ? label.otv : label.stale;
}

/** What the engine saw, leaving out (or not acting on) a version its snapshot sees. */
function lost(r: Reader, v: Version): Label | undefined {
  const { s, own } = r;
  if (own !== undefined && v.xmin === own) return label.ownWrite;
  if (r.txn && r.h.ops.slice(r.txn.start, r.index).some((o) => o.op === "vacuum")) return label.otvVacuum;
  // nobody deleted it: a committed write vanished
  if (v.xmax === 0) return observed(r, v.xmin) ? label.otv : label.stale;
  const fate: "committed" | "aborted" | undefined = s.clog[v.xmax];
  if (fate === "aborted") return label.g1a; // a rolled-back delete took effect
  if (fate === undefined) return waitsOn(r, v.xmax) ? label.g1c : label.dirty;
  // the snapshot sees it, so its deleter committed after the snapshot
  return replacedRead(r, v.xmax) ? label.repeat : label.later;
}

/** The reader's transaction read a version that `xid` replaced or deleted: an anti-dependency on it. */
function replacedRead(r: Reader, xid: number): boolean {
  return [...(r.txn?.read ?? [])].some((u) => u.xmax === xid);
}

/** The reader's transaction read a write of `xid` before. */
function observed(r: Reader, xid: number): boolean {
  return [...(r.txn?.read ?? [])].some((u) => u.xmin === xid);
}

/**
 * The running transaction `xid` waits, directly or through other waiters, to change a row the reader changed: once
 * the reader commits, it overwrites the reader's version (READ COMMITTED follows the update chain), so reading its
 * write closes a cycle of write and read dependencies.
 */
function waitsOn(r: Reader, xid: number, seen = new Set<number>()): boolean {
  const { s, own, h } = r;
  if (own === undefined || seen.has(xid)) return false;
  seen.add(xid);
  const t = s.txs.find((x) => x.xid === xid);
  const op = t && h.waiting.get(t.tx);
  if (!t?.waiting || t.level !== "rc" || !op || !("key" in op)) return false;
  const running = (x: number) => x !== 0 && x !== xid && s.clog[x] === undefined;
  const holders = new Set(s.versions.filter((v) => v.key === op.key).flatMap((v) => [v.xmin, v.xmax].filter(running)));
  return holders.has(own) || [...holders].some((x) => waitsOn(r, x, seen));
}

/**
 * Whether a predicate read missed a row that transaction `b` (xid `xid`, not committed before the read's snapshot) made: an
 * insert of a key in its range, or, for a predicate on the value, a version that it names (an update that made a
 * row match).
 */
export function missedBy(p: Txn["predicates"][number], b: Txn, xid: number | undefined, s: MvccState): boolean {
  if (xid === undefined || !inSnapshot(xid, p.snapshot)) return false;
  if (b.inserted.some((k) => k >= p.lo && k <= p.hi)) return true;
  // a value predicate also misses an update that made a row match (a key range reads the rows it holds as items)
  return p.eq !== undefined && s.versions.some((v) => v.xmin === xid && selects(p, v.key, v.value));
}

/**
 * A predicate anti-dependency among the serializable transactions a COMMIT would complete: one's read, scan or
 * write by predicate missed a row another (not committed before its snapshot) inserted or made match.
 */
function phantom(h: History, committer: number): boolean {
  const ser = h.txns.filter((t) => t.level === "ser" && (t.end === "committed" || h.current.get(committer) === t));
  const s = h.state();
  return ser.some((a) => a.predicates.some((p) => ser.some((b) => b !== a && missedBy(p, b, b.xid, s))));
}
