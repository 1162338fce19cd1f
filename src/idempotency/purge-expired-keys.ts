import type { DataSource } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { deleteExpiredKeys } from "./idempotency-store.js";

/**
 * Deletes keys older than the TTL, in small batches, oldest first, each batch
 * from where the previous one stopped; safe to run on every instance at once
 * (SKIP LOCKED). Returns how many it deleted.
 */
export async function purgeExpiredKeys(ds: DataSource, ttlHours: number, batch = 1000): Promise<number> {
  let total = 0;
  let from = "-infinity";
  for (;;) {
    const { deleted, reached } = await inTransaction(ds, (m) => deleteExpiredKeys(m, ttlHours, batch, from));
    total += deleted;
    if (deleted < batch) return total;
    from = reached ?? from;
  }
}
