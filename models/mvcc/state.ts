// The mvcc state as JSON (what an external engine answers to `inspect`) and as a picture for reports. The SSI part
// (`ssi`) is optional: an engine that keeps none leaves it out, and the property reading it then checks nothing.
import { type MvccState, mvccStateSchema, type Snapshot, type Version } from "./types.ts";

/** Still running when the snapshot was taken (or not started yet): XidInMVCCSnapshot. */
export const inSnapshot = (xid: number, s: Snapshot): boolean => xid >= s.xmax || s.xip.includes(xid);

/** HeapTupleSatisfiesMVCC over an inspected state: whether snapshot `snap` of transaction `own` sees `v`. */
export function visible(s: MvccState, v: Version, snap: Snapshot, own: number | undefined): boolean {
  if (v.xmin === own) return v.xmax !== own;
  if (s.clog[v.xmin] !== "committed" || inSnapshot(v.xmin, snap)) return false;
  if (v.xmax === 0 || s.clog[v.xmax] === "aborted") return true;
  if (v.xmax === own) return false;
  if (s.clog[v.xmax] !== "committed") return true;
  return inSnapshot(v.xmax, snap);
}

export function decodeMvccState(json: unknown): MvccState {
  return mvccStateSchema.parse(json);
}

export function renderMvccState(s: MvccState): string {
  const fate = (x: number) =>
    x === 0 ? "-" : `${x}${s.clog[x] === "committed" ? "c" : s.clog[x] === "aborted" ? "a" : "?"}`;
  const lines = [
    "key  value  xmin  xmax",
    ...s.versions.map(
      (v) => `${String(v.key).padEnd(5)}${String(v.value).padEnd(7)}${fate(v.xmin).padEnd(6)}${fate(v.xmax)}`,
    ),
  ];
  for (const t of s.txs) {
    const snap = t.snapshot ? ` snapshot ${t.snapshot.xmin}:${t.snapshot.xmax}:${t.snapshot.xip.join(",")}` : "";
    lines.push(
      `client ${t.tx} (${t.level}${t.failed ? ", failed" : ""})${t.xid !== undefined ? ` xid ${t.xid}` : ""}${snap}`,
    );
  }
  // SSI: each serializable transaction kept, its flags, SIREAD locks and rw-conflicts (→ out to writers of what it read)
  for (const x of s.ssi?.sxacts ?? []) {
    const flags = [
      x.xid !== undefined ? `xid ${x.xid}` : "",
      x.commitSeqNo !== undefined ? `committed #${x.commitSeqNo}` : "",
      x.readOnly ? "read only" : "",
      x.doomed ? "doomed" : "",
      x.locks.length ? `SIREAD ${x.locks.map((l) => l.target).join(",")}` : "",
    ].filter(Boolean);
    const out = x.outConflicts.length ? ` →rw ${x.outConflicts.map((i) => `T${i}`).join(",")}` : "";
    lines.push(`ssi T${x.id} client ${x.tx}${flags.length ? ` (${flags.join(", ")})` : ""}${out}`);
  }
  return lines.join("\n");
}
