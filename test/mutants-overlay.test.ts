// The overlay zoo (test/mutant-zoo.ts): each mutant killed by what it is meant to trip, its trace replaying.
import { overlayLayer } from "../layers/overlay/index.ts";
import { killEach } from "./mutant-zoo.ts";

killEach(overlayLayer);
