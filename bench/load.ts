import { benchScript, runJsonWorker } from "./child-processes.js";
import type { LoadResult, LoadSpec } from "./load-spec.js";
import type { LoadDriver } from "./options.js";
import { runWrk } from "./wrk.js";

/**
 * Drives the service from a separate process: wrk (bench/wrk.ts), or
 * autocannon (bench/load-worker.ts). `label` names the cell's wrk script.
 */
export function runLoad(spec: LoadSpec, driver: LoadDriver, scriptDir: string, label: string): Promise<LoadResult> {
  if (driver === "wrk") return runWrk(spec, scriptDir, label);
  return runJsonWorker<LoadSpec, LoadResult>(benchScript("load-worker"), spec, (spec.durationSeconds + 60) * 1000, spec.connections + 64);
}
