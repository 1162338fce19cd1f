import fc from "fast-check";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expirePayments } from "../../src/payments/expire-payments.js";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { createPayment, deliver, newEventId, placeOrder, purchases, reconciliation } from "../support/payment-factories.js";
import { deliverOutcome, disputeEvent, postRefund, refundEvent } from "../support/refund-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Model-based test: random interleavings of provider events (payment
 * success and failure, expiry, refund requests and their signals, dispute
 * withdrawals and reinstatements, and redeliveries of any earlier event)
 * run against the real service and against a small model of the rules in
 * API.md. At the end the counters (gross and refunds) equal the model's,
 * computed from the provider events alone, stock is on hand − sold +
 * restocked with exactly the open orders' units reserved, and
 * reconciliation finds no drift.
 */
let t: TestApp;
let customer: { auth: Record<string, string> };
const logger = pino({ level: "silent" });
const provider: PaymentProvider = {
  name: "sandbox",
  createPayment: async (p) => ({ providerPaymentId: p.paymentId, clientSecret: null }),
  cancelPayment: async () => {},
  requestRefund: async (r) => ({ providerRefundId: `sbx_re_${r.refundId}` }),
};
beforeAll(async () => {
  t = await startTestApp();
  customer = await createCustomer(t, "refund model");
});
afterAll(async () => t.close());

const ORDERS = 3;
const PRICE = 1000;
type Cmd =
  | { kind: "succeed" | "fail" | "expire"; pay: number }
  | { kind: "refund"; pay: number; amount: number; restock: number }
  | { kind: "settle"; refund: number; ok: boolean }
  | { kind: "withdraw" | "reinstate"; pay: number; dispute: number; amount: number }
  | { kind: "redeliver"; pick: number };

const pay = fc.integer({ min: 0, max: ORDERS - 1 });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("succeed" as const), pay }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("fail" as const), pay }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("expire" as const), pay }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("refund" as const),
      pay,
      amount: fc.integer({ min: 1, max: 3 * PRICE }),
      restock: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("settle" as const), refund: fc.nat(), ok: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("withdraw" as const, "reinstate" as const),
      pay,
      dispute: fc.integer({ min: 0, max: 1 }),
      amount: fc.integer({ min: 1, max: 2 * PRICE }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("redeliver" as const), pick: fc.nat() }) },
);

type MPayment = { id: string; amount: number; qty: number; status: string; counted: boolean; claimed: number; restockClaimed: number };
type MRefund = { id: string; pay: number; amount: number; restock: number; status: string; counted: boolean };
type MDispute = { amount: number; status: "succeeded" | "reversed"; counted: boolean };

