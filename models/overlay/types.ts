// The overlay layer's vocabulary: image layers, containers that mount them, and POSIX ops on the merged view.
import { z } from "zod";

/** The kernel's limits: a name (path component) of at most NAME_MAX bytes, a path or symlink target below PATH_MAX. */
export const NAME_MAX = 255;
export const PATH_MAX = 4096;
/**
 * The longest path an op names, below the mount root: what PATH_MAX (counting its NUL) leaves once an engine has
 * put the directory it mounts in before it (a name's worth).
 */
export const MAX_PATH = PATH_MAX - 1 - NAME_MAX;

export const overlayGeometrySchema = z
  .object({
    /** The names the generator uses for path components; few, so layers collide on them. */
    names: z
      .array(
        z
          .string()
          .regex(/^[a-z][a-z0-9]*$/)
          .max(NAME_MAX),
      )
      .min(1)
      .max(16),
    /** Deepest path the generator names (components). */
    depth: z.number().int().min(1).max(6),
    /** Containers the generator names (1..containers). */
    containers: z.number().int().min(1).max(8),
  })
  .strict();
export type OverlayGeometry = z.infer<typeof overlayGeometrySchema>;

export const defaultOverlayGeometry: OverlayGeometry = { names: ["a", "b", "c"], depth: 3, containers: 2 };

/**
 * A relative path below the mount root, "a/b"; "" is the root (readdir and stat only). Its names are ASCII (so a
 * character is a byte: no NUL, no "/" inside a name), each at most NAME_MAX bytes, the whole at most MAX_PATH.
 */
const component = `[a-z][a-z0-9]{0,${NAME_MAX - 1}}`;
const path = z
  .string()
  .max(MAX_PATH, { abort: true })
  .regex(
    new RegExp(`^(${component}(/${component})*)?$`),
    `a relative path like "a/b" ("" for the root), names of [a-z0-9] of at most ${NAME_MAX} bytes`,
  );
const name = z
  .string()
  .max(MAX_PATH, { abort: true })
  .regex(
    new RegExp(`^${component}(/${component})*$`),
    `a non-empty relative path like "a/b", names of [a-z0-9] of at most ${NAME_MAX} bytes`,
  );
/**
 * Numeric bounds (docs/overlay.md, "Bounds"): a container is a mount (the geometry names at most 8); image layers are
 * numbered from 1 as `layer` and `commit` make them, one per op.
 */
export const OVERLAY_MAX_CONTAINER = 64;
/** Entries of one image layer: room for a whole test image (unionmount-testsuite's is 391). */
export const OVERLAY_MAX_ENTRIES = 4096;
export const OVERLAY_MAX_LAYER = 1 << 20;
const c = z.number().int().min(1).max(OVERLAY_MAX_CONTAINER);
const layer = z.number().int().min(1).max(OVERLAY_MAX_LAYER);
const mode = z.number().int().min(0).max(0o7777);
const data = z
  .string()
  .regex(/^[a-z0-9]*$/, "bytes from [a-z0-9]")
  .max(64);
/**
 * A symlink's target is one of two kinds.
 * - Inside the mount: a relative path of names and ".." components ("../a/foo", "b"), ending in a name. Ops that follow
 *   a link resolve it as namei does; ".." at the mount root stays there (the root is the mount's root, as for a
 *   process chrooted at it: the kernel engine runs its ops so).
 * - Nowhere: a target under VOID, which names nothing on any machine (a walk through it, or an op that follows it, is
 *   ENOENT). No ".." climbs out of VOID. Its characters are ASCII without NUL (the model counts a target's size in
 *   characters, the kernel in bytes), each name at most NAME_MAX bytes (a longer one is ENAMETOOLONG, not ENOENT).
 * Either is below PATH_MAX.
 */
