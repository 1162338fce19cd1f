import type pg from "pg";

/**
 * What PostgreSQL wrote and read per request during a cell, from its
 * cumulative statistics (pg_stat_wal, pg_stat_io): WAL bytes, full-page
 * images (the first change of a page after a checkpoint logs the whole
 * page), and reads into and writes out of shared buffers. On a small
 * database the pages every request touches stay in shared buffers; once
 * the tables' indexes outgrow them, each request reads and evicts pages and
 * logs full-page images: what this shows next to the CPU per request.
 *
 * Backends publish these counters at most once a second, so a reading taken
 * right after a cell can miss its last second: `settle` waits first. The
 * figures are for the whole server (the background jobs included).
 */
export type DbCounters = { walBytes: number; walFpi: number; reads: number; writes: number };
export type DbPerRequest = { walBytes: number; walFpi: number; reads: number; writes: number };

export async function readDbCounters(db: pg.Client, settleMs = 0): Promise<DbCounters> {
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  const { rows } = await db.query<Record<keyof DbCounters, string>>(
    `SELECT (SELECT wal_bytes FROM pg_stat_wal) AS "walBytes", (SELECT wal_fpi FROM pg_stat_wal) AS "walFpi",
            (SELECT coalesce(sum(reads), 0) FROM pg_stat_io WHERE object = 'relation') AS reads,
            (SELECT coalesce(sum(writes), 0) FROM pg_stat_io WHERE object = 'relation') AS writes`,
  );
  const r = rows[0];
  return { walBytes: Number(r.walBytes), walFpi: Number(r.walFpi), reads: Number(r.reads), writes: Number(r.writes) };
}

export function perRequest(before: DbCounters, after: DbCounters, requests: number): DbPerRequest | undefined {
  if (requests <= 0) return undefined;
  const per = (k: keyof DbCounters) => Math.round(((after[k] - before[k]) / requests) * 100) / 100;
  return {
    walBytes: Math.round((after.walBytes - before.walBytes) / requests),
    walFpi: per("walFpi"),
    reads: per("reads"),
    writes: per("writes"),
  };
}

export function describeDb(d: DbPerRequest | undefined): string {
  if (!d) return "n/a";
  return `WAL ${(d.walBytes / 1024).toFixed(1)} kB (${d.walFpi.toFixed(2)} full-page images), ${d.reads.toFixed(2)} buffer reads, ${d.writes.toFixed(2)} writes`;
}

/** Per cell, service side and raw side: what the server wrote and read per request or transaction. */
export function formatDbActivity(
  cells: { workload: string; connections: number; db?: { service?: DbPerRequest; raw?: DbPerRequest } }[],
): string {
  const header = ["workload", "conns", "side", "WAL kB", "FPI", "buf reads", "buf writes"];
  const rows: string[][] = [];
  for (const c of cells) {
    for (const side of ["service", "raw"] as const) {
      const d = c.db?.[side];
      if (!d) continue;
      rows.push([
        c.workload,
        String(c.connections),
        side,
        (d.walBytes / 1024).toFixed(1),
        d.walFpi.toFixed(2),
        d.reads.toFixed(2),
        d.writes.toFixed(2),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i <= 2 && i !== 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [
    "per request (service) or transaction (raw): WAL, full-page images, shared-buffer reads and writes (whole server)",
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
  ].join("\n");
}
