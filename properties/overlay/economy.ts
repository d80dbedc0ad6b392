// Economy bounds: overlay must copy up lazily. An engine that copies the image at mount (the oracle's way) gives
// the right data and fails these.

import { type Property, stateless } from "../../core/index.ts";
import type { OverlayObs, OverlayOp, OverlayState } from "../../models/overlay/types.ts";

const READS = new Set(["read", "readdir", "stat", "readlink"]);

/** The paths an op names (a copy-up may reach them and their ancestors only). */
function named(op: OverlayOp): string[] {
  if (op.op === "rename" || op.op === "link") return [op.from, op.to];
  return "path" in op ? [op.path] : [];
}

const within = (path: string, roots: readonly string[]): boolean =>
  roots.some((r) => r === path || r.startsWith(`${path}/`));

export const overlayEconomy: Property<OverlayOp, OverlayObs, OverlayState>[] = [
  {
    name: "read-copies-nothing",
    kind: "economy",
    description: "read, readdir, stat and readlink copy nothing up and leave every upper layer as it was",
    start(initial) {
      let before = JSON.stringify(initial.containers);
      return {
        after(op, _obs, s) {
          const now = JSON.stringify(s.containers);
          const was = before;
          before = now;
          if (!READS.has(op.op)) return undefined;
          if (s.copyUps.length) return `${op.op} copied up ${s.copyUps.map((u) => u.path).join(", ")}`;
          return now === was ? undefined : `${op.op} changed an upper layer`;
        },
      };
    },
  },
  stateless(
    "copy-up-only-touched",
    "economy",
    "a copy-up copies only the objects the op names and their missing ancestors, and as much data as the object has (none for metacopy)",
    (op, _obs, s) => {
      const roots = named(op);
      for (const u of s.copyUps) {
        if (!within(u.path, roots))
          return `${op.op} copied up ${u.path}, which it does not name (it names ${roots.join(", ") || "nothing"})`;
        const bytes = u.type === "file" && !u.metacopy ? u.size : 0;
        if (u.bytes !== bytes) return `the copy-up of ${u.path} copied ${u.bytes} bytes, not ${bytes}`;
      }
      return undefined;
    },
  ),
  stateless(
    "metacopy-defers-data",
    "economy",
    "with metacopy=on, chmod, setxattr, rename and link of a lower file copy its metadata only",
    (op, _obs, s) => {
      if (!(op.op === "chmod" || op.op === "setxattr" || op.op === "rename" || op.op === "link")) return undefined;
      if (!s.containers[op.c]?.options.metacopy) return undefined;
      const copied = s.copyUps.find((u) => u.type === "file" && u.bytes > 0);
      return copied ? `${op.op} copied ${copied.bytes} bytes of ${copied.path} with metacopy=on` : undefined;
    },
  ),
  {
    name: "untouched-stays-lower",
    kind: "economy",
    description:
      "an upper layer holds only what ops on the container named (and what they moved), never an untouched file",
    start(initial) {
      const touched = new Map<string, Set<string>>();
      const reset = (s: OverlayState) => {
        for (const c of Object.keys(s.containers)) if (!touched.has(c)) touched.set(c, new Set());
      };
      reset(initial);
      return {
        after(op, obs, s) {
          if ((op.op === "mount" || op.op === "umount" || op.op === "commit") && !("error" in obs))
            touched.set(String(op.c), new Set());
          reset(s);
          if (op.op === "layer" || op.op === "mount" || op.op === "umount" || op.op === "commit") return undefined;
          const box = s.containers[op.c];
          const mine = touched.get(String(op.c));
          if (!box || !mine) return undefined;
          for (const p of named(op)) mine.add(p);
          const roots = [...mine];
          for (const e of box.upper) {
            // an entry counts as touched if an op named it, a path below it, or a directory above it (a rename moves subtrees)
            if (!within(e.path, roots) && !roots.some((r) => e.path.startsWith(`${r}/`)))
              return `${e.path} is in the upper layer of container ${op.c}, but no op named it`;
          }
          return undefined;
        },
      };
    },
  },
];
