// Properties of the sqlite flavour's state (models/mvcc/wal-state.ts). Invariants: the WAL is well formed, one
// connection writes, a checkpoint never backfills past a live reader's mark, and a read transaction sees the same
// database all its life, through others' commits and checkpoints. Economy: a commit appends one frame per page it
// changed and nothing else appends; a checkpoint writes each page it backfills once, and nothing else writes the file.

import type { Named, Property } from "../../core/index.ts";
import type { MvccObs, MvccOp } from "../../models/mvcc/types.ts";
import type { WalPage, WalRead, WalState } from "../../models/mvcc/wal-state.ts";

type Rows = WalPage["rows"];
const text = (rows: Rows) => rows.map(([k, v]) => `${k}=${v}`).join(",");

/** The page a snapshot sees, restated from walformat.html: its newest frame in [minFrame, mxFrame], else the database file; read lock 0 reads the file alone. */
function seen(s: WalState, r: WalRead, page: number): Rows {
  if (r.slot > 0)
    for (let f = r.mxFrame; f >= r.minFrame; f--) if (s.frames[f - 1]?.page === page) return s.frames[f - 1]!.rows;
  return s.db.find((p) => p.page === page)?.rows ?? [];
}

/**
 * The pages of the WAL's frames, kept across ops: a WAL only grows until it restarts (a new frames array), so when
 * the state hands out the same array again only its new frames are read; any other array is read whole.
 */
function framePages(): (s: WalState) => ReadonlySet<number> {
  let frames: WalState["frames"] | undefined;
  let counted = 0;
  let pages = new Set<number>();
  return (s) => {
    if (s.frames !== frames || s.frames.length < counted) {
      frames = s.frames;
      counted = 0;
      pages = new Set();
    }
    for (; counted < s.frames.length; counted++) pages.add(s.frames[counted]!.page);
    return pages;
  };
}

/** Everything a snapshot sees (its transaction's own changes apart). */
function view(s: WalState, r: WalRead, inFrames: ReadonlySet<number>): string {
  const pages = new Set([...s.db.map((p) => p.page), ...inFrames]);
  return [...pages]
    .sort((a, b) => a - b)
    .map((p) => `${p}:{${text(seen(s, r, p))}}`)
    .join(" ");
}

function structure(s: WalState): Named | undefined {
  const wellFormed = (message: string): Named => ({ property: "frames-well-formed", message });
  if (s.mxFrame !== s.frames.length) return wellFormed(`mxFrame ${s.mxFrame} but ${s.frames.length} frames`);
  if (s.nBackfill > s.mxFrame) return wellFormed(`nBackfill ${s.nBackfill} is past mxFrame ${s.mxFrame}`);
  if (s.frames.length && !s.frames.at(-1)!.commit)
    return wellFormed(
      `frame ${s.mxFrame}, the last, is not a commit frame: an uncommitted transaction's pages reached the WAL`,
    );
  for (const c of s.clients) {
    if (c.dirty.length && s.writer !== c.tx)
      return {
        property: "one-writer",
        message: `client ${c.tx} has changed pages but client ${s.writer ?? "none"} holds the write lock`,
      };
    const r = c.read;
    if (!r || r.slot === 0) continue;
    if (r.salt !== s.salt || r.mxFrame > s.mxFrame)
      return wellFormed(
        `client ${c.tx} reads frames up to ${r.mxFrame} of a WAL (salt ${r.salt}) that is gone (salt ${s.salt}, mxFrame ${s.mxFrame})`,
      );
    const mark = s.marks[r.slot - 1];
    if (mark === null || mark === undefined || mark > r.mxFrame || s.nBackfill > mark) {
      return {
        property: "checkpoint-respects-readers",
        message: `client ${c.tx} reads through read mark ${r.slot} (${mark ?? "not used"}) with mxFrame ${r.mxFrame}, and ${s.nBackfill} frames are backfilled`,
      };
    }
  }
  return undefined;
}

const members = [
  {
    name: "frames-well-formed",
    description:
      "mxFrame counts the frames, nBackfill ≤ mxFrame, the last frame is a commit frame, and the frames a reader of the WAL uses are still there",
  },
  { name: "one-writer", description: "only the holder of the write lock has changed pages" },
  {
    name: "checkpoint-respects-readers",
    description: "every reader of the WAL holds a read mark ≤ its mxFrame, and no checkpoint has backfilled past it",
  },
  {
    name: "old-readers-see-old-state",
    description: "a read transaction sees the same database all its life, through others' commits and checkpoints",
  },
] as const;