export const VOID = "/cowcheck-void/";
const inMount = new RegExp(`^((\\.\\.|${component})/)*${component}$`);
const target = z
  .string()
  .max(PATH_MAX - 1, { abort: true })
  .refine(
    (t) => t.startsWith(VOID) || inMount.test(t),
    `a relative target of names and ".." ending in a name ("../a/b"), or one under ${VOID}`,
  )
  .refine((t) => !t.includes("\0"), "a target without NUL")
  .refine((t) => /^\p{ASCII}*$/u.test(t), "a target in ASCII")
  .refine(
    (t) => !t.startsWith(VOID) || !t.split("/").includes(".."),
    `a target under ${VOID} without ".." components (it must stay there)`,
  )
  .refine(
    (t) => t.split("/").every((n) => n.length <= NAME_MAX),
    `a target whose names have at most ${NAME_MAX} bytes`,
  );
/** MAXSYMLINKS (include/linux/namei.h): the links one path walk may follow; the next is ELOOP. */
export const MAX_SYMLINKS = 40;
const xattrName = z.enum(["user.x", "user.y"]);
/** O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW. */
export const OPEN_FLAGS = ["creat", "excl", "trunc", "append", "directory", "nofollow"] as const;
export type OpenFlag = (typeof OPEN_FLAGS)[number];

/** A user or group id: 0 is root. */
const id = z.number().int().min(0).max(65535);
/** Who an op runs as (its fsuid and fsgid, no supplementary groups): root unless given. */
const as = { uid: id.optional(), gid: id.optional() };
/** An entry's owner: root unless given. */
const owner = { uid: id.optional(), gid: id.optional() };

/** An image layer's entry, as a tar of an image would give it. */
export const layerEntrySchema = z.discriminatedUnion("type", [
  z
    .object({ type: z.literal("dir"), path: name, mode: mode.optional(), opaque: z.boolean().optional(), ...owner })
    .strict(),
  z.object({ type: z.literal("file"), path: name, data, mode: mode.optional(), ...owner }).strict(),
  z.object({ type: z.literal("symlink"), path: name, target, ...owner }).strict(),
  /** A character device 0/0: hides the name in the layers below. */
  z.object({ type: z.literal("whiteout"), path: name }).strict(),
  /** A hard link to an earlier file entry of the same layer. */
  z.object({ type: z.literal("link"), path: name, to: name }).strict(),
]);
export type LayerEntry = z.infer<typeof layerEntrySchema>;

export const mountOptionsShape = {
  /** redirect_dir=on (else off, which on this kernel still follows redirects: redirect_always_follow). */
  redirectDir: z.boolean(),
  index: z.boolean(),
  /** metacopy=on: needs redirectDir (the kernel refuses metacopy=on,redirect_dir=off: EINVAL). */
  metacopy: z.boolean(),
};
export type MountOptions = { redirectDir: boolean; index: boolean; metacopy: boolean };

