// The overlay state as JSON (what an external engine answers to `inspect`) and as a picture for reports.
import { type OverlayState, overlayStateSchema, type RawEntry } from "./types.ts";

export function decodeOverlayState(json: unknown): OverlayState {
  return overlayStateSchema.parse(json);
}

function line(e: RawEntry): string {
  const depth = e.path.split("/").length - 1;
  const name = e.path.split("/").pop()!;
  const tags = [
    e.mode !== undefined ? e.mode.toString(8).padStart(4, "0") : undefined,
    e.type === "file" ? (e.metacopy ? `metacopy size ${e.size}` : JSON.stringify(e.data)) : undefined,
    e.type === "symlink" ? `-> ${e.target}` : undefined,
    e.opaque !== undefined ? `opaque=${e.opaque}` : undefined,
    e.redirect !== undefined ? `redirect=${e.redirect}` : undefined,
    e.origin ? "origin" : undefined,
    e.xattrs
      ? Object.entries(e.xattrs)
          .map(([k, v]) => `${k}=${v}`)
          .join(" ")
      : undefined,
  ].filter(Boolean);
  const kind = e.type === "dir" ? "/" : e.type === "whiteout" ? " (whiteout)" : e.type === "symlink" ? "@" : "";
  return `${"  ".repeat(depth + 1)}${name}${kind}  ${tags.join("  ")}`.trimEnd();
}

export function renderOverlayState(s: OverlayState): string {
  const out: string[] = [];
  for (const [id, entries] of Object.entries(s.layers)) {
    out.push(`layer ${id}`, ...entries.map(line));
  }
  for (const [c, box] of Object.entries(s.containers)) {
    const opts = Object.entries(box.options)
      .filter(([, v]) => v)
      .map(([k]) => k);
    out.push(
      `container ${c} on [${box.layers.join(", ")}]${opts.length ? ` (${opts.join(", ")})` : ""}, upper:`,
      ...box.upper.map(line),
    );
  }
  return out.join("\n");
}
