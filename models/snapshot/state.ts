// The snapshot state as JSON (what an external engine answers to `inspect`) and as a picture for reports.
import { type SnapshotState, snapshotStateSchema } from "./types.ts";

export function decodeSnapshotState(json: unknown): SnapshotState {
  return snapshotStateSchema.parse(json);
}

/** Each tree as an indented node picture: id, birth, count, and a leaf's entries. */
export function renderSnapshotState(s: SnapshotState): string {
  const out: string[] = [
    `${s.flavour}: open txn ${s.txn}${s.dirty ? " (dirty)" : ""}, metas ${s.metas.map((m) => m.txn).join("/")}`,
  ];
  const node = (id: number, depth: number): void => {
    const n = s.nodes[id];
    const pad = "  ".repeat(depth + 2);
    if (!n) {
      out.push(`${pad}#${id} (missing)`);
      return;
    }
    const tag = `#${id} born ${n.birth} refs ${n.refs}${n.lost ? " LOST" : ""}`;
    if (n.kids) {
      out.push(`${pad}${tag} [${n.keys.join(" | ")}]`);
      for (const k of n.kids) node(k, depth + 1);
      return;
    }
    const entries = n.keys.map(
      (k, i) => `${k}=${JSON.stringify(n.vals![i]!.map(([e, b]) => s.extents[e]?.data[b] ?? "?"))}`,
    );
    const holes = (n.holes ?? []).map(([k, b]) => `${k}:hole@${b}`);
    out.push(`${pad}${tag} {${[...entries, ...holes].join(" ")}}`);
  };
  for (const [id, t] of Object.entries(s.trees)) {
    const kind = [
      t.readonly ? "read-only" : "writable",
      t.kind === "snapshot" ? `snapshot of ${t.of}` : undefined,
      t.origin !== undefined ? `origin ${t.origin}` : undefined,
      t.taken !== undefined ? `taken ${t.taken}` : undefined,
    ]
      .filter(Boolean)
      .join(", ");
    out.push(`  tree ${id} (${kind})${t.root === null ? ": empty" : ":"}`);
    if (t.root !== null) node(t.root, 0);
  }
  if (s.free.length) out.push(`  free: ${s.free.join(", ")}`);
  if (s.pending.length) out.push(`  freed by the open txn: ${s.pending.join(", ")}`);
  if (s.freelist && Object.keys(s.freelist).length)
    out.push(
      `  freelist: ${Object.entries(s.freelist)
        .map(([t, p]) => `txn ${t}: ${p.join(",")}`)
        .join("; ")}`,
    );
  if (s.readers && Object.keys(s.readers).length)
    out.push(
      `  readers: ${Object.entries(s.readers)
        .map(([r, t]) => `${r}@txn ${t}`)
        .join(", ")}`,
    );
  return out.join("\n");
}
