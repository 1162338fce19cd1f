import { createHash } from "node:crypto";

/**
 * Each UTC day's purchase counters are spread over this many rows
 * (purchase_counters.shard), summed on read. With one row per day every
 * confirmation would take the same row lock and hold it until its COMMIT, so
 * confirmations would commit one after another; see the measurement in
 * test/payments/purchase-counter.hot-row.experiment.ts. Changing this number
 * is safe at any time: readers sum whatever shards exist. The counting
 * itself is record-purchases.sql.
 */
export const PURCHASE_COUNTER_SHARDS = 16;

/** A stable shard for a payment, so its (single) increment lands on a predictable row. */
export function counterShardOf(paymentId: string, shards = PURCHASE_COUNTER_SHARDS): number {
  return createHash("sha256").update(paymentId).digest().readUInt16BE(0) % shards;
}
