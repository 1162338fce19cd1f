import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackgroundJobs } from "../../src/background-jobs.js";
import { expirePayments } from "../../src/payments/expire-payments.js";
import { lockOverduePayments } from "../../src/payments/payment-store.js";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { indexFetches } from "../support/index-fetches.js";
import {
  createPayment,
  deliverExpecting,
  eventually,
  failureEvent,
  placeOrder,
  purchases,
  reconciliation,
  stockOf,
  successEvent,
} from "../support/payment-factories.js";
import { deliverOutcome, refundEvent, row } from "../support/refund-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

const logger = pino({ level: "silent" });
let t: TestApp;
const cancelled: string[] = [];
let failCancels = 0;
const provider: PaymentProvider = {
  name: "sandbox",
  createPayment: async (p) => ({ providerPaymentId: `sbx_${p.paymentId}`, clientSecret: null }),
  cancelPayment: async (p) => {
    if (failCancels > 0) {
      failCancels -= 1;
      throw new Error("provider down");
    }
    cancelled.push(p.paymentId);
  },
  requestRefund: async (r) => ({ providerRefundId: `sbx_re_${r.refundId.replaceAll("-", "")}` }),
};
let jobs: { stop(): Promise<void> } | undefined;

beforeAll(async () => {
  t = await startTestApp({ paymentTtlSeconds: 3 });
});
afterAll(async () => {
  await jobs?.stop();
  await t.close();
});

async function pendingPayment(quantity = 2) {
  const p = await createProduct(t, { priceCents: 1500, onHand: 10 });
  const c = await createCustomer(t);
  const order = await placeOrder(t, c, [{ sku: p.sku, quantity }]);
  const payment = await createPayment(t, c, order.id);
  return { p, c, order, payment };
}

