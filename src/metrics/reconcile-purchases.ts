import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { paymentMetrics } from "./registry.js";

type Measures = { purchases: number; revenueCents: number; refunds: number; refundedCents: number };
export type Reconciliation = {
  checkedAt: string;
  counters: Measures;
  events: Measures;
  drift: Measures;
  ok: boolean;
};

/**
 * The succeeded payments that settled before `before` (a whole hour, at
 * least an hour ago): their count and total, kept per DataSource and moved
 * forward an hour at a time, so each reconciliation reads only the payments
 * of the last hour or two instead of every payment ever made (a scan that
 * took seconds every minute at a few million payments). Safe because such a
 * payment can no longer change: `succeeded` is final, its amount never
 * changes, and its succeeded_at is the now() of a transaction that committed
 * within seconds (statement and idle timeouts), long before the hour is over.
 * What no transaction of the service does, a hand edit or an import of older
 * payments, is seen when the sums are made afresh: once a day, and at start.
 */
type Settled = { before: string; purchases: number; revenueCents: number; since: number };
const settledOf = new WeakMap<DataSource, Promise<Settled>>();
const RECOUNT_AFTER_MS = 24 * 3600 * 1000;

function settledPayments(ds: DataSource): Promise<Settled> {
  const afresh = (): Settled => ({ before: "-infinity", purchases: 0, revenueCents: 0, since: Date.now() });
  const next = (settledOf.get(ds) ?? Promise.resolve(afresh()))
    .then(
      (s) => (Date.now() - s.since > RECOUNT_AFTER_MS ? afresh() : s),
      () => afresh(),
    )
    .then(async (from) => {
      const row = (
        await callOnce<{ before: string; purchases: number; revenue_cents: number }>(
          ds,
          `WITH w AS (SELECT date_trunc('hour', now() - interval '1 hour') AS before)
           SELECT w.before::text AS before, count(p.id)::bigint AS purchases, coalesce(sum(p.amount_cents), 0)::bigint AS revenue_cents
             FROM w LEFT JOIN payments p
               ON p.status = 'succeeded' AND p.succeeded_at >= $1::timestamptz AND p.succeeded_at < w.before
            GROUP BY w.before`,
          [from.before],
        )
      ).rows[0];
      return {
        before: row.before,
        purchases: from.purchases + row.purchases,
        revenueCents: from.revenueCents + row.revenue_cents,
        since: from.since,
      };
    });
  settledOf.set(ds, next);
  return next;
}

/**
 * Compares the purchase counters (all days, all shards) with the raw truth:
 * the succeeded payments, and the succeeded refunds of counted payments
 * (a reversed dispute refund nets to nothing on both sides: its entry and
 * its reversal). The counters, the refunds and the payments of the last hour
 * or two are read by ONE statement, so from one snapshot; the payments
 * before that come from settledPayments (above), which no transaction can
 * still change; since a payment or refund settles and is counted in the same
 * transaction, any drift is a real defect (or a hand edit), never a race.
 * drift = counters - events. Sets the orderlock_purchase_counter_drift gauge.
 */
export async function reconcilePurchases(ds: DataSource): Promise<Reconciliation> {
  const settled = await settledPayments(ds);
  const row = (
    await callOnce<
      { checked_at: Date } & Record<`${"counter" | "event"}_${"purchases" | "revenue_cents" | "refunds" | "refunded_cents"}`, number>
    >(
      ds,
      `WITH c AS (
         SELECT coalesce(sum(purchases), 0)::bigint AS purchases, coalesce(sum(revenue_cents), 0)::bigint AS revenue_cents,
                coalesce(sum(refunds - reversed_refunds), 0)::bigint AS refunds,
                coalesce(sum(refunded_cents - reversed_refunded_cents), 0)::bigint AS refunded_cents
           FROM purchase_counters
       ), p AS (
         SELECT $2::bigint + count(*)::bigint AS purchases, $3::bigint + coalesce(sum(amount_cents), 0)::bigint AS revenue_cents
           FROM payments WHERE status = 'succeeded' AND succeeded_at >= $1::timestamptz
       ), r AS (
         SELECT count(*)::bigint AS refunds, coalesce(sum(r.amount_cents), 0)::bigint AS refunded_cents
           FROM refunds r
          WHERE r.status = 'succeeded' AND EXISTS (SELECT 1 FROM counted_payments cp WHERE cp.payment_id = r.payment_id)
       )
       SELECT now() AS checked_at,
              c.purchases AS counter_purchases, c.revenue_cents AS counter_revenue_cents,
              c.refunds AS counter_refunds, c.refunded_cents AS counter_refunded_cents,
              p.purchases AS event_purchases, p.revenue_cents AS event_revenue_cents,
              r.refunds AS event_refunds, r.refunded_cents AS event_refunded_cents
         FROM c, p, r`,
      [settled.before, settled.purchases, settled.revenueCents],
    )
  ).rows[0];
  const counters = {
    purchases: row.counter_purchases,
    revenueCents: row.counter_revenue_cents,
    refunds: row.counter_refunds,
    refundedCents: row.counter_refunded_cents,
  };
  const events = {
    purchases: row.event_purchases,
    revenueCents: row.event_revenue_cents,
    refunds: row.event_refunds,
    refundedCents: row.event_refunded_cents,
  };
  const drift = {
    purchases: counters.purchases - events.purchases,
    revenueCents: counters.revenueCents - events.revenueCents,
    refunds: counters.refunds - events.refunds,
    refundedCents: counters.refundedCents - events.refundedCents,
  };
  paymentMetrics.purchaseCounterDrift.set({ measure: "purchases" }, drift.purchases);
  paymentMetrics.purchaseCounterDrift.set({ measure: "revenue_cents" }, drift.revenueCents);
  paymentMetrics.purchaseCounterDrift.set({ measure: "refunds" }, drift.refunds);
  paymentMetrics.purchaseCounterDrift.set({ measure: "refunded_cents" }, drift.refundedCents);
  return {
    checkedAt: row.checked_at.toISOString(),
    counters,
    events,
    drift,
    ok: Object.values(drift).every((d) => d === 0),
  };
}
