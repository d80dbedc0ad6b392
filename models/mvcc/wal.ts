// The reference model of SQLite in WAL mode (src/wal.c, walformat.html): the mvcc layer's sqlite flavour. The
// database file holds pages; a commit appends an image of each page it changed to the WAL, one frame each. A reader
// keeps a copy of the wal-index header (its mxFrame) and reads each page from the newest frame ≤ mxFrame, else from
// the database file: every snapshot shares the one WAL, nothing is copied per snapshot. Read locks protect what
// readers use: slot 0 reads the database file alone; slots 1–4 carry read marks, shared once more than four
// snapshots need one; a checkpoint copies frames into the database file up to the oldest busy mark, and the WAL
// starts again at frame 1 once all of it is copied and nobody reads it. Ground truth: docs/research/sqlite-wal.md.
import { type Engine, InputError } from "../../core/index.ts";
import { MVCC_MAX_ROWS, type MvccGeometry, type MvccObs, type MvccOp, type MvccResult } from "./types.ts";
import {
  applyChange,
  type Change,
  type CheckpointMode,
  type CheckpointRow,
  type Reading,
  type Select,
  WalClients,
} from "./wal-clients.ts";
import type { WalPage, WalState } from "./wal-state.ts";

/** t's root page: 64 rows of two small integers fit in one 4096-byte b-tree leaf, so every row lives on page 2. */
export const TABLE_PAGE = 2;
const pageOf = (_key: number): number => TABLE_PAGE;
/** The pages holding keys lo..hi (every row lives on TABLE_PAGE): found without walking the range. */
const pagesOf = (lo: number, hi: number): number[] => (lo <= hi ? [pageOf(lo)] : []);

type Rows = WalPage["rows"];
interface Frame {
  readonly page: number;
  readonly rows: Rows;
  /** The last frame of a transaction (its header carries the database size after the commit). */
  readonly commit: boolean;
}
/** A connection's copy of the wal-index header, and the read lock it holds. */
interface Header {
  slot: number;
  mxFrame: number;
  /** nBackfill + 1 when the read began: older frames are in the database file already. */
  minFrame: number;
  salt: number;
}
/** A read transaction: its header, and the pages its transaction changed (the page cache, private until commit). */
export interface Snapshot extends Header {
  readonly dirty: Map<number, Rows>;
}

