import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { recordProviderRefund } from "../../src/refunds/record-provider-refund.js";
import { settleDisputeSignal } from "../../src/refunds/settle-dispute-signal.js";
import { settleRefundSignal } from "../../src/refunds/settle-refund-signal.js";
import { submitOwedRefunds } from "../../src/refunds/submit-owed-refunds.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { createPayment, eventually, placeOrder, purchases, reconciliation, stockOf } from "../support/payment-factories.js";
import { createRefund, deliverOutcome, paidPayment, postRefund, type RefundBody, refundEvent, row } from "../support/refund-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const paymentOf = (id: string) =>
  row<{ status: string; refunded_cents: number; refund_claimed_cents: number; version: number }>(
    t,
    `SELECT status, refunded_cents, refund_claimed_cents, version FROM payments WHERE id = $1`,
    [id],
  );
const orderOf = (id: string) =>
  row<{ status: string; refunded_cents: number; version: number }>(t, `SELECT status, refunded_cents, version FROM orders WHERE id = $1`, [
    id,
  ]);

describe("POST /v1/payments/:id/refunds", () => {
  it("when the admin refunds without an Idempotency-Key, then 400 idempotency_key_missing and nothing is created", async () => {
    const { payment } = await paidPayment(t);
    const res = await postRefund(t, payment.id, { reason: "x" }, null);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("idempotency_key_missing");
    expect((await row<{ n: number }>(t, `SELECT count(*)::int AS n FROM refunds WHERE payment_id = $1`, [payment.id])).n).toBe(0);
  });

  it("when a customer asks, then 403; an unknown payment is 404", async () => {
    const { payment, c } = await paidPayment(t);
    const res = await t.http().post(`/v1/payments/${payment.id}/refunds`).set(c.auth).set("Idempotency-Key", "k1").send({ reason: "x" });
    expect(res.status).toBe(403);
    const missing = await postRefund(t, "00000000-0000-4000-8000-000000000000", { reason: "x" });
    expect(missing.status).toBe(404);
  });

  it("when the payment is still pending, then 409 invalid_state", async () => {
    const p = await createProduct(t);
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const payment = await createPayment(t, c, order.id);
    const res = await postRefund(t, payment.id, { reason: "x" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("invalid_state");
  });

  it("when no amount is given, then the whole refundable amount is refunded, pending, and a second refund is 409 with refundableCents 0", async () => {
    const { payment } = await paidPayment(t, 2, 1500);
    const refund = await createRefund(t, payment.id, { reason: "customer asked" });
    expect(refund).toMatchObject({
      paymentId: payment.id,
      amountCents: 3000,
      status: "pending",
      reason: "customer asked",
      lines: [],
      version: 1,
    });
    const again = await postRefund(t, payment.id, { reason: "again", amountCents: 1 });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "refund_exceeds_payment", refundableCents: 0 });
    const res = await t.http().get(`/v1/refunds/${refund.id}`).set(t.admin);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(/^"\d+"$/);
    const list = await t.http().get(`/v1/payments/${payment.id}/refunds`).set(t.admin);
    expect(list.body.items.map((r: RefundBody) => r.id)).toEqual([refund.id]);
    expect(list.body.nextCursor).toBeNull();
  });

  it("when lines name a SKU not in the order or more than remains restockable, then 422 validation_failed", async () => {
    const { payment, p } = await paidPayment(t, 2);
    const unknown = await postRefund(t, payment.id, {
      reason: "x",
      amountCents: 100,
      lines: [{ sku: "NOPE-1", quantity: 1, restock: true }],
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors[0].path).toBe("lines.0.sku");
    await createRefund(t, payment.id, { reason: "one back", amountCents: 100, lines: [{ sku: p.sku, quantity: 1, restock: true }] });
    const tooMany = await postRefund(t, payment.id, { reason: "x", amountCents: 100, lines: [{ sku: p.sku, quantity: 2, restock: true }] });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.errors[0].path).toBe("lines.0.quantity");
  });

  it("when the provider confirms, then payment and order refundedCents grow, the order is refunded when whole, stock is restocked and counters take one compensating entry", async () => {
    const { payment, order, p } = await paidPayment(t, 2, 1500);
    const before = await purchases(t);
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 8, reserved: 0 });
    const productVersion = (await row<{ version: number }>(t, `SELECT version FROM products WHERE sku = $1`, [p.sku])).version;

    const first = await createRefund(t, payment.id, {
      reason: "one back",
      amountCents: 1000,
      lines: [{ sku: p.sku, quantity: 1, restock: true }],
    });
    expect(await deliverOutcome(t, refundEvent(first, "succeeded"))).toBe("processed");
    expect(await deliverOutcome(t, refundEvent(first, "succeeded"))).toBe("duplicate");
    expect(await deliverOutcome(t, refundEvent(first, "failed"))).toBe("duplicate");
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 9, reserved: 0 });
    expect((await row<{ version: number }>(t, `SELECT version FROM products WHERE sku = $1`, [p.sku])).version).toBe(productVersion + 1);
    expect(await paymentOf(payment.id)).toMatchObject({ status: "succeeded", refunded_cents: 1000, refund_claimed_cents: 1000 });
    expect(await orderOf(order.id)).toMatchObject({ status: "paid", refunded_cents: 1000 });

    const rest = await createRefund(t, payment.id, { reason: "the rest" });
    expect(rest.amountCents).toBe(2000);
    expect(await deliverOutcome(t, refundEvent(rest, "succeeded"))).toBe("processed");
    expect(await orderOf(order.id)).toMatchObject({ status: "refunded", refunded_cents: 3000 });
    expect(await paymentOf(payment.id)).toMatchObject({ status: "succeeded", refunded_cents: 3000 });

    const after = await purchases(t);
    expect(after.totals.refunds - before.totals.refunds).toBe(2);
    expect(after.totals.refundedCents - before.totals.refundedCents).toBe(3000);
    expect(after.totals.netRevenueCents).toBe(after.totals.revenueCents - after.totals.refundedCents);
    const rec = await reconciliation(t);
    expect(rec.ok).toBe(true);

    const order2 = await t.http().get(`/v1/orders/${order.id}`).set(t.admin);
    expect(order2.body).toMatchObject({ status: "refunded", refundedCents: 3000 });
    const types = await t.ds.query(`SELECT type FROM events WHERE resource_id = ANY($1::uuid[]) ORDER BY position, seq`, [
      [first.id, rest.id, order.id],
    ]);
    expect(types.map((e: { type: string }) => e.type).filter((x: string) => x.startsWith("refund") || x === "order.refunded")).toEqual([
      "refund.succeeded",
      "refund.succeeded",
      "order.refunded",
    ]);
    const feed = await t.http().get(`/v1/events?type=refund.succeeded&limit=100`).set(t.admin);
    expect(feed.status).toBe(200);
    expect(feed.body.items.some((e: { data: { object: { id: string } } }) => e.data.object.id === first.id)).toBe(true);
  });

  it("when the provider fails a refund, then its amount is refundable again and counters do not move", async () => {
    const { payment } = await paidPayment(t, 1, 2000);
    const before = await purchases(t);
    const refund = await createRefund(t, payment.id, { reason: "x" });
    expect((await postRefund(t, payment.id, { reason: "y", amountCents: 1 })).body.refundableCents).toBe(0);
    expect(await deliverOutcome(t, refundEvent(refund, "failed"))).toBe("processed");
    expect(await deliverOutcome(t, refundEvent(refund, "succeeded"))).toBe("duplicate");
    expect(await paymentOf(payment.id)).toMatchObject({ refunded_cents: 0, refund_claimed_cents: 0 });
    const again = await createRefund(t, payment.id, { reason: "again" });
    expect(again.amountCents).toBe(2000);
    const after = await purchases(t);
    expect(after.totals.refunds).toBe(before.totals.refunds);
    expect((await t.http().get(`/v1/refunds/${refund.id}`).set(t.admin)).body.status).toBe("failed");
  });

  it("when 10 partial refunds race and their sum exceeds the payment, then the accepted ones sum to at most its amount and the rest are 409 refund_exceeds_payment", async () => {
    const { payment } = await paidPayment(t, 1, 5000);
    const results = await Promise.all(Array.from({ length: 10 }, () => postRefund(t, payment.id, { reason: "race", amountCents: 700 })));
    const accepted = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409);
    expect(accepted.length + refused.length).toBe(10);
    expect(accepted.length).toBe(7); // 7 × 700 = 4900 ≤ 5000 < 8 × 700
    for (const r of refused) expect(r.body).toMatchObject({ code: "refund_exceeds_payment", refundableCents: 100 });
    const sum = await row<{ s: number }>(t, `SELECT coalesce(sum(amount_cents), 0)::bigint AS s FROM refunds WHERE payment_id = $1`, [
      payment.id,
    ]);
    expect(sum.s).toBe(4900);
    expect(await paymentOf(payment.id)).toMatchObject({ refund_claimed_cents: 4900 });
  });

  it("when a refund request is replayed with its key, then the same answer comes back and no second refund exists", async () => {
    const { payment } = await paidPayment(t, 1, 5000);
    const first = await postRefund(t, payment.id, { reason: "once", amountCents: 100 }, "refund-key-1");
    const second = await postRefund(t, payment.id, { reason: "once", amountCents: 100 }, "refund-key-1");
    expect(second.status).toBe(201);
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(second.body).toEqual(first.body);
    expect((await row<{ n: number }>(t, `SELECT count(*)::int AS n FROM refunds WHERE payment_id = $1`, [payment.id])).n).toBe(1);
  });

  it("when a refund is created, then the provider is asked after commit and its id recorded", async () => {
    const { payment } = await paidPayment(t);
    const refund = await createRefund(t, payment.id, { reason: "x", amountCents: 10 });
    for (let i = 0; i < 100; i++) {
      const r = await row<{ provider_refund_id: string | null }>(t, `SELECT provider_refund_id FROM refunds WHERE id = $1`, [refund.id]);
      if (r.provider_refund_id) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const res = await t.http().get(`/v1/refunds/${refund.id}`).set(t.admin);
    expect(res.body.providerRefundId).toBe(`sbx_re_${refund.id.replaceAll("-", "")}`);
  });
});

