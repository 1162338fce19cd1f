import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { RATE_LIMIT_WINDOW_MS } from "./consume-rate-limit.js";

/**
 * Deletes the counters of windows that ended at least a window ago: one row
 * per key would otherwise stay forever. Safe on every instance at once and
 * against concurrent requests: a request for a deleted key simply starts a
 * new window, which is what an ended window does anyway.
 */
export async function purgeExpiredRateLimits(ds: DataSource): Promise<number> {
  const { rowCount } = await callOnce(ds, `DELETE FROM rate_limits WHERE expire < (extract(epoch FROM now()) * 1000)::bigint - $1`, [
    RATE_LIMIT_WINDOW_MS,
  ]);
  return rowCount;
}
