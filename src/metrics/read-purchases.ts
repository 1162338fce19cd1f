import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";

type PurchaseTotals = {
  purchases: number;
  revenueCents: number;
  uniqueCustomers: number;
  /** Succeeded refunds of counted payments on their UTC day, less dispute refunds reversed that day. */
  refunds: number;
  refundedCents: number;
  /** revenueCents - refundedCents. */
  netRevenueCents: number;
};
export type PurchaseDay = PurchaseTotals & { day: string };
export type PurchaseReport = { from: string; to: string; days: PurchaseDay[]; totals: PurchaseTotals };

/**
 * Purchase counters for the UTC days from..to (inclusive; validated by the
 * caller), every day present and zero-filled, each day the sum of its shard
 * rows. totals.uniqueCustomers is the number of distinct customers over the
 * whole range, not the sum of the daily numbers (a customer who bought on two
 * days is one customer). It is counted from counted_customer_days, which
 * holds exactly the (day, customer) pairs of counted_payments (both are
 * written by the one counting statement, record-purchases.sql) and whose primary key
 * (day, customer_id) serves this range scan.
 *
 * Refunds are compensating entries, never decrements: a day shows the
 * refunds settled on it less the dispute refunds reversed on it (so a day
 * with only a reinstatement shows negative refunds), and netRevenueCents =
 * revenueCents - refundedCents.
 *
 * One statement, so days and totals come from the same snapshot.
 */
export async function readPurchases(ds: DataSource, from: string, to: string): Promise<PurchaseReport> {
  const r = await callOnce<PurchaseDay & { range_unique_customers: number }>(
    ds,
    `WITH days AS (
       SELECT d::date AS day FROM generate_series($1::date, $2::date, interval '1 day') AS d
     ), sums AS (
       SELECT day, sum(purchases)::bigint AS purchases, sum(revenue_cents)::bigint AS revenue_cents,
              sum(unique_customers)::bigint AS unique_customers,
              sum(refunds - reversed_refunds)::bigint AS refunds,
              sum(refunded_cents - reversed_refunded_cents)::bigint AS refunded_cents
         FROM purchase_counters WHERE day BETWEEN $1::date AND $2::date GROUP BY day
     )
     SELECT days.day,
            coalesce(s.purchases, 0)::bigint AS "purchases",
            coalesce(s.revenue_cents, 0)::bigint AS "revenueCents",
            coalesce(s.unique_customers, 0)::bigint AS "uniqueCustomers",
            coalesce(s.refunds, 0)::bigint AS "refunds",
            coalesce(s.refunded_cents, 0)::bigint AS "refundedCents",
            (SELECT count(DISTINCT customer_id) FROM counted_customer_days
              WHERE day BETWEEN $1::date AND $2::date)::bigint AS range_unique_customers
       FROM days LEFT JOIN sums s USING (day)
      ORDER BY days.day`,
    [from, to],
  );
  const days = r.rows.map(({ day, purchases, revenueCents, uniqueCustomers, refunds, refundedCents }) => ({
    day,
    purchases,
    revenueCents,
    uniqueCustomers,
    refunds,
    refundedCents,
    netRevenueCents: revenueCents - refundedCents,
  }));
  const sum = (f: (d: PurchaseDay) => number) => days.reduce((s, d) => s + f(d), 0);
  return {
    from,
    to,
    days,
    totals: {
      purchases: sum((d) => d.purchases),
      revenueCents: sum((d) => d.revenueCents),
      uniqueCustomers: r.rows[0]?.range_unique_customers ?? 0,
      refunds: sum((d) => d.refunds),
      refundedCents: sum((d) => d.refundedCents),
      netRevenueCents: sum((d) => d.netRevenueCents),
    },
  };
}
