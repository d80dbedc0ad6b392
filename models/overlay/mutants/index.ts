// The overlay mutant zoo: the reference model with one deliberate, documented bug each, named after the class of
// real bug it mimics. The properties must kill every one; `cowcheck mutants --layer overlay` shows how fast.
import { type Mutant, mutantOf } from "../../../core/index.ts";
import { type Container, type Dir, type Ino, type Merged, type Obj, OverlayModel, type Resolved } from "../model.ts";
import type { OverlayGeometry, OverlayObs, OverlayOp, OverlayState, Stat } from "../types.ts";

type OverlayMutant = Mutant<OverlayOp, OverlayObs, OverlayState, OverlayGeometry>;

const mutant = (
  name: string,
  mimics: string,
  Model: new (g: OverlayGeometry) => OverlayModel,
  killedBy?: "economy" | "invariant",
): OverlayMutant => mutantOf<OverlayOp, OverlayObs, OverlayState, OverlayGeometry>(name, mimics, Model, killedBy);

/** unlink of a lower file just removes the upper entry: the lower file shows through again. */
class UnlinkNoWhiteout extends OverlayModel {
  protected override lowerPositive(parent: Merged, name: string, m: Merged): boolean {
    return m.upper?.kind === "dir" || (!m.upper && m.lowers[0]?.obj.kind === "dir")
      ? super.lowerPositive(parent, name, m)
      : false;
  }
}

/** mkdir over a whiteout makes a plain directory: the old directory's children reappear in it. */
class MkdirNoOpaque extends OverlayModel {
  protected override opaqueOverWhiteout(_overWhiteout: boolean): boolean {
    return false;
  }
}

/** Copy-up creates the upper file or directory with default permissions instead of the lower one's mode. */
class CopyUpLosesMode extends OverlayModel {
  protected override copyUpOne(
    c: Container,
    parent: Merged,
    name: string,
    m: Merged,
    names: string[],
    data: boolean,
  ): void {
    const fresh = !m.upper;
    super.copyUpOne(c, parent, name, m, names, data);
    if (!fresh || !m.upper) return;
    if (m.upper.kind === "dir") m.upper.mode = 0o755;
    else if (m.upper.kind === "file" && m.upper.ino.nlink === 1) m.upper.ino.mode = 0o644;
  }
}

/** Missing ancestors are made with mkdir -p rather than copied up: their mode, xattrs and origin are lost. */
class AncestorsMkdirP extends OverlayModel {
  protected override copyUpOne(
    c: Container,
    parent: Merged,
    name: string,
    m: Merged,
    names: string[],
    data: boolean,
  ): void {
    const fresh = !m.upper;
    super.copyUpOne(c, parent, name, m, names, data);
    if (!fresh || m.upper?.kind !== "dir") return;
    const d = m.upper as Dir;
    d.mode = 0o755;
    d.xattrs.clear();
    d.origin = false;
  }
}

/** readdir of a merged directory lists the whiteouts as entries. */
class ReaddirListsWhiteouts extends OverlayModel {
  protected override readdir(c: Container, at: { m: Merged }): string[] {
    const names = new Set(super.readdir(c, at));
    for (const d of [at.m.upper, ...at.m.lowers.map((l) => l.obj)]) {
      if (d?.kind === "dir") for (const [n, o] of d.children) if (o.kind === "whiteout") names.add(n);
    }
    return [...names].sort();
  }
}

/** readdir concatenates the layers without merging: a name present in two layers is listed twice. */
class ReaddirDuplicates extends OverlayModel {
  protected override readdir(c: Container, at: { m: Merged }): string[] {
    const visible = new Set(super.readdir(c, at));
    const out: string[] = [];
    for (const d of [at.m.upper, ...at.m.lowers.map((l) => l.obj)]) {
      if (d?.kind === "dir") for (const n of d.children.keys()) if (visible.has(n)) out.push(n);
    }
    return out.sort();
  }
}

/** Rename of a lower directory is allowed without redirect_dir and records no redirect: its lower contents vanish. */
class RenameDirNoRedirect extends OverlayModel {
  protected override canMove(): boolean {
    return true;
  }
  protected override newRedirect(): string | undefined {
    return undefined;
  }
}

/** Without index, a copied-up lower hard link stays linked: writing one name changes the others. */
class HardlinkKeptWithoutIndex extends OverlayModel {
  protected override indexes(_c: Container, lower: { readonly nlink: number }): boolean {
    return lower.nlink > 1;
  }
}

