import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct } from "../support/factories.js";
import { createPayment, newEventId, placeOrder, reconciliation, stockOf } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

// The batch function (src/payments/settle-payments.sql) called directly, so the
// test decides exactly what one batch holds.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type Verdict = { pos: number; outcome: string; reason: string; counted: boolean };
type Event = { eventId: string; paymentId: string | null; amountCents: number; type?: "payment.succeeded" | "payment.failed" };

async function confirmBatch(events: Event[], shard = 0): Promise<Verdict[]> {
  const withTypes = events.map((e) => ({ type: "payment.succeeded", ...e, holdSeconds: 600 }));
  return (await t.ds.query(`SELECT * FROM orderlock_settle_payments($1, $2) ORDER BY pos`, [
    JSON.stringify(withTypes),
    shard,
  ])) as Verdict[];
}

const todayCounters = async () =>
  (
    (await t.ds.query(
      `SELECT coalesce(sum(purchases), 0)::int AS purchases, coalesce(sum(revenue_cents), 0)::int AS revenue,
              coalesce(sum(unique_customers), 0)::int AS customers
         FROM purchase_counters WHERE day = (now() AT TIME ZONE 'UTC')::date`,
    )) as { purchases: number; revenue: number; customers: number }[]
  )[0];

describe("orderlock_settle_payments (one transaction for a batch of success events)", () => {
  it("when a batch repeats an event id, names a payment twice, and holds an unknown payment and a wrong amount, then each payment is applied and counted once", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { priceCents: 250, onHand: 20 });
    const orders = [await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }]), await placeOrder(t, c, [{ sku: p.sku, quantity: 3 }])];
    const [a, b] = [await createPayment(t, c, orders[0].id), await createPayment(t, c, orders[1].id)];
    const third = await createPayment(t, c, (await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }])).id);
    const e1 = newEventId();
    const before = await todayCounters();

    const verdicts = await confirmBatch([
      { eventId: e1, paymentId: a.id, amountCents: a.amountCents },
      { eventId: e1, paymentId: a.id, amountCents: a.amountCents }, // the same delivery again
      { eventId: newEventId(), paymentId: a.id, amountCents: a.amountCents }, // another event for a paid payment
      { eventId: newEventId(), paymentId: b.id, amountCents: b.amountCents },
      { eventId: newEventId(), paymentId: "00000000-0000-4000-8000-000000000000", amountCents: 1 },
      { eventId: newEventId(), paymentId: third.id, amountCents: third.amountCents + 1 },
    ]);
    expect(verdicts.map((v) => [v.outcome, v.counted])).toEqual([
      ["processed", true],
      ["duplicate", false],
      ["duplicate", false],
      ["processed", true],
      ["ignored", false],
      ["ignored", false],
    ]);

    const statuses = (await t.ds.query(`SELECT id, status FROM orders WHERE id = ANY($1::uuid[]) ORDER BY created_at`, [
      orders.map((o) => o.id),
    ])) as { status: string }[];
    expect(statuses.map((s) => s.status)).toEqual(["paid", "paid"]);
    // Sold: 5 units left on hand; the third order's unit is still held.
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 15, reserved: 1 });
    const after = await todayCounters();
    expect(after.purchases - before.purchases).toBe(2);
    expect(after.revenue - before.revenue).toBe(a.amountCents + b.amountCents);
    expect(after.customers - before.customers).toBe(1); // one customer, however many payments
    expect((await reconciliation(t)).ok).toBe(true);
  });

  it("when a batch fails one payment and pays another on the same SKU, then a later success for the failed one in the same batch is judged on it as failed", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { priceCents: 100, onHand: 10 });
    const paid = await createPayment(t, c, (await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }])).id);
    const failedOrder = await placeOrder(t, c, [{ sku: p.sku, quantity: 3 }]);
    const failed = await createPayment(t, c, failedOrder.id);
    const before = await todayCounters();

    const verdicts = await confirmBatch([
      { eventId: newEventId(), paymentId: failed.id, amountCents: failed.amountCents, type: "payment.failed" },
      { eventId: newEventId(), paymentId: paid.id, amountCents: paid.amountCents },
      { eventId: newEventId(), paymentId: failed.id, amountCents: failed.amountCents }, // success, after its failure
    ]);
    expect(verdicts.map((v) => [v.outcome, v.counted])).toEqual([
      ["processed", false],
      ["processed", true],
      ["processed", false],
    ]);
    expect(verdicts[2].reason).toMatch(/late_success/);

    const [order] = (await t.ds.query(`SELECT status, reserved_until > now() AS held FROM orders WHERE id = $1`, [failedOrder.id])) as {
      status: string;
      held: boolean;
    }[];
    expect(order).toEqual({ status: "reserved", held: true });
    const payments = (await t.ds.query(
      `SELECT status, refund_claimed_cents::int AS claimed FROM payments WHERE id = ANY($1::uuid[]) ORDER BY status`,
      [[paid.id, failed.id]],
    )) as { status: string; claimed: number }[];
    expect(payments).toEqual([
      { status: "failed", claimed: failed.amountCents },
      { status: "succeeded", claimed: 0 },
    ]);
    // The paid order's 2 units sold; the failed order's 3 still held.
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 8, reserved: 3 });
    const after = await todayCounters();
    expect(after.purchases - before.purchases).toBe(1);
    expect((await reconciliation(t)).ok).toBe(true);
  });
});
