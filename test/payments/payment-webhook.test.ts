import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/payments/webhook-signature.js";
import { createCustomer, createProduct } from "../support/factories.js";
import {
  createPayment,
  deliver,
  deliverExpecting,
  failureEvent,
  newEventId,
  placeOrder,
  purchases,
  reconciliation,
  stockOf,
  successEvent,
} from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const paymentRow = async (id: string) =>
  (await t.ds.query(`SELECT status, version, succeeded_at IS NOT NULL AS has_succeeded_at FROM payments WHERE id = $1`, [id]))[0];
const orderRow = async (id: string) =>
  (await t.ds.query(`SELECT status, version, reserved_until FROM orders WHERE id = $1`, [id]))[0] as {
    status: string;
    version: number;
    reserved_until: Date | null;
  };
const eventRows = async (paymentId: string) =>
  (await t.ds.query(`SELECT event_id, type, outcome FROM payment_events WHERE payment_id = $1 ORDER BY received_at, event_id`, [
    paymentId,
  ])) as {
    event_id: string;
    type: string;
    outcome: string;
  }[];
const countedRows = async (paymentId: string) =>
  (await t.ds.query(`SELECT count(*)::int AS n FROM counted_payments WHERE payment_id = $1`, [paymentId]))[0].n as number;

async function pendingPayment(quantity = 2, priceCents = 1500) {
  const p = await createProduct(t, { priceCents, onHand: 10 });
  const c = await createCustomer(t);
  const order = await placeOrder(t, c, [{ sku: p.sku, quantity }]);
  const payment = await createPayment(t, c, order.id);
  return { p, c, order, payment };
}

describe("POST /v1/webhooks/payments: payment.succeeded", () => {
  it("when a success arrives for a pending payment, then payment succeeded, order paid, stock sold and counters moved once", async () => {
    const { p, order, payment } = await pendingPayment(3, 1500);
    const before = await purchases(t);
    const event = successEvent(payment);
    await deliverExpecting(t, event, "processed");

    expect(await paymentRow(payment.id)).toEqual({ status: "succeeded", version: 2, has_succeeded_at: true });
    expect(await orderRow(order.id)).toMatchObject({ status: "paid", version: 3, reserved_until: null });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 7, reserved: 0 });
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(1);
    expect(after.totals.revenueCents - before.totals.revenueCents).toBe(4500);
    expect(after.totals.uniqueCustomers - before.totals.uniqueCustomers).toBe(1);
    expect(await reconciliation(t)).toMatchObject({ drift: { purchases: 0, revenueCents: 0 }, ok: true });

    const read = await t.http().get(`/v1/payments/${payment.id}`).set(t.admin);
    expect(read.body).toMatchObject({ status: "succeeded", version: 2 });
    expect(read.headers.etag).toBe('"2"');
  });

  it("when the same event is redelivered, or another success event arrives for the succeeded payment, then duplicate and nothing changes", async () => {
    const { p, order, payment } = await pendingPayment(1, 900);
    const first = successEvent(payment);
    await deliverExpecting(t, first, "processed");
    const before = await purchases(t);

    await deliverExpecting(t, first, "duplicate");
    const second = successEvent(payment);
    await deliverExpecting(t, second, "duplicate");
    await deliverExpecting(t, second, "duplicate");

    expect(await paymentRow(payment.id)).toMatchObject({ status: "succeeded", version: 2 });
    expect(await orderRow(order.id)).toMatchObject({ status: "paid", version: 3 });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 9, reserved: 0 });
    expect(await purchases(t)).toEqual(before);
    expect(await countedRows(payment.id)).toBe(1);
    // Every distinct event id is on record once, with what it did.
    expect((await eventRows(payment.id)).map((e) => [e.event_id, e.outcome]).sort()).toEqual(
      [
        [first.id, "processed"],
        [second.id, "duplicate"],
      ].sort(),
    );
  });

  it("when the payment is unknown or the amount does not match, then ignored, recorded, and nothing changes", async () => {
    const { p, order, payment } = await pendingPayment(2, 1000);
    const before = await purchases(t);
    const unknown = successEvent({ id: "00000000-0000-4000-8000-000000000001", amountCents: 2000 });
    await deliverExpecting(t, unknown, "ignored");
    await deliverExpecting(t, successEvent({ id: "pay_not_ours", amountCents: 2000 }), "ignored");
    const wrongAmount = successEvent({ id: payment.id, amountCents: 1999 });
    await deliverExpecting(t, wrongAmount, "ignored");
    await deliverExpecting(t, wrongAmount, "duplicate"); // the event id is on record now

    expect(await paymentRow(payment.id)).toMatchObject({ status: "pending", version: 1 });
    expect(await orderRow(order.id)).toMatchObject({ status: "pending_payment", version: 2 });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 2 });
    expect(await purchases(t)).toEqual(before);
    expect(await eventRows(payment.id)).toEqual([{ event_id: wrongAmount.id, type: "payment.succeeded", outcome: "ignored" }]);
    const [{ outcome }] = await t.ds.query(`SELECT outcome FROM payment_events WHERE event_id = $1`, [unknown.id]);
    expect(outcome).toBe("ignored");

    // The right amount still goes through afterwards.
    await deliverExpecting(t, successEvent(payment), "processed");
  });
});