export class WalModel extends WalClients<Snapshot> implements Engine<MvccOp, MvccObs, WalState> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set(["inspect"]);
  protected readonly db = new Map<number, Rows>([[TABLE_PAGE, []]]);
  protected frames: Frame[] = [];
  protected nBackfill = 0;
  protected salt = 0;
  /** aReadMark[0..4]: [0] is always 0; null is READMARK_NOT_USED. As walRestartHdr leaves them. */
  protected marks: (number | null)[] = [0, 0, null, null, null];
  /** Pages the current op wrote into the database file. */
  protected dbWrites = 0;

  constructor(readonly geometry: MvccGeometry) {
    super();
  }

  override apply(op: MvccOp): MvccObs {
    this.dbWrites = 0;
    return super.apply(op);
  }

  protected beginRead(): Snapshot {
    return { ...this.tryBeginRead(false), dirty: new Map() };
  }

  /**
   * walTryBeginRead: with everything backfilled (and useWal false), read lock 0 and the database file alone.
   * Otherwise the slot whose mark is the largest ≤ mxFrame; if that mark is older than mxFrame, a free slot is set to
   * mxFrame instead; with no slot free, the reader shares the older mark (research section 6).
   */
  protected tryBeginRead(useWal: boolean): Header {
    const mxFrame = this.frames.length;
    const header = (slot: number): Header => ({ slot, mxFrame, minFrame: this.nBackfill + 1, salt: this.salt });
    if (!useWal && this.nBackfill === mxFrame) return header(0);
    let mxI = 0;
    for (let i = 1; i < 5; i++) {
      const m = this.marks[i];
      if (m !== null && this.marks[mxI]! <= m && m <= mxFrame) mxI = i;
    }
    if (mxI === 0 || this.marks[mxI]! < mxFrame) {
      const free = this.freeSlot();
      if (free > 0) {
        this.marks[free] = mxFrame;
        mxI = free;
      }
    }
    if (mxI === 0) throw new Error("walTryBeginRead: every read lock is busy and none has a mark ≤ mxFrame");
    return header(mxI);
  }

  /** The first read lock of 1–4 that no connection holds (walLockExclusive would succeed), or 0. */
  protected freeSlot(): number {
    for (let i = 1; i < 5; i++) if (!this.held(i)) return i;
    return 0;
  }

  protected held(slot: number): boolean {
    for (const c of this.conns.values()) if (c.read?.slot === slot) return true;
    return false;
  }

  /** Some reader uses the WAL (holds read lock 1–4): the WAL must not start again under it. */
  protected walInUse(): boolean {
    return [1, 2, 3, 4].some((i) => this.held(i));
  }

  /** The wal-index header differs from the reader's copy (sqlite3WalBeginWriteTransaction's memcmp). */
  protected stale(s: Snapshot): boolean {
    return s.mxFrame !== this.frames.length || s.salt !== this.salt;
  }

  /** A page as the transaction sees it: its own change, else sqlite3WalFindFrame, else the database file. */
  protected page(s: Snapshot, page: number): Rows {
    const own = s.dirty.get(page);
    if (own) return own;
    if (s.slot > 0)
      for (let f = s.mxFrame; f >= s.minFrame; f--)
        if (this.frames[f - 1]?.page === page) return this.frames[f - 1]!.rows;
    return this.db.get(page) ?? [];
  }

  protected select(c: Reading<Snapshot>, op: Select): MvccResult {
    const [lo, hi] = op.op === "read" ? [op.key, op.key] : [op.lo, op.hi];
    const rows = pagesOf(lo, hi)
      .flatMap((p) => this.page(c.read, p))
      .filter(([k]) => k >= lo && k <= hi);
    return op.op === "read"
      ? { values: rows.map(([, v]) => v) }
      : { rows: rows.sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, v]) };
  }

  protected write(c: Reading<Snapshot>, op: Change): MvccResult {
    const page = pageOf("key" in op ? op.key : op.lo); // every row lives on TABLE_PAGE
    const rows = new Map(this.page(c.read, page));
    const { result, changed } = applyChange(rows, op);
    // the model's table is one b-tree page, which every write copies (docs/mvcc.md, "Bounds")
    if (rows.size > MVCC_MAX_ROWS)
      throw new InputError(
        `the table would hold more than ${MVCC_MAX_ROWS} rows (the sqlite flavour's bound: its one b-tree page)`,
      );
    if (changed)
      c.read.dirty.set(
        page,
        [...rows].sort((a, b) => a[0] - b[0]),
      ); // sqlite3PagerWrite
    return result;
  }

  /**
   * walFrames: at commit the changed pages go to the WAL, a frame each, the last one the commit frame; nothing
   * reached the WAL before (surprise 16), and a transaction that changed nothing writes nothing.
   */
  protected commit(c: Reading<Snapshot>): void {
    const dirty = [...c.read.dirty];
    if (!dirty.length) return;
    this.restartLog(c.read);
    for (const [i, [page, rows]] of dirty.entries()) this.frames.push({ page, rows, commit: i === dirty.length - 1 });
  }

  /**
   * walRestartLog: a writer that began with everything backfilled (read lock 0) starts the WAL again at frame 1,
   * unless a reader uses it (surprise 8); either way it then reads through the WAL.
   */
  protected restartLog(s: Snapshot): void {
    if (s.slot !== 0) return;
    if (this.nBackfill > 0 && !this.walInUse()) this.restartHdr();
    s.slot = -1; // read lock 0 released
    Object.assign(s, this.tryBeginRead(true));
  }

  /** walRestartHdr: an empty WAL with a new salt, nothing backfilled, read marks as new. */
  protected restartHdr(): void {
    this.frames = [];
    this.salt++;
    this.nBackfill = 0;
    this.marks = [0, 0, null, null, null];
  }

  /** sqlite3WalCheckpoint: without the write lock, FULL, RESTART and TRUNCATE run as PASSIVE and report busy (surprise 5). */
  protected checkpoint(mode: CheckpointMode): CheckpointRow {
    const run = mode !== "passive" && this.writer !== undefined ? "passive" : mode;
    const busy = this.walCheckpoint(run) || run !== mode;
    return { busy: busy ? 1 : 0, log: this.frames.length, checkpointed: this.nBackfill };
  }

  /**
   * walCheckpoint: backfill up to the safe frame; then FULL and above are busy unless everything is backfilled,
   * RESTART and TRUNCATE also while a reader holds a read mark (surprise 7); TRUNCATE empties the WAL (so it reports
   * 0/0: surprise 6). Returns whether it was busy.
   */
  protected walCheckpoint(mode: CheckpointMode): boolean {
    if (this.nBackfill < this.frames.length) this.backfill(this.safeFrame());
    if (mode === "passive") return false;
    if (this.nBackfill < this.frames.length) return true;
    if (mode === "full") return false;
    if (this.walInUse()) return true;
    if (mode === "truncate") this.restartHdr();
    return false;
  }

  /** walCheckpoint's read-mark loop: no frame past a busy read mark is safe; free marks below are reset. */
  protected safeFrame(): number {
    let safe = this.frames.length;
    for (let i = 1; i < 5; i++) {
      const y = this.marks[i];
      if (y === null || safe <= y) continue;
      if (this.held(i)) safe = y;
      else this.marks[i] = i === 1 ? safe : null;
    }
    return safe;
  }

  /** The backfill proper: it needs read lock 0 exclusively (no reader of the database file alone may see the file change). */
  protected backfill(safe: number): void {
    if (this.nBackfill >= safe || this.fileInUse()) return;
    for (const f of this.backfillOrder(this.nBackfill, safe)) {
      this.db.set(f.page, f.rows);
      this.dbWrites++;
    }
    this.nBackfill = safe;
  }

  protected fileInUse(): boolean {
    return this.held(0);
  }

  /** walIteratorNext: each page once, from the newest of its frames in (from, to]. */
  protected backfillOrder(from: number, to: number): Frame[] {
    const newest = new Map<number, Frame>();
    for (const f of this.frames.slice(from, to)) newest.set(f.page, f);
    return [...newest.values()].sort((a, b) => a.page - b.page);
  }

  inspect(): WalState {
    const pages = (m: Map<number, Rows>) => [...m].map(([page, rows]) => ({ page, rows }));
    return {
      wal: true,
      db: pages(this.db),
      // the live WAL, not a copy: frames are only appended until a restart replaces the array, so a state read
      // later still holds its frames 1..mxFrame as they were
      frames: this.frames,
      mxFrame: this.frames.length,
      salt: this.salt,
      nBackfill: this.nBackfill,
      marks: this.marks.slice(1),
      writer: this.writer ?? null,
      clients: [...this.conns.values()]
        .filter((c) => c.open || c.read)
        .map((c) => {
          if (!c.read) return { tx: c.tx, open: c.open, dirty: [] };
          const { slot, mxFrame, minFrame, salt, dirty } = c.read;
          return { tx: c.tx, open: c.open, read: { slot, mxFrame, minFrame, salt }, dirty: pages(dirty) };
        }),
      dbWrites: this.dbWrites,
    };
  }
}
