// Delta debugging (ddmin, Zeller & Hildebrandt 2002): the smallest sequence that still fails the same way,
// 1-minimal (removing any single op makes it pass).
export async function minimize<T>(items: readonly T[], fails: (candidate: T[]) => Promise<boolean>): Promise<T[]> {
  let current = [...items];
  let chunks = 2;
  while (current.length >= 2) {
    const size = Math.ceil(current.length / chunks);
    let reduced = false;
    for (let start = 0; start < current.length; start += size) {
      const complement = [...current.slice(0, start), ...current.slice(start + size)];
      if (complement.length > 0 && (await fails(complement))) {
        current = complement;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      chunks = Math.min(chunks * 2, current.length);
    }
  }
  return current;
}

/**
 * ddmin, then the layer's rewrites (e.g. canonical renaming): any rewrite that still fails is taken and
 * minimized again, until none helps.
 */
export async function minimizeWith<T>(
  items: readonly T[],
  fails: (candidate: T[]) => Promise<boolean>,
  simplify?: (items: readonly T[]) => Iterable<T[]>,
): Promise<T[]> {
  let current = await minimize(items, fails);
  let improved = simplify !== undefined;
  while (improved) {
    improved = false;
    for (const candidate of simplify!(current)) {
      if (candidate.length < current.length && (await fails(candidate))) {
        current = await minimize(candidate, fails);
        improved = true;
        break;
      }
    }
  }
  return current;
}