describe("POST /v1/webhooks/payments: signatures", () => {
  it("when a webhook is forged, unsigned, stale, from the future, tampered or malformed, then 401 invalid_signature and nothing changes", async () => {
    const { p, order, payment } = await pendingPayment(1, 700);
    const event = successEvent(payment);
    const raw = JSON.stringify(event);
    const now = Math.floor(Date.now() / 1000);
    const good = signWebhook(WEBHOOK_SECRET, raw, now);
    const cases: [string, Promise<{ status: number; body: { code?: string } }>][] = [
      ["forged (other secret)", deliver(t, event, { secret: "whsec_someone_else_0123456789" })],
      ["unsigned", deliver(t, event, { signature: null })],
      ["empty header", deliver(t, event, { signature: "" })],
      ["stale (301 s old)", deliver(t, event, { atSeconds: now - 301 })],
      ["stale (a day old)", deliver(t, event, { atSeconds: now - 86_400 })],
      ["from the future (301 s ahead)", deliver(t, event, { atSeconds: now + 301 })],
      ["tampered amount", deliver(t, { ...event, data: { ...event.data, amountCents: 1 } }, { signature: good })],
      ["signature of another timestamp", deliver(t, event, { signature: good.replace(`t=${now}`, `t=${now - 1}`) })],
      ["no timestamp", deliver(t, event, { signature: good.replace(/^t=\d+,/, "") })],
      ["no v1", deliver(t, event, { signature: `t=${now}` })],
      ["v1 not hex", deliver(t, event, { signature: `t=${now},v1=${"z".repeat(64)}` })],
      ["v1 truncated", deliver(t, event, { signature: good.slice(0, -2) })],
      ["v0 scheme only", deliver(t, event, { signature: good.replace("v1=", "v0=") })],
      ["garbage", deliver(t, event, { signature: "hello" })],
    ];
    for (const [name, pending] of cases) {
      const res = await pending;
      expect(res.status, name).toBe(401);
      expect(res.body.code, name).toBe("invalid_signature");
    }
    expect(await paymentRow(payment.id)).toMatchObject({ status: "pending", version: 1 });
    expect(await orderRow(order.id)).toMatchObject({ status: "pending_payment", version: 2 });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 1 });
    const [{ n }] = await t.ds.query(`SELECT count(*)::int AS n FROM payment_events WHERE event_id = $1`, [event.id]);
    expect(n).toBe(0);

    const metrics = await t.http().get("/metrics");
    expect(metrics.text).toMatch(/orderlock_webhook_events_total\{outcome="invalid_signature"\} (\d+)/);
    expect(Number(/orderlock_webhook_events_total\{outcome="invalid_signature"\} (\d+)/.exec(metrics.text)![1])).toBeGreaterThanOrEqual(
      cases.length,
    );

    // The genuine delivery, signed 290 s ago (inside the tolerance), and with a second v1 for a rotated secret, is accepted.
    const rotated = `${signWebhook(WEBHOOK_SECRET, raw, now - 290)},v1=${"0".repeat(64)}`;
    const res = await deliver(t, event, { signature: rotated });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, outcome: "processed" });
  });

  it("when a correctly signed body fails validation, then 422 and nothing is recorded", async () => {
    const { payment } = await pendingPayment();
    for (const body of [
      {},
      { id: newEventId(), type: "payment.refunded", data: { paymentId: payment.id, amountCents: payment.amountCents } },
      { id: newEventId(), type: "payment.succeeded", data: { paymentId: payment.id } },
      { id: newEventId(), type: "payment.succeeded", data: { paymentId: payment.id, amountCents: -1 } },
      { id: newEventId(), type: "payment.succeeded", data: { paymentId: payment.id, amountCents: 1.5 } },
      { id: "", type: "payment.succeeded", data: { paymentId: payment.id, amountCents: payment.amountCents } },
      { id: "x".repeat(256), type: "payment.succeeded", data: { paymentId: payment.id, amountCents: payment.amountCents } },
    ]) {
      const res = await deliver(t, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(res.body.code).toBe("validation_failed");
    }
    expect(await paymentRow(payment.id)).toMatchObject({ status: "pending", version: 1 });
    expect(await eventRows(payment.id)).toEqual([]);
  });

  it("when the webhook gets a non-JSON or malformed body, then 415 or 400, never 500", async () => {
    const raw = "not json";
    const sig = signWebhook(WEBHOOK_SECRET, raw);
    const text = await t.http().post("/v1/webhooks/payments").set("Content-Type", "text/plain").set("Payment-Signature", sig).send(raw);
    expect(text.status).toBe(415);
    const broken = await t
      .http()
      .post("/v1/webhooks/payments")
      .set("Content-Type", "application/json")
      .set("Payment-Signature", sig)
      .send(raw);
    expect(broken.status).toBe(400);
  });
});

