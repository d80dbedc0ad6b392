declare module "json-diff" {
  export function diffString(a: unknown, b: unknown, options?: { color?: boolean; full?: boolean }): string;
  export function diff(a: unknown, b: unknown, options?: { full?: boolean }): unknown;
}
