import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completeProviderPayments } from "../../src/payments/complete-provider-payments.js";
import { expirePayments } from "../../src/payments/expire-payments.js";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { createCustomer, createProduct } from "../support/factories.js";
import {
  createPayment,
  deliverExpecting,
  failureEvent,
  placeOrder,
  requestPayment,
  stockOf,
  successEvent,
} from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Signals about a payment past its expiry, before and after the sweeper
 * (no background jobs here: the test sweeps when it means to).
 */
const logger = pino({ level: "silent" });

/** A provider that can fail its next creates or cancels; cancelling a payment it has no id for does nothing (as Stripe's). */
let failCreates = 0;
let failCancels = 0;
const cancelled: string[] = [];
const provider: PaymentProvider = {
  name: "sandbox",
  createPayment: async (p) => {
    if (failCreates > 0) {
      failCreates -= 1;
      throw new Error("provider down");
    }
    return { providerPaymentId: `sbx_${p.paymentId}`, clientSecret: null };
  },
  cancelPayment: async (p) => {
    if (p.providerPaymentId === null) return;
    if (failCancels > 0) {
      failCancels -= 1;
      throw new Error("provider down");
    }
    cancelled.push(p.paymentId);
  },
  requestRefund: async (r) => ({ providerRefundId: `sbx_re_${r.refundId}` }),
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ paymentTtlSeconds: 1, paymentProvider: provider, providerCallLeaseSeconds: 1 });
});
afterAll(async () => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sweep = () => expirePayments(t.ds, provider, logger);

describe("payment signals past the payment's expiry", () => {
  it("when a failure arrives for a payment past its expiry but not yet swept, then it is ignored: the order, already read as expired, stays expired and the sweep releases its stock", async () => {
    const p = await createProduct(t, { priceCents: 500, onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }]);
    const payment = await createPayment(t, c, order.id);
    await sleep(1300);
    expect((await t.http().get(`/v1/orders/${order.id}`).set(c.auth)).body.status).toBe("expired");

    await deliverExpecting(t, failureEvent(payment), "ignored");
    expect((await t.http().get(`/v1/orders/${order.id}`).set(c.auth)).body.status).toBe("expired");
    expect((await t.http().post(`/v1/orders/${order.id}/payments`).set(c.auth).set("Idempotency-Key", `k-${order.id}`)).status).toBe(409);

    await sweep();
    const [pay, ord] = await Promise.all([
      t.http().get(`/v1/payments/${payment.id}`).set(c.auth),
      t.http().get(`/v1/orders/${order.id}`).set(c.auth),
    ]);
    expect({ payment: pay.body.status, order: ord.body.status, stock: await stockOf(t, p.sku) }).toMatchObject({
      payment: "expired",
      order: "expired",
      stock: { on_hand: 10, reserved: 0 },
    });
  });

  it("when a success arrives late for an expired payment of 0, then it is ignored (nothing to refund), not a failure the provider retries forever", async () => {
    const p = await createProduct(t, { priceCents: 0, onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const payment = await createPayment(t, c, order.id);
    expect(payment.amountCents).toBe(0);
    await sleep(1300);
    await sweep();
    await deliverExpecting(t, successEvent(payment), "ignored");
    const refunds = (await t.ds.query(`SELECT count(*)::int AS n FROM refunds WHERE payment_id = $1`, [payment.id])) as { n: number }[];
    expect(refunds[0].n).toBe(0);
  });

  it("when the provider payment is only made after the payment expired and its cancel then fails, then a later sweep cancels it", async () => {
    const p = await createProduct(t, { priceCents: 700, onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    failCreates = 1;
    expect((await requestPayment(t, c, order.id)).status).toBe(503);
    const [{ id }] = (await t.ds.query(`SELECT id FROM payments WHERE order_id = $1`, [order.id])) as { id: string }[];
    await sleep(1300);
    await sweep(); // expired, with nothing at the provider yet to cancel
    failCancels = 1;
    await completeProviderPayments(t.ds, provider, { leaseSeconds: 1, logger }); // made now; its best-effort cancel fails
    expect(cancelled).not.toContain(id);
    await sweep();
    const [row] = (await t.ds.query(`SELECT status, provider_payment_id, provider_cancelled_at FROM payments WHERE id = $1`, [id])) as {
      status: string;
      provider_payment_id: string | null;
      provider_cancelled_at: Date | null;
    }[];
    expect({ status: row.status, made: row.provider_payment_id !== null, marked: row.provider_cancelled_at !== null }).toEqual({
      status: "expired",
      made: true,
      marked: true,
    });
    expect(cancelled).toContain(id);
  });
});
