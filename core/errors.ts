// Errors the user caused: exit code 2, a message naming what was wrong, no stack trace.

/** Bad input from the user (a flag, a trace file, an engine name): exit code 2, a message, no stack trace. */
export class InputError extends Error {
  override name = "InputError";
}

/** "ops[3].page: expected number": a zod issue with its path written the way a reader indexes the JSON. */
export function describeIssue(where: string, issue: { path: readonly PropertyKey[]; message: string }): string {
  const path = issue.path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    where,
  );
  return `${path || "(top level)"}: ${issue.message}`;
}
