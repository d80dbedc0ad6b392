// The innodb flavour's inspected state: the clustered index's records with their version chains (the record, then
// the before-images its undo records hold, newest first), the lock queues, and each open transaction's id, read view
// and undo count. As JSON (what an external engine answers to `inspect`) and in words.
import { z } from "zod";

const tx = z.number().int().min(1);
const trxId = z.number().int().min(1);
const version = z.object({ value: z.number().int(), deleted: z.boolean(), trxId }).strict();

export const innodbStateSchema = z
  .object({
    /** The discriminator from the other flavours' states. */
    innodb: z.literal(true),
    /** Records in key order; `versions[0]` is the record itself, the rest the roll-pointer chain. */
    records: z.array(z.object({ key: z.number().int(), versions: z.array(version).min(1) }).strict()),
    /** Every lock request in request order (a record's queue is this order); key null: the supremum. */
    locks: z.array(
      z
        .object({
          tx,
          key: z.number().int().nullable(),
          mode: z.enum(["S", "X"]),
          kind: z.enum(["rec", "gap", "next-key", "insert-intention"]),
          waiting: z.boolean(),
        })
        .strict(),
    ),
    /** Open transactions (an autocommit statement's too while it waits). */
    trxs: z.array(
      z
        .object({
          tx,
          id: trxId.optional(),
          level: z.enum(["rc", "rr", "ser"]),
          view: z
            .object({ low: trxId, up: trxId, ids: z.array(trxId) })
            .strict()
            .optional(),
          undo: z.number().int().min(0),
          waiting: z.boolean(),
        })
        .strict(),
    ),
    /** trx_sys.max_trx_id: the next id to give. */
    nextTrxId: trxId,
  })
  .strict();
export type InnodbState = z.infer<typeof innodbStateSchema>;

export const decodeInnodbState = (json: unknown): InnodbState => innodbStateSchema.parse(json);

export function renderInnodbState(s: InnodbState): string {
  const v = (x: InnodbState["records"][number]["versions"][number]) => `${x.deleted ? "deleted" : x.value}@${x.trxId}`;
  const lines = s.records.map((r) => `k=${r.key}: ${r.versions.map(v).join(" ← ")}`);
  for (const l of s.locks)
    lines.push(`lock client ${l.tx} ${l.mode} ${l.kind} on ${l.key ?? "supremum"}${l.waiting ? " (waiting)" : ""}`);
  for (const t of s.trxs) {
    const view = t.view ? ` view sees < ${t.view.up}, not ${t.view.ids.join(",") || "-"}, not ≥ ${t.view.low}` : "";
    lines.push(
      `client ${t.tx} (${t.level})${t.id !== undefined ? ` trx ${t.id}` : ""}${view}, ${t.undo} undo${t.waiting ? ", waiting" : ""}`,
    );
  }
  return lines.join("\n");
}
