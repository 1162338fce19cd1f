import type { DataSource, EntityManager } from "typeorm";
import { defaultRetryPolicy, type RetryPolicy, withRetry } from "./with-retry.js";

export type TransactionOptions = {
  /** Retry the whole transaction on 40001/40P01/internal conflicts (default); false to run once. */
  retry?: RetryPolicy | false;
  isolation?: "READ COMMITTED" | "REPEATABLE READ" | "SERIALIZABLE";
};

/**
 * The only place a transaction begins and commits. `work` receives the
 * transaction's EntityManager and must pass it to everything it calls; a
 * retry runs `work` again from the start in a fresh transaction, so `work`
 * must keep no state across attempts.
 */
export function inTransaction<T>(
  ds: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  // READ COMMITTED is PostgreSQL's default: naming it would cost TypeORM an
  // extra round trip (SET TRANSACTION ISOLATION LEVEL) on every transaction.
  const isolation = options.isolation ?? "READ COMMITTED";
  const once = () => (isolation === "READ COMMITTED" ? ds.transaction(work) : ds.transaction(isolation, work));
  if (options.retry === false) return once();
  return withRetry(once, options.retry ?? defaultRetryPolicy);
}
