import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { paymentMetrics } from "./registry.js";

export type Reconciliation = {
  checkedAt: string;
  counters: { purchases: number; revenueCents: number };
  events: { purchases: number; revenueCents: number };
  drift: { purchases: number; revenueCents: number };
  ok: boolean;
};

/**
 * Compares the purchase counters (all days, all shards) with the raw truth:
 * the succeeded payments. Both sides are read by ONE statement, so from one
 * snapshot; since a payment succeeds and is counted in the same transaction,
 * any drift is a real defect (or a hand edit), never a race. drift =
 * counters - events. Sets the orderlock_purchase_counter_drift gauge.
 */
export async function reconcilePurchases(ds: DataSource): Promise<Reconciliation> {
  const row = (
    await callOnce<{
      checked_at: Date;
      counter_purchases: number;
      counter_revenue_cents: number;
      event_purchases: number;
      event_revenue_cents: number;
    }>(
      ds,
      `SELECT now() AS checked_at,
            (SELECT coalesce(sum(purchases), 0)::bigint FROM purchase_counters) AS counter_purchases,
            (SELECT coalesce(sum(revenue_cents), 0)::bigint FROM purchase_counters) AS counter_revenue_cents,
            count(*)::bigint AS event_purchases,
            coalesce(sum(amount_cents), 0)::bigint AS event_revenue_cents
       FROM payments WHERE status = 'succeeded'`,
    )
  ).rows[0];
  const counters = { purchases: row.counter_purchases, revenueCents: row.counter_revenue_cents };
  const events = { purchases: row.event_purchases, revenueCents: row.event_revenue_cents };
  const drift = { purchases: counters.purchases - events.purchases, revenueCents: counters.revenueCents - events.revenueCents };
  paymentMetrics.purchaseCounterDrift.set({ measure: "purchases" }, drift.purchases);
  paymentMetrics.purchaseCounterDrift.set({ measure: "revenue_cents" }, drift.revenueCents);
  return {
    checkedAt: row.checked_at.toISOString(),
    counters,
    events,
    drift,
    ok: drift.purchases === 0 && drift.revenueCents === 0,
  };
}