export const overlayOpSchema = z.discriminatedUnion("op", [
  /** A new read-only image layer built from entries (parents first). */
  z.object({ op: z.literal("layer"), entries: z.array(layerEntrySchema).max(OVERLAY_MAX_ENTRIES) }).strict(),
  /** Mount container c: lowers top first, a fresh empty upper. */
  z.object({ op: z.literal("mount"), c, layers: z.array(layer).min(1).max(8), ...mountOptionsShape }).strict(),
  z.object({ op: z.literal("umount"), c }).strict(),
  /** Unmount c and mount it again on the same layers, upper and work directory, with the same options. */
  z.object({ op: z.literal("remount"), c }).strict(),
  /** Unmount c, freeze its upper as a new image layer, remount c on [it, ...its lowers] with a fresh upper. */
  z.object({ op: z.literal("commit"), c }).strict(),
  z.object({ op: z.literal("mkdir"), c, path: name, mode, ...as }).strict(),
  /** open(O_CREAT | O_EXCL | O_WRONLY). */
  z.object({ op: z.literal("create"), c, path: name, mode, ...as }).strict(),
  /** open(O_WRONLY) and pwrite at `at`. */
  z.object({ op: z.literal("write"), c, path: name, at: z.number().int().min(0).max(64), data, ...as }).strict(),
  z.object({ op: z.literal("append"), c, path: name, data, ...as }).strict(),
  z.object({ op: z.literal("truncate"), c, path: name, size: z.number().int().min(0).max(64), ...as }).strict(),
  z.object({ op: z.literal("unlink"), c, path: name, ...as }).strict(),
  z.object({ op: z.literal("rmdir"), c, path: name, ...as }).strict(),
  /** renameat2 with no flag, RENAME_NOREPLACE or RENAME_EXCHANGE. */
  z
    .object({
      op: z.literal("rename"),
      c,
      from: name,
      to: name,
      flags: z.enum(["noreplace", "exchange"]).optional(),
      ...as,
    })
    .strict(),
  z.object({ op: z.literal("link"), c, from: name, to: name, ...as }).strict(),
  z.object({ op: z.literal("symlink"), c, target, path: name, ...as }).strict(),
  z.object({ op: z.literal("readlink"), c, path: name, ...as }).strict(),
  z.object({ op: z.literal("chmod"), c, path: name, mode, ...as }).strict(),
  z.object({ op: z.literal("setxattr"), c, path: name, name: xattrName, value: data, ...as }).strict(),
  z.object({ op: z.literal("read"), c, path: name, ...as }).strict(),
  /**
   * open(2) with an access mode and flags, then, on the open file, write(2) of `write` at the file offset (0, or the
   * end with append) if given, and a read of the whole file from offset 0 if `read` (its bytes are the observation).
   * `mode` is the new file's, for creat (default 0o644). The descriptor is closed after.
   */
  z
    .object({
      op: z.literal("open"),
      c,
      path: name,
      access: z.enum(["rdonly", "wronly", "rdwr"]),
      flags: z
        .array(z.enum(OPEN_FLAGS))
        .max(OPEN_FLAGS.length)
        .refine((f) => new Set(f).size === f.length, "each flag once")
        .optional(),
      mode: mode.optional(),
      write: data.optional(),
      read: z.literal(true).optional(),
      ...as,
    })
    .strict(),
  z.object({ op: z.literal("readdir"), c, path, ...as }).strict(),
  /**
   * lstat's st_ino, as the order of its first appearance in the sequence (0, 1, …): inode numbers are the
   * filesystem's, their sameness is overlay's.
   */
  z.object({ op: z.literal("ino"), c, path, ...as }).strict(),
  /** lstat, plus the user.* xattrs of files and directories. */
  z.object({ op: z.literal("stat"), c, path, ...as }).strict(),
]);
export type OverlayOp = z.infer<typeof overlayOpSchema>;

export const ERRNOS = [
  "ENOENT",
  "EEXIST",
  "ENOTDIR",
  "EISDIR",
  "ENOTEMPTY",
  "EINVAL",
  "EXDEV",
  "EPERM",
  "EBUSY",
  "ELOOP",
  "EBADF",
  "EACCES",
] as const;
export type Errno = (typeof ERRNOS)[number];
export const fileTypes = ["dir", "file", "symlink"] as const;
export type FileType = (typeof fileTypes)[number];

export const statSchema = z
  .object({
    type: z.enum(fileTypes),
    mode: mode,
    /** Files: bytes; symlinks: the target's length. Directories have none (their size is the filesystem's own). */
    size: z.number().int().min(0).optional(),
    /** Regular files only (overlay reports 1 for merged directories; hard-linked symlinks are not modelled). */
    nlink: z.number().int().min(1).optional(),
    /** user.* xattrs, files and directories. */
    xattrs: z.record(z.string(), z.string()).optional(),
    /** The owner, where not root. */
    uid: id.optional(),
    gid: id.optional(),
  })
  .strict();
export type Stat = z.infer<typeof statSchema>;

export const overlayObsSchema = z.union([
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ layer }).strict(),
  z.object({ data: z.string() }).strict(),
  z.object({ names: z.array(z.string()) }).strict(),
  z.object({ target: z.string() }).strict(),
  z.object({ stat: statSchema }).strict(),
  z.object({ ino: z.number().int().min(0) }).strict(),
  z.object({ error: z.enum(ERRNOS) }).strict(),
]);
export type OverlayObs = z.infer<typeof overlayObsSchema>;

/** What each option needs from an engine: an engine without the feature is never sent a mount using it. */
export const OVERLAY_FEATURES = ["redirect_dir", "index", "metacopy", "credentials"] as const;

