// The sqlite flavour's inspected state: SQLite's WAL as walformat.html lays it out (the database file, the frames of
// the WAL, the wal-index header's mxFrame and salt, the checkpoint info's nBackfill and read marks, the write lock)
// and each connection's read transaction. As JSON (what an external engine answers to `inspect`) and as a picture.
import { z } from "zod";

const tx = z.number().int().min(1);
const frameNo = z.number().int().min(0);
const row = z.tuple([z.number().int(), z.number().int()]);
/** A page image: the rows it holds, by key. */
const page = z.object({ page: z.number().int().min(1), rows: z.array(row) }).strict();

export const walStateSchema = z
  .object({
    /** The discriminator from the PostgreSQL flavour's state. */
    wal: z.literal(true),
    /** The database file, page by page. */
    db: z.array(page),
    /** The WAL's frames 1..mxFrame (frame i at index i-1): a page image each; `commit` marks a transaction's last frame. */
    frames: z.array(page.extend({ commit: z.boolean() }).strict()),
    /** The wal-index header: mxFrame (= frames.length) and salt-1, which each restart of the WAL from frame 1 changes. */
    mxFrame: frameNo,
    salt: z.number().int().min(0),
    /** Frames already copied into the database file (checkpoint info). */
    nBackfill: frameNo,
    /** aReadMark[1..4]; null: READMARK_NOT_USED. Slot 0 (read the database file alone) has no mark. */
    marks: z.array(frameNo.nullable()).length(4),
    /** The connection holding the WAL write lock. */
    writer: tx.nullable(),
    /** Connections with an open transaction, a read transaction or pages of their own. */
    clients: z.array(
      z
        .object({
          tx,
          /** BEGIN ran (otherwise each statement runs alone). */
          open: z.boolean(),
          /** Its read transaction: the read lock it holds (slot) and its copy of the wal-index header (mxFrame, salt). */
          read: z
            .object({
              slot: z.number().int().min(0).max(4),
              mxFrame: frameNo,
              minFrame: z.number().int().min(1),
              salt: z.number().int().min(0),
            })
            .strict()
            .optional(),
          /** Pages its transaction changed, private (the page cache) until commit writes them to the WAL. */
          dirty: z.array(page),
        })
        .strict(),
    ),
    /** Pages the last op wrote into the database file (a checkpoint's backfill). */
    dbWrites: z.number().int().min(0),
  })
  .strict();
export type WalState = z.infer<typeof walStateSchema>;
export type WalPage = WalState["db"][number];
export type WalRead = NonNullable<WalState["clients"][number]["read"]>;

export function decodeWalState(json: unknown): WalState {
  return walStateSchema.parse(json);
}

const rowsText = (rows: WalPage["rows"]) => `{${rows.map(([k, v]) => `${k}=${v}`).join(" ")}}`;

export function renderWalState(s: WalState): string {
  const lines = [
    ...s.db.map((p) => `db file page ${p.page} ${rowsText(p.rows)}`),
    `wal (salt ${s.salt}): mxFrame ${s.mxFrame}, nBackfill ${s.nBackfill}`,
    ...s.frames.map((f, i) => `  frame ${i + 1} page ${f.page} ${rowsText(f.rows)}${f.commit ? " commit" : ""}`),
    `read marks: ${s.marks.map((m, i) => `${i + 1}:${m ?? "-"}`).join(" ")}; writer: ${s.writer === null ? "none" : `client ${s.writer}`}`,
  ];
  for (const c of s.clients) {
    const read = c.read
      ? `, read lock ${c.read.slot} (mxFrame ${c.read.mxFrame}, minFrame ${c.read.minFrame}, salt ${c.read.salt})`
      : "";
    lines.push(
      `client ${c.tx}${c.open ? " (in a transaction)" : ""}${read}${c.dirty.map((p) => `, dirty page ${p.page} ${rowsText(p.rows)}`).join("")}`,
    );
  }
  return lines.join("\n");
}
