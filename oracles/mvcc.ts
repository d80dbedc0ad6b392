// Eager oracle for the mvcc layer: the committed table is a plain map of rows; a snapshot is a full copy of it
// (REPEATABLE READ: taken by the first statement; READ COMMITTED: one per statement); writes go to a private buffer
// under a row lock, and commit applies the buffer. The conflict rules are the isolation levels' as PostgreSQL
// documents them: a row another open transaction is changing waits for it; under REPEATABLE READ a row changed by a
// transaction that committed after the snapshot is a serialization failure (40001); under READ COMMITTED the
// statement goes on with the newest version of the same row, if it still exists. An insert waits for any open
// writer of the key and fails (23505) on a committed row. Rows have identities: a key deleted and inserted again is
// another row, and a snapshot that saw the deleted one still sees it beside the transaction's own new row, as
// PostgreSQL's does. Waits, wakeups and deadlocks are the clients' (models/mvcc/clients.ts).
import type { Engine } from "../engines/types.ts";
import { Sessions, type Client, type Outcome, type Statement, type Storage } from "../models/mvcc/clients.ts";
import type { Level, MvccGeometry, MvccObs, MvccOp } from "../models/mvcc/types.ts";

/** A committed row: its key and value, and its version (one more for every committed change). */
interface Row {
  readonly key: number;
  readonly value: number;
  readonly ver: number;
}
/** A copy of the committed table, by row id. */
type Copy = Map<number, Row>;

interface Tx {
  readonly tx: number;
  snapshot?: Copy;
  /** row id → its new value, or null for deleted (rows it inserted included). */
  readonly writes: Map<number, { key: number; value: number } | null>;
}

export class MvccOracle implements Engine<MvccOp, MvccObs>, Storage<Tx> {
  readonly layer = "mvcc" as const;
  readonly features: ReadonlySet<string> = new Set<string>();
  private readonly rows: Copy = new Map();
  private nextRow = 1;
  /** key → the open transaction that wrote a row of it (the row lock, and what an insert of the key waits for). */
  private readonly writers = new Map<number, number>();
  private readonly sessions = new Sessions<Tx>(this);

  constructor(readonly geometry: MvccGeometry) {}

  apply(op: MvccOp): MvccObs {
    return this.sessions.apply(op);
  }

  begin(tx: number, _level: Level): Tx {
    return { tx, writes: new Map() };
  }

  context(client: Client<Tx>, _op: Statement): Copy {
    return client.level === "rr" ? (client.state.snapshot ??= new Map(this.rows)) : new Map(this.rows);
  }

  waitId(client: Client<Tx>): number {
    return client.tx;
  }

  /** The rows of a key the transaction sees: its copy's, less what it changed, plus what it wrote. */
  private view(t: Tx, c: Copy, key: number): { id: number; value: number; mine: boolean }[] {
    const out: { id: number; value: number; mine: boolean }[] = [];
    for (const [id, r] of c) if (r.key === key && !t.writes.has(id)) out.push({ id, value: r.value, mine: false });
    for (const [id, w] of t.writes) if (w && w.key === key) out.push({ id, value: w.value, mine: true });
    return out;
  }

  run(client: Client<Tx>, op: Statement, context: unknown): Outcome {
    const c = context as Copy;
    const t = client.state;
    switch (op.op) {
      case "read": return { values: this.view(t, c, op.key).map((r) => r.value).sort((a, b) => a - b) };
      case "scan": {
        const rows: [number, number][] = [];
        for (let k = op.lo; k <= op.hi; k++) for (const r of this.view(t, c, k)) rows.push([k, r.value]);
        return { rows: rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]) };
      }
      case "insert": {
        if (this.view(t, new Map(), op.key).length) return { error: "23505" }; // its own live row
        const writer = this.writers.get(op.key);
        if (writer !== undefined && writer !== t.tx) return { waitFor: writer };
        const live = [...this.rows].some(([id, r]) => r.key === op.key && t.writes.get(id) !== null);
        if (live) return { error: "23505" };
        t.writes.set(this.nextRow++, { key: op.key, value: op.value });
        this.writers.set(op.key, t.tx);
        return { count: 1 };
      }
      case "update": case "delete": {
        const targets: { id: number; value: number }[] = [];
        for (const r of this.view(t, c, op.key)) {
          if (r.mine) {
            targets.push(r);
            continue;
          }
          const then = c.get(r.id)!;
          const now = this.rows.get(r.id);
          if (now !== then) {
            // changed by a transaction that committed after the snapshot
            if (client.level === "rr") return { error: "40001" };
            if (!now) continue; // deleted: nothing to change (READ COMMITTED)
          }
          const writer = this.writers.get(op.key);
          if (writer !== undefined && writer !== t.tx) return { waitFor: writer };
          targets.push({ id: r.id, value: (now ?? then).value });
        }
        for (const r of targets) {
          t.writes.set(r.id, op.op === "delete" ? null : { key: op.key, value: op.add !== undefined ? r.value + op.add : (op.value ?? r.value) });
          this.writers.set(op.key, t.tx);
        }
        return { count: targets.length };
      }
    }
  }

  commit(client: Client<Tx>): void {
    for (const [id, w] of client.state.writes) {
      if (w === null) this.rows.delete(id);
      else this.rows.set(id, { key: w.key, value: w.value, ver: (this.rows.get(id)?.ver ?? 0) + 1 });
    }
    this.release(client.state);
  }

  abort(client: Client<Tx>): void {
    this.release(client.state);
  }

  private release(t: Tx): void {
    for (const [k, tx] of [...this.writers]) if (tx === t.tx) this.writers.delete(k);
  }
}
