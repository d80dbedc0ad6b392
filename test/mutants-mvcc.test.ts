// The mvcc zoo (test/mutant-zoo.ts): each mutant killed by what it is meant to trip, its trace replaying.
import { mvccLayer } from "../layers/mvcc/index.ts";
import { killEach } from "./mutant-zoo.ts";

killEach(mvccLayer);
