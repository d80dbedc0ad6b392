// The mvcc layer assembled, in three flavours chosen by the geometry: PostgreSQL-style MVCC (READ COMMITTED, REPEATABLE
// READ, SERIALIZABLE), SQLite's WAL ({"flavour":"sqlite"}: docs/sqlite-wal.md) and InnoDB's undo chains
// ({"flavour":"innodb"}: docs/innodb.md); their eager oracles, properties and mutants.

import type { Layer, Mutant, Property } from "../../core/index.ts";
import { innodbEngine } from "../../engines/mariadb/index.ts";
import { postgresEngine } from "../../engines/postgres/index.ts";
import { sqliteEngine } from "../../engines/sqlite/index.ts";
import { mvccAlphabet, mvccArrange, mvccOpKinds, mvccSimplifications } from "../../fuzz/mvcc/ops.ts";
import { walAlphabet, walArrange, walOpKinds } from "../../fuzz/mvcc/wal-ops.ts";
import { InnodbModel } from "../../models/mvcc/innodb.ts";
import { decodeInnodbState, type InnodbState, renderInnodbState } from "../../models/mvcc/innodb-state.ts";
import { MvccModel } from "../../models/mvcc/model.ts";
import { mvccMutants } from "../../models/mvcc/mutants/index.ts";
import { innodbMutants } from "../../models/mvcc/mutants/innodb.ts";
import { walMutants } from "../../models/mvcc/mutants/wal.ts";
import { mvccPicture } from "../../models/mvcc/picture.ts";
import { decodeMvccState, renderMvccState } from "../../models/mvcc/state.ts";
import {
  defaultMvccGeometry,
  type MvccGeometry,
  type MvccObs,
  type MvccOp,
  type MvccState,
  mvccGeometrySchema,
  mvccObsSchema,
  mvccOpSchema,
  pgLevels,
  sqliteLevels,
} from "../../models/mvcc/types.ts";
import { WalModel } from "../../models/mvcc/wal.ts";
import { decodeWalState, renderWalState, type WalState } from "../../models/mvcc/wal-state.ts";
import { MvccOracle } from "../../oracles/mvcc.ts";
import { InnodbOracle } from "../../oracles/mvcc-innodb.ts";
import { WalOracle } from "../../oracles/mvcc-wal.ts";
import { mvccEconomy } from "../../properties/mvcc/economy.ts";
import { innodbEconomy, innodbStructure } from "../../properties/mvcc/innodb.ts";
import { mvccStructure } from "../../properties/mvcc/invariants.ts";
import { mvccSsi } from "../../properties/mvcc/ssi.ts";
import { walEconomy, walStructure } from "../../properties/mvcc/wal.ts";
import { mvccCountersView } from "../../views/mvcc/counters.ts";
import { heapView } from "../../views/mvcc/heap.ts";
import { walIndexView } from "../../views/mvcc/wal-index.ts";
import { classifyMvcc } from "./anomaly.ts";
import { mvccTracePictures } from "./pictures.ts";

type State = MvccState | WalState | InnodbState;
type Flavour = "postgres" | "sqlite" | "innodb";
const sqlite = (g: MvccGeometry): boolean => g.flavour === "sqlite";
const innodb = (g: MvccGeometry): boolean => g.flavour === "innodb";
const flavourOf = (s: State): Flavour => ("wal" in s ? "sqlite" : "innodb" in s ? "innodb" : "postgres");

/** A flavour's property, passing over the other flavours' states (a run's flavour never changes). */
function only<S extends State>(flavour: Flavour, p: Property<MvccOp, MvccObs, S>): Property<MvccOp, MvccObs, State> {
  return {
    ...p,
    appliesTo: (g) => ((g as MvccGeometry).flavour ?? "postgres") === flavour,
    start: (initial) => (flavourOf(initial) === flavour ? p.start(initial as S) : { after: () => undefined }),
  } as Property<MvccOp, MvccObs, State>;
}

/**
 * Why an op belongs to the other flavour, in the words the models use when one reaches them at run time: trace
 * validation refuses it first, naming its index.
 */
function otherFlavour(op: MvccOp, g: MvccGeometry): string | undefined {
  if (sqlite(g)) {
    if (op.op === "vacuum") return "vacuum is an op of the postgres flavour; the sqlite flavour has checkpoint";
    if (op.op === "begin" && (!(sqliteLevels as readonly string[]).includes(op.level) || op.readOnly))
      return `BEGIN ${op.level}${op.readOnly ? " READ ONLY" : ""} is PostgreSQL's; the sqlite flavour has deferred and immediate`;
    return undefined;
  }
  if (innodb(g)) {
    if (op.op === "vacuum" || op.op === "checkpoint")
      return `${op.op} is not an op of the innodb flavour: purge runs by itself (docs/innodb.md)`;
    if (op.op === "begin" && !(pgLevels as readonly string[]).includes(op.level))
      return `BEGIN ${op.level} is SQLite's (geometry {"flavour":"sqlite"}); the innodb flavour's levels are ${pgLevels.join(", ")}`;
    return undefined;
  }
  if (op.op === "checkpoint") return 'checkpoint is an op of the sqlite flavour (geometry {"flavour":"sqlite"})';
  if (op.op === "begin" && !(pgLevels as readonly string[]).includes(op.level))
    return `BEGIN ${op.level} is SQLite's (geometry {"flavour":"sqlite"}); PostgreSQL's levels are ${pgLevels.join(", ")}`;
  return undefined;
}