describe("payment expiry (PAYMENT_TTL_SECONDS=3)", () => {
  it("when nobody pays, then within 5 s the payment and its order are expired, the stock is back, the events written, and the provider's payment cancelled", async () => {
    jobs = startBackgroundJobs(
      t.ds,
      { sweepIntervalMs: 200, idempotencyTtlHours: 24, eventRetentionDays: 30, providerCallLeaseSeconds: 60 },
      logger,
      provider,
    );
    const { p, c, order, payment } = await pendingPayment(3);
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 3 });
    const started = Date.now();
    await eventually(async () => {
      const pay = await row<{ status: string }>(t, `SELECT status FROM payments WHERE id = $1`, [payment.id]);
      expect(pay.status).toBe("expired");
    }, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await row(t, `SELECT status, reserved_until FROM orders WHERE id = $1`, [order.id])).toEqual({
      status: "expired",
      reserved_until: null,
    });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 0 });
    const types = await t.ds.query(`SELECT type FROM events WHERE resource_id = ANY($1::uuid[]) ORDER BY position, seq`, [
      [payment.id, order.id],
    ]);
    expect(types.map((e: { type: string }) => e.type).slice(-2)).toEqual(["payment.expired", "order.expired"]);
    await eventually(async () => expect(cancelled).toContain(payment.id), 5_000);
    const shown = await t.http().get(`/v1/payments/${payment.id}`).set(c.auth);
    expect(shown.body.status).toBe("expired");
    await jobs.stop();
    jobs = undefined;
  });

  it("when a success arrives for an expired payment, then nothing moves but a late_success refund of the whole amount; a repeat is duplicate", async () => {
    const { p, order, payment } = await pendingPayment(2);
    await new Promise((r) => setTimeout(r, 3_100));
    // Read-time view: past its payment's expiry the order already shows as expired (and GET wrote nothing).
    const shown = await t.http().get(`/v1/orders/${order.id}`).set(t.admin);
    expect(shown.body).toMatchObject({ status: "expired", reservedUntil: null });
    expect((await row<{ status: string }>(t, `SELECT status FROM orders WHERE id = $1`, [order.id])).status).toBe("pending_payment");
    await expirePayments(t.ds, provider, logger);

    const before = await purchases(t);
    const stockBefore = await stockOf(t, p.sku);
    await deliverExpecting(t, successEvent(payment), "processed");
    await deliverExpecting(t, successEvent(payment), "duplicate");
    await deliverExpecting(t, failureEvent(payment), "ignored");
    const after = await purchases(t);
    expect(after.totals).toEqual(before.totals);
    expect(await stockOf(t, p.sku)).toEqual(stockBefore);
    expect(await row(t, `SELECT status FROM orders WHERE id = $1`, [order.id])).toEqual({ status: "expired" });
    expect(await row(t, `SELECT status FROM payments WHERE id = $1`, [payment.id])).toEqual({ status: "expired" });
    const refunds = await t.http().get(`/v1/payments/${payment.id}/refunds`).set(t.admin);
    expect(refunds.body.items).toHaveLength(1);
    expect(refunds.body.items[0]).toMatchObject({ reason: "late_success", amountCents: payment.amountCents, status: "pending", lines: [] });
    // The refund's success moves the payment's refundedCents only: the payment was never counted, nor the order paid.
    const refund = refunds.body.items[0];
    expect(await deliverOutcome(t, refundEvent(refund, "succeeded"))).toBe("processed");
    expect(await row(t, `SELECT status, refunded_cents FROM payments WHERE id = $1`, [payment.id])).toEqual({
      status: "expired",
      refunded_cents: payment.amountCents,
    });
    expect(await row(t, `SELECT status, refunded_cents FROM orders WHERE id = $1`, [order.id])).toEqual({
      status: "expired",
      refunded_cents: 0,
    });
    expect((await purchases(t)).totals).toEqual(before.totals);
    expect((await reconciliation(t)).ok).toBe(true);
  });

  it("when a success arrives for a failed payment, then it is refunded in full (late_success) and nothing else moves", async () => {
    const { p, payment } = await pendingPayment(1);
    await deliverExpecting(t, failureEvent(payment), "processed");
    const stockBefore = await stockOf(t, p.sku);
    const before = await purchases(t);
    await deliverExpecting(t, successEvent(payment), "processed");
    expect(await stockOf(t, p.sku)).toEqual(stockBefore);
    expect((await purchases(t)).totals).toEqual(before.totals);
    expect(await row(t, `SELECT count(*)::int AS n FROM refunds WHERE payment_id = $1 AND kind = 'late_success'`, [payment.id])).toEqual({
      n: 1,
    });
  });

  it("when cancelling at the provider fails, then a later pass cancels it (the call is owed until recorded)", async () => {
    const { payment } = await pendingPayment(1);
    await new Promise((r) => setTimeout(r, 3_100));
    failCancels = 1000;
    const first = await expirePayments(t.ds, provider, logger);
    expect(first.expired).toBeGreaterThanOrEqual(1);
    expect(await row(t, `SELECT status, provider_cancelled_at FROM payments WHERE id = $1`, [payment.id])).toEqual({
      status: "expired",
      provider_cancelled_at: null,
    });
    failCancels = 0;
    await expirePayments(t.ds, provider, logger);
    expect(cancelled).toContain(payment.id);
    const r = await row<{ provider_cancelled_at: Date | null }>(t, `SELECT provider_cancelled_at FROM payments WHERE id = $1`, [
      payment.id,
    ]);
    expect(r.provider_cancelled_at).not.toBeNull();
  });
});

describe("the payment expiry sweep on a big table", () => {
  it("when many pending payments are far from due, then a sweep does not fetch each of them to test it (the due test is an index condition, not a filter over every pending payment)", async () => {
    const p = await createProduct(t, { priceCents: 100, onHand: 100 });
    const c = await createCustomer(t);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await createPayment(t, c, (await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }])).id)).id);
    await t.ds.query(`UPDATE payments SET expires_at = now() + interval '1 day' WHERE id = ANY($1::uuid[])`, [ids]);
    const fetched = await indexFetches(t.ds, "payments", (m) => lockOverduePayments(m, 100));
    // With a volatile clock in the WHERE clause the scan walks the whole partial index and fetches each pending row.
    expect(fetched).toBeLessThan(ids.length);
  });
});
