import type { DataSource } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { deleteExpiredKeys } from "./idempotency-store.js";

/** Deletes keys older than the TTL, in small batches; safe to run on every instance at once (SKIP LOCKED). */
export async function purgeExpiredKeys(ds: DataSource, ttlHours: number, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await inTransaction(ds, (m) => deleteExpiredKeys(m, ttlHours, batch));
    total += n;
    if (n < batch) return total;
  }
}
