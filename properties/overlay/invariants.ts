// Structural invariants of an overlay engine's inspected state: image layers are read-only, copied-up objects say
// where they came from, and whiteouts stand only where a lower layer has something to hide. Where the state says what
// the op touched, only that is checked, and everything on a sequence's last op.

import type { Named, Property } from "../../core/index.ts";
import type { OverlayObs, OverlayOp, OverlayState, RawEntry } from "../../models/overlay/types.ts";

const members = [
  { name: "lower-immutable", description: "no image layer ever changes (a content hash per layer)" },
  {
    name: "origin-recorded",
    description:
      "every object copied up carries trusted.overlay.origin (a lower hard link broken off without index excepted)",
  },
  {
    name: "whiteout-needed",
    description:
      "a whiteout stands only where a lower layer of the container has the name (at the path its upper ancestors redirect to)",
  },
] as const;

export const overlayStructure: Property<OverlayOp, OverlayObs, OverlayState> = {
  name: "overlay-structure",
  kind: "invariant",
  description: "image layers never change; copied-up objects carry their origin; whiteouts only where needed",
  members,
  start(initial) {
    // each layer's entries by path, and whether any redirects, as long as the state hands out the same entries
    const byPath = new WeakMap<readonly RawEntry[], { paths: Map<string, RawEntry>; redirects: boolean }>();
    const indexed = (entries: readonly RawEntry[]) => {
      let x = byPath.get(entries);
      if (!x) {
        x = {
          paths: new Map(entries.map((e) => [e.path, e])),
          redirects: entries.some((e) => e.redirect !== undefined),
        };
        byPath.set(entries, x);
      }
      return x;
    };
    const hashes = new Map<string, string>(Object.entries(initial.layers).map(([id, es]) => [id, JSON.stringify(es)]));
    return {
      after(_op, _obs, s, full): Named | undefined {
        const t = full ? undefined : s.touched;
        for (const id of t ? t.layers : Object.keys(s.layers)) {
          const entries = s.layers[id];
          if (!entries) continue;
          const h = JSON.stringify(entries);
          const was = hashes.get(id);
          if (was === undefined) hashes.set(id, h);
          else if (was !== h)
            return {
              property: "lower-immutable",
              message: `image layer ${id} changed: ${diffEntries(JSON.parse(was) as RawEntry[], entries)}`,
            };
        }
        let created: Set<string> | undefined;
        let detached: Set<string> | undefined;
        for (const c of t ? t.containers : Object.keys(s.containers)) {
          const box = s.containers[c];
          if (!box) continue;
          created ??= new Set(s.created);
          detached ??= new Set(s.detached);
          const upper = new Map(box.upper.map((e) => [e.path, e]));
          const lowers = box.layers.map((l) => indexed(s.layers[l] ?? []));
          const layers = lowers.map((l) => l.paths);
          const lowerRedirects = lowers.some((l) => l.redirects);
          for (const e of box.upper) {
            const key = `${c}:${e.path}`;
            if (e.type !== "whiteout" && !e.origin && !created.has(key) && !detached.has(key)) {
              return {
                property: "origin-recorded",
                message: `container ${c}: ${e.path} (${e.type}) was copied up but has no origin`,
              };
            }
            if (e.type === "whiteout" && !lowerRedirects) {
              const at = lowerPath(upper, e.path);
              if (!layers.some((l) => l.get(at) !== undefined && l.get(at)!.type !== "whiteout")) {
                return {
                  property: "whiteout-needed",
                  message: `container ${c}: a whiteout at ${e.path}, but no lower layer has ${at}`,
                };
              }
            }
          }
        }
        return undefined;
      },
    };
  },
};

/** Where a lower layer keeps what an upper path names: each upper ancestor's redirect renames the path so far. */
function lowerPath(upper: ReadonlyMap<string, RawEntry>, path: string): string {
  const names = path.split("/");
  let at: string[] = [];
  for (let i = 0; i < names.length; i++) {
    at.push(names[i]!);
    const r = i < names.length - 1 ? upper.get(names.slice(0, i + 1).join("/"))?.redirect : undefined;
    if (r !== undefined) at = r.startsWith("/") ? r.split("/").filter((x) => x) : [...at.slice(0, -1), r];
  }
  return at.join("/");
}

function diffEntries(was: readonly RawEntry[], now: readonly RawEntry[]): string {
  const before = new Map(was.map((e) => [e.path, JSON.stringify(e)]));
  const after = new Map(now.map((e) => [e.path, JSON.stringify(e)]));
  for (const [p, e] of after) if (before.get(p) !== e) return `${p} is now ${e} (was ${before.get(p) ?? "absent"})`;
  for (const p of before.keys()) if (!after.has(p)) return `${p} is gone`;
  return "its entries were reordered";
}
