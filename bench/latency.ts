import fs from "node:fs";
import path from "node:path";

/** The p-th percentile (nearest rank) of ascending values; 0 for none. */
export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)];
}

/** µs → ms, to 0.1 ms. */
export const msOf = (us: number) => Math.round(us / 100) / 10;

/** `first`: a client's first transaction, whose latency pgbench counts from before its thread opened its connections. */
export type LoggedTransaction = { startUs: number; endUs: number; latencyUs: number; first: boolean };

/**
 * pgbench's per-transaction log (`-l --log-prefix=<prefix>`, one file per
 * thread): when each transaction started and ended, and how long it took
 * (µs, wall clock). `remove`: delete the files once read.
 */
export function readTransactionLog(prefix: string, { remove }: { remove: boolean }): LoggedTransaction[] {
  const dir = path.dirname(prefix);
  const base = `${path.basename(prefix)}.`;
  const out: LoggedTransaction[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(base)) continue;
    for (const line of fs.readFileSync(path.join(dir, name), "utf8").split("\n")) {
      // client transaction(1, 2, ...) latency_us script epoch_s epoch_us (the end); a failed one has no number for its latency
      const f = line.split(" ");
      if (f.length < 6) continue;
      const latencyUs = Number(f[2]);
      if (!Number.isFinite(latencyUs)) continue;
      const endUs = Number(f[4]) * 1e6 + Number(f[5]);
      out.push({ startUs: endUs - latencyUs, endUs, latencyUs, first: f[1] === "1" });
    }
    if (remove) fs.rmSync(path.join(dir, name));
  }
  return out;
}

export type LatencyPercentiles = { p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number };

/** p50, p99, p99.9 and max of latencies in µs. */
export function latencyPercentiles(latenciesUs: number[]): LatencyPercentiles {
  const sorted = [...latenciesUs].sort((a, b) => a - b);
  return {
    p50Ms: msOf(percentile(sorted, 50)),
    p99Ms: msOf(percentile(sorted, 99)),
    p999Ms: msOf(percentile(sorted, 99.9)),
    maxMs: msOf(sorted.at(-1) ?? 0),
  };
}
