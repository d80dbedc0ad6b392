// The mvcc state as JSON (what an external engine answers to `inspect`) and as a picture for reports.
import { type MvccState, mvccStateSchema } from "./types.ts";

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
  return lines.join("\n");
}