async function runSequence(quantities: number[], cmds: Cmd[]): Promise<void> {
  const product = await createProduct(t, { priceCents: PRICE, onHand: 20 });
  const payments: MPayment[] = [];
  for (const qty of quantities) {
    const order = await placeOrder(t, customer, [{ sku: product.sku, quantity: qty }]);
    const p = await createPayment(t, customer, order.id);
    payments.push({ id: p.id, amount: p.amountCents, qty, status: "pending", counted: false, claimed: 0, restockClaimed: 0 });
  }
  const before = await purchases(t);
  const m = { onHand: 20, purchases: 0, revenue: 0, refunds: 0, refunded: 0 };
  const refunds: MRefund[] = [];
  const disputes = new Map<string, MDispute>();
  const delivered: unknown[] = [];
  const send = async (event: unknown) => {
    delivered.push(event);
    return deliverOutcome(t, event);
  };

  for (const c of cmds) {
    if (c.kind === "succeed" || c.kind === "fail") {
      const p = payments[c.pay];
      const outcome = await send({
        id: newEventId(),
        type: `payment.${c.kind === "succeed" ? "succeeded" : "failed"}`,
        data: { paymentId: p.id, amountCents: p.amount },
      });
      if (c.kind === "succeed" && p.status === "pending") {
        Object.assign(p, { status: "succeeded", counted: true });
        m.purchases += 1;
        m.revenue += p.amount;
        m.onHand -= p.qty;
      } else if (c.kind === "succeed" && (p.status === "failed" || p.status === "expired")) {
        if (!refunds.some((r) => r.pay === c.pay && r.restock === -1)) {
          const [{ id }] = await t.ds.query(`SELECT id FROM refunds WHERE payment_id = $1 AND kind = 'late_success'`, [p.id]);
          refunds.push({ id, pay: c.pay, amount: p.amount, restock: -1, status: "pending", counted: false });
          p.claimed += p.amount;
          expect(outcome).toBe("processed");
        } else expect(outcome).toBe("duplicate");
      } else if (c.kind === "fail" && p.status === "pending") {
        p.status = "failed"; // the order is reserved again: its units stay held
      }
    } else if (c.kind === "expire") {
      const p = payments[c.pay];
      // Time passes for this payment only: its deadline (and its order's hold) move into the past.
      await t.ds.query(`UPDATE payments SET expires_at = now() - interval '1 second' WHERE id = $1 AND status = 'pending'`, [p.id]);
      await t.ds.query(
        `UPDATE orders SET reserved_until = now() - interval '1 second' WHERE id = (SELECT order_id FROM payments WHERE id = $1) AND status = 'pending_payment'`,
        [p.id],
      );
      await expirePayments(t.ds, provider, logger);
      if (p.status === "pending") p.status = "expired";
    } else if (c.kind === "refund") {
      const p = payments[c.pay];
      const lines = c.restock > 0 ? [{ sku: product.sku, quantity: c.restock, restock: true }] : [];
      const res = await postRefund(t, p.id, { reason: "model", amountCents: c.amount, lines });
      if (p.status !== "succeeded") expect(res.status).toBe(409);
      else if (c.amount > p.amount - p.claimed)
        expect(res.body).toMatchObject({ code: "refund_exceeds_payment", refundableCents: p.amount - p.claimed });
      else if (c.restock > p.qty - p.restockClaimed) expect(res.status).toBe(422);
      else {
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        refunds.push({ id: res.body.id, pay: c.pay, amount: c.amount, restock: c.restock, status: "pending", counted: p.counted });
        p.claimed += c.amount;
        p.restockClaimed += c.restock;
      }
    } else if (c.kind === "settle") {
      if (refunds.length === 0) continue;
      const r = refunds[c.refund % refunds.length];
      const outcome = await send(refundEvent({ id: r.id, amountCents: r.amount }, c.ok ? "succeeded" : "failed"));
      expect(outcome).toBe(r.status === "pending" ? "processed" : "duplicate");
      if (r.status !== "pending") continue;
      const p = payments[r.pay];
      r.status = c.ok ? "succeeded" : "failed";
      if (c.ok) {
        if (r.counted) {
          m.refunds += 1;
          m.refunded += r.amount;
        }
        if (r.restock > 0) m.onHand += r.restock;
      } else {
        p.claimed -= r.amount;
        if (r.restock > 0) p.restockClaimed -= r.restock;
      }
    } else if (c.kind === "withdraw" || c.kind === "reinstate") {
      const p = payments[c.pay];
      const key = `dp_${p.id}_${c.dispute}`;
      const d = disputes.get(key);
      const amount = d?.amount ?? c.amount;
      const outcome = await send(disputeEvent(p.id, key, c.kind === "withdraw" ? "funds_withdrawn" : "funds_reinstated", amount));
      if (c.kind === "withdraw") {
        if (d) expect(outcome).toBe("duplicate");
        else if (p.status !== "succeeded" || amount > p.amount - p.claimed) expect(outcome).toBe("ignored");
        else {
          expect(outcome).toBe("processed");
          disputes.set(key, { amount, status: "succeeded", counted: p.counted });
          p.claimed += amount;
          if (p.counted) {
            m.refunds += 1;
            m.refunded += amount;
          }
        }
      } else if (!d) {
        expect(outcome).toBe("processed");
        disputes.set(key, { amount, status: "reversed", counted: false });
      } else if (d.status === "reversed") expect(outcome).toBe("duplicate");
      else {
        expect(outcome).toBe("processed");
        d.status = "reversed";
        p.claimed -= amount;
        if (d.counted) {
          m.refunds -= 1;
          m.refunded -= amount;
        }
      }
    } else if (c.kind === "redeliver") {
      if (delivered.length === 0) continue;
      const res = await deliver(t, delivered[c.pick % delivered.length]);
      expect(res.body.outcome).toBe("duplicate");
    }
  }

  const after = await purchases(t);
  expect({
    purchases: after.totals.purchases - before.totals.purchases,
    revenue: after.totals.revenueCents - before.totals.revenueCents,
    refunds: after.totals.refunds - before.totals.refunds,
    refunded: after.totals.refundedCents - before.totals.refundedCents,
  }).toEqual({ purchases: m.purchases, revenue: m.revenue, refunds: m.refunds, refunded: m.refunded });
  const held = payments.filter((p) => p.status === "pending" || p.status === "failed").reduce((s, p) => s + p.qty, 0);
  const [stock] = await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [product.sku]);
  expect(stock).toEqual({ on_hand: m.onHand, reserved: held });
  for (const p of payments) {
    const [row] = await t.ds.query(`SELECT status, refund_claimed_cents FROM payments WHERE id = $1`, [p.id]);
    expect(row).toEqual({ status: p.status, refund_claimed_cents: p.claimed });
  }
  expect((await reconciliation(t)).ok).toBe(true);
}

describe("refunds, disputes and expiry: model", () => {
  it("when payment, refund, dispute, expiry and duplicate events interleave at random, then counters equal the model's and stock is on hand − sold + restocked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: ORDERS, maxLength: ORDERS }),
        fc.array(cmdArb, { minLength: 5, maxLength: 25 }),
        runSequence,
      ),
      { numRuns: 20 },
    );
  });
});