/** With metacopy, truncate copies up the metadata only: the size changes but the data still comes from below. */
class TruncateMetaOnly extends OverlayModel {
  protected override truncate(c: Container, path: string, size: number): void {
    const { r, m } = this.follow(c, path);
    if (m.upper || !c.options.metacopy) {
      super.truncate(c, path, size);
      return;
    }
    this.copyUp(c, r, m, false);
    (m.upper as unknown as { ino: Ino }).ino.size = size;
  }
}

/** Removing a name leaves a whiteout even where no lower layer has it (harmless to reads, wrong for later commits). */
class StrayWhiteout extends OverlayModel {
  protected override lowerPositive(): boolean {
    return true;
  }
}

/** Copy-up writes no trusted.overlay.origin (pre-4.12 overlay): st_ino changes, index and NFS export break. */
class CopyUpNoOrigin extends OverlayModel {
  protected override copyUpOne(
    c: Container,
    parent: Merged,
    name: string,
    m: Merged,
    names: string[],
    data: boolean,
  ): void {
    super.copyUpOne(c, parent, name, m, names, data);
    const o = m.upper;
    if (o?.kind === "file") o.ino.origin = false;
    else if (o) o.origin = false;
  }
}

/** metacopy=on ignored: chmod and friends copy the whole file up. */
class MetacopyIgnored extends OverlayModel {
  protected override metacopyAllowed(): boolean {
    return false;
  }
}

/** Docker's vfs storage driver: every container gets a full copy of its image at mount. */
class VfsDriver extends OverlayModel {
  protected override mount(
    c: number,
    layers: readonly number[],
    options: { redirectDir: boolean; index: boolean; metacopy: boolean },
  ): OverlayObs {
    const obs = super.mount(c, layers, options);
    const box = this.mounted(c);
    const copyAll = (path: string): void => {
      const r = this.resolve(box, path);
      if (path) this.copyUp(box, r, r.node, true);
      if (r.node && (r.node.upper ?? r.node.lowers[0]?.obj)?.kind === "dir")
        for (const n of this.readdir(box, { m: r.node })) copyAll(path ? `${path}/${n}` : n);
    };
    copyAll("");
    return obs;
  }
}

/**
 * unionfs-fuse issue #60: a symlink only a read-only branch has is followed inside that branch, so a write through it
 * changes the branch's own file (and a read through it misses the upper copy) instead of copying up.
 */
class LinkFollowedInItsLayer extends OverlayModel {
  protected override follow(c: Container, path: string, dir = false): { r: Resolved; m: Merged } {
    const r = this.resolve(c, path);
    const link = r.node && !r.node.upper ? r.node.lowers[0] : undefined;
    if (link?.obj.kind !== "symlink" || link.obj.target.startsWith("/")) return super.follow(c, path, dir);
    const names: string[] = [];
    for (const n of [...r.names.slice(0, -1), ...link.obj.target.split("/")]) n === ".." ? names.pop() : names.push(n);
    let o: Obj | undefined = this.layers.get(link.layer);
    for (const n of names) o = o?.kind === "dir" ? o.children.get(n) : undefined;
    return o?.kind === "file" ? { r, m: { upper: o, lowers: [] } } : super.follow(c, path, dir);
  }
}

/** fuse-migratefs issue #2: open(O_TRUNC) of a lower file copies its data up, only to truncate it (fixed in 0cf2beb). */
class TruncOpenCopiesData extends OverlayModel {
  protected override openCopyUp(c: Container, r: Resolved, m: Merged): void {
    super.openCopyUp(c, r, m, false);
  }
}

/**
 * fuse2fs (e2fsprogs issue #223): with libfuse 3's atomic O_TRUNC the open's O_TRUNC was dropped, so a file opened
 * with it kept its old bytes (fixed by b022aca, "fuse2fs: implement O_TRUNC correctly").
 */
class TruncOpenIgnored extends OverlayModel {
  protected override openCopyUp(c: Container, r: Resolved, m: Merged): void {
    super.openCopyUp(c, r, m, false);
  }
  protected override handleTruncate(): void {}
}

