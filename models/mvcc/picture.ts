// The mvcc state as a graph: PostgreSQL's version chains per key and the sessions' snapshots, SQLite's WAL frames, or
// InnoDB's records with their undo chains and lock queues.
import type { Graph, GraphEdge, GraphGroup, GraphNode } from "../../core/picture.ts";
import type { InnodbState } from "./innodb-state.ts";
import { visible } from "./state.ts";
import type { MvccGeometry, MvccState, Version } from "./types.ts";
import type { WalPage, WalState } from "./wal-state.ts";

/** Ids from real identity (a key; a version's key, inserter and value; a client, a page, a frame with its salt). */
export const mvccIds = {
  key: (k: number) => `key${k}`,
  /**
   * A version: its key, its inserting xid and its value (none of which ever change), and where its inserter wrote that
   * value to the key more than once, its place among those (heap order is no identity: vacuum frees line pointers
   * that later versions take).
   */
  version: (key: number, xmin: number, value: number, rank = 0) => `v${key}.${xmin}.${value}${rank ? `.${rank}` : ""}`,
  client: (tx: number) => `client${tx}`,
  dbPage: (page: number) => `db.page${page}`,
  /** A WAL frame: its number since the WAL last started again (salt). */
  frame: (salt: number, frame: number) => `wal${salt}.frame${frame}`,
  mark: (slot: number) => `mark${slot}`,
  dirty: (tx: number, page: number) => `client${tx}.page${page}`,
} as const;

/** Rows a page's label shows, four a line, before it says how many more. */
const PAGE_ROWS = 8;
/** Transactions a caption's list shows before it says how many more. */
const CAPTION_IDS = 10;

const list = (ids: readonly number[]): string =>
  ids.length > CAPTION_IDS ? `${ids.slice(0, CAPTION_IDS).join(",")},… (${ids.length})` : ids.join(",");

export function mvccPicture(s: MvccState | WalState | InnodbState, g: MvccGeometry): Graph {
  if ("innodb" in s) return innodbPicture(s);
  return "wal" in s ? walPicture(s, g) : heapPicture(s, g);
}

// ---- InnoDB: records and undo chains

/**
 * Each record in a frame of its own: the record, then the versions its undo records keep (newest → older, along the
 * roll pointers), "dirty" while their maker runs, "dead" once delete-marked. Each client with its trx id and read
 * view, with an edge to each record it locks (mode and kind; "blocked" while it waits).
 */
function innodbPicture(s: InnodbState): Graph {
  const groups: GraphGroup[] = [];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const running = new Set(s.trxs.flatMap((t) => (t.id !== undefined ? [t.id] : [])));
  const versionId = (key: number, trxId: number, i: number) => `r${key}.${trxId}.${i}`;
  for (const r of s.records) {
    groups.push({ id: mvccIds.key(r.key), label: `k=${r.key}` });
    const n = r.versions.length;
    r.versions.forEach((v, i) => {
      const marks = [...(running.has(v.trxId) ? ["dirty"] : []), ...(v.deleted ? ["dead"] : [])];
      const id = versionId(r.key, v.trxId, n - i);
      nodes.push({
        id,
        label: `${v.deleted ? "delete-marked" : `v=${v.value}`} by trx ${v.trxId}\n${i === 0 ? "the record" : "in undo"}`,
        group: mvccIds.key(r.key),
        ...(marks.length ? { marks } : {}),
      });
      if (i > 0) edges.push({ from: versionId(r.key, r.versions[i - 1]!.trxId, n - i + 1), to: id, label: "roll ptr" });
    });
  }
  if (s.locks.some((l) => l.key === null)) nodes.push({ id: "supremum", label: "supremum" });
  for (const t of s.trxs) {
    const view = t.view ? `\nview: < ${t.view.up}, not ${list(t.view.ids) || "-"}, not ≥ ${t.view.low}` : "";
    nodes.push({
      id: mvccIds.client(t.tx),
      label: `client ${t.tx} (${t.level})${t.id !== undefined ? `\ntrx ${t.id}` : ""}${view}`,
      ...(t.waiting ? { marks: ["blocked"] } : {}),
    });
  }
  for (const l of s.locks) {
    const r = s.records.find((x) => x.key === l.key);
    const to = r ? versionId(r.key, r.versions[0]!.trxId, r.versions.length) : "supremum";
    edges.push({
      from: mvccIds.client(l.tx),
      to,
      label: `${l.mode} ${l.kind}`,
      ...(l.waiting ? { marks: ["blocked"] } : {}),
    });
  }
  return { kind: "graph", groups, nodes, edges, caption: "records ← undo versions; client → record: a lock" };
}

