import fs from "node:fs";
import os from "node:os";
import type pg from "pg";
import type { CpuPerRequest } from "./cpu-usage.js";
import type { DbPerRequest } from "./db-activity.js";
import type { FlashResult } from "./flash.js";
import type { LoadResult } from "./load-spec.js";
import type { BenchOptions, WorkloadName } from "./options.js";
import type { PreloadResult } from "./preload.js";
import type { RawResult } from "./raw-sql.js";
import { RETAINED_TABLES, type SoakResult } from "./soak.js";
import type { TableStat } from "./table-stats.js";

/**
 * The results: one row per (workload, connections) cell, printed as a table
 * and written to bench/results.json with the machine they were measured on.
 * Every service figure sits next to the raw-SQL figure of the same
 * transaction, measured in the same run on the same database a few seconds
 * apart, and their ratio: the share of the physical limit the service reaches.
 */
export type CellResult = {
  workload: WorkloadName;
  connections: number;
  service: LoadResult | { skipped: string };
  raw: RawResult;
  /** service req/s ÷ raw-SQL tps; undefined when the service side was skipped. */
  ratio: number | undefined;
  /** The invariant checks' summaries after the service run and after the raw run (both held, or the bench would have stopped). */
  invariants: { afterService?: string; afterRaw: string };
  /** The service's resident memory right after its cell, MiB: flat across cells means no leak under load. */
  serviceRssMiB?: number;
  /** CPU milliseconds per request (service cell) and per transaction (raw cell), by process group. */
  cpuMs?: { service?: CpuPerRequest; raw?: CpuPerRequest };
  /** WAL and shared-buffer traffic per request (service cell) and per transaction (raw cell), whole server. */
  db?: { service?: DbPerRequest; raw?: DbPerRequest };
};

export type Machine = {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  postgres: string;
};

export async function describeMachine(db: pg.Client): Promise<Machine> {
  const { rows } = await db.query<{ version: string }>("SELECT current_setting('server_version') AS version");
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: rows[0].version,
  };
}

const isSkipped = (s: CellResult["service"]): s is { skipped: string } => "skipped" in s;

function errorCount(s: LoadResult): number {
  // autocannon's `errors` are connection errors and include timeouts.
  return s.non2xx + s.connectionErrors;
}

function outcomes(cell: CellResult): string {
  if (isSkipped(cell.service)) return "";
  const s = cell.service;
  if (cell.workload === "payments-confirm") {
    return (
      Object.entries(s.webhookOutcomes)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none"
    );
  }
  return `201: ${s.created} / 409 oos: ${s.outOfStock}`;
}

const fixed = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Latencies: a tenth of a millisecond below 10 ms, whole milliseconds above. */
const latencyMs = (ms: number) => fixed(ms, ms < 10 ? 1 : 0);