/** fuse-overlayfs issue #23 (fixed by PR #24): lstat followed the symlink, so a dangling one did not show at all. */
class LstatFollowsLink extends OverlayModel {
  protected override stat(c: Container, path: string): Stat {
    return super.stat(c, this.walk(c, path, true).join("/"));
  }
}

/**
 * runc's tmpcopyup (opencontainers/runc PR #845, found in review): the copy kept its files' owners, but the
 * directories it made were the copier's, root's.
 */
class CopyUpDirsOwnedByMounter extends OverlayModel {
  protected override copyUpOne(
    c: Container,
    parent: Merged,
    name: string,
    m: Merged,
    names: string[],
    data: boolean,
  ): void {
    const fresh = !m.upper;
    super.copyUpOne(c, parent, name, m, names, data);
    if (fresh && m.upper?.kind === "dir") {
      m.upper.uid = 0;
      m.upper.gid = 0;
    }
  }
}

/** Overlay before 4.12 ("constant st_ino/st_dev across copy up"): a copied-up object shows its upper inode's number. */
class CopyUpChangesStIno extends OverlayModel {
  protected override realInode(c: Container, m: Merged): object {
    return m.upper ? (m.upper.kind === "file" ? m.upper.ino : m.upper) : super.realInode(c, m);
  }
}

export const overlayMutants: readonly OverlayMutant[] = [
  mutant("unlink-no-whiteout", "unlink of a lower file without a whiteout: the file comes back", UnlinkNoWhiteout),
  mutant("mkdir-no-opaque", "rmdir then mkdir without an opaque directory: the old children reappear", MkdirNoOpaque),
  mutant(
    "copy-up-loses-mode",
    "copy-up that creates the upper object with default permissions, losing the lower mode",
    CopyUpLosesMode,
  ),
  mutant(
    "ancestors-mkdir-p",
    "copy-up without copying the parent directories (mkdir -p): their mode, xattrs and origin are lost",
    AncestorsMkdirP,
  ),
  mutant("readdir-lists-whiteouts", "readdir that lists whiteouts as entries", ReaddirListsWhiteouts),
  mutant(
    "readdir-duplicates",
    "readdir that concatenates layers: names present in two layers listed twice",
    ReaddirDuplicates,
  ),
  mutant(
    "rename-dir-no-redirect",
    "rename of a lower directory allowed without redirect_dir and without a redirect: its contents vanish",
    RenameDirNoRedirect,
  ),
  mutant(
    "hardlink-kept-without-index",
    "a hard link kept after copy-up without index: writing one name changes the other",
    HardlinkKeptWithoutIndex,
  ),
  mutant(
    "truncate-meta-only",
    "truncate that copies metadata but not data (metacopy): the data still comes from below",
    TruncateMetaOnly,
  ),
  mutant(
    "stray-whiteout",
    "a whiteout left where no lower entry exists: harmless to reads, wrong for economy and later commits",
    StrayWhiteout,
    "invariant",
  ),
  mutant(
    "copy-up-no-origin",
    "copy-up without trusted.overlay.origin (overlay before 4.12): st_ino changes, index and NFS export break",
    CopyUpNoOrigin,
    "invariant",
  ),
  mutant("metacopy-ignored", "metacopy=on ignored: chmod copies the whole file up", MetacopyIgnored, "economy"),
  mutant(
    "link-followed-in-its-layer",
    "a symlink only a lower layer has is followed inside that layer: a write through it changes the layer's file",
    LinkFollowedInItsLayer,
  ),
  mutant(
    "trunc-open-copies-data",
    "open(O_TRUNC) of a lower file copies its data up before truncating it",
    TruncOpenCopiesData,
    "economy",
  ),
  mutant("trunc-open-ignored", "open(O_TRUNC) keeps the file's bytes", TruncOpenIgnored),
  mutant(
    "copy-up-changes-st-ino",
    "st_ino changes at copy-up, as before Linux 4.12's constant st_ino across copy up",
    CopyUpChangesStIno,
  ),
  mutant(
    "copy-up-dirs-owned-by-mounter",
    "copy-up keeps a file's owner but makes directories the mounter's (root's)",
    CopyUpDirsOwnedByMounter,
  ),
  mutant("lstat-follows-link", "lstat follows a symlink: a dangling one is not there", LstatFollowsLink),
  mutant(
    "vfs-driver",
    "Docker's vfs storage driver: a full copy of the image for every container",
    VfsDriver,
    "economy",
  ),
];
