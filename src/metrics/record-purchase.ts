import { createHash } from "node:crypto";
import type { EntityManager } from "typeorm";
import { sqlOne } from "../db/sql.js";
import { concurrencyMetrics } from "./registry.js";

/**
 * Each UTC day's purchase counters are spread over this many rows
 * (purchase_counters.shard), summed on read. With one row per day every
 * confirmation would take the same row lock and hold it until its COMMIT, so
 * confirmations would commit one after another; see the measurement in
 * test/payments/purchase-counter.hot-row.experiment.ts. Changing this number
 * is safe at any time: readers sum whatever shards exist.
 */
export const PURCHASE_COUNTER_SHARDS = 16;

/** A stable shard for a payment, so its (single) increment lands on a predictable row. */
export function counterShardOf(paymentId: string, shards = PURCHASE_COUNTER_SHARDS): number {
  return createHash("sha256").update(paymentId).digest().readUInt16BE(0) % shards;
}

export type Purchase = { paymentId: string; customerId: string; amountCents: number };

/**
 * Counts a succeeded payment in the purchase counters, exactly once, in the
 * caller's transaction, as ONE statement: the SQL function
 * orderlock_record_purchase (migration ConfirmPaymentFunction), which the
 * confirmation call uses too, so there is one definition of counting:
 *   1. INSERT INTO counted_payments ... ON CONFLICT (payment_id) DO NOTHING:
 *      the payment id is the dedupe key; a payment already counted inserts
 *      nothing and everything below is skipped.
 *   2. INSERT INTO counted_customer_days ... ON CONFLICT DO NOTHING: the
 *      customer's first counted purchase of the day adds 1 unique customer.
 *   3. INSERT INTO purchase_counters ... ON CONFLICT (day, shard) DO UPDATE
 *      SET n = purchase_counters.n + EXCLUDED.n: an atomic increment, never a
 *      read-modify-write.
 * The day is the UTC day of the transaction's now(), the same instant as the
 * payment's succeeded_at. Returns true if this call counted the payment.
 *
 * Must be the LAST statement of its transaction: the counter row lock it
 * takes is held until COMMIT, so nothing else may happen under it. Within the
 * statement the customer-day row is taken before the counter row, and the
 * counter row is only ever held by a transaction that has nothing left to do
 * but commit, so waits on these rows cannot form a cycle.
 */
export async function recordPurchase(m: EntityManager, purchase: Purchase, shards = PURCHASE_COUNTER_SHARDS): Promise<boolean> {
  const end = concurrencyMetrics.lockWait.startTimer({ path: "purchase_counter" });
  const row = await sqlOne<{ counted: boolean }>(m, `SELECT orderlock_record_purchase($1, $2, $3, $4) AS counted`, [
    purchase.paymentId,
    purchase.customerId,
    purchase.amountCents,
    counterShardOf(purchase.paymentId, shards),
  ]);
  end();
  return row?.counted === true;
}
