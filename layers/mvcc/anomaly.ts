// Name the anomaly a failing mvcc history shows, in Adya's terms as Hermitage uses them (G0 dirty write, G1a aborted
// read, G1b intermediate read, G-single read skew, PMP predicate-many-preceders, OTV observed transaction vanishes,
// P4 lost update, G2-item write skew, G2 anti-dependency cycle through a predicate). The failing op is read against
// the reference model's heap just before it: which version the engine's extra value came from says what it saw.
import { type Failure, minus } from "../../core/index.ts";
import { MvccModel } from "../../models/mvcc/model.ts";
import type { MvccGeometry, MvccObs, MvccOp, MvccResult, MvccState } from "../../models/mvcc/types.ts";

/** An observation or a woken statement's result. */
type Answer = MvccObs | MvccResult;

const pairs = (key: number, r: Answer): string[] =>
  "values" in r ? r.values.map((v) => `${key}=${v}`) : "rows" in r ? r.rows.map(([k, v]) => `${k}=${v}`) : [];

/** The anomaly an invariant's failure shows, by the member that failed. */
const byInvariant: Record<string, string> = {
  "one-live-version": "G0 (dirty write): two live versions of one key",
  "old-readers-see-old-state": "G-single (read skew): a repeatable-read snapshot's rows changed under it",
  "vacuum-keeps-visible": "OTV (observed transaction vanishes): vacuum removed a version a live snapshot sees",
};

export function classifyMvcc(ops: readonly MvccOp[], failure: Failure, geometry: MvccGeometry): string | undefined {
  if (geometry.flavour === "sqlite") return undefined;
  if (failure.kind === "invariant") return byInvariant[failure.property];
  if (failure.kind !== "equivalence") return undefined;
  const observed = failure.observed as MvccObs;
  const allowed = failure.expected as MvccObs | { oneOf: MvccObs[] };
  const expected = "oneOf" in allowed ? allowed.oneOf[0]! : allowed;
  const model = new MvccModel(geometry);
  for (const o of ops.slice(0, failure.index)) model.apply(o);
  const before = model.inspect();
  const op = ops[failure.index]!;
  const own = statement(before, ops, failure.index, op, observed, expected);
  if (own) return own;
  // what the op woke: each waiter's statement against what it should have answered
  const woken = (o: MvccObs) => ("unblocked" in o ? (o.unblocked ?? []) : []);
  for (const w of woken(observed)) {
    const want = woken(expected).find((x) => x.tx === w.tx)?.result;
    const waiting = [...ops.slice(0, failure.index)].reverse().find((o) => "tx" in o && o.tx === w.tx);
    if (want && waiting) {
      const found = statement(before, ops, failure.index, waiting, w.result, want);
      if (found) return found;
    }
  }
  return undefined;
}

/** The anomaly a statement's (or COMMIT's) answer shows against the one it should have given. */
function statement(
  before: MvccState,
  ops: readonly MvccOp[],
  index: number,
  op: MvccOp,
  observed: Answer,
  expected: Answer,
): string | undefined {
  if (!("tx" in op) || "skipped" in observed || "skipped" in expected) return undefined;
  const has = (o: Answer, k: string) => k in o;
  const error = (o: Answer) => ("error" in o ? o.error : undefined);
  const count = (o: Answer) => ("count" in o ? o.count : undefined);
  switch (op.op) {
    case "read":
    case "scan": {
      if (has(observed, "blocked") || has(expected, "blocked")) return undefined;
      const key = op.op === "read" ? op.key : 0;
      const seen = pairs(key, observed);
      const want = pairs(key, expected);
      const extra = minus(seen, want);
      if (extra.length) return readAnomaly(before, op.tx, extra, op.op === "scan" ? want : undefined);
      if (!minus(want, seen).length) return undefined;
      const since = ops
        .slice(0, index)
        .map((o) => o.op === "begin" && o.tx === op.tx)
        .lastIndexOf(true);
      return ops.slice(since, index).some((o) => o.op === "vacuum")
        ? "OTV (observed transaction vanishes): vacuum removed rows its snapshot sees"
        : "G-single (read skew): rows its snapshot saw are gone (a non-repeatable read)";
    }
    case "update":
    case "delete":
    case "insert": {
      if (has(observed, "count") && has(expected, "blocked"))
        return "G0 (dirty write): it changed a row another open transaction had changed, without waiting";
      if (has(observed, "count") && error(expected) === "40001")
        return "P4 (lost update): it changed a row a concurrent transaction changed and committed";
      if (has(observed, "count") && error(expected) === "23505")
        return "a duplicate key: the unique constraint did not hold";
      const [o, e] = [count(observed), count(expected)];
      // it changed a row it should not have seen (or tripped over one): what that row's versions are says why
      if (op.op !== "insert" && e !== undefined && ((o !== undefined && o > e) || error(observed) === "40001")) {
        const versions = before.versions.filter((v) => v.key === op.key).map((v) => `${v.key}=${v.value}`);
        return readAnomaly(before, op.tx, versions, undefined);
      }
      return undefined;
    }
    case "commit":
      if (has(observed, "ok") && error(expected) === "40001") {
        return ops.slice(0, index).some((o) => o.op === "scan")
          ? "G2 (anti-dependency cycle): serializable transactions that each missed the other's writes, through a predicate read, all committed"
          : "G2-item (write skew): serializable transactions that each missed the other's writes all committed";
      }
      if (error(observed) === "40001" && has(expected, "ok"))
        return "no anomaly: a serialization failure where none was needed";
      return undefined;
    default:
      return undefined;
  }
}

/** What the versions behind values the reader should not have seen say about them. */
function readAnomaly(s: MvccState, tx: number, extra: string[], scanned: string[] | undefined): string {
  const own = s.txs.find((t) => t.tx === tx)?.xid;
  const sources = s.versions.filter((v) => v.xmin !== own && extra.includes(`${v.key}=${v.value}`));
  const fate = (x: number) => s.clog[x];
  if (sources.some((v) => fate(v.xmin) === "aborted"))
    return "G1a (aborted read): it read a write of a transaction that aborted";
  if (sources.some((v) => fate(v.xmin) === undefined))
    return "G1 (dirty read): it read a write of a transaction still running";
  if (sources.some((v) => v.xmax === v.xmin))
    return "G1b (intermediate read): it read a version its writer replaced before committing";
  if (scanned && extra.some((p) => !scanned.some((q) => q.split("=")[0] === p.split("=")[0]))) {
    return "PMP (predicate-many-preceders): a predicate read found a row committed after its snapshot (a phantom)";
  }
  return "G-single (read skew): it read a value committed after its snapshot (a non-repeatable read)";
}
