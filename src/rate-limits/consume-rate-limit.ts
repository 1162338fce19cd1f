import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, type ItemResult, SHED_LOAD } from "../db/batcher.js";
import { callOnce } from "../db/sql.js";

/**
 * Fixed one-minute windows of request points per key, counted in the shared
 * database (table rate_limits), so a limit holds across every instance of
 * the service. The rule is orderlock_count_requests (count-requests.sql).
 *
 * The requests that arrive while earlier ones are being counted are counted
 * together (src/db/batcher.ts): ONE statement per batch, whatever its size,
 * with the same outcome as one count per request in arrival order. Orders
 * are counted in the call that places them (src/orders/place-order.ts).
 */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** The key a customer's requests are counted under. */
export const rateLimitKey = (customerId: string) => `cust:${customerId}`;

export type RateLimitDecision = {
  allowed: boolean;
  limit: number;
  /** Points left in the window after this request (0 when refused). */
  remaining: number;
  /** Until the window resets. */
  msBeforeReset: number;
};

export type Take = { key: string; limit: number };
/** One row of orderlock_count_requests. */
export type CountRow = { pos: number; allowed: boolean; remaining: number; ms_left: string | number };

/** A request's decision from its row of orderlock_count_requests (or a row that carries one). */
export const decisionOf = (limit: number, count: Omit<CountRow, "pos">): RateLimitDecision => ({
  allowed: count.allowed,
  limit,
  remaining: count.remaining,
  msBeforeReset: Number(count.ms_left),
});

/** Counts one request per take, in order, as ONE statement that is its own transaction (orderlock_count_requests). */
export async function countRequests(ds: DataSource, takes: readonly Take[]): Promise<CountRow[]> {
  const { rows } = await callOnce<CountRow>(ds, `SELECT * FROM orderlock_count_requests($1, $2, $3)`, [
    takes.map((t) => t.key),
    takes.map((t) => t.limit),
    RATE_LIMIT_WINDOW_MS,
  ]);
  return rows;
}

async function countBatch(ds: DataSource, takes: Take[]): Promise<ItemResult<RateLimitDecision>[]> {
  const rows = await countRequests(ds, takes);
  return rows.map((r) => ({ ok: true, value: decisionOf(takes[r.pos - 1].limit, r) }));
}

const counterFor = batcherPerDataSource(
  (ds) => new Batcher<Take, RateLimitDecision>((takes) => countBatch(ds, takes), { maxInFlight: 1, maxBatch: 256, ...SHED_LOAD }),
);

/** Takes one point from `key`'s window; `limit` points per window are allowed. */
export function consumeRateLimit(ds: DataSource, key: string, limit: number): Promise<RateLimitDecision> {
  return counterFor(ds).submit({ key, limit });
}
