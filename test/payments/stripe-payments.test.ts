import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StripeSettings } from "../../src/config.js";
import { completeProviderPayments } from "../../src/payments/complete-provider-payments.js";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { createStripeProvider } from "../../src/payments/providers/stripe-provider.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { type FakeStripe, startFakeStripe } from "../support/fake-stripe.js";
import { placeOrder, requestPayment } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * PAYMENT_PROVIDER=stripe against a fake of Stripe's HTTP API, through the
 * official SDK: one PaymentIntent per payment (Stripe's Idempotency-Key =
 * our payment id) whatever times out, is retried or is cut short.
 */
let t: TestApp;
let stripe: FakeStripe;
let inner: PaymentProvider;
const silent = pino({ level: "silent" });
const settings = (timeoutMs: number): Pick<StripeSettings, "secretKey" | "apiBase" | "timeoutMs"> => ({
  secretKey: stripe.secretKey,
  apiBase: { protocol: "http", host: "127.0.0.1", port: stripe.port },
  timeoutMs,
});
/** The app's provider delegates to `inner`, so a test can set the SDK's timeout. */
const provider: PaymentProvider = {
  name: "stripe",
  createPayment: (p) => inner.createPayment(p),
  cancelPayment: (p) => inner.cancelPayment(p),
  requestRefund: (r) => inner.requestRefund(r),
};

beforeAll(async () => {
  stripe = await startFakeStripe();
  inner = createStripeProvider(settings(2000));
  t = await startTestApp({ paymentProvider: provider, providerCallLeaseSeconds: 30 });
});
afterAll(async () => {
  await t.close();
  await stripe.close();
});

async function reservedOrder(priceCents = 1250, quantity = 2) {
  const p = await createProduct(t, { priceCents, onHand: 10 });
  const c = await createCustomer(t);
  const order = await placeOrder(t, c, [{ sku: p.sku, quantity }]);
  return { p, c, order };
}
const intentCreations = (paymentId: string) =>
  stripe.requests.filter((r) => r.method === "POST" && r.path === "/v1/payment_intents" && r.idempotencyKey === paymentId);
const paymentsOf = async (orderId: string) =>
  (await t.ds.query(`SELECT id, provider_payment_id, client_secret FROM payments WHERE order_id = $1`, [orderId])) as {
    id: string;
    provider_payment_id: string | null;
    client_secret: string | null;
  }[];

