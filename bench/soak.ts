import { checkInvariants } from "./invariants.js";
import { runLoad } from "./load.js";
import type { LoadDriver } from "./options.js";
import type { RunningService } from "./service.js";
import { type BenchContext, WORKLOADS } from "./workloads.js";

/**
 * `--soak=<s>`: the long run behind "memory stays flat". After the cells, the
 * service takes orders for <s> seconds at 16 connections, in chunks that
 * alternate spread and hot-SKU orders, and after every chunk the bench reads
 * its resident memory (/proc) and its V8 heap in use (its own /metrics).
 *
 * The verdict compares the ends of the run, not neighbouring samples (GC
 * and the allocator make those jump): memory grew if even the lowest RSS of
 * the last third is above the highest of the first third by more than
 * GROWTH_ALLOWED. A leak pushes the whole later curve up; a sawtooth does not.
 */
export const SOAK_CONNECTIONS = 16;
export const GROWTH_ALLOWED = 0.25;
const SOAK_WORKLOADS = ["orders-spread", "orders-hot"] as const;

export type SoakSample = {
  chunk: number;
  workload: (typeof SOAK_WORKLOADS)[number];
  /** Seconds since the soak began, at the end of this chunk. */
  atSeconds: number;
  requests: number;
  requestsPerSecond: number;
  non2xx: number;
  rssMiB?: number;
  heapUsedMiB?: number;
};

export type SoakResult = {
  seconds: number;
  chunkSeconds: number;
  connections: number;
  samples: SoakSample[];
  totalRequests: number;
  firstThirdMaxRssMiB: number;
  lastThirdMinRssMiB: number;
  flat: boolean;
  invariants: string;
};

/** Chunks of 30 s, shorter for soaks under three minutes: six samples or more from 30 s up (runSoak runs at least three). */
export function soakChunkSeconds(totalSeconds: number): number {
  return Math.max(5, Math.min(30, Math.floor(totalSeconds / 6)));
}

async function heapUsedMiB(baseUrl: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10000) });
    const bytes = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(await res.text())?.[1];
    return bytes ? Math.round(Number(bytes) / 2 ** 20) : undefined;
  } catch {
    return undefined;
  }
}

/** The verdict on a series of RSS samples (see the module comment); undefined samples are skipped. */
export function judgeMemory(rss: (number | undefined)[]): { firstThirdMaxRssMiB: number; lastThirdMinRssMiB: number; flat: boolean } {
  const known = rss.filter((v): v is number => v !== undefined);
  if (known.length < 3) throw new Error(`the soak read the service's memory only ${known.length} times; it needs at least 3`);
  const third = Math.max(1, Math.floor(known.length / 3));
  const firstThirdMaxRssMiB = Math.max(...known.slice(0, third));
  const lastThirdMinRssMiB = Math.min(...known.slice(-third));
  return { firstThirdMaxRssMiB, lastThirdMinRssMiB, flat: lastThirdMinRssMiB <= firstThirdMaxRssMiB * (1 + GROWTH_ALLOWED) };
}

export async function runSoak(
  ctx: BenchContext,
  svc: RunningService,
  totalSeconds: number,
  loadDriver: LoadDriver,
  scriptDir: string,
): Promise<SoakResult> {
  const chunkSeconds = soakChunkSeconds(totalSeconds);
  const chunks = Math.max(3, Math.round(totalSeconds / chunkSeconds));
  ctx.log(
    `soak: ${chunks} × ${chunkSeconds} s of orders at ${SOAK_CONNECTIONS} connections, alternating spread and hot SKU; memory after each`,
  );
  // prepareService sizes the hot SKU's stock for one chunk.
  const chunkCtx: BenchContext = { ...ctx, durationSeconds: chunkSeconds };
  const samples: SoakSample[] = [];
  const started = Date.now();
  for (let chunk = 1; chunk <= chunks; chunk++) {
    const workload = SOAK_WORKLOADS[(chunk - 1) % SOAK_WORKLOADS.length];
    const target = await WORKLOADS[workload].prepareService(chunkCtx, SOAK_CONNECTIONS);
    const result = await runLoad(
      { url: svc.baseUrl, connections: SOAK_CONNECTIONS, durationSeconds: chunkSeconds, target },
      loadDriver,
      scriptDir,
      `soak-${workload}`,
    );
    const sample: SoakSample = {
      chunk,
      workload,
      atSeconds: Math.round((Date.now() - started) / 1000),
      requests: result.responses,
      requestsPerSecond: Math.round(result.requestsPerSecond),
      non2xx: result.non2xx,
      rssMiB: svc.rssMiB(),
      heapUsedMiB: await heapUsedMiB(svc.baseUrl),
    };
    samples.push(sample);
    ctx.log(
      `  ${sample.atSeconds} s  ${workload.padEnd(13)} ${sample.requestsPerSecond} req/s, ${sample.non2xx} non-2xx; RSS ${sample.rssMiB ?? "?"} MiB, heap used ${sample.heapUsedMiB ?? "?"} MiB`,
    );
  }
  const invariants = await checkInvariants(ctx.db, "soak");
  ctx.log(`  ${invariants}`);
  const verdict = judgeMemory(samples.map((s) => s.rssMiB));
  const totalRequests = samples.reduce((n, s) => n + s.requests, 0);
  ctx.log(
    `  ${totalRequests} requests; RSS: highest in the first third ${verdict.firstThirdMaxRssMiB} MiB, lowest in the last third ${verdict.lastThirdMinRssMiB} MiB: ${verdict.flat ? "flat" : "GREW"}`,
  );
  return { seconds: totalSeconds, chunkSeconds, connections: SOAK_CONNECTIONS, samples, totalRequests, ...verdict, invariants };
}
