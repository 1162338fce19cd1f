import type pg from "pg";

/**
 * How big the tables are and how their rows were updated: read before the
 * cells and after them, so the report shows what a run (and a preload) left
 * behind and whether the hot rows were updated in place.
 *
 * - Sizes: pg_total_relation_size (heap, TOAST, free-space and visibility
 *   maps, indexes) and pg_indexes_size, per table.
 * - HOT: n_tup_upd and n_tup_hot_upd from pg_stat_user_tables. A HOT update
 *   writes the new row version into the same heap page and no index entry;
 *   a non-HOT one adds an entry to every index of the table. The counters are
 *   cumulative, so the report shows the difference over the cells. Backends
 *   send their counters to the statistics system at most once a second, so
 *   the reading after the cells waits a little first.
 */
export type TableStat = {
  table: string;
  /** Live rows: as the last VACUUM or ANALYZE counted them, else the statistics system's running estimate. */
  rows: number;
  totalBytes: number;
  indexBytes: number;
  inserts: number;
  updates: number;
  hotUpdates: number;
  deletes: number;
};

export async function readTableStats(db: pg.Client, settleMs = 0): Promise<TableStat[]> {
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  const { rows } = await db.query<Record<string, string>>(
    `SELECT s.relname AS table, CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE s.n_live_tup END AS rows,
            pg_total_relation_size(s.relid) AS total_bytes,
            pg_indexes_size(s.relid) AS index_bytes, s.n_tup_ins AS inserts, s.n_tup_upd AS updates,
            s.n_tup_hot_upd AS hot_updates, s.n_tup_del AS deletes
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = 'public'
      ORDER BY pg_total_relation_size(s.relid) DESC, s.relname`,
  );
  return rows.map((r) => ({
    table: r.table,
    rows: Number(r.rows),
    totalBytes: Number(r.total_bytes),
    indexBytes: Number(r.index_bytes),
    inserts: Number(r.inserts),
    updates: Number(r.updates),
    hotUpdates: Number(r.hot_updates),
    deletes: Number(r.deletes),
  }));
}

const MiB = 1024 * 1024;
const fixed = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function render(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

/**
 * Sizes before and after the cells, tables of at least 1 MiB (and the
 * total); with orders in the database, also MiB per million orders
 * (after the cells).
 */
export function formatTableSizes(before: TableStat[], after: TableStat[]): string {
  const orders = after.find((t) => t.table === "orders")?.rows ?? 0;
  const perMillion = orders >= 100_000;
  const shown = after.filter((t) => t.totalBytes >= MiB);
  const sum = (ts: TableStat[], f: (t: TableStat) => number) => ts.reduce((a, t) => a + f(t), 0);
  const beforeOf = (name: string) => before.find((t) => t.table === name);
  const row = (
    name: string,
    a: { rows: number; totalBytes: number; indexBytes: number },
    b: { totalBytes: number; indexBytes: number } | undefined,
  ) => [
    name,
    fixed(a.rows),
    b ? fixed(b.totalBytes / MiB) : "-",
    b ? fixed(b.indexBytes / MiB) : "-",
    fixed(a.totalBytes / MiB),
    fixed(a.indexBytes / MiB),
    ...(perMillion ? [fixed(a.totalBytes / MiB / (orders / 1e6)), fixed(a.indexBytes / MiB / (orders / 1e6))] : []),
  ];
  const rows = shown.map((t) => row(t.table, t, beforeOf(t.table)));
  rows.push(
    row(
      "all tables",
      { rows: sum(after, (t) => t.rows), totalBytes: sum(after, (t) => t.totalBytes), indexBytes: sum(after, (t) => t.indexBytes) },
      { totalBytes: sum(before, (t) => t.totalBytes), indexBytes: sum(before, (t) => t.indexBytes) },
    ),
  );
  const header = [
    "table",
    "rows after",
    "MiB before",
    "idx MiB before",
    "MiB after",
    "idx MiB after",
    ...(perMillion ? ["MiB per M orders", "idx MiB per M orders"] : []),
  ];
  const title = `table sizes (total incl. indexes and TOAST; idx: indexes only)${perMillion ? `; per million orders at ${fixed(orders)} orders` : ""}`;
  return [title, ...render(header, rows)].join("\n");
}

/** Updates over the cells, per table that had any: how many were HOT. */
export function formatHotUpdates(before: TableStat[], after: TableStat[]): string {
  const rows: string[][] = [];
  for (const a of after) {
    const b = before.find((t) => t.table === a.table);
    const updates = a.updates - (b?.updates ?? 0);
    if (updates <= 0) continue;
    const hot = a.hotUpdates - (b?.hotUpdates ?? 0);
    rows.push([a.table, fixed(updates), fixed(hot), `${fixed((100 * hot) / updates, 1)} %`]);
  }
  if (rows.length === 0) return "updates over the cells: none";
  return ["updates over the cells (n_tup_upd, n_tup_hot_upd)", ...render(["table", "updates", "HOT", "HOT share"], rows)].join("\n");
}
