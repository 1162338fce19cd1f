import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireReservations } from "../../src/orders/expire-reservations.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import {
  createPayment,
  deliver,
  deliverExpecting,
  failureEvent,
  type PaymentBody,
  placeOrder,
  purchases,
  reconciliation,
  shuffle,
  stockOf,
  successEvent,
} from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const orderRow = async (id: string) =>
  (await t.ds.query(`SELECT status, reserved_until FROM orders WHERE id = $1`, [id]))[0] as { status: string; reserved_until: Date | null };
const jitter = () => new Promise((r) => setTimeout(r, Math.random() * 10));
const cancel = (c: { auth: Record<string, string> }, orderId: string) => t.http().post(`/v1/orders/${orderId}/cancel`).set(c.auth).send({});

describe("payments racing cancels and expiry", () => {
  it("when 10 cancels race 10 success deliveries for an order with a pending payment, then every cancel gets 409 invalid_state and the order is paid once", async () => {
    const p = await createProduct(t, { priceCents: 400, onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 4 }]);
    const payment = await createPayment(t, c, order.id);
    const before = await purchases(t);

    const event = successEvent(payment);
    const requests = shuffle([
      ...Array.from({ length: 10 }, () => ({ kind: "cancel", send: () => cancel(c, order.id) })),
      ...Array.from({ length: 5 }, () => ({ kind: "hook", send: () => deliver(t, event) })),
      ...Array.from({ length: 5 }, () => ({ kind: "hook", send: () => deliver(t, successEvent(payment)) })),
    ]);
    const responses = await Promise.all(requests.map(async (r) => ({ kind: r.kind, res: await r.send() })));
    const cancels = responses.filter((r) => r.kind === "cancel").map((r) => r.res);
    const hooks = responses.filter((r) => r.kind === "hook").map((r) => r.res);
    expect(cancels.map((r) => [r.status, r.body.code])).toEqual(Array.from({ length: 10 }, () => [409, "invalid_state"]));
    expect(hooks.map((r) => r.body.outcome).sort()).toEqual([...Array.from({ length: 9 }, () => "duplicate"), "processed"]);

    expect((await orderRow(order.id)).status).toBe("paid");
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 6, reserved: 0 });
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(1);
  });

  it("when, for 20 reserved orders, a cancel races paying-then-succeeding, then each order ends either cancelled or paid, never both, and stock adds up", async () => {
    const p = await createProduct(t, { priceCents: 100, onHand: 200 });
    const c = await createCustomer(t);
    const orders = [];
    for (let i = 0; i < 20; i++) orders.push(await placeOrder(t, c, [{ sku: p.sku, quantity: 1 + (i % 3) }]));
    const before = await purchases(t);

    const payThenSucceed = async (orderId: string) => {
      const res = await t.http().post(`/v1/orders/${orderId}/payments`).set(c.auth).set("Idempotency-Key", uniqueKey()).send({});
      if (res.status !== 201) return { status: res.status, code: res.body.code as string };
      const outcome = (await deliver(t, successEvent(res.body as PaymentBody))).body.outcome as string;
      return { status: 201, outcome };
    };
    const results = await Promise.all(
      orders.map(async (o) => {
        // A random head start for either side, so both win some of the races.
        const [cancelled, paid] = await Promise.all([jitter().then(() => cancel(c, o.id)), jitter().then(() => payThenSucceed(o.id))]);
        return { order: o, cancel: { status: cancelled.status, code: cancelled.body.code as string | undefined }, pay: paid };
      }),
    );

    let paidUnits = 0;
    let paidCount = 0;
    for (const r of results) {
      const status = (await orderRow(r.order.id)).status;
      const payments = (await t.ds.query(`SELECT status FROM payments WHERE order_id = $1`, [r.order.id])) as { status: string }[];
      if (r.cancel.status === 200) {
        // The cancel won: the payment was refused and nothing was paid.
        expect(r.pay).toEqual({ status: 409, code: "invalid_state" });
        expect(status).toBe("cancelled");
        expect(payments).toEqual([]);
      } else {
        // The payment won: the cancel was refused and the success went through.
        expect(r.cancel).toEqual({ status: 409, code: "invalid_state" });
        expect(r.pay).toEqual({ status: 201, outcome: "processed" });
        expect(status).toBe("paid");
        expect(payments).toEqual([{ status: "succeeded" }]);
        paidUnits += r.order.lines[0].quantity;
        paidCount++;
      }
    }
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 200 - paidUnits, reserved: 0 });
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(paidCount);
    expect(after.totals.revenueCents - before.totals.revenueCents).toBe(paidUnits * 100);
    expect((await reconciliation(t)).ok).toBe(true);
  });

  it("when a pending payment's order is past its hold, then the reservation sweeper does not expire it (only the payment's own expiry does), and its success still pays it", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 3 }]);
    const payment = await createPayment(t, c, order.id);
    await t.ds.query(`UPDATE orders SET reserved_until = now() - interval '1 hour' WHERE id = $1`, [order.id]);

    await Promise.all([expireReservations(t.ds), expireReservations(t.ds)]);
    // (A read shows such an order as expired: its hold is its payment's expiresAt, API.md; see expire-payments.test.ts.)
    expect((await orderRow(order.id)).status).toBe("pending_payment");
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 3 });

    await deliverExpecting(t, successEvent(payment), "processed");
    expect((await orderRow(order.id)).status).toBe("paid");
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 7, reserved: 0 });
  });

  it("when a payment fails long after its order's original hold ran out, then the order gets a fresh hold the sweeper does not take", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }]);
    const payment = await createPayment(t, c, order.id);
    await t.ds.query(`UPDATE orders SET reserved_until = now() - interval '1 hour' WHERE id = $1`, [order.id]);

    await deliverExpecting(t, failureEvent(payment), "processed");
    await expireReservations(t.ds);
    const row = await orderRow(order.id);
    expect(row.status).toBe("reserved");
    expect(row.reserved_until!.getTime()).toBeGreaterThan(Date.now());
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 2 });
    // And the customer can pay again.
    const second = await createPayment(t, c, order.id);
    await deliverExpecting(t, successEvent(second), "processed");
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 8, reserved: 0 });
  });

  it("when success and failure signals for one pending payment race, then exactly one applies and the order matches the payment", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const cases = [];
    for (let i = 0; i < 10; i++) {
      const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
      cases.push({ order, payment: await createPayment(t, c, order.id) });
    }
    await Promise.all(
      cases.flatMap(({ payment }) =>
        shuffle([deliver(t, successEvent(payment)), deliver(t, failureEvent(payment)), deliver(t, successEvent(payment))]),
      ),
    );
    let paid = 0;
    for (const { order, payment } of cases) {
      const [{ status: paymentStatus }] = await t.ds.query(`SELECT status FROM payments WHERE id = $1`, [payment.id]);
      const orderStatus = (await orderRow(order.id)).status;
      expect([paymentStatus, orderStatus]).toEqual(paymentStatus === "succeeded" ? ["succeeded", "paid"] : ["failed", "reserved"]);
      if (paymentStatus === "succeeded") paid++;
    }
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 100 - paid, reserved: 10 - paid });
    expect((await reconciliation(t)).ok).toBe(true);
  });
});