describe("creating a payment with Stripe", () => {
  it("when a payment is created, then one PaymentIntent for the total, keyed and tagged by our ids, and its id and client secret in the 201", async () => {
    inner = createStripeProvider(settings(2000));
    const { c: owner, order } = await reservedOrder(1250, 3);
    const key = uniqueKey();
    const res = await requestPayment(t, owner, order.id, key);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const intent = stripe.intentFor(res.body.id);
    expect(intent).toMatchObject({
      amount: 3750,
      currency: "usd",
      metadata: { orderlock_payment_id: res.body.id, orderlock_order_id: order.id },
    });
    expect(res.body).toMatchObject({ provider: "stripe", providerPaymentId: intent?.id, clientSecret: intent?.client_secret, version: 1 });
    expect(stripe.creations(res.body.id)).toBe(1);
    expect(intentCreations(res.body.id)).toHaveLength(1);

    const replay = await requestPayment(t, owner, order.id, key);
    expect(replay.status).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.body).toEqual(res.body);
    expect(intentCreations(res.body.id)).toHaveLength(1);
  });

  it("when Stripe's first answer times out, then the SDK retries with the same key and Stripe creates the PaymentIntent once", async () => {
    inner = createStripeProvider(settings(400));
    const { c, order } = await reservedOrder();
    stripe.faultNext({ method: "POST", path: /^\/v1\/payment_intents$/, mode: "delay", ms: 1500 });
    const res = await requestPayment(t, c, order.id);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const calls = intentCreations(res.body.id);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.filter((r) => r.replayed).length).toBe(calls.length - 1);
    expect(stripe.creations(res.body.id)).toBe(1);
    expect(res.body.providerPaymentId).toBe(stripe.intentFor(res.body.id)?.id);
  });

  it("when every attempt is cut short, then 503 and a retry of the Idempotency-Key resumes the same payment: one payment, one PaymentIntent", async () => {
    inner = createStripeProvider(settings(2000));
    const { c: owner, order } = await reservedOrder();
    for (let i = 0; i < 3; i++) stripe.faultNext({ method: "POST", path: /^\/v1\/payment_intents$/, mode: "drop" });
    const key = uniqueKey();
    const first = await requestPayment(t, owner, order.id, key);
    expect(first.status, JSON.stringify(first.body)).toBe(503);
    expect(first.body.code).toBe("service_unavailable");
    const [pending] = await paymentsOf(order.id);
    expect(pending.provider_payment_id).toBeNull();
    expect(stripe.creations(pending.id)).toBe(1); // Stripe made it; we never heard

    const retry = await requestPayment(t, owner, order.id, key);
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    expect(retry.body.id).toBe(pending.id);
    expect(retry.body.clientSecret).toBe(stripe.intentFor(pending.id)?.client_secret);
    expect(await paymentsOf(order.id)).toHaveLength(1);
    expect(stripe.creations(pending.id)).toBe(1);
    expect(stripe.intentFor(pending.id)?.id).toBe(retry.body.providerPaymentId);
  });

  it("when the same key is retried while the first request waits for Stripe, then 409 idempotency_key_in_use, and the first still gets its 201", async () => {
    inner = createStripeProvider(settings(5000));
    const { c: owner, order } = await reservedOrder();
    stripe.faultNext({ method: "POST", path: /^\/v1\/payment_intents$/, mode: "delay", ms: 1500 });
    const key = uniqueKey();
    const first = requestPayment(t, owner, order.id, key).then((r) => r);
    await new Promise((r) => setTimeout(r, 600));
    const second = await requestPayment(t, owner, order.id, key);
    expect(second.status, JSON.stringify(second.body)).toBe(409);
    expect(second.body.code).toBe("idempotency_key_in_use");
    expect(second.headers["retry-after"]).toBeDefined();
    const done = await first;
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    expect(stripe.creations(done.body.id)).toBe(1);
    expect(await paymentsOf(order.id)).toHaveLength(1);
  });

  it("when a payment's call was cut short and nobody retried, then the sweeper completes it with the same key, and a later retry only answers", async () => {
    inner = createStripeProvider(settings(2000));
    const { c: owner, order } = await reservedOrder();
    for (let i = 0; i < 3; i++) stripe.faultNext({ method: "POST", path: /^\/v1\/payment_intents$/, mode: "drop" });
    const key = uniqueKey();
    expect((await requestPayment(t, owner, order.id, key)).status).toBe(503);
    const [pending] = await paymentsOf(order.id);

    expect(await completeProviderPayments(t.ds, provider, { leaseSeconds: 30, logger: silent })).toBeGreaterThanOrEqual(1);
    const [done] = await paymentsOf(order.id);
    expect(done.provider_payment_id).toBe(stripe.intentFor(pending.id)?.id);
    expect(stripe.creations(pending.id)).toBe(1);
    // Nothing left: a second sweep claims nothing of this payment and calls nobody.
    const before = intentCreations(pending.id).length;
    await completeProviderPayments(t.ds, provider, { leaseSeconds: 30, logger: silent });
    expect(intentCreations(pending.id).length).toBe(before);

    const retry = await requestPayment(t, owner, order.id, key);
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: pending.id, providerPaymentId: done.provider_payment_id, clientSecret: done.client_secret });
    expect(intentCreations(pending.id).length).toBe(before);
  });

  it("when a payment is still under its creator's claim, then the sweeper leaves it alone", async () => {
    inner = createStripeProvider(settings(5000));
    const { c, order } = await reservedOrder();
    stripe.faultNext({ method: "POST", path: /^\/v1\/payment_intents$/, mode: "delay", ms: 1200 });
    const first = requestPayment(t, c, order.id).then((r) => r);
    await new Promise((r) => setTimeout(r, 400));
    const [pending] = await paymentsOf(order.id);
    await completeProviderPayments(t.ds, provider, { leaseSeconds: 30, logger: silent });
    expect(intentCreations(pending.id)).toHaveLength(1);
    expect((await first).status).toBe(201);
  });
});

describe("PaymentIntent cancellation", () => {
  it("when a PaymentIntent is cancelled twice, or after it succeeded, then the provider does not fail", async () => {
    inner = createStripeProvider(settings(2000));
    const { c, order } = await reservedOrder();
    const res = await requestPayment(t, c, order.id);
    const ids = { paymentId: res.body.id as string, providerPaymentId: res.body.providerPaymentId as string };
    await provider.cancelPayment(ids);
    await provider.cancelPayment(ids);
    expect(stripe.intents.get(ids.providerPaymentId)?.status).toBe("canceled");
    await provider.cancelPayment({ paymentId: ids.paymentId, providerPaymentId: null });
  });

  it("when a refund is requested, then a Stripe refund keyed by our refund id, our reason only in metadata", async () => {
    inner = createStripeProvider(settings(2000));
    const { c, order } = await reservedOrder();
    const res = await requestPayment(t, c, order.id);
    const refund = {
      refundId: "5b0c9d1e-7c53-4c1f-9a51-3d1c1f1f0a01",
      paymentId: res.body.id,
      providerPaymentId: res.body.providerPaymentId,
      amountCents: 500,
      currency: "USD",
      reason: "customer changed their mind",
    };
    const a = await provider.requestRefund(refund);
    const b = await provider.requestRefund(refund);
    expect(b).toEqual(a);
    expect(stripe.creations(refund.refundId)).toBe(1);
    expect(stripe.refunds.get(a.providerRefundId)).toMatchObject({
      amount: 500,
      payment_intent: res.body.providerPaymentId,
      metadata: { orderlock_refund_id: refund.refundId, orderlock_reason: refund.reason },
    });
    const sent = stripe.requests.find((r) => r.path === "/v1/refunds");
    expect(sent?.body.reason).toBeUndefined();
  });
});