export const walStructure: Property<MvccOp, MvccObs, WalState> = {
  name: "wal-structure",
  kind: "invariant",
  description:
    "the WAL is well formed, one connection writes, checkpoints stop at live readers' marks, and snapshots never change",
  members,
  start() {
    const held = new Map<number, { read: string; view: string }>();
    const pagesOf = framePages();
    return {
      after(op, _obs, s): Named | undefined {
        const broken = structure(s);
        if (broken) return broken;
        for (const c of s.clients) {
          if (!c.read) continue;
          const read = JSON.stringify(c.read);
          const now = view(s, c.read, pagesOf(s));
          const was = held.get(c.tx);
          if (!was || was.read !== read) held.set(c.tx, { read, view: now });
          else if (was.view !== now)
            return {
              property: "old-readers-see-old-state",
              message: `client ${c.tx}'s snapshot saw ${was.view} and sees ${now} after ${op.op}`,
            };
        }
        for (const tx of [...held.keys()]) if (!s.clients.some((c) => c.tx === tx && c.read)) held.delete(tx);
        return undefined;
      },
    };
  },
};

/** The frames an op appended: past the old mxFrame, or all of them if the WAL started again (a new salt). */
const appended = (before: WalState, after: WalState) =>
  after.salt === before.salt ? after.frames.slice(before.mxFrame) : after.frames;

/** The newest image of a page before the op: its last frame, else the database file's. */
const latest = (s: WalState, page: number): Rows =>
  seen(s, { slot: 1, mxFrame: s.mxFrame, minFrame: 1, salt: s.salt }, page);

function appends(op: MvccOp, obs: MvccObs, before: WalState, after: WalState): string | undefined {
  const frames = appended(before, after);
  if (!frames.length) return undefined;
  const pages = frames.map((f) => f.page);
  if (new Set(pages).size !== pages.length) return `${op.op} appended pages ${pages.join(", ")}: one page twice`;
  const committer = "tx" in op ? before.clients.find((c) => c.tx === op.tx) : undefined;
  if (op.op === "commit") {
    const dirty = committer?.dirty ?? [];
    const same =
      frames.length === dirty.length &&
      dirty.every((d) => frames.some((f) => f.page === d.page && text(f.rows) === text(d.rows)));
    return same
      ? undefined
      : `commit appended ${frames.length} frame(s) (pages ${pages.join(", ")}) for the ${dirty.length} page(s) its transaction changed`;
  }
  const autocommit =
    (op.op === "insert" ||
      op.op === "update" ||
      op.op === "delete" ||
      op.op === "updateWhere" ||
      op.op === "deleteWhere") &&
    !committer?.open &&
    "count" in obs &&
    obs.count > 0;
  if (!autocommit) return `${op.op} appended ${frames.length} frame(s): only a commit appends`;
  const unchanged = frames.find((f) => text(f.rows) === text(latest(before, f.page)));
  if (frames.length > 1 || unchanged)
    return `an autocommit ${op.op} appended ${frames.length} frame(s)${unchanged ? `, page ${unchanged.page} unchanged` : ""}`;
  return undefined;
}

function writes(op: MvccOp, before: WalState, after: WalState): string | undefined {
  if (op.op !== "checkpoint")
    return after.dbWrites ? `${op.op} wrote ${after.dbWrites} page(s) into the database file` : undefined;
  const upTo = after.salt === before.salt ? after.nBackfill : before.mxFrame; // TRUNCATE backfilled all, then emptied the WAL
  const pages = new Set(before.frames.slice(before.nBackfill, upTo).map((f) => f.page)).size;
  return after.dbWrites > pages
    ? `checkpoint wrote ${after.dbWrites} page(s) into the database file for ${pages} page(s) backfilled`
    : undefined;
}

/** A property comparing each state with the one before it. */
function stepwise(
  name: string,
  description: string,
  check: (op: MvccOp, obs: MvccObs, before: WalState, after: WalState) => string | undefined,
): Property<MvccOp, MvccObs, WalState> {
  return {
    name,
    kind: "economy",
    description,
    start(initial) {
      let before = initial;
      return {
        after(op, obs, s) {
          const v = check(op, obs, before, s);
          before = s;
          return v;
        },
      };
    },
  };
}

export const walEconomy: Property<MvccOp, MvccObs, WalState>[] = [
  stepwise(
    "commit-appends-changed-pages",
    "a commit appends one frame per page its transaction changed, with the page as changed; reads, aborts and checkpoints append nothing",
    appends,
  ),
  stepwise(
    "checkpoint-writes-backfilled-pages",
    "a checkpoint writes each page it backfills once (its newest frame), and nothing else writes the database file",
    (op, _obs, b, a) => writes(op, b, a),
  ),
];
