import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { createPayment, type PaymentBody, placeOrder, requestPayment, stockOf } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const orderStatus = async (id: string) => (await t.ds.query(`SELECT status, version FROM orders WHERE id = $1`, [id]))[0];

describe("POST /v1/orders/:id/payments", () => {
  it("when the owner pays a reserved order, then 201 with a pending payment for the total, and the order is pending_payment", async () => {
    const p = await createProduct(t, { priceCents: 1250, onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 3 }]);
    const res = await requestPayment(t, c, order.id);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/payments/${res.body.id}`);
    expect(res.headers.etag).toBe('"1"');
    expect(res.body).toEqual({
      id: expect.any(String),
      orderId: order.id,
      amountCents: 3750,
      currency: "USD",
      status: "pending",
      provider: "sandbox",
      providerPaymentId: expect.stringMatching(/^sbx_[0-9a-f]{24}$/),
      clientSecret: null,
      refundedCents: 0,
      expiresAt: expect.any(String),
      version: 1,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    // The payment expires PAYMENT_TTL_SECONDS (1800 here) after its creation, and the order's hold moves there.
    expect(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)).toBe(1800_000);
    const shown = await t.http().get(`/v1/orders/${order.id}`).set(c.auth);
    expect(shown.body.reservedUntil).toBe(res.body.expiresAt);
    expect(await orderStatus(order.id)).toEqual({ status: "pending_payment", version: 2 });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 3 }); // still held

    const read = await t.http().get(`/v1/payments/${res.body.id}`).set(c.auth);
    expect(read.status).toBe(200);
    expect(read.headers.etag).toBe('"1"');
    expect(read.body).toEqual(res.body);
  });

  it("when the same Idempotency-Key is sent again, then the same payment is replayed and no second one exists", async () => {
    const p = await createProduct(t);
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const key = uniqueKey();
    const first = await requestPayment(t, c, order.id, key);
    const again = await requestPayment(t, c, order.id, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    const [{ n }] = await t.ds.query(`SELECT count(*)::int AS n FROM payments WHERE order_id = $1`, [order.id]);
    expect(n).toBe(1);
  });

  it("when 20 payment requests with different keys race for one order, then exactly one is created and 19 get 409 invalid_state", async () => {
    const p = await createProduct(t);
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }]);
    const responses = await Promise.all(Array.from({ length: 20 }, () => requestPayment(t, c, order.id)));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    const rejected = responses.filter((r) => r.status === 409);
    expect(rejected).toHaveLength(19);
    expect(rejected.every((r) => r.body.code === "invalid_state")).toBe(true);
    const rows = await t.ds.query(`SELECT status FROM payments WHERE order_id = $1`, [order.id]);
    expect(rows).toEqual([{ status: "pending" }]);
    expect(await orderStatus(order.id)).toEqual({ status: "pending_payment", version: 2 });
  });

  it("when the order is not reserved (pending, cancelled) or its hold is overdue, then 409 invalid_state and nothing is created", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const pending = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    await createPayment(t, c, pending.id);
    const cancelled = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    expect((await t.http().post(`/v1/orders/${cancelled.id}/cancel`).set(c.auth).send({})).status).toBe(200);
    const overdue = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    await t.ds.query(`UPDATE orders SET reserved_until = now() - interval '1 second' WHERE id = $1`, [overdue.id]);

    for (const o of [pending, cancelled, overdue]) {
      const res = await requestPayment(t, c, o.id);
      expect(res.status, o.id).toBe(409);
      expect(res.body.code).toBe("invalid_state");
    }
    const [{ n }] = await t.ds.query(`SELECT count(*)::int AS n FROM payments WHERE order_id = ANY($1::uuid[])`, [
      [pending.id, cancelled.id, overdue.id],
    ]);
    expect(n).toBe(1);
  });

  it("when another customer pays or reads someone's order or payment, then 404; the admin may do both", async () => {
    const p = await createProduct(t);
    const owner = await createCustomer(t);
    const stranger = await createCustomer(t);
    const order = await placeOrder(t, owner, [{ sku: p.sku, quantity: 1 }]);
    const byStranger = await requestPayment(t, stranger, order.id);
    expect(byStranger.status).toBe(404);
    expect(byStranger.body.code).toBe("not_found");

    const byAdmin = await requestPayment(t, { auth: t.admin }, order.id);
    expect(byAdmin.status).toBe(201);
    const payment = byAdmin.body as PaymentBody;
    const [{ customer_id }] = await t.ds.query(`SELECT customer_id FROM payments WHERE id = $1`, [payment.id]);
    expect(customer_id).toBe(owner.id); // the order's customer, not "admin"

    expect((await t.http().get(`/v1/payments/${payment.id}`).set(stranger.auth)).status).toBe(404);
    expect((await t.http().get(`/v1/payments/${payment.id}`).set(owner.auth)).status).toBe(200);
    expect((await t.http().get(`/v1/payments/${payment.id}`).set(t.admin)).status).toBe(200);
  });

  it("when ids are not UUIDs, the key is missing, the body has members or there is no API key, then 404, 400, 422 and 401", async () => {
    const p = await createProduct(t);
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    expect((await t.http().get(`/v1/payments/not-a-uuid`).set(c.auth)).status).toBe(404);
    expect((await requestPayment(t, c, "not-a-uuid")).status).toBe(404);
    expect((await t.http().get(`/v1/payments/00000000-0000-4000-8000-000000000000`).set(c.auth)).status).toBe(404);

    const noKey = await t.http().post(`/v1/orders/${order.id}/payments`).set(c.auth).send({});
    expect(noKey.status).toBe(400);
    expect(noKey.body.code).toBe("idempotency_key_missing");
    const withAmount = await t
      .http()
      .post(`/v1/orders/${order.id}/payments`)
      .set(c.auth)
      .set("Idempotency-Key", uniqueKey())
      .send({ amountCents: 1 });
    expect(withAmount.status).toBe(422);
    expect((await t.http().post(`/v1/orders/${order.id}/payments`).set("Idempotency-Key", uniqueKey()).send({})).status).toBe(401);
    expect(await orderStatus(order.id)).toEqual({ status: "reserved", version: 1 });
  });
});
