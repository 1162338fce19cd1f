import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { createStripeProvider } from "../../src/payments/providers/stripe-provider.js";
import type {
  StripeDisputeFunds,
  StripeProviderRefund,
  StripeRefundSettlement,
  StripeRefundSink,
} from "../../src/payments/receive-stripe-event.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { type FakeStripe, startFakeStripe } from "../support/fake-stripe.js";
import { placeOrder, requestPayment, stockOf } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * POST /v1/webhooks/stripe with events signed as Stripe signs them (the
 * SDK's test header), by either of two configured secrets (a rotation).
 */
const OLD_SECRET = "whsec_old_0123456789abcdefghij";
const NEW_SECRET = "whsec_new_0123456789abcdefghij";

let t: TestApp;
let stripe: FakeStripe;
let provider: PaymentProvider;
const sunk: { method: string; input: StripeRefundSettlement | StripeProviderRefund | StripeDisputeFunds }[] = [];
const record =
  (method: string) =>
  async (input: StripeRefundSettlement | StripeProviderRefund | StripeDisputeFunds): Promise<"processed"> => {
    sunk.push({ method, input });
    return "processed";
  };
const sink: StripeRefundSink = {
  settleRefund: record("settleRefund"),
  recordProviderRefund: record("recordProviderRefund"),
  disputeWithdrawn: record("disputeWithdrawn"),
  disputeReinstated: record("disputeReinstated"),
};

beforeAll(async () => {
  stripe = await startFakeStripe();
  provider = createStripeProvider({
    secretKey: stripe.secretKey,
    apiBase: { protocol: "http", host: "127.0.0.1", port: stripe.port },
    timeoutMs: 2000,
  });
  t = await startTestApp({ paymentProvider: provider, stripeWebhookSecrets: [OLD_SECRET, NEW_SECRET], stripeRefundSink: sink });
});
afterAll(async () => {
  await t.close();
  await stripe.close();
});

const hook = () => `${t.url}/v1/webhooks/stripe`;
const state = async (paymentId: string) =>
  (
    await t.ds.query(
      `SELECT p.status AS payment, p.version AS "paymentVersion", o.status AS "order", o.version AS "orderVersion"
         FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.id = $1`,
      [paymentId],
    )
  )[0] as { payment: string; paymentVersion: number; order: string; orderVersion: number };

async function pendingStripePayment(priceCents = 900, quantity = 2) {
  const product = await createProduct(t, { priceCents, onHand: 10 });
  const c = await createCustomer(t);
  const order = await placeOrder(t, c, [{ sku: product.sku, quantity }]);
  const res = await requestPayment(t, c, order.id);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const intent = stripe.intentFor(res.body.id);
  if (!intent) throw new Error("no PaymentIntent");
  return { product, order, payment: res.body as { id: string; amountCents: number }, intent };
}
const paid = (intent: object & { amount: number }) => ({ ...intent, status: "succeeded", amount_received: intent.amount });

describe("POST /v1/webhooks/stripe", () => {
  it.each([
    ["the current secret", NEW_SECRET],
    ["the previous secret (rotation)", OLD_SECRET],
  ])("when payment_intent.succeeded is signed with %s, then the order is paid, once", async (_name, secret) => {
    const { product, payment, intent } = await pendingStripePayment();
    const sent = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), { secret, id: `evt_ok_${payment.id}` });
    expect(sent).toEqual({ status: 200, body: { received: true, outcome: "processed" } });
    expect(await state(payment.id)).toMatchObject({ payment: "succeeded", order: "paid" });
    expect(await stockOf(t, product.sku)).toEqual({ on_hand: 8, reserved: 0 });

    const again = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), { secret, id: `evt_ok_${payment.id}` });
    expect(again.body).toEqual({ received: true, outcome: "duplicate" });
    const other = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), { secret });
    expect(other.body).toEqual({ received: true, outcome: "duplicate" });
    expect(await stockOf(t, product.sku)).toEqual({ on_hand: 8, reserved: 0 });
  });

  it("when the event is signed with an unknown secret, is stale (301 s), or unsigned, then 401 invalid_signature and nothing changes", async () => {
    const { payment, intent } = await pendingStripePayment();
    const before = await state(payment.id);
    const forged = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), { secret: "whsec_attacker_000000000000" });
    const stale = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), {
      secret: NEW_SECRET,
      timestamp: Math.floor(Date.now() / 1000) - 301,
    });
    const unsigned = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), { secret: NEW_SECRET, signature: null });
    const generic = await stripe.sendEvent(hook(), "payment_intent.succeeded", paid(intent), {
      secret: NEW_SECRET,
      signature: "t=1,v1=00",
    });
    for (const res of [forged, stale, unsigned, generic]) {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: "invalid_signature", status: 401 });
    }
    expect(await state(payment.id)).toEqual(before);
  });

  it("when the signed body is altered after signing, then 401", async () => {
    const { payment, intent } = await pendingStripePayment();
    const payload = JSON.stringify({ id: "evt_x", object: "event", type: "payment_intent.succeeded", data: { object: paid(intent) } });
    const { default: Stripe } = await import("stripe");
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: NEW_SECRET });
    const res = await fetch(hook(), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Stripe-Signature": header },
      body: payload.replace(`"amount_received":${intent.amount}`, `"amount_received":${intent.amount + 1}`),
    });
    expect(res.status).toBe(401);
    expect((await state(payment.id)).payment).toBe("pending");
  });

  it("when amount_received or the currency does not match our payment, then 200 ignored and nothing changes", async () => {
    const { payment, intent } = await pendingStripePayment();
    const before = await state(payment.id);
    const short = await stripe.sendEvent(
      hook(),
      "payment_intent.succeeded",
      { ...paid(intent), amount_received: intent.amount - 1 },
      {
        secret: NEW_SECRET,
      },
    );
    const euros = await stripe.sendEvent(hook(), "payment_intent.succeeded", { ...paid(intent), currency: "eur" }, { secret: NEW_SECRET });
    expect(short.body).toEqual({ received: true, outcome: "ignored" });
    expect(euros.body).toEqual({ received: true, outcome: "ignored" });
    expect(await state(payment.id)).toEqual(before);
  });

  it("when the intent's metadata is missing, then the payment is found by its PaymentIntent id", async () => {
    const { payment, intent } = await pendingStripePayment();
    const sent = await stripe.sendEvent(hook(), "payment_intent.succeeded", { ...paid(intent), metadata: {} }, { secret: NEW_SECRET });
    expect(sent.body).toEqual({ received: true, outcome: "processed" });
    expect((await state(payment.id)).order).toBe("paid");
  });

  it("when the metadata names a payment that has another PaymentIntent, then ignored", async () => {
    const a = await pendingStripePayment();
    const b = await pendingStripePayment();
    const sent = await stripe.sendEvent(
      hook(),
      "payment_intent.succeeded",
      { ...paid(b.intent), metadata: a.intent.metadata },
      {
        secret: NEW_SECRET,
      },
    );
    expect(sent.body).toEqual({ received: true, outcome: "ignored" }); // contradictory: neither a's intent nor b's metadata
    expect((await state(a.payment.id)).payment).toBe("pending");
    expect((await state(b.payment.id)).payment).toBe("pending");
  });

  it.each(["payment_intent.payment_failed", "payment_intent.canceled"])(
    "when %s arrives for a pending payment, then the payment failed and the order is reserved again, stock still held",
    async (type) => {
      const { product, payment, intent } = await pendingStripePayment();
      const sent = await stripe.sendEvent(
        hook(),
        type,
        { ...intent, status: type.endsWith("canceled") ? "canceled" : "requires_payment_method" },
        {
          secret: OLD_SECRET,
        },
      );
      expect(sent.body).toEqual({ received: true, outcome: "processed" });
      expect(await state(payment.id)).toMatchObject({ payment: "failed", order: "reserved" });
      expect(await stockOf(t, product.sku)).toEqual({ on_hand: 10, reserved: 2 });
    },
  );

  it("when an event type we do not act on arrives, then 200 ignored", async () => {
    const { intent } = await pendingStripePayment();
    for (const type of ["payment_intent.created", "customer.created", "charge.succeeded"]) {
      const sent = await stripe.sendEvent(hook(), type, intent, { secret: NEW_SECRET });
      expect(sent).toEqual({ status: 200, body: { received: true, outcome: "ignored" } });
    }
  });

  it("when refund and dispute events arrive, then the sink gets plain inputs with our payment found by its PaymentIntent", async () => {
    const { payment, intent } = await pendingStripePayment();
    sunk.length = 0;
    const ours = { id: "re_ours", object: "refund", amount: 300, currency: "usd", status: "succeeded", payment_intent: intent.id };
    await stripe.sendEvent(
      hook(),
      "refund.updated",
      { ...ours, metadata: { orderlock_refund_id: "6f1d7c2e-1b7a-4f3e-9a4e-2b8f1c0d9e11" } },
      {
        secret: NEW_SECRET,
        id: "evt_re_1",
      },
    );
    await stripe.sendEvent(hook(), "refund.updated", { ...ours, id: "re_dash", metadata: {} }, { secret: NEW_SECRET, id: "evt_re_2" });
    const dp = { id: "dp_1", object: "dispute", amount: 1800, currency: "usd", payment_intent: intent.id, charge: "ch_1" };
    await stripe.sendEvent(hook(), "charge.dispute.funds_withdrawn", dp, { secret: NEW_SECRET, id: "evt_dp_1" });
    await stripe.sendEvent(hook(), "charge.dispute.funds_reinstated", dp, { secret: NEW_SECRET, id: "evt_dp_2" });
    expect(sunk).toEqual([
      {
        method: "settleRefund",
        input: {
          eventId: "evt_re_1",
          refundId: "6f1d7c2e-1b7a-4f3e-9a4e-2b8f1c0d9e11",
          providerRefundId: "re_ours",
          paymentId: payment.id,
          amountCents: 300,
          outcome: "succeeded",
        },
      },
      {
        method: "recordProviderRefund",
        input: {
          eventId: "evt_re_2",
          refundId: null,
          providerRefundId: "re_dash",
          paymentId: payment.id,
          amountCents: 300,
          outcome: "succeeded",
        },
      },
      {
        method: "disputeWithdrawn",
        input: { eventId: "evt_dp_1", disputeId: "dp_1", paymentId: payment.id, providerPaymentId: intent.id, amountCents: 1800 },
      },
      {
        method: "disputeReinstated",
        input: { eventId: "evt_dp_2", disputeId: "dp_1", paymentId: payment.id, providerPaymentId: intent.id, amountCents: 1800 },
      },
    ]);
  });
});
