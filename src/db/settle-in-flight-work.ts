import type { DataSource } from "typeorm";
import { batchersIdle } from "./batcher.js";
import { poolOf } from "./sql.js";

const POLL_MS = 20;

/**
 * Waits, until `deadline` (epoch ms), for the database work that requests
 * already started to finish: every batcher's queue empty and no batch
 * running, and no pool connection checked out or waited for, seen on two
 * polls in a row (a request between two calls, say between its rate-limit
 * count and its order call, holds nothing for a moment). Resolves true when
 * quiet, false at the deadline.
 *
 * Why: on SIGTERM the HTTP server stops and closes its connections, but the
 * handlers of requests it had accepted keep running; a load generator that
 * hung up leaves hundreds of them queued in the batchers. Ending the pool
 * (and stopping an embedded PostgreSQL) under them would fail each with
 * "Cannot use a pool after calling end on the pool". Work a request started
 * is finished instead, within the shutdown grace; its Idempotency-Key holds
 * the answer for the client's retry.
 */
export async function settleInFlightWork(ds: DataSource, deadline: number): Promise<boolean> {
  const pool = poolOf(ds);
  const quiet = () => batchersIdle(ds) && pool.waitingCount === 0 && pool.idleCount === pool.totalCount;
  let quietPolls = 0;
  while (Date.now() < deadline) {
    quietPolls = quiet() ? quietPolls + 1 : 0;
    if (quietPolls >= 2) return true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}
