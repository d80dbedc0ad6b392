// POSIX file permissions as the oracle applies them, on its own (the model has its own copy of the rules; the kernel
// judges both): the permission bits a caller gets from an object's mode, and the few rules of ownership around them.
import type { Stat } from "../models/overlay/types.ts";

export interface Cred {
  readonly uid: number;
  readonly gid: number;
}
export interface Owned {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export const R = 4;
export const W = 2;
export const X = 1;

export const credOf = (op: object): Cred => ({
  uid: (op as { uid?: number }).uid ?? 0,
  gid: (op as { gid?: number }).gid ?? 0,
});

const root = (c: Cred): boolean => c.uid === 0;

/** The rwx bits the caller has on an object: all of them as root; else the class it falls in, owner first. */
function classBits(c: Cred, o: Owned): number {
  if (root(c)) return 7;
  if (c.uid === o.uid) return (o.mode >> 6) & 7;
  if (c.gid === o.gid) return (o.mode >> 3) & 7;
  return o.mode & 7;
}

export const allowed = (c: Cred, o: Owned, want: number): boolean => (classBits(c, o) & want) === want;
export const isOwner = (c: Cred, o: Owned): boolean => root(c) || c.uid === o.uid;
const inGroup = (c: Cred, gid: number): boolean => root(c) || c.gid === gid;

/** A sticky directory keeps others' names: only their owner, the directory's owner or root removes or moves them. */
export const sticky = (c: Cred, dir: Owned, o: Owned): boolean =>
  (dir.mode & 0o1000) !== 0 && !isOwner(c, o) && c.uid !== dir.uid;

/** Hard links (protected_hardlinks): the owner, or someone who may read and write a plain regular file. */
export function mayHardlink(c: Cred, o: Owned, regular: boolean): boolean {
  if (isOwner(c, o)) return true;
  const setid = (o.mode & 0o4000) !== 0 || (o.mode & 0o2010) === 0o2010;
  return regular && !setid && allowed(c, o, R | W);
}

/** The owner and mode a new object gets: BSD group semantics under a setgid directory, the caller's group elsewhere. */
export function created(c: Cred, dir: Owned, mode: number, isDir: boolean): Owned {
  const bsd = (dir.mode & 0o2000) !== 0;
  const gid = bsd ? dir.gid : c.gid;
  if (isDir) return { mode: (mode & 0o1777) | (bsd ? 0o2000 : 0), uid: c.uid, gid };
  const dropSgid = bsd && (mode & 0o2010) === 0o2010 && !inGroup(c, gid);
  return { mode: dropSgid ? mode & ~0o2000 : mode, uid: c.uid, gid };
}

/** chmod: the owner's (else EPERM); S_ISGID stays only for a member of the file's group. */
export function chmodResult(c: Cred, o: Owned, mode: number): number | "EPERM" {
  if (!isOwner(c, o)) return "EPERM";
  return inGroup(c, o.gid) ? mode : mode & ~0o2000;
}

/** What a write or truncate by an unprivileged caller leaves of the set-id bits. */
export function afterWrite(c: Cred, mode: number): number {
  if (root(c)) return mode;
  const sgidExec = (mode & 0o2010) === 0o2010;
  return mode & ~0o4000 & ~(sgidExec ? 0o2000 : 0);
}

export const withOwner = (s: Stat, o: Owned): Stat => (o.uid || o.gid ? { ...s, uid: o.uid, gid: o.gid } : s);