// ---- PostgreSQL: the heap

/**
 * The oldest xid an open transaction has or holds back with its snapshot (vacuum's OldestXmin horizon): a version
 * whose inserter aborted, or whose deleter committed before it, no snapshot sees any more.
 */
function horizon(s: MvccState): number {
  let h = s.nextXid;
  for (const t of s.txs) {
    if (t.failed) continue;
    if (t.xid !== undefined && s.clog[t.xid] === undefined) h = Math.min(h, t.xid);
    if (t.snapshot) h = Math.min(h, t.snapshot.xmin);
  }
  return h;
}

const fate = (s: MvccState, xid: number): string =>
  s.clog[xid] === "committed" ? "committed" : s.clog[xid] === "aborted" ? "aborted" : "running";

/**
 * Each key's versions in a frame of their own, newest → older along the update chain (a version points at the one it
 * replaced): "commit"/"abort" by its inserter's fate, "dead" once no snapshot can see it, "blocked" while its
 * inserter waits in the unique check. Each session with its snapshot, pointing at the version of each key it sees.
 */
function heapPicture(s: MvccState, _g: MvccGeometry): Graph {
  const groups: GraphGroup[] = [];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  // a version's place among its inserter's versions of the key: those it replaced itself first, then heap order
  const ids = new Map<Version, string>();
  const heap = new Map<string, Version[]>();
  for (const v of s.versions) {
    const k = `${v.key}.${v.xmin}`;
    heap.set(k, [...(heap.get(k) ?? []), v]);
  }
  const byKeyXmin = new Map<string, Version[]>();
  for (const [k, vs] of heap) {
    const ordered = [...vs.filter((v) => v.xmax === v.xmin), ...vs.filter((v) => v.xmax !== v.xmin)];
    for (const [i, v] of ordered.entries()) {
      const rank = ordered.slice(0, i).filter((u) => u.value === v.value).length;
      ids.set(v, mvccIds.version(v.key, v.xmin, v.value, rank));
    }
    byKeyXmin.set(k, ordered);
  }
  const oldest = horizon(s);
  const keys = [...new Set(s.versions.map((v) => v.key))].sort((a, b) => a - b);
  for (const key of keys) groups.push({ id: mvccIds.key(key), label: `key ${key}` });
  for (const v of s.versions) {
    const dead = s.clog[v.xmin] === "aborted" || (v.xmax !== 0 && s.clog[v.xmax] === "committed" && v.xmax < oldest);
    const marks = [
      s.clog[v.xmin] === "committed" ? "commit" : s.clog[v.xmin] === "aborted" ? "abort" : undefined,
      dead ? "dead" : undefined,
      v.pending ? "blocked" : undefined,
    ].filter((m): m is string => m !== undefined);
    const lines = [`${v.key} = ${v.value}`, `xmin ${v.xmin} ${fate(s, v.xmin)}`];
    if (v.xmax !== 0) lines.push(`xmax ${v.xmax} ${fate(s, v.xmax)}`);
    if (v.pending) lines.push("waits in the unique check");
    nodes.push({
      id: ids.get(v)!,
      label: lines.join("\n"),
      group: mvccIds.key(v.key),
      ...(marks.length ? { marks } : {}),
    });
    // the version that replaced it: the next of its own inserter's, or the first its deleter made of the key
    if (v.xmax === 0) continue;
    const mine = byKeyXmin.get(`${v.key}.${v.xmax}`) ?? [];
    const next = v.xmax === v.xmin ? mine[mine.indexOf(v) + 1] : mine[0];
    if (next) edges.push({ from: ids.get(next)!, to: ids.get(v)! });
  }

  if (s.txs.length) groups.push({ id: "sessions", label: "sessions" });
  const sxacts = s.ssi?.sxacts ?? [];
  for (const t of [...s.txs].sort((a, b) => a.tx - b.tx)) {
    const lines = [`client ${t.tx} (${t.level})`];
    if (t.xid !== undefined) lines.push(`xid ${t.xid}`);
    if (t.snapshot) lines.push(`snapshot ${t.snapshot.xmin}:${t.snapshot.xmax}:[${t.snapshot.xip.join(",")}]`);
    if (t.waiting) lines.push(`waits in ${t.waiting}`);
    if (t.failed) lines.push("failed: aborted");
    const x = sxacts.find((y) => y.tx === t.tx && y.commitSeqNo === undefined);
    if (x) {
      const out = x.outConflicts.length ? ` →rw ${x.outConflicts.map((i) => `T${i}`).join(",")}` : "";
      lines.push(`ssi T${x.id}${x.doomed ? " doomed" : ""}${out}`);
    }
    const marks = [t.waiting ? "blocked" : undefined, t.failed ? "abort" : undefined].filter(
      (m): m is string => m !== undefined,
    );
    nodes.push({
      id: mvccIds.client(t.tx),
      label: lines.join("\n"),
      group: "sessions",
      ...(marks.length ? { marks } : {}),
    });
    if (!t.snapshot || t.failed) continue;
    for (const v of s.versions)
      if (visible(s, v, t.snapshot, t.xid)) edges.push({ from: mvccIds.client(t.tx), to: ids.get(v)!, label: "sees" });
  }

  const xids = Object.keys(s.clog)
    .map(Number)
    .sort((a, b) => a - b);
  const committed = sxacts.filter((x) => x.commitSeqNo !== undefined);
  const caption = [
    `next xid ${s.nextXid}`,
    `committed ${list(xids.filter((x) => s.clog[x] === "committed"))}`,
    xids.some((x) => s.clog[x] === "aborted") ? `aborted ${list(xids.filter((x) => s.clog[x] === "aborted"))}` : "",
    s.removed.length
      ? `vacuum removed ${s.removed
          .slice(0, CAPTION_IDS)
          .map((v) => `${v.key}=${v.value}`)
          .join(" ")}${s.removed.length > CAPTION_IDS ? " …" : ""}`
      : "",
    committed.length
      ? `ssi kept ${committed.map((x) => `T${x.id}${x.outConflicts.length ? ` →rw ${x.outConflicts.map((i) => `T${i}`).join(",")}` : ""}`).join(", ")}`
      : "",
  ]
    .filter(Boolean)
    .join("; ");
  return { kind: "graph", direction: "LR", groups, nodes, edges, caption };
}

