// Drivers of real systems are optional peer dependencies: a user of one layer does not install (or compile) the
// driver of another. An engine loads its driver when it first needs it, and says how to add it when it is missing.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cache = new Map<string, { module?: unknown; why?: string }>();

/**
 * The package, or why it cannot be loaded, worded to follow "it " ("needs the pg package: npm install pg@^8").
 * `check` may exercise it (load a native addon) and throw if it is unusable.
 */
export function optionalPackage<T>(
  name: string,
  range: string,
  check?: (module: T) => void,
): { module?: T; why?: string } {
  let entry = cache.get(name);
  if (!entry) {
    try {
      const module = require(name) as T;
      check?.(module);
      entry = { module };
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String(e).includes(`'${name}'`);
      entry = {
        why: missing
          ? `needs the ${name} package, an optional dependency of cowcheck: npm install ${name}@${range}`
          : `cannot load ${name}: ${(e as Error).message.split("\n")[0]}`,
      };
    }
    cache.set(name, entry);
  }
  return entry as { module?: T; why?: string };
}

/** A probe of whether a real system can run here (its answer worded to follow "it "), run at most once. */
export function probedOnce(probe: () => string | undefined): () => string | undefined {
  let answer: { why: string | undefined } | undefined;
  return () => {
    answer ??= { why: probe() };
    return answer.why;
  };
}