describe("use cases the Stripe adapter calls", () => {
  it("when the provider reports a refund made in its dashboard, then it becomes a succeeded refund here without restock, once, within what is refundable", async () => {
    const { payment, order, p } = await paidPayment(t, 2, 1500);
    const before = await purchases(t);
    const stock = await stockOf(t, p.sku);
    const first = await recordProviderRefund(t.ds, {
      eventId: "evt_dash_1",
      paymentId: payment.id,
      providerRefundId: "re_dash_1",
      amountCents: 500,
    });
    expect(first).toMatchObject({ outcome: "processed", counted: true });
    // Another event about the same provider refund, and the same event again.
    expect(
      (await recordProviderRefund(t.ds, { eventId: "evt_dash_2", paymentId: payment.id, providerRefundId: "re_dash_1", amountCents: 500 }))
        .outcome,
    ).toBe("duplicate");
    expect(
      (await recordProviderRefund(t.ds, { eventId: "evt_dash_1", paymentId: payment.id, providerRefundId: "re_dash_1", amountCents: 500 }))
        .outcome,
    ).toBe("duplicate");
    // By the provider's id, as a refund.updated would name it.
    expect(
      (await settleRefundSignal(t.ds, { eventId: "evt_dash_3", providerRefundId: "re_dash_1", outcome: "succeeded", amountCents: 500 }))
        .outcome,
    ).toBe("duplicate");
    const tooMuch = await recordProviderRefund(t.ds, {
      eventId: "evt_dash_4",
      paymentId: payment.id,
      providerRefundId: "re_dash_2",
      amountCents: 2501,
    });
    expect(tooMuch.outcome).toBe("ignored");
    expect(await stockOf(t, p.sku)).toEqual(stock);
    expect(await orderOf(order.id)).toMatchObject({ status: "paid", refunded_cents: 500 });
    const after = await purchases(t);
    expect(after.totals.refunds - before.totals.refunds).toBe(1);
    expect(after.totals.refundedCents - before.totals.refundedCents).toBe(500);
    const list = await t.http().get(`/v1/payments/${payment.id}/refunds`).set(t.admin);
    expect(list.body.items).toEqual([expect.objectContaining({ providerRefundId: "re_dash_1", status: "succeeded", lines: [] })]);
  });

  it("when a dispute signal arrives through settleDisputeSignal, then it is a succeeded dispute refund, and a reinstatement reverses it once", async () => {
    const { payment } = await paidPayment(t, 1, 1500);
    const before = await purchases(t);
    expect(
      (
        await settleDisputeSignal(t.ds, {
          eventId: "evt_dp_1",
          paymentId: payment.id,
          disputeId: "dp_1",
          kind: "funds_withdrawn",
          amountCents: 1500,
        })
      ).outcome,
    ).toBe("processed");
    expect(
      (
        await settleDisputeSignal(t.ds, {
          eventId: "evt_dp_2",
          paymentId: payment.id,
          disputeId: "dp_1",
          kind: "funds_reinstated",
          amountCents: 1500,
        })
      ).outcome,
    ).toBe("processed");
    expect(
      (
        await settleDisputeSignal(t.ds, {
          eventId: "evt_dp_3",
          paymentId: payment.id,
          disputeId: "dp_1",
          kind: "funds_reinstated",
          amountCents: 1500,
        })
      ).outcome,
    ).toBe("duplicate");
    const after = await purchases(t);
    expect(after.totals.refunds).toBe(before.totals.refunds);
    expect(after.totals.refundedCents).toBe(before.totals.refundedCents);
    expect((await reconciliation(t)).ok).toBe(true);
  });
});