// ---- SQLite: the database file and the WAL

function rowLines(rows: WalPage["rows"]): string[] {
  if (!rows.length) return ["(no rows)"];
  const shown = rows.slice(0, PAGE_ROWS).map(([k, v]) => `${k}=${v}`);
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += 4) lines.push(shown.slice(i, i + 4).join(" "));
  if (rows.length > PAGE_ROWS) lines.push(`… ${rows.length - PAGE_ROWS} more`);
  return lines;
}

/**
 * The database file's pages, the WAL's frames (newest → older image of the same page, the oldest → the file's page;
 * "commit" on a transaction's last frame, "backfilled" on frames a checkpoint copied), the read marks ("pinned" while a
 * connection holds the slot), and each connection: its read lock, the page images it reads, its dirty pages.
 */
function walPicture(s: WalState, _g: MvccGeometry): Graph {
  const groups: GraphGroup[] = [
    { id: "db", label: "database file" },
    { id: "wal", label: `WAL (salt ${s.salt}): mxFrame ${s.mxFrame}, backfilled ${s.nBackfill}` },
  ];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  // the WAL array is live (appended to after this state): its frames are 1..mxFrame
  const frames = s.frames.slice(0, s.mxFrame);
  for (const p of s.db)
    nodes.push({ id: mvccIds.dbPage(p.page), label: [`page ${p.page}`, ...rowLines(p.rows)].join("\n"), group: "db" });
  const dbPages = new Set(s.db.map((p) => p.page));
  const pageEnd = (page: number): string => {
    if (!dbPages.has(page)) {
      dbPages.add(page);
      nodes.push({ id: mvccIds.dbPage(page), label: `page ${page}\n(not in the file)`, group: "db" });
    }
    return mvccIds.dbPage(page);
  };
  const held = new Set(s.clients.flatMap((c) => (c.read && c.read.slot > 0 ? [c.read.slot] : [])));
  for (const [i, f] of frames.entries()) {
    const n = i + 1;
    const marks = [f.commit ? "commit" : undefined, n <= s.nBackfill ? "backfilled" : undefined].filter(
      (m): m is string => m !== undefined,
    );
    nodes.push({
      id: mvccIds.frame(s.salt, n),
      label: [`frame ${n} · page ${f.page}${f.commit ? " · commit" : ""}`, ...rowLines(f.rows)].join("\n"),
      group: "wal",
      ...(marks.length ? { marks } : {}),
    });
    let before = i;
    while (before > 0 && frames[before - 1]!.page !== f.page) before--;
    edges.push({ from: mvccIds.frame(s.salt, n), to: before > 0 ? mvccIds.frame(s.salt, before) : pageEnd(f.page) });
  }
  groups.push({ id: "marks", label: "read marks" });
  for (const [i, m] of s.marks.entries()) {
    const slot = i + 1;
    nodes.push({
      id: mvccIds.mark(slot),
      label: `read mark ${slot}\n${m === null ? "not used" : `frame ${m}`}`,
      group: "marks",
      ...(held.has(slot) ? { marks: ["pinned"] } : {}),
    });
    if (m !== null && m > 0 && m <= frames.length)
      edges.push({ from: mvccIds.mark(slot), to: mvccIds.frame(s.salt, m) });
  }
  if (s.clients.length) groups.push({ id: "clients", label: "connections" });
  for (const c of [...s.clients].sort((a, b) => a.tx - b.tx)) {
    const lines = [`client ${c.tx}${c.open ? " (in a transaction)" : ""}`];
    if (c.read) lines.push(`read lock ${c.read.slot}: frames ${c.read.minFrame}..${c.read.mxFrame}`);
    if (s.writer === c.tx) lines.push("holds the write lock");
    nodes.push({
      id: mvccIds.client(c.tx),
      label: lines.join("\n"),
      group: "clients",
      ...(c.read ? { marks: ["pinned"] } : {}),
    });
    if (c.read) {
      // what its snapshot reads of each page: the newest frame of it within its frames, else the file's page
      const pages = new Set([...s.db.map((p) => p.page), ...frames.map((f) => f.page)]);
      for (const page of [...pages].sort((a, b) => a - b)) {
        let at = 0;
        if (c.read.slot > 0 && c.read.salt === s.salt)
          for (let f = Math.min(c.read.mxFrame, frames.length); f >= c.read.minFrame && !at; f--)
            if (frames[f - 1]?.page === page) at = f;
        edges.push({
          from: mvccIds.client(c.tx),
          to: at ? mvccIds.frame(s.salt, at) : pageEnd(page),
          label: "reads",
        });
      }
    }
    for (const p of c.dirty) {
      nodes.push({
        id: mvccIds.dirty(c.tx, p.page),
        label: [`dirty page ${p.page}`, ...rowLines(p.rows)].join("\n"),
        group: "clients",
        marks: ["dirty"],
      });
      edges.push({ from: mvccIds.client(c.tx), to: mvccIds.dirty(c.tx, p.page), label: "writes" });
    }
  }
  const caption = [
    `writer: ${s.writer === null ? "none" : `client ${s.writer}`}`,
    s.dbWrites ? `the last op wrote ${s.dbWrites} page(s) into the database file` : "",
  ]
    .filter(Boolean)
    .join("; ");
  return { kind: "graph", direction: "LR", groups, nodes, edges, caption };
}
