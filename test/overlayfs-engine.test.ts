// A real OverlayFS mount as an overlay engine (engines/overlayfs): unionmount-testsuite-flavoured ops on two image
// layers, with the raw upper directory read after the ops that shape it. Skipped, with the reason printed, where it
// cannot run (not Linux, not root, no overlay filesystem, no tmpfs mount).
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { InputError } from "../core/index.ts";
import { credentialsWhy, type OverlayfsEngine, overlayfsUnavailable } from "../engines/overlayfs/index.ts";
import { engineCatalogue, resolveEngine } from "../engines/resolve.ts";
import { layers } from "../layers/index.ts";
import { mmLayer } from "../layers/mm/index.ts";
import { overlayLayer } from "../layers/overlay/index.ts";
import type { OverlayObs, OverlayOp, RawEntry } from "../models/overlay/types.ts";

const why = overlayfsUnavailable();
if (why) console.log(`skipping the OverlayFS engine tests: it ${why}`);

const mountsUnder = (root: string): string[] =>
  readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((l) => (l.split(" ")[1] ?? "").startsWith(root));

const defaults = { redirectDir: false, index: false, metacopy: false };

describe("the overlayfs engine in the resolver", () => {
  test("it speaks the overlay layer only, and the catalogue lists it there", async () => {
    await expect(resolveEngine(mmLayer, "overlayfs", { registry: layers })).rejects.toThrow(InputError);
    await expect(resolveEngine(mmLayer, "overlayfs", { registry: layers })).rejects.toThrow(
      /speaks the overlay layer, not mm/,
    );
    expect(engineCatalogue(mmLayer).some((e) => e.spec === "overlayfs")).toBe(false);
    const info = engineCatalogue(overlayLayer).find((e) => e.spec === "overlayfs")!;
    expect(info.available).toBe(why === undefined);
    if (why) expect(info.why).toContain(`unavailable: it ${why}`);
    else if (credentialsWhy) expect(info.why).toMatch(/features redirect_dir, index, metacopy, upper/);
    else expect(info.why).toMatch(/features redirect_dir, index, metacopy, credentials, upper/);
  });
});

