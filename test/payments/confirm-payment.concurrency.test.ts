import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct } from "../support/factories.js";
import {
  createPayment,
  deliver,
  newEventId,
  type PaymentBody,
  placeOrder,
  purchases,
  reconciliation,
  shuffle,
  stockOf,
  successEvent,
  type WebhookEvent,
} from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

// This file's database holds only what this test makes, so its totals are exact, not deltas.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);

describe("success signals under contention", () => {
  it("when 150 shuffled concurrent deliveries (repeated event ids and new ones) arrive for 30 payments, then exactly 30 are processed and every counter is exact", async () => {
    const a = await createProduct(t, { priceCents: 1100, onHand: 1000 });
    const b = await createProduct(t, { priceCents: 2350, onHand: 1000 });
    const customers = await Promise.all(Array.from({ length: 4 }, (_, i) => createCustomer(t, `buyer ${i}`)));
    // 30 orders over 4 customers (9, 8, 7, 6 orders: each buys several times on the same day), mixed lines.
    const perCustomer = [9, 8, 7, 6];
    const payments: (PaymentBody & { customerId: string })[] = [];
    let soldA = 0;
    let soldB = 0;
    for (const [ci, n] of perCustomer.entries()) {
      for (let i = 0; i < n; i++) {
        const qa = 1 + ((ci + i) % 3);
        const qb = (ci * i) % 2;
        const lines = [{ sku: a.sku, quantity: qa }, ...(qb > 0 ? [{ sku: b.sku, quantity: qb }] : [])];
        const order = await placeOrder(t, customers[ci], lines);
        payments.push({ ...(await createPayment(t, customers[ci], order.id)), customerId: customers[ci].id });
        soldA += qa;
        soldB += qb;
      }
    }
    expect(payments).toHaveLength(30);
    const revenue = payments.reduce((s, p) => s + p.amountCents, 0);
    expect(revenue).toBe(soldA * 1100 + soldB * 2350);

    // Per payment 5 deliveries: its first event three times, and two more events with new ids.
    const deliveries: WebhookEvent[] = [];
    for (const p of payments) {
      const first = successEvent(p);
      deliveries.push(first, first, first, successEvent(p, newEventId()), successEvent(p, newEventId()));
    }
    shuffle(deliveries);
    expect(deliveries).toHaveLength(150);

    const responses = await Promise.all(deliveries.map((e) => deliver(t, e)));
    expect(responses.filter((r) => r.status !== 200).map((r) => [r.status, r.body])).toEqual([]);
    const outcomes = responses.map((r) => r.body.outcome as string);
    expect(outcomes.filter((o) => o === "processed")).toHaveLength(30);
    expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(120);
    // Exactly one processed delivery per payment.
    const processedPayments = deliveries.filter((_, i) => outcomes[i] === "processed").map((e) => e.data.paymentId);
    expect(new Set(processedPayments).size).toBe(30);

    const report = await purchases(t);
    expect(report.totals).toEqual({
      purchases: 30,
      revenueCents: revenue,
      uniqueCustomers: 4,
      refunds: 0,
      refundedCents: 0,
      netRevenueCents: revenue,
    });
    expect(report.days.reduce((s, d) => s + d.uniqueCustomers, 0)).toBe(4); // one UTC day, unless the test straddled midnight
    expect(await reconciliation(t)).toMatchObject({
      counters: { purchases: 30, revenueCents: revenue },
      events: { purchases: 30, revenueCents: revenue },
      drift: { purchases: 0, revenueCents: 0 },
      ok: true,
    });

    const statuses = await t.ds.query(`SELECT status, count(*)::int AS n FROM orders GROUP BY status`);
    expect(statuses).toEqual([{ status: "paid", n: 30 }]);
    expect(await stockOf(t, a.sku)).toEqual({ on_hand: 1000 - soldA, reserved: 0 });
    expect(await stockOf(t, b.sku)).toEqual({ on_hand: 1000 - soldB, reserved: 0 });
    const [counted] = await t.ds.query(
      `SELECT count(*)::int AS payments, count(DISTINCT customer_id)::int AS customers, sum(amount_cents)::bigint AS revenue FROM counted_payments`,
    );
    expect(counted).toEqual({ payments: 30, customers: 4, revenue });
    const events = await t.ds.query(`SELECT outcome, count(*)::int AS n FROM payment_events GROUP BY outcome ORDER BY outcome`);
    expect(events).toEqual([
      { outcome: "duplicate", n: 60 }, // the 60 second and third event ids
      { outcome: "processed", n: 30 },
    ]);

    const text = (await t.http().get("/metrics")).text;
    expect(metric(text, "orderlock_purchase_counter_increments_total")).toBe(30);
    expect(metric(text, 'orderlock_webhook_events_total\\{outcome="processed"\\}')).toBe(30);
    expect(metric(text, 'orderlock_webhook_events_total\\{outcome="duplicate"\\}')).toBe(120);
    expect(metric(text, 'orderlock_purchase_counter_drift\\{measure="purchases"\\}')).toBe(0);
  });
});
