// Worker-thread entry: TypeScript modules need tsx registered in each thread before they are imported.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.module);
