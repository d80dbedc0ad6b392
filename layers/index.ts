// Every layer cowcheck knows. Adding a layer means adding it here; the runner and CLI stay as they are.
import type { AnyLayer } from "./layer.ts";
import { mmLayer } from "./mm.ts";
import { mvccLayer } from "./mvcc.ts";
import { overlayLayer } from "./overlay.ts";

export const layers: readonly AnyLayer[] = [mmLayer, overlayLayer, mvccLayer];

export function findLayer(name: string): AnyLayer | undefined {
  return layers.find((l) => l.name === name);
}
