// Where a command's report lines go: standard output, or nowhere (a command whose only output is its JSON).
export type Print = (line: string) => void;

export const stdout: Print = (line) => console.log(line);
export const silent: Print = () => undefined;
