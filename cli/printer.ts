// Where the CLI's report lines go: every line a command prints passes through a Print, so that a command whose only
// output is its JSON (`mutants --json`) silences the rest by passing `silent`, not by swapping console.log.
// What it prints may quote an engine: control characters are shown as \uXXXX, so none reaches the terminal.
import { visible } from "../core/index.ts";

export type Print = (line: string) => void;

// A reader that goes away (`cowcheck … | head`) ends the output, not the process with an unhandled EPIPE.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
});

export const stdout: Print = (line) => console.log(visible(line));
export const silent: Print = () => undefined;
