import type { EntityManager } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inTransaction } from "../../src/db/in-transaction.js";
import { sql } from "../../src/db/sql.js";
import { counterShardOf, PURCHASE_COUNTER_SHARDS } from "../../src/metrics/counter-shards.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { createPayment, placeOrder, shuffle } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/** One purchase through the one counting statement (record-purchases.sql), in the caller's transaction: did it count? */
async function recordPurchase(
  m: EntityManager,
  p: { paymentId: string; customerId: string; amountCents: number },
  shards = PURCHASE_COUNTER_SHARDS,
): Promise<boolean> {
  const { rows } = await sql(m, `SELECT * FROM orderlock_record_purchases(ARRAY[$1]::uuid[], ARRAY[$2]::uuid[], ARRAY[$3]::bigint[], $4)`, [
    p.paymentId,
    p.customerId,
    p.amountCents,
    counterShardOf(p.paymentId, shards),
  ]);
  return rows.length === 1;
}

// Direct tests of the counter statement with a real EntityManager. The
// payments here stay `pending` (only their ids are needed as dedupe keys), so
// this file's counters deliberately do not reconcile.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

async function pendingPayments(n: number, customers: { id: string; auth: Record<string, string> }[]) {
  const p = await createProduct(t, { priceCents: 10, onHand: 10_000 });
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = customers[i % customers.length];
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 + i }]);
    const payment = await createPayment(t, c, order.id);
    out.push({ paymentId: payment.id, customerId: c.id, amountCents: payment.amountCents });
  }
  return out;
}

const todayTotals = async () =>
  (
    await t.ds.query(
      `SELECT coalesce(sum(purchases), 0)::int AS purchases, coalesce(sum(revenue_cents), 0)::int AS revenue,
              coalesce(sum(unique_customers), 0)::int AS customers, count(*)::int AS rows
         FROM purchase_counters WHERE day = (now() AT TIME ZONE 'UTC')::date`,
    )
  )[0] as { purchases: number; revenue: number; customers: number; rows: number };

describe("orderlock_record_purchases (the counter upsert)", () => {
  for (const shards of [1, 16]) {
    it(`when 48 calls for 12 payments of 3 customers race (${shards} shard${shards > 1 ? "s" : ""}), then each payment counts once and each customer once per day`, async () => {
      await t.ds.query(`TRUNCATE purchase_counters, counted_customer_days, counted_payments`);
      const customers = await Promise.all([createCustomer(t), createCustomer(t), createCustomer(t)]);
      const purchases = await pendingPayments(12, customers);
      const calls = shuffle(purchases.flatMap((p) => [p, p, p, p]));
      const counted = await Promise.all(calls.map((p) => inTransaction(t.ds, (m) => recordPurchase(m, p, shards))));

      const countedPerPayment = new Map<string, number>();
      calls.forEach((p, i) => {
        countedPerPayment.set(p.paymentId, (countedPerPayment.get(p.paymentId) ?? 0) + (counted[i] ? 1 : 0));
      });
      expect([...countedPerPayment.values()]).toEqual(Array.from({ length: 12 }, () => 1));
      const totals = await todayTotals();
      expect(totals).toMatchObject({ purchases: 12, revenue: purchases.reduce((s, p) => s + p.amountCents, 0), customers: 3 });
      const usedShards = new Set(purchases.map((p) => counterShardOf(p.paymentId, shards)));
      expect(totals.rows).toBe(usedShards.size);
    });
  }

  it("when the counting transaction rolls back, then nothing is counted and the payment can be counted later", async () => {
    await t.ds.query(`TRUNCATE purchase_counters, counted_customer_days, counted_payments`);
    const c = await createCustomer(t);
    const [p] = await pendingPayments(1, [c]);
    await expect(
      inTransaction(t.ds, async (m) => {
        expect(await recordPurchase(m, p)).toBe(true);
        throw new Error("crash before COMMIT");
      }),
    ).rejects.toThrow("crash before COMMIT");
    expect(await todayTotals()).toMatchObject({ purchases: 0, customers: 0 });
    expect(await inTransaction(t.ds, (m) => recordPurchase(m, p))).toBe(true);
    expect(await inTransaction(t.ds, (m) => recordPurchase(m, p))).toBe(false);
    expect(await todayTotals()).toMatchObject({ purchases: 1, customers: 1 });
  });

  it("when shards are chosen, then they are stable per payment and within range", () => {
    const ids = Array.from({ length: 2000 }, () => crypto.randomUUID());
    for (const id of ids) {
      expect(counterShardOf(id)).toBe(counterShardOf(id));
      expect(counterShardOf(id)).toBeGreaterThanOrEqual(0);
      expect(counterShardOf(id)).toBeLessThan(16);
    }
    expect(new Set(ids.map((id) => counterShardOf(id))).size).toBe(16);
  });
});
