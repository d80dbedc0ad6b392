// JSON equality, and how an oracle's answer allows an observation.

/** Structural equality of JSON values (observations, states): key order does not matter, array order does. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** An oracle's answer where the real system may choose: any one of these observations is right. */
export function isOneOf(v: unknown): v is { oneOf: unknown[] } {
  return typeof v === "object" && v !== null && "oneOf" in v && Array.isArray(v.oneOf) && Object.keys(v).length === 1;
}

/**
 * Whether an observation is what the oracle allows: equal to its answer, where a `oneOf` anywhere in the answer
 * (the whole of it, or one part) allows any one of its members there.
 */
export function allows(expected: unknown, observed: unknown): boolean {
  if (isOneOf(expected)) return expected.oneOf.some((e) => allows(e, observed));
  if (typeof expected !== "object" || expected === null || typeof observed !== "object" || observed === null)
    return deepEqual(expected, observed);
  if (Array.isArray(expected) !== Array.isArray(observed)) return false;
  const ek = Object.keys(expected);
  if (ek.length !== Object.keys(observed).length) return false;
  return ek.every(
    (k) => k in observed && allows((expected as Record<string, unknown>)[k], (observed as Record<string, unknown>)[k]),
  );
}

export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/** Multiset difference a − b: each element of b takes away one equal element of a. */
export function minus(a: readonly string[], b: readonly string[]): string[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/**
 * A value as JSON for a message, bounded: at most `max` characters (cut with "…"), nesting deeper than `depth` shown
 * as "…", so that a huge or deeply nested input can neither flood the terminal nor overflow the stack.
 */
export function excerpt(value: unknown, max = 200, depth = 8): string {
  let out = "";
  const put = (s: string): boolean => {
    out += s;
    return out.length <= max;
  };
  const walk = (v: unknown, level: number): boolean => {
    if (typeof v === "string") return put(JSON.stringify(v.length > max ? v.slice(0, max) : v));
    if (v === null || typeof v !== "object") return put(JSON.stringify(v) ?? String(v));
    if (level >= depth) return put(Array.isArray(v) ? "[…]" : "{…}");
    if (Array.isArray(v)) {
      if (!put("[")) return false;
      for (let i = 0; i < v.length; i++) if ((i > 0 && !put(",")) || !walk(v[i], level + 1)) return false;
      return put("]");
    }
    if (!put("{")) return false;
    let first = true;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      if ((!first && !put(",")) || !put(`${JSON.stringify(k)}:`) || !walk((v as Record<string, unknown>)[k], level + 1))
        return false;
      first = false;
    }
    return put("}");
  };
  walk(value, 0);
  return out.length <= max ? out : `${out.slice(0, max - 1)}…`;
}

/**
 * Text from outside (an engine, a trace) made safe for a terminal, a file or an XML document: control characters (C0
 * but newline and tab, DEL, C1; the escape character among them), lone surrogates, the Unicode line and paragraph
 * separators and the non-characters U+FFFE and U+FFFF as `\\uXXXX`.
 */
export function visible(s: string): string {
  return s.replace(/(?![\n\t])[\p{Cc}\p{Cs}\u2028\u2029\ufffe\uffff]/gu, visibleChar);
}

/** One character as `\\uXXXX` (a code unit, for a lone surrogate). */
export const visibleChar = (c: string): string => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`;
