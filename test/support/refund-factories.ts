import { expect } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "./factories.js";
import { type Auth, createPayment, deliver, newEventId, placeOrder, successEvent } from "./payment-factories.js";
import type { TestApp } from "./test-app.js";

export type RefundBody = {
  id: string;
  paymentId: string;
  orderId: string;
  amountCents: number;
  reason: string;
  status: string;
  lines: { sku: string; quantity: number; restock: boolean }[];
  providerRefundId: string | null;
  version: number;
};

/** A succeeded (and counted) payment for `quantity` units of a fresh product. */
export async function paidPayment(t: TestApp, quantity = 2, priceCents = 1500, onHand = 10) {
  const p = await createProduct(t, { priceCents, onHand });
  const c: Auth & { id: string } = await createCustomer(t);
  const order = await placeOrder(t, c, [{ sku: p.sku, quantity }]);
  const payment = await createPayment(t, c, order.id);
  const res = await deliver(t, successEvent(payment));
  expect(res.body).toEqual({ received: true, outcome: "processed" });
  return { p, c, order, payment };
}

export function postRefund(t: TestApp, paymentId: string, body: Record<string, unknown>, key: string | null = uniqueKey()) {
  const req = t.http().post(`/v1/payments/${paymentId}/refunds`).set(t.admin);
  if (key !== null) req.set("Idempotency-Key", key);
  return req.send(body);
}

export async function createRefund(t: TestApp, paymentId: string, body: Record<string, unknown> = { reason: "test" }): Promise<RefundBody> {
  const res = await postRefund(t, paymentId, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as RefundBody;
}

export const refundEvent = (r: { id: string; amountCents: number }, outcome: "succeeded" | "failed", id = newEventId()) => ({
  id,
  type: `refund.${outcome}`,
  data: { refundId: r.id, amountCents: r.amountCents },
});

export const disputeEvent = (
  paymentId: string,
  disputeId: string,
  kind: "funds_withdrawn" | "funds_reinstated",
  amountCents: number,
  id = newEventId(),
) => ({ id, type: `dispute.${kind}`, data: { paymentId, disputeId, amountCents } });

export async function deliverOutcome(t: TestApp, event: unknown): Promise<string> {
  const res = await deliver(t, event);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body as { outcome: string }).outcome;
}

export const row = async <T = Record<string, unknown>>(t: TestApp, text: string, params: unknown[] = []): Promise<T> =>
  (await t.ds.query(text, params))[0] as T;