describe.skipIf(why !== undefined)("a real OverlayFS mount as an overlay engine", () => {
  test("layers, copy-up, whiteouts, opaque dirs, redirects, renameat2, commit and metacopy, as the kernel does them", async () => {
    const factory = await resolveEngine(overlayLayer, "overlayfs");
    expect(factory.name).toBe("overlay:overlayfs");
    const engine = (await factory.create({})) as OverlayfsEngine;
    const root = engine.root;
    expect(mountsUnder(root)).toHaveLength(1); // the private tmpfs
    // ops as other users need the kernel's default fs.protected_* sysctls
    const credentials = credentialsWhy ? [] : ["credentials"];
    expect([...engine.features].sort()).toEqual([...credentials, "index", "metacopy", "redirect_dir", "upper"]);
    const run = (op: OverlayOp): Promise<OverlayObs> => Promise.resolve(engine.apply(op));
    const upper = async (c: number): Promise<RawEntry[] | undefined> =>
      ((await engine.inspectView("upper")) as Record<string, RawEntry[]>)[String(c)];
    try {
      // image layers: all or nothing, numbered in order
      expect(await run({ op: "layer", entries: [{ type: "file", path: "x/y", data: "" }] })).toEqual({
        error: "EINVAL",
      }); // no parent
      expect(
        await run({
          op: "layer",
          entries: [
            { type: "dir", path: "x" },
            { type: "link", path: "y", to: "x" },
          ],
        }),
      ).toEqual({ error: "EINVAL" });
      const bottom: OverlayOp = {
        op: "layer",
        entries: [
          { type: "dir", path: "d" },
          { type: "file", path: "d/f", data: "lower" },
          { type: "dir", path: "e", mode: 0o750 },
          { type: "file", path: "g", data: "gg" },
          { type: "link", path: "h", to: "g" },
          { type: "file", path: "w", data: "hidden" },
          { type: "dir", path: "o" },
          { type: "file", path: "o/old", data: "old" },
        ],
      };
      expect(await run(bottom)).toEqual({ layer: 1 });
      const top: OverlayOp = {
        op: "layer",
        entries: [
          { type: "whiteout", path: "w" },
          { type: "dir", path: "o", opaque: true },
          { type: "file", path: "o/new", data: "new" },
          { type: "file", path: "m", data: "meta", mode: 0o640 },
          { type: "symlink", path: "s", target: "/cowcheck-void/t" },
        ],
      };
      expect(await run(top)).toEqual({ layer: 2 });

      // container 1, default options
      expect(await run({ op: "readdir", c: 1, path: "" })).toEqual({ error: "EINVAL" }); // not mounted
      expect(await run({ op: "mount", c: 1, layers: [2, 3], ...defaults })).toEqual({ error: "EINVAL" });
      expect(await run({ op: "mount", c: 1, layers: [2, 1], ...defaults })).toEqual({ ok: true });
      expect(await run({ op: "mount", c: 1, layers: [1], ...defaults })).toEqual({ error: "EBUSY" });
      expect(await upper(1)).toEqual([]);
      expect(await run({ op: "readdir", c: 1, path: "" })).toEqual({ names: ["d", "e", "g", "h", "m", "o", "s"] }); // w whited out
      expect(await run({ op: "readdir", c: 1, path: "o" })).toEqual({ names: ["new"] }); // o/old behind the opaque dir
      expect(await run({ op: "stat", c: 1, path: "h" })).toEqual({
        stat: { type: "file", mode: 0o644, size: 2, nlink: 2 },
      });
      expect(await run({ op: "readlink", c: 1, path: "s" })).toEqual({ target: "/cowcheck-void/t" });
      expect(await run({ op: "read", c: 1, path: "s" })).toEqual({ error: "ENOENT" }); // dangling

      // copy-up by write: the parent and the file go up, each with an origin
      expect(await run({ op: "write", c: 1, path: "d/f", at: 0, data: "L" })).toEqual({ ok: true });
      expect(await run({ op: "read", c: 1, path: "d/f" })).toEqual({ data: "Lower" });
      expect(await upper(1)).toEqual([
        { path: "d", type: "dir", mode: 0o755, origin: true },
        { path: "d/f", type: "file", mode: 0o644, data: "Lower", size: 5, origin: true },
      ]);

      // unlink of a lower file: a whiteout in the upper; its lower hard link is untouched
      expect(await run({ op: "unlink", c: 1, path: "g" })).toEqual({ ok: true });
      expect(await run({ op: "stat", c: 1, path: "h" })).toEqual({
        stat: { type: "file", mode: 0o644, size: 2, nlink: 2 },
      });
      // rmdir of a lower dir, then mkdir over its whiteout: an opaque dir
      expect(await run({ op: "rmdir", c: 1, path: "e" })).toEqual({ ok: true });
      expect((await upper(1))!.find((e) => e.path === "e")).toEqual({ path: "e", type: "whiteout" });
      expect(await run({ op: "mkdir", c: 1, path: "e", mode: 0o700 })).toEqual({ ok: true });
      expect(await upper(1)).toEqual([
        { path: "d", type: "dir", mode: 0o755, origin: true },
        { path: "d/f", type: "file", mode: 0o644, data: "Lower", size: 5, origin: true },
        { path: "e", type: "dir", mode: 0o700, opaque: "y" },
        { path: "g", type: "whiteout" },
      ]);

      // renaming a lower dir: EXDEV without redirect_dir
      expect(await run({ op: "rename", c: 1, from: "d", to: "dd" })).toEqual({ error: "EXDEV" });
      // renameat2: RENAME_NOREPLACE onto a name that exists, RENAME_EXCHANGE of two lower files
      expect(await run({ op: "rename", c: 1, from: "m", to: "h", flags: "noreplace" })).toEqual({ error: "EEXIST" });
      expect(await run({ op: "rename", c: 1, from: "m", to: "h", flags: "exchange" })).toEqual({ ok: true });
      expect(await run({ op: "read", c: 1, path: "h" })).toEqual({ data: "meta" });
      expect(await run({ op: "read", c: 1, path: "m" })).toEqual({ data: "gg" });

      // with redirect_dir=on the rename is a whiteout and a dir with a redirect
      expect(await run({ op: "mount", c: 2, layers: [2, 1], ...defaults, redirectDir: true })).toEqual({ ok: true });
      expect(await run({ op: "rename", c: 2, from: "d", to: "dd" })).toEqual({ ok: true });
      expect(await run({ op: "read", c: 2, path: "dd/f" })).toEqual({ data: "lower" });
      expect(await upper(2)).toEqual([
        { path: "d", type: "whiteout" },
        { path: "dd", type: "dir", mode: 0o755, redirect: "d", origin: true },
      ]);

      // commit: the upper becomes layer 3 below a fresh upper, and the data is still there
      expect(await run({ op: "commit", c: 1 })).toEqual({ layer: 3 });
      expect(await upper(1)).toEqual([]);
      expect(await run({ op: "read", c: 1, path: "d/f" })).toEqual({ data: "Lower" });
      expect(await run({ op: "readdir", c: 1, path: "" })).toEqual({ names: ["d", "e", "h", "m", "o", "s"] });
      expect(await run({ op: "readdir", c: 1, path: "e" })).toEqual({ names: [] });

      // metacopy: a chmod copies up the metadata only
      expect(await run({ op: "mount", c: 3, layers: [1], ...defaults, metacopy: true })).toEqual({ error: "EINVAL" }); // needs redirect_dir
      expect(await run({ op: "mount", c: 3, layers: [2, 1], redirectDir: true, index: false, metacopy: true })).toEqual(
        { ok: true },
      );
      expect(await run({ op: "chmod", c: 3, path: "m", mode: 0o600 })).toEqual({ ok: true });
      expect(await upper(3)).toEqual([{ path: "m", type: "file", mode: 0o600, size: 4, origin: true, metacopy: true }]);
      expect(await run({ op: "stat", c: 3, path: "m" })).toEqual({
        stat: { type: "file", mode: 0o600, size: 4, nlink: 1 },
      });
      expect(await run({ op: "read", c: 3, path: "m" })).toEqual({ data: "meta" });
      expect(await run({ op: "setxattr", c: 3, path: "m", name: "user.x", value: "v" })).toEqual({ ok: true });
      expect(await run({ op: "stat", c: 3, path: "m" })).toEqual({
        stat: { type: "file", mode: 0o600, size: 4, nlink: 1, xattrs: { "user.x": "v" } },
      });

      expect(await run({ op: "umount", c: 2 })).toEqual({ ok: true });
      expect(await run({ op: "umount", c: 2 })).toEqual({ error: "EINVAL" });
      expect(Object.keys((await engine.inspectView("upper")) as object)).toEqual(["1", "3"]);
      expect(mountsUnder(root)).toHaveLength(3); // the tmpfs, c1 and c3
    } finally {
      await engine.close();
    }
    expect(mountsUnder(root)).toEqual([]);
    expect(existsSync(root)).toBe(false);
  });
});
