// The POSIX permission rules an overlay op meets, as the VFS applies them before overlay does anything (fs/namei.c
// generic_permission, may_delete's check_sticky, may_linkat; fs/attr.c setattr_prepare; fs/inode.c inode_init_owner
// and mode_strip_sgid; should_remove_suid). Overlay adds nothing for the caller: ovl_permission checks the caller
// against the overlay inode's owner and mode (the real inode's, copied), and the real inode with the mounter's
// credentials, root here. The model and the oracle both use these rules; each applies them in the kernel's order.

import type { Stat } from "./types.ts";

/** An op's credentials: fsuid and fsgid, no supplementary groups. 0 is root, with every capability. */
export interface Cred {
  readonly uid: number;
  readonly gid: number;
}
/** What a permission check reads of an object. */
export interface Owned {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;
const S_IXGRP = 0o010;

export const credOf = (op: { uid?: number; gid?: number }): Cred => ({ uid: op.uid ?? 0, gid: op.gid ?? 0 });

/** generic_permission: root passes (CAP_DAC_OVERRIDE); anyone else gets the owner's, the group's or others' bits. */
export function permits(cred: Cred, o: Owned, mask: number): boolean {
  if (cred.uid === 0) return true;
  const bits = cred.uid === o.uid ? o.mode >> 6 : cred.gid === o.gid ? o.mode >> 3 : o.mode;
  return (mask & ~bits & 7) === 0;
}

/** inode_owner_or_capable: the owner, or root (CAP_FOWNER). */
export const owns = (cred: Cred, o: Owned): boolean => cred.uid === 0 || cred.uid === o.uid;

/** check_sticky: in a sticky directory, only the object's owner, the directory's owner or root removes or renames it. */
export const stickyRefuses = (cred: Cred, dir: Owned, o: Owned): boolean =>
  (dir.mode & S_ISVTX) !== 0 && !owns(cred, o) && cred.uid !== dir.uid;

/** may_linkat with fs.protected_hardlinks = 1: a non-owner links only a plain regular file it may read and write. */
export function mayLink(cred: Cred, o: Owned, regular: boolean): boolean {
  if (owns(cred, o)) return true;
  if (!regular || o.mode & S_ISUID || (o.mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) return false;
  return permits(cred, o, MAY_READ | MAY_WRITE);
}

/**
 * A new object's owner and mode (inode_init_owner, vfs_prepare_mode): the caller's uid; the parent's group and, for a
 * directory, S_ISGID under a setgid parent; a file's S_ISGID|S_IXGRP stripped there unless the caller is in the group.
 */
export function newOwned(cred: Cred, parent: Owned, mode: number, dir: boolean): Owned {
  const sgid = (parent.mode & S_ISGID) !== 0;
  const gid = sgid ? parent.gid : cred.gid;
  let m = dir ? mode & 0o1777 : mode;
  if (dir && sgid) m |= S_ISGID;
  const strip = !dir && sgid && (m & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && !inGroup(cred, gid);
  return { mode: strip ? m & ~S_ISGID : m, uid: cred.uid, gid };
}

const inGroup = (cred: Cred, gid: number): boolean => cred.uid === 0 || cred.gid === gid;

/** setattr_prepare's ATTR_MODE: the new mode (S_ISGID dropped unless the caller is in the group), or EPERM. */
export function chmodded(cred: Cred, o: Owned, mode: number): number | "EPERM" {
  if (!owns(cred, o)) return "EPERM";
  return inGroup(cred, o.gid) ? mode : mode & ~S_ISGID;
}

/** should_remove_suid: a write or truncate by anyone but root clears S_ISUID, and S_ISGID where group-executable. */
export function killPrivs(cred: Cred, mode: number): number {
  if (cred.uid === 0) return mode;
  let m = mode & ~S_ISUID;
  if ((mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) m &= ~S_ISGID;
  return m;
}

/** A stat with its owner where that is not root. */
export function withOwner(s: Stat, o: { uid: number; gid: number }): Stat {
  return o.uid || o.gid ? { ...s, uid: o.uid, gid: o.gid } : s;
}
