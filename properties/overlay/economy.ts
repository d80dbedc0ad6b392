// Economy bounds: overlay must copy up lazily. An engine that copies the image at mount (the oracle's way) gives
// the right data and fails these.

import { deepEqual, type Property, stateless } from "../../core/index.ts";
import { type OverlayObs, type OverlayOp, type OverlayState, VOID } from "../../models/overlay/types.ts";

const READS = new Set(["read", "readdir", "stat", "readlink"]);
/** Reads, and an open for reading that neither creates nor truncates (ovl_open_flags_need_copy_up). */
const reads = (op: OverlayOp): boolean =>
  READS.has(op.op) ||
  (op.op === "open" && op.access === "rdonly" && !op.flags?.some((f) => f === "creat" || f === "trunc"));

/** The paths an op names (a copy-up may reach them and their ancestors only). */
function named(op: OverlayOp): string[] {
  if (op.op === "rename" || op.op === "link") return [op.from, op.to];
  return "path" in op ? [op.path] : [];
}

/**
 * Where the op's paths led: the state's `reached` where the engine reports it; otherwise the paths the op names, or,
 * where a link inside the mount could lead elsewhere, anywhere (undefined).
 */
function reached(op: OverlayOp, s: OverlayState): string[] | undefined {
  if (s.reached) return [...named(op), ...s.reached];
  const inMount = (e: { type: string; target?: string }) => e.type === "symlink" && !e.target?.startsWith(VOID);
  const links =
    Object.values(s.layers).some((es) => es.some(inMount)) ||
    Object.values(s.containers).some((b) => b.upper.some(inMount));
  return links ? undefined : named(op);
}

const within = (path: string, roots: readonly string[] | undefined): boolean =>
  roots === undefined || roots.some((r) => r === path || r.startsWith(`${path}/`));

export const overlayEconomy: Property<OverlayOp, OverlayObs, OverlayState>[] = [
  {
    name: "read-copies-nothing",
    kind: "economy",
    description:
      "read, readdir, stat, readlink and an open for reading (no O_CREAT, no O_TRUNC) copy nothing up and leave every upper layer as it was",
    start(initial) {
      // each container as last looked at: those the ops touched where the state says so (the rest are as they
      // were), every one on a full check
      const before = new Map(Object.entries(initial.containers));
      return {
        after(op, _obs, s, full) {
          const t = full ? undefined : s.touched;
          const looked = t?.containers ?? [...new Set([...before.keys(), ...Object.keys(s.containers)])];
          const changed: string[] = [];
          for (const c of looked) {
            const box = s.containers[c];
            if (!deepEqual(box, before.get(c))) changed.push(c);
            if (box === undefined) before.delete(c);
            else before.set(c, box);
          }
          if (!reads(op)) return undefined;
          if (s.copyUps.length) return `${op.op} copied up ${s.copyUps.map((u) => u.path).join(", ")}`;
          return changed.length ? `${op.op} changed an upper layer (container ${changed.join(", ")})` : undefined;
        },
      };
    },
  },
  stateless(
    "copy-up-only-touched",
    "economy",
    "a copy-up copies only the objects the op reaches and their missing ancestors, and as much data as the object has (none for metacopy or an O_TRUNC open)",
    (op, _obs, s) => {
      const roots = reached(op, s);
      const trunc = op.op === "open" && op.flags?.includes("trunc");
      for (const u of s.copyUps) {
        if (!within(u.path, roots))
          return `${op.op} copied up ${u.path}, which it does not reach (it reaches ${roots?.join(", ") || "nothing"})`;
        const bytes = u.type === "file" && !u.metacopy && !trunc ? u.size : 0;
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
      /** Containers where a link may have led anywhere (the engine reports no `reached`): unbounded until remounted. */
      const unbounded = new Set<string>();
      /** Each container's state when it last passed: while it stays the same object, the paths named only grew. */
      const passed = new Map<string, unknown>();
      const reset = (s: OverlayState) => {
        for (const c of Object.keys(s.containers)) if (!touched.has(c)) touched.set(c, new Set());
      };
      reset(initial);
      return {
        after(op, obs, s) {
          if ((op.op === "mount" || op.op === "umount" || op.op === "commit") && !("error" in obs)) {
            touched.set(String(op.c), new Set());
            unbounded.delete(String(op.c));
            passed.delete(String(op.c));
          }
          reset(s);
          if (op.op === "layer" || op.op === "mount" || op.op === "umount" || op.op === "commit") return undefined;
          const box = s.containers[op.c];
          const mine = touched.get(String(op.c));
          if (!box || !mine) return undefined;
          const now = reached(op, s);
          if (!now) unbounded.add(String(op.c));
          if (unbounded.has(String(op.c))) return undefined;
          for (const p of now!) mine.add(p);
          if (passed.get(String(op.c)) === box) return undefined;
          const roots = [...mine];
          for (const e of box.upper) {
            // an entry counts as touched if an op named it, a path below it, or a directory above it (a rename moves subtrees)
            if (!within(e.path, roots) && !roots.some((r) => e.path.startsWith(`${r}/`)))
              return `${e.path} is in the upper layer of container ${op.c}, but no op named it`;
          }
          passed.set(String(op.c), box);
          return undefined;
        },
      };
    },
  },
];