describe("POST /v1/webhooks/payments: payment.failed", () => {
  it("when a payment fails, then the order is reserved again with a fresh hold and the stock stays held; a new payment can then succeed", async () => {
    const { p, c, order, payment } = await pendingPayment(4, 500);
    // Age the hold, so "fresh" is visible.
    await t.ds.query(`UPDATE orders SET reserved_until = now() + interval '10 seconds' WHERE id = $1`, [order.id]);
    const before = await purchases(t);

    await deliverExpecting(t, failureEvent(payment), "processed");
    expect(await paymentRow(payment.id)).toEqual({ status: "failed", version: 2, has_succeeded_at: false });
    const reserved = await orderRow(order.id);
    expect(reserved.status).toBe("reserved");
    expect(reserved.reserved_until!.getTime()).toBeGreaterThan(Date.now() + 800_000); // a fresh 900 s hold
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 4 });
    await deliverExpecting(t, failureEvent(payment), "duplicate");

    const retry = await createPayment(t, c, order.id);
    expect(retry.id).not.toBe(payment.id);
    expect(retry.amountCents).toBe(2000);
    await deliverExpecting(t, successEvent(retry), "processed");
    expect(await orderRow(order.id)).toMatchObject({ status: "paid", reserved_until: null });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 6, reserved: 0 });
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(1);
    expect(after.totals.revenueCents - before.totals.revenueCents).toBe(2000);
    const statuses = await t.ds.query(`SELECT status FROM payments WHERE order_id = $1 ORDER BY created_at`, [order.id]);
    expect(statuses).toEqual([{ status: "failed" }, { status: "succeeded" }]);
  });

  it("when a success signal arrives after payment.failed, then the failed payment stays failed, nothing moves, and it is refunded in full (late_success)", async () => {
    // API.md: a success for a failed (or expired) payment never moves stock,
    // counters or the order; the service refunds it on its own and answers
    // `processed`; a repeat is `duplicate`.
    const { p, c, order, payment } = await pendingPayment(2, 1200);
    const before = await purchases(t);
    await deliverExpecting(t, failureEvent(payment), "processed");

    // With the order back in `reserved` and no new payment yet.
    const lateSuccess = successEvent(payment);
    await deliverExpecting(t, lateSuccess, "processed");
    expect(await paymentRow(payment.id)).toMatchObject({ status: "failed", version: 2 });
    expect(await orderRow(order.id)).toMatchObject({ status: "reserved", version: 3 });
    const refunds = await t.ds.query(`SELECT reason, amount_cents, status FROM refunds WHERE payment_id = $1`, [payment.id]);
    expect(refunds).toEqual([{ reason: "late_success", amount_cents: payment.amountCents, status: "pending" }]);

    // And with a new payment pending for the same order.
    const second = await createPayment(t, c, order.id);
    await deliverExpecting(t, successEvent(payment), "duplicate");
    await deliverExpecting(t, lateSuccess, "duplicate");
    expect(await paymentRow(payment.id)).toMatchObject({ status: "failed", version: 2 });
    expect(await paymentRow(second.id)).toMatchObject({ status: "pending", version: 1 });
    expect(await orderRow(order.id)).toMatchObject({ status: "pending_payment", version: 4 });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 2 });
    expect(await purchases(t)).toEqual(before);
    expect(await countedRows(payment.id)).toBe(0);

    // The order is paid by its own current payment, and only once.
    await deliverExpecting(t, successEvent(second), "processed");
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(1);
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 8, reserved: 0 });
  });

  it("when a failure signal arrives after success, then it is ignored and the order stays paid", async () => {
    const { p, order, payment } = await pendingPayment(1, 300);
    await deliverExpecting(t, successEvent(payment), "processed");
    await deliverExpecting(t, failureEvent(payment), "ignored");
    expect(await paymentRow(payment.id)).toMatchObject({ status: "succeeded", version: 2 });
    expect(await orderRow(order.id)).toMatchObject({ status: "paid" });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 9, reserved: 0 });
  });
});