/** What an op needs beyond the base set: a mount option, or `credentials` for an op or owner other than root. */
export function overlayOpFeature(op: OverlayOp): string | undefined {
  const notRoot = (x: object): boolean => !!((x as { uid?: number }).uid || (x as { gid?: number }).gid);
  if (op.op === "layer") return op.entries.some(notRoot) ? "credentials" : undefined;
  if (op.op !== "mount") return notRoot(op) ? "credentials" : undefined;
  return op.metacopy ? "metacopy" : op.index ? "index" : op.redirectDir ? "redirect_dir" : undefined;
}

// ---- the raw upper layer: what a real mount shows in its upper directory, and what the model keeps

export const rawEntrySchema = z
  .object({
    path: name,
    type: z.enum(["dir", "file", "symlink", "whiteout"]),
    mode: mode.optional(),
    /** The owner, where not root. */
    uid: id.optional(),
    gid: id.optional(),
    /** Regular files that are not metacopy: their bytes. */
    data: z.string().optional(),
    /** Regular files: their size (a metacopy file has the size of its data, no bytes). */
    size: z.number().int().min(0).optional(),
    target: z.string().optional(),
    xattrs: z.record(z.string(), z.string()).optional(),
    /** trusted.overlay.* */
    opaque: z.string().optional(),
    redirect: z.string().optional(),
    origin: z.literal(true).optional(),
    metacopy: z.literal(true).optional(),
  })
  .strict();
export type RawEntry = z.infer<typeof rawEntrySchema>;

/** The "upper" view: each mounted container's raw upper directory, entries sorted by path. */
export const upperViewSchema = z.record(z.string().regex(/^[1-9][0-9]*$/), z.array(rawEntrySchema));
export type UpperView = z.infer<typeof upperViewSchema>;

export const copyUpSchema = z
  .object({
    c,
    path: name,
    type: z.enum(fileTypes),
    /** Bytes of data copied (0 for a metacopy copy-up, a directory or a symlink). */
    bytes: z.number().int().min(0),
    /** The size of the lower object's data. */
    size: z.number().int().min(0),
    metacopy: z.boolean(),
  })
  .strict();
/** One object that a copy-up put in an upper layer during the last op. */
export type CopyUp = z.infer<typeof copyUpSchema>;

export const overlayStateSchema = z
  .object({
    /** Every image layer with its entries (sorted by path): they must never change. */
    layers: z.record(z.string(), z.array(rawEntrySchema)),
    containers: z.record(
      z.string(),
      z
        .object({
          layers: z.array(layer),
          options: z.object(mountOptionsShape).strict(),
          upper: z.array(rawEntrySchema),
        })
        .strict(),
    ),
    /** Copy-ups performed by the last op. */
    copyUps: z.array(copyUpSchema),
    /**
     * What the last op's paths resolved to: each path it names with its symlinks followed as the op follows them
     * (every component but the last; the last too for an op that follows it). Economy properties bound copy-ups by
     * these. Optional: a state without it is bounded by the paths the op names, loosely where links could lead
     * elsewhere.
     */
    reached: z.array(name).optional(),
    /**
     * Copy-ups since the sequence began: how many (each entry `copyUps` ever held) and the data bytes they copied.
     * Optional: a state without it (an engine's inspect JSON) counts nothing.
     */
    copiedTotal: z
      .object({ copyUps: z.number().int().min(0), bytes: z.number().int().min(0) })
      .strict()
      .optional(),
    /** "c:path" of upper entries made new (create, mkdir, symlink, or a hard link to such) rather than copied up. */
    created: z.array(z.string()),
    /** "c:path" of files copied up from a lower hard link without index: detached, and without an origin by design. */
    detached: z.array(z.string()),
    /**
     * What the ops since the last inspect changed (the containers they named whose state is not as it was, the layers
     * they made), where the rest of the state is as it was last inspected: properties check these, and everything on
     * a sequence's last op. Optional: a state without it is checked whole.
     */
    touched: z
      .object({ layers: z.array(z.string()), containers: z.array(z.string()) })
      .strict()
      .optional(),
  })
  .strict();
export type OverlayState = z.infer<typeof overlayStateSchema>;
