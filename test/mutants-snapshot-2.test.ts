// The snapshot zoo's second half (test/mutant-zoo.ts; the other: mutants-snapshot-1.test.ts): each mutant killed by
// what it is meant to trip, its trace replaying.
import { snapshotLayer } from "../layers/snapshot/index.ts";
import { half, killEach } from "./mutant-zoo.ts";

killEach(snapshotLayer, half(snapshotLayer, 1));
