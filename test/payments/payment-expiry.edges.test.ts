import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expirePayments } from "../../src/payments/expire-payments.js";
import { createSandboxProvider } from "../../src/payments/providers/sandbox-provider.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { createPayment, deliverExpecting, failureEvent, placeOrder, stockOf, successEvent } from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";

/**
 * Signals about a payment past its expiry, before and after the sweeper
 * (no background jobs here: the test sweeps when it means to).
 */
const logger = pino({ level: "silent" });
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ paymentTtlSeconds: 1 });
});
afterAll(async () => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sweep = () =>
  expirePayments(t.ds, createSandboxProvider({ selfBaseUrl: () => t.url, webhookSecret: WEBHOOK_SECRET, logger }), logger);

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
});