export function formatTable(cells: CellResult[]): string {
  const header = [
    "workload",
    "conns",
    "service req/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "raw-SQL tps",
    "raw p99 ms",
    "raw p99.9 ms",
    "ratio",
    "errors",
    "RSS MiB",
    "CPU ms node+pg",
    "raw pg ms",
    "outcomes",
  ];
  const rows = cells.map((cell) => {
    const raw = fixed(cell.raw.tps);
    const rawP99 = cell.raw.latency ? latencyMs(cell.raw.latency.p99Ms) : "-";
    const rawP999 = cell.raw.latency ? latencyMs(cell.raw.latency.p999Ms) : "-";
    const rawPg = cell.cpuMs?.raw ? fixed(cell.cpuMs.raw.postgresMs, 2) : "-";
    const ratio = cell.ratio === undefined ? "-" : fixed(cell.ratio, 3);
    if (isSkipped(cell.service)) {
      // The full reason (which endpoint) is in the notes under the table.
      return [
        cell.workload,
        String(cell.connections),
        cell.service.skipped.replace(/ \(.*\)$/, ""),
        "-",
        "-",
        "-",
        raw,
        rawP99,
        rawP999,
        ratio,
        "-",
        "-",
        "-",
        rawPg,
        "",
      ];
    }
    const s = cell.service;
    const rps = `${fixed(s.requestsPerSecond)}${s.exhausted ? "*" : ""}`;
    const rss = cell.serviceRssMiB === undefined ? "-" : fixed(cell.serviceRssMiB);
    const svcCpu = cell.cpuMs?.service;
    const cpu = svcCpu?.serviceMs !== undefined ? `${fixed(svcCpu.serviceMs, 2)}+${fixed(svcCpu.postgresMs, 2)}` : "-";
    return [
      cell.workload,
      String(cell.connections),
      rps,
      latencyMs(s.latencyP50Ms),
      latencyMs(s.latencyP99Ms),
      s.latencyP999Ms === undefined ? "-" : latencyMs(s.latencyP999Ms),
      raw,
      rawP99,
      rawP999,
      ratio,
      fixed(errorCount(s)),
      rss,
      cpu,
      rawPg,
      outcomes(cell),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];

  const notes: string[] = [];
  for (const cell of cells) {
    if (isSkipped(cell.service)) {
      notes.push(`${cell.workload} @${cell.connections}: ${cell.service.skipped}`);
      continue;
    }
    const s = cell.service;
    const details = Object.entries(s.problems).map(([k, v]) => `${k} ×${v}`);
    if (s.timeouts > 0) details.push(`timeouts ×${s.timeouts}`);
    if (s.connectionErrors > s.timeouts) details.push(`connection errors ×${s.connectionErrors - s.timeouts}`);
    if (details.length > 0) notes.push(`${cell.workload} @${cell.connections}: ${details.join(", ")}`);
    if (s.exhausted)
      notes.push(`${cell.workload} @${cell.connections}: * all prepared payments were confirmed after ${s.durationSeconds.toFixed(1)} s`);
  }
  for (const cell of cells) {
    if (cell.raw.failed > 0) notes.push(`${cell.workload} @${cell.connections}: raw SQL had ${cell.raw.failed} failed transactions`);
  }
  if (notes.length > 0) out.push("", ...notes);
  return out.join("\n");
}

/** The flash sale: the service's sale, its raw-SQL twin, and each criterion as PASS or FAIL. */
export function formatFlash(f: FlashResult): string {
  const s = f.service;
  const sale = s.sale;
  const statuses = Object.entries(sale?.statuses ?? {})
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k} ×${fixed(v)}`)
    .join(", ");
  const problems = Object.entries(s.problems)
    .map(([k, v]) => `${k} ×${fixed(v)}`)
    .join(", ");
  const after = sale?.afterSellout;
  const cpu = f.serviceCpu;
  const raw = f.raw;
  const rl = raw.log;
  const clients = `${raw.result.driver} at ${fixed(raw.result.clients)} clients ${raw.result.clients < f.connections ? `(all that max_connections ${raw.maxConnections} leaves room for)` : `(max_connections ${raw.maxConnections})`}`;
  const lines = [
    `flash sale: ${fixed(f.units)} units of one SKU, ${fixed(f.connections)} connections for ${f.durationSeconds} s, ${fixed(f.customers)} buyers (${f.loadDriver}); load average ${f.loadAverage} at the start`,
    `  service   sold out in ${sale?.selloutMs == null ? "- (never)" : `${fixed(sale.selloutMs)} ms`}; ${fixed(s.responses)} answers, ${fixed(s.requestsPerSecond)} req/s; latency p50 ${fixed(s.latencyP50Ms)} ms, p99 ${fixed(s.latencyP99Ms)} ms, max ${fixed(s.latencyMaxMs)} ms`,
    `            answers: ${statuses || "none"}${problems ? ` (${problems})` : ""}${s.connectionErrors > 0 ? `; ${fixed(s.connectionErrors)} connection errors` : ""}`,
    `            refusals after the sellout: ${fixed(after?.answers ?? 0)}, latency p50 ${fixed(after?.p50Ms ?? 0)} ms, p99 ${fixed(after?.p99Ms ?? 0)} ms, max ${fixed(after?.maxMs ?? 0)} ms`,
    ...(cpu?.serviceMs !== undefined
      ? [
          `            CPU per answer: node ${fixed(cpu.serviceMs, 2)} ms + postgres ${fixed(cpu.postgresMs, 2)} ms (machine ${Math.round(cpu.busy * 100)} % busy)`,
        ]
      : []),
    `            database: reserved ${fixed(f.serviceDb.reserved)} + sold ${fixed(f.serviceDb.sold)}, ${fixed(f.serviceDb.orders)} orders; stock left never below ${f.serviceDb.minAvailableSeen} (${fixed(f.serviceDb.stockSamples)} samples)`,
    `  raw SQL   ${clients}${raw.result.connectMs !== undefined ? `; opening them took ${fixed(raw.result.connectMs / 1000, 1)} s` : ""}`,
    ...(rl
      ? [
          `            sold out in ${rl.selloutMs === undefined ? "- (never)" : `${fixed(rl.selloutMs)} ms`} from its first transaction; the clients queued on the row lock before it all had their answer after ${fixed(rl.allAnsweredMs)} ms`,
          rl.afterSellout
            ? `            begun after the sellout (${rl.afterSellout.seconds} s): ${fixed(rl.afterSellout.transactions)} transactions, ${fixed(rl.afterSellout.tps)} tps; latency p50 ${fixed(rl.afterSellout.latency.p50Ms, 1)} ms, p99 ${fixed(rl.afterSellout.latency.p99Ms, 1)} ms, max ${fixed(rl.afterSellout.latency.maxMs)} ms`
            : "            no transaction begun after the sellout ended within pgbench's time",
        ]
      : [`            ${fixed(raw.result.transactions)} transactions, ${fixed(raw.result.tps)} tps`]),
    `            database: reserved ${fixed(raw.db.reserved)} + sold ${fixed(raw.db.sold)}, ${fixed(raw.db.orders)} orders`,
    "  criteria",
    ...f.criteria.map((c) => `    ${c.pass ? "PASS" : "FAIL"}  ${c.name}${c.goal ? " (a goal: reported, not fatal)" : ""}: ${c.detail}`),
  ];
  return lines.join("\n");
}

/** The soak as a few lines: one per chunk, then the verdicts. */
export function formatSoak(soak: SoakResult): string {
  const life = soak.lifecycle;
  const lines = [
    `soak: ${soak.samples.length} × ${soak.chunkSeconds} s at ${soak.connections} connections, ${fixed(soak.totalRequests)} requests; ` +
      `${fixed(life.lifecycles)} order lives on ${soak.lifecycleLanes} lanes (${fixed(life.requests)} requests); ` +
      `event retention and Idempotency-Key TTL ${soak.retentionSeconds} s`,
    `     at  workload       req/s  non-2xx  lives  RSS MiB  heap MiB  ${RETAINED_TABLES.map((t) => t.replace("webhook_", "wh_")).join("  ")}  held s event/key  oldest s event/key`,
  ];
  for (const s of soak.samples) {
    lines.push(
      `  ${String(s.atSeconds).padStart(5)}  ${s.workload.padEnd(13)} ${fixed(s.requestsPerSecond).padStart(6)}  ${fixed(s.non2xx).padStart(7)}  ${fixed(s.lifecycles).padStart(5)}  ` +
        `${String(s.rssMiB ?? "?").padStart(7)}  ${String(s.heapUsedMiB ?? "?").padStart(8)}  ` +
        `${RETAINED_TABLES.map((t) => fixed(s.rows[t]).padStart(t.replace("webhook_", "wh_").length)).join("  ")}  ` +
        `${`${s.heldSeconds.events ?? "-"}/${s.heldSeconds.idempotency_keys ?? "-"}`.padStart(16)}  ${`${s.oldestEventSeconds}/${s.oldestKeySeconds}`.padStart(18)}`,
    );
  }
  lines.push(
    `memory ${soak.flat ? "flat" : "GREW"}: RSS highest in the first third ${soak.firstThirdMaxRssMiB} MiB, lowest in the last third ${soak.lastThirdMinRssMiB} MiB`,
  );
  const tables = Object.entries(soak.tables);
  lines.push(
    `tables ${tables.every(([, v]) => v.bounded) ? "bounded" : "GREW"} (samples from ${soak.settledAtSeconds} s on; highest in the first third → in the last, rows and seconds of inserts held): ` +
      tables
        .map(
          ([t, v]) =>
            `${t} ${fixed(v.rows.firstThirdMax)} → ${fixed(v.rows.lastThirdMax)}` +
            (v.heldSeconds ? ` (${v.heldSeconds.firstThirdMax} s → ${v.heldSeconds.lastThirdMax} s)` : "") +
            (v.bounded ? "" : " GREW"),
        )
        .join(", "),
  );
  const d = soak.deliveries;
  lines.push(
    `webhooks ${d.ok ? "delivered" : "NOT ALL DELIVERED"}: ${fixed(d.delivered)} of ${fixed(d.expected)} events (${Object.entries(d.byType)
      .map(([k, v]) => `${k} ${fixed(v)}`)
      .join(
        ", ",
      )}), signatures verified, ${fixed(d.repeats)} repeats, ${fixed(d.invalid)} refused; lag p50 ${fixed(d.lagP50Ms)} ms, p99 ${fixed(d.lagP99Ms)} ms, max ${fixed(d.lagMaxMs)} ms`,
  );
  const wrong = Object.entries(life.wrong);
  lines.push(
    `order lives: ${fixed(life.placed)} placed, ${fixed(life.cancelled)} cancelled, ${fixed(life.paid)} paid, ${fixed(life.paymentsFailed)} payments failed, ` +
      `${fixed(life.refundsSucceeded)} refunds succeeded and ${fixed(life.refundsFailed)} failed, ${fixed(life.ordersRefunded)} orders refunded in full, ` +
      `${fixed(life.duplicateSignals)} duplicate signals; ${fixed(life.resent)} sends repeated after 5xx/429/no answer; ` +
      (wrong.length === 0 ? "no wrong answers" : `WRONG ANSWERS ${wrong.map(([k, v]) => `${k} ×${v}`).join(", ")}`),
  );
  lines.push(`invariants: ${soak.invariants}`);
  return lines.join("\n");
}

export function writeResults(
  file: string,
  data: {
    options: BenchOptions;
    machine: Machine;
    serviceEnv: Record<string, string>;
    cells: CellResult[];
    soak?: SoakResult;
    preload?: PreloadResult;
    tables?: { before: TableStat[]; after: TableStat[] };
    flash?: FlashResult;
    startedAt: Date;
    ok: boolean;
    failure?: string;
  },
): void {
  const doc = {
    timestamp: new Date().toISOString(),
    startedAt: data.startedAt.toISOString(),
    ok: data.ok,
    ...(data.failure ? { failure: data.failure } : {}),
    machine: data.machine,
    options: data.options,
    serviceEnv: data.serviceEnv,
    // What the columns mean, for whoever reads this file without the code.
    legend: {
      "service.requestsPerSecond": "responses per second over the cell, any status",
      "service.latencyP50Ms/latencyP99Ms/latencyP999Ms":
        "response latency percentiles (p50, p99, p99.9) measured by the load generator, ms",
      "raw.latency":
        "p50, p99, p99.9 and max latency of the raw transactions (pgbench: from its per-transaction log), each client's first left out, ms",
      "raw.tps": "transactions per second of the same SQL transaction run directly against the same PostgreSQL",
      ratio: "service.requestsPerSecond / raw.tps",
      soak: "--soak: orders at 16 connections in chunks, beside order lives (pay, refund, cancel, signed provider webhooks) and an outgoing-webhook endpoint, with event retention and Idempotency-Key TTL compressed to a tenth of the soak; after each chunk the service's RSS (/proc), V8 heap in use (/metrics) and the rows of the purged tables; memory flat unless the lowest RSS of the last third exceeds the highest of the first third by more than 25 %; a table bounded unless, over the samples from 2 × the retention on, both its highest row count in the last third exceeds that of the first third by more than 25 % + 1000 rows and its highest seconds of inserts held (rows ÷ insert rate over the last retention + purge interval) does so by more than 25 %; every subscribed event delivered at least once, correctly signed",
      preload: "--preload: the history written before the cells (bench/preload.ts), its duration and rows per table",
      tables:
        "per table before the first cell and after the last: live rows (estimate), total and index bytes, and the cumulative n_tup_ins/upd/hot_upd/del",
      db: "per request (service) or transaction (raw), whole server: WAL bytes and full-page images (pg_stat_wal), shared-buffer reads and writes (pg_stat_io)",
      cpuMs:
        "CPU milliseconds per request (service) or per transaction (raw), from /proc: the service's Node process, all PostgreSQL processes, everything else (load generator, pgbench)",
      flash:
        "--workloads=flash: 1,000 units of one SKU, 1,000 connections for 20 s; service.sale.selloutMs: first request sent to the 1,000th 201; afterSellout: answers other than 201 to requests sent after it; raw: one conditional statement per transaction by pgbench; raw.log from its transaction log: selloutMs (first transaction to the 1,000th sale by the database clock), allAnsweredMs (until the last client queued on the row lock had its first answer), afterSellout (transactions begun after the 1,000th sale, up to 20 s); criteria: pass/fail, a goal is not fatal",
    },
    cells: data.cells,
    ...(data.soak ? { soak: data.soak } : {}),
    ...(data.preload ? { preload: data.preload } : {}),
    ...(data.tables ? { tables: data.tables } : {}),
    ...(data.flash ? { flash: data.flash } : {}),
  };
  fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