describe("the provider's side", () => {
  it("when the sandbox is asked to succeed a refund, then its signed webhook settles it once, duplicates included", async () => {
    const { payment, p } = await paidPayment(t, 2, 1500);
    const refund = await createRefund(t, payment.id, {
      reason: "sandbox",
      amountCents: 1500,
      lines: [{ sku: p.sku, quantity: 1, restock: true }],
    });
    const res = await t.http().post(`/v1/sandbox/refunds/${refund.id}/succeed`).set(t.admin).send({ duplicates: 3 });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ refundId: refund.id, type: "refund.succeeded", deliveries: 4 });
    await eventually(async () => expect((await t.http().get(`/v1/refunds/${refund.id}`).set(t.admin)).body.status).toBe("succeeded"));
    await new Promise((r) => setTimeout(r, 300)); // let the duplicates land
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 9, reserved: 0 });
    expect(await paymentOf(payment.id)).toMatchObject({ refunded_cents: 1500 });
    const fail = await t.http().post(`/v1/sandbox/refunds/00000000-0000-4000-8000-000000000000/fail`).set(t.admin).send({});
    expect(fail.status).toBe(404);
  });

  it("when the provider call after COMMIT fails, then the sweeper requests the refund again with the same key and records the provider's id", async () => {
    const { payment } = await paidPayment(t);
    const refund = await createRefund(t, payment.id, { reason: "x", amountCents: 10 });
    // Let the route's own call land, then put the refund back as if the process had crashed before
    // it: the recovery point (the pending refund) is committed, the provider's id is not.
    await eventually(async () =>
      expect(
        (await row<{ provider_refund_id: string | null }>(t, `SELECT provider_refund_id FROM refunds WHERE id = $1`, [refund.id]))
          .provider_refund_id,
      ).not.toBeNull(),
    );
    await t.ds.query(`UPDATE refunds SET provider_refund_id = NULL WHERE id = $1`, [refund.id]);
    const keys: string[] = [];
    let down = true;
    const provider: PaymentProvider = {
      name: "sandbox",
      createPayment: async (p) => ({ providerPaymentId: p.paymentId, clientSecret: null }),
      cancelPayment: async () => {},
      requestRefund: async (r) => {
        keys.push(r.refundId);
        if (down) throw new Error("provider down");
        return { providerRefundId: `re_${r.refundId}` };
      },
    };
    const logger = pino({ level: "silent" });
    await submitOwedRefunds(t.ds, provider, logger, 0);
    expect(await row(t, `SELECT provider_refund_id FROM refunds WHERE id = $1`, [refund.id])).toEqual({ provider_refund_id: null });
    down = false;
    await submitOwedRefunds(t.ds, provider, logger, 0);
    expect(await row(t, `SELECT provider_refund_id FROM refunds WHERE id = $1`, [refund.id])).toEqual({
      provider_refund_id: `re_${refund.id}`,
    });
    expect(keys.filter((k) => k === refund.id)).toHaveLength(2);
    await submitOwedRefunds(t.ds, provider, logger, 0);
    expect(keys.filter((k) => k === refund.id)).toHaveLength(2); // recorded: never asked again
  });
});
