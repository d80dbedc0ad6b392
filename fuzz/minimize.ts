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
