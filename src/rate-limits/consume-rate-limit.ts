import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, type ItemResult, SHED_LOAD } from "../db/batcher.js";
import { callOnce } from "../db/sql.js";

/**
 * Fixed one-minute windows of request points per key, counted in the shared
 * database (table rate_limits: key, points, expire in epoch ms), so a limit
 * holds across every instance of the service.
 *
 * The requests that arrive while earlier ones are being counted are counted
 * together (src/db/batcher.ts): ONE upsert per batch, whatever its size, with
 * the same outcome as one upsert per request in arrival order. Per key, the
 * batch adds its m requests at once and reads back the new total P; the
 * requests took the counts P-m+1 … P, in order, and each is allowed when its
 * count is within the limit. A refused request still counts (as before: a
 * client hammering a limit does not get a fresh allowance by doing so).
 *
 * What must stay true:
 * - Window start and expiry come from the database clock (now()), never from
 *   an instance's clock, so skewed instances share one window.
 * - Rows are upserted in key order, so two batches with common keys lock
 *   them in the same order and cannot deadlock.
 * - The table is UNLOGGED (the baseline migration): no WAL flush per batch;
 *   after a database crash the counters start from zero.
 */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export type RateLimitDecision = {
  allowed: boolean;
  limit: number;
  /** Points left in the window after this request (0 when refused). */
  remaining: number;
  /** Until the window resets. */
  msBeforeReset: number;
};

type Take = { key: string; limit: number };
type KeyTotal = { key: string; points: number; ms_left: string | number };

const UPSERT = `
  INSERT INTO rate_limits AS t (key, points, expire)
  SELECT r.key, r.n, (extract(epoch FROM now()) * 1000)::bigint + $3
    FROM unnest($1::text[], $2::int[]) AS r(key, n)
   ORDER BY r.key
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN t.expire IS NULL OR t.expire <= (extract(epoch FROM now()) * 1000)::bigint
                  THEN EXCLUDED.points ELSE t.points + EXCLUDED.points END,
    expire = CASE WHEN t.expire IS NULL OR t.expire <= (extract(epoch FROM now()) * 1000)::bigint
                  THEN EXCLUDED.expire ELSE t.expire END
  RETURNING t.key, t.points, t.expire - (extract(epoch FROM now()) * 1000)::bigint AS ms_left`;

async function countBatch(ds: DataSource, takes: Take[]): Promise<ItemResult<RateLimitDecision>[]> {
  const perKey = new Map<string, number>();
  for (const t of takes) perKey.set(t.key, (perKey.get(t.key) ?? 0) + 1);
  const { rows } = await callOnce<KeyTotal>(ds, UPSERT, [[...perKey.keys()], [...perKey.values()], RATE_LIMIT_WINDOW_MS]);
  const totals = new Map(rows.map((r) => [r.key, r]));
  // The first of a key's m requests in this batch took count P-m+1.
  const nextCount = new Map<string, number>();
  for (const [key, m] of perKey) nextCount.set(key, totals.get(key)!.points - m + 1);
  return takes.map((t) => {
    const count = nextCount.get(t.key)!;
    nextCount.set(t.key, count + 1);
    const allowed = count <= t.limit;
    return {
      ok: true,
      value: {
        allowed,
        limit: t.limit,
        remaining: Math.max(0, t.limit - count),
        msBeforeReset: Math.max(0, Number(totals.get(t.key)!.ms_left)),
      },
    };
  });
}

const counterFor = batcherPerDataSource(
  (ds) => new Batcher<Take, RateLimitDecision>((takes) => countBatch(ds, takes), { maxInFlight: 1, maxBatch: 256, ...SHED_LOAD }),
);

/** Takes one point from `key`'s window; `limit` points per window are allowed. */
export function consumeRateLimit(ds: DataSource, key: string, limit: number): Promise<RateLimitDecision> {
  return counterFor(ds).submit({ key, limit });
}
