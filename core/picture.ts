// Pictures of a state or a trace for reports: plain data a layer draws (which parts, how they connect, what marks
// them), laid out and rendered by reports/ (Graphviz for graphs, lanes by hand). Node and group ids are stable
// across the states of one trace (a frame's number, a path, a node's id), so the report can mark what an op changed.

/** How many of a failing trace's last ops its report draws the states of (each op: the state before and after). */
export const DRAWN_OPS = 40;

/** A graph: boxes (nodes) in nested frames (groups), joined by arrows (edges). */
export interface Graph {
  readonly kind: "graph";
  /** Left to right (the default) or top to bottom. */
  readonly direction?: "LR" | "TB";
  readonly groups?: readonly GraphGroup[];
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** One line under the picture: a legend, or what it leaves out. */
  readonly caption?: string;
}

export interface GraphGroup {
  readonly id: string;
  readonly label: string;
  /** The group it sits in. */
  readonly parent?: string;
  /** Marks, as CSS class names the report styles (see reports/pictures.ts, MARKS). */
  readonly marks?: readonly string[];
}

export interface GraphNode {
  readonly id: string;
  /** Lines of text; the first is the name. */
  readonly label: string;
  readonly group?: string;
  readonly marks?: readonly string[];
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
  readonly marks?: readonly string[];
}

/** Lanes of events over the ops of a trace (mvcc: one lane per client, from begin to commit or abort). */
export interface Lanes {
  readonly kind: "lanes";
  readonly lanes: readonly {
    readonly id: string;
    readonly label: string;
    readonly events: readonly LaneEvent[];
  }[];
  readonly caption?: string;
}

export interface LaneEvent {
  /** The op index it happened at; `until` (an op index) makes it an interval (a wait, a transaction's life). */
  readonly at: number;
  readonly until?: number;
  readonly label: string;
  readonly marks?: readonly string[];
}

export type Picture = Graph | Lanes;

/** A picture with its title, as a report shows it. */
export interface TitledPicture {
  readonly title: string;
  readonly picture: Picture;
}

/**
 * The marks the report knows how to draw. A layer may use others (they become CSS classes), but these have a style:
 * "changed" and "new" are set by the report itself, comparing a state with the one before it.
 */
export const MARKS = [
  "new", // not in the state before
  "changed", // in the state before, drawn differently
  "removed", // gone in the state after (drawn in the before picture)
  "shared", // used by more than one owner (a frame mapped twice, a tree node with refs > 1)
  "exclusive", // PageAnonExclusive, a node owned by one tree
  "pinned", // a GUP pin, a reader slot holding an old version
  "huge", // a THP / PMD mapping
  "whiteout", // overlay whiteout
  "opaque", // overlay opaque dir
  "redirect", // overlay redirect
  "copied", // overlay: copied up
  "metacopy", // overlay: metadata copied up, data still below
  "lower", // overlay: from a lower layer, read-only
  "readonly", // a read-only tree or mapping
  "dead", // a version no snapshot sees any more, a lost node
  "pending", // freed by the open transaction, not reusable yet
  "dirty", // written, not yet committed or written back
  "failed", // the failing op, a failed write
  "blocked", // waiting on a lock
  "error", // an op answered with an error
  "commit",
  "abort",
  "ww",
  "wr",
  "rw",
] as const;
