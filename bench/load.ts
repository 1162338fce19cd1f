import { benchScript, runJsonWorker } from "./child-processes.js";
import type { LoadResult, LoadSpec } from "./load-spec.js";

/** Drives the service with autocannon from a separate process (bench/load-worker.ts). */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return runJsonWorker<LoadSpec, LoadResult>(benchScript("load-worker"), spec, (spec.durationSeconds + 60) * 1000);
}