/** The PostgreSQL mutants mutate the PostgreSQL model: they run in that flavour whatever --geometry says. */
const postgresMutants = mvccMutants.map(
  (m): Mutant<MvccOp, MvccObs, MvccState, MvccGeometry> => ({ ...m, geometry: { flavour: "postgres", ...m.geometry } }),
);

export const mvccLayer: Layer<MvccOp, MvccObs, State, MvccGeometry> = {
  name: "mvcc",
  description:
    'MVCC: PostgreSQL\'s heap (xmin/xmax, snapshots, READ COMMITTED, REPEATABLE READ, row locks, deadlocks, vacuum) or, with {"flavour":"sqlite"}, SQLite\'s WAL (read marks, one writer, BUSY_SNAPSHOT, checkpoints), or, with {"flavour":"innodb"}, InnoDB\'s undo chains (read views, current reads, gap and next-key locks, deadlocks by weight)',
  defaultGeometry: defaultMvccGeometry,
  flavours: [
    { name: "sqlite", geometry: { flavour: "sqlite", txs: 6 } },
    { name: "innodb", geometry: { flavour: "innodb" } },
  ],
  geometrySchema: mvccGeometrySchema,
  opSchema: mvccOpSchema,
  obsSchema: mvccObsSchema as never,
  observations:
    '{"ok":true} | {"values":[N…]} | {"rows":[[k,v]…]} | {"count":N} | {"rolledBack":true} | {"error":"40001"|"40P01"|"23505"|"25P02"|…} | {"blocked":true} | {"skipped":true}, each optionally with "unblocked":[{tx,result}] (docs/mvcc.md); sqlite flavour: {"error":"SQLITE_BUSY"|"SQLITE_BUSY_SNAPSHOT"|"SQLITE_CONSTRAINT_PRIMARYKEY"|"SQLITE_ERROR"} and {"checkpoint":{"busy":0|1,"log":N,"checkpointed":N}} (docs/sqlite-wal.md); innodb flavour: {"error":"ER_LOCK_DEADLOCK"|"ER_DUP_ENTRY"|"ER_CHECKREAD"|…} (docs/innodb.md)',
  opKinds: (g, f) => (sqlite(g) ? walOpKinds(g, f) : mvccOpKinds(g, f)),
  checkOp: otherFlavour,
  alphabet: (g) => (sqlite(g) ? walAlphabet(g) : mvccAlphabet(g)),
  // One committed row, so that reads, updates and deletes find something from the first op (explore reaches lost
  // updates, vacuum past a snapshot and lost wakeups within 4 ops thanks to it). Client 1 and key 1 only: every
  // geometry has them (the prelude is fixed, and every op of a run stays within the geometry's clients and keys).
  // The PostgreSQL flavour's arrange puts the insert in a transaction of its own; the sqlite flavour's runs it alone
  // (client 1 writes) and drops the COMMIT; explore sends both as they are (an autocommit insert, then a COMMIT with
  // no transaction: a warning, or SQLITE_ERROR).
  prelude: [
    { op: "insert", tx: 1, key: 1, value: 10 },
    { op: "commit", tx: 1 },
  ],
  arrange: (ops, g, f) => (sqlite(g) ? walArrange(ops, g, f) : mvccArrange(ops, g, f)),
  model: (g) => (sqlite(g) ? new WalModel(g) : innodb(g) ? new InnodbModel(g) : new MvccModel(g)),
  oracle: (g) => (sqlite(g) ? new WalOracle(g) : innodb(g) ? new InnodbOracle(g) : new MvccOracle(g)),
  mutants: [...postgresMutants, ...walMutants, ...innodbMutants],
  simplify: mvccSimplifications,
  properties: [
    only("postgres", mvccStructure),
    only("postgres", mvccSsi),
    ...mvccEconomy.map((p) => only("postgres", p)),
    only("sqlite", walStructure),
    ...walEconomy.map((p) => only("sqlite", p)),
    only("innodb", innodbStructure),
    ...innodbEconomy.map((p) => only("innodb", p)),
  ],
  decodeState: (json, g) =>
    sqlite(g) ? decodeWalState(json) : innodb(g) ? decodeInnodbState(json) : decodeMvccState(json),
  renderState: (s) => ("wal" in s ? renderWalState(s) : "innodb" in s ? renderInnodbState(s) : renderMvccState(s)),
  picture: mvccPicture,
  tracePictures: mvccTracePictures,
  classify: (ops, failure, g) => classifyMvcc(ops, failure, g),
  views: [heapView, walIndexView, mvccCountersView],
  engines: [postgresEngine, sqliteEngine, innodbEngine],
};
