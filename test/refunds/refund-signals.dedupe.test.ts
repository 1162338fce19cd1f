import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purchases, reconciliation, shuffle } from "../support/payment-factories.js";
import { createRefund, deliverOutcome, disputeEvent, paidPayment, refundEvent, row } from "../support/refund-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("refund and dispute signals, shuffled and duplicated", () => {
  it("when 50 deliveries of refund.succeeded and dispute signals arrive shuffled, duplicated and concurrently, then counters move exactly once per refund and reconciliation drift is 0", async () => {
    const before = await purchases(t);
    // 5 payments of 3000: each gets a refund of 1000 (restocking one unit) and a dispute of 500;
    // payments 0-1 also win their dispute (funds reinstated).
    const paid = await Promise.all(Array.from({ length: 5 }, () => paidPayment(t, 3, 1000, 10)));
    const refunds = await Promise.all(
      paid.map(({ payment, p }) =>
        createRefund(t, payment.id, { reason: "r", amountCents: 1000, lines: [{ sku: p.sku, quantity: 1, restock: true }] }),
      ),
    );
    const unique = [
      ...refunds.map((r) => refundEvent(r, "succeeded")),
      ...paid.map(({ payment }, i) => disputeEvent(payment.id, `dp_${payment.id}`, "funds_withdrawn", 500, `evt_w_${i}_${payment.id}`)),
      ...paid
        .slice(0, 2)
        .map(({ payment }, i) => disputeEvent(payment.id, `dp_${payment.id}`, "funds_reinstated", 500, `evt_r_${i}_${payment.id}`)),
    ];
    // 12 distinct events; 50 deliveries, each event at least once, some with a fresh event id (another delivery of the same fact).
    const deliveries: unknown[] = [...unique];
    while (deliveries.length < 50) {
      const e = unique[deliveries.length % unique.length] as { id: string };
      deliveries.push(deliveries.length % 3 === 0 ? { ...e, id: `${e.id}_again_${deliveries.length}` } : e);
    }
    shuffle(deliveries);
    const outcomes = await Promise.all(deliveries.map((e) => deliverOutcome(t, e)));
    expect(outcomes.filter((o) => o === "ignored")).toEqual([]);

    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(5);
    // 5 refunds of 1000 + 5 disputes of 500, less 2 reversed disputes.
    expect(after.totals.refunds - before.totals.refunds).toBe(5 + 5 - 2);
    expect(after.totals.refundedCents - before.totals.refundedCents).toBe(5 * 1000 + 3 * 500);
    const rec = await reconciliation(t);
    expect(rec.drift).toEqual({ purchases: 0, revenueCents: 0, refunds: 0, refundedCents: 0 });
    expect(rec.ok).toBe(true);

    for (const [i, { payment, p, order }] of paid.entries()) {
      const refunded = 1000 + (i < 2 ? 0 : 500);
      expect(await row(t, `SELECT refunded_cents FROM payments WHERE id = $1`, [payment.id])).toEqual({ refunded_cents: refunded });
      expect(await row(t, `SELECT status, refunded_cents FROM orders WHERE id = $1`, [order.id])).toEqual({
        status: "paid",
        refunded_cents: refunded,
      });
      // Bought 3 of 10, one restocked once; a dispute restocks nothing.
      expect(await row(t, `SELECT on_hand, reserved FROM products WHERE sku = $1`, [p.sku])).toEqual({ on_hand: 8, reserved: 0 });
      const statuses = (await t.ds.query(`SELECT reason, status FROM refunds WHERE payment_id = $1 ORDER BY reason`, [
        payment.id,
      ])) as unknown[];
      expect(statuses).toEqual([
        { reason: "dispute", status: i < 2 ? "reversed" : "succeeded" },
        { reason: "r", status: "succeeded" },
      ]);
    }
    const counted = await row<{ refunds: number; reversals: number }>(
      t,
      `SELECT (SELECT count(*)::int FROM counted_refunds WHERE refund_id IN (SELECT id FROM refunds WHERE payment_id = ANY($1::uuid[]))) AS refunds,
              (SELECT count(*)::int FROM counted_refund_reversals WHERE refund_id IN (SELECT id FROM refunds WHERE payment_id = ANY($1::uuid[]))) AS reversals`,
      [paid.map((x) => x.payment.id)],
    );
    // 5 refunds + 5 disputes counted, 2 reversed; or, where a reinstatement overtook its withdrawal,
    // that dispute was never counted nor reversed. Either way: 8 net entries, each at most once.
    expect(counted.refunds - counted.reversals).toBe(8);
    expect(counted.refunds).toBeLessThanOrEqual(10);
  });

  it("when funds are reinstated before their withdrawal is seen, then the dispute nets to nothing and the late withdrawal is a duplicate", async () => {
    const { payment, order } = await paidPayment(t, 1, 2000);
    const before = await purchases(t);
    expect(await deliverOutcome(t, disputeEvent(payment.id, "dp_early", "funds_reinstated", 2000))).toBe("processed");
    expect(await deliverOutcome(t, disputeEvent(payment.id, "dp_early", "funds_withdrawn", 2000))).toBe("duplicate");
    expect((await purchases(t)).totals).toEqual(before.totals);
    expect(await row(t, `SELECT status, refunded_cents FROM orders WHERE id = $1`, [order.id])).toEqual({
      status: "paid",
      refunded_cents: 0,
    });
  });

  it("when a whole-amount dispute is withdrawn and then reinstated, then the order is refunded and then paid again", async () => {
    const { payment, order } = await paidPayment(t, 1, 2000);
    expect(await deliverOutcome(t, disputeEvent(payment.id, "dp_whole", "funds_withdrawn", 2000))).toBe("processed");
    expect(await row(t, `SELECT status, refunded_cents FROM orders WHERE id = $1`, [order.id])).toEqual({
      status: "refunded",
      refunded_cents: 2000,
    });
    expect(await deliverOutcome(t, disputeEvent(payment.id, "dp_whole", "funds_reinstated", 2000))).toBe("processed");
    expect(await row(t, `SELECT status, refunded_cents FROM orders WHERE id = $1`, [order.id])).toEqual({
      status: "paid",
      refunded_cents: 0,
    });
    expect((await reconciliation(t)).ok).toBe(true);
  });
});
