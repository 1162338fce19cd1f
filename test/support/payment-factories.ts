import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { PurchaseReport } from "../../src/metrics/read-purchases.js";
import type { Reconciliation } from "../../src/metrics/reconcile-purchases.js";
import { signWebhook } from "../../src/payments/webhook-signature.js";
import { uniqueKey } from "./factories.js";
import { type TestApp, WEBHOOK_SECRET } from "./test-app.js";

export type Auth = { auth: Record<string, string> };
export type OrderBody = {
  id: string;
  status: string;
  totalCents: number;
  version: number;
  reservedUntil: string | null;
  customerId: string;
  lines: { sku: string; quantity: number }[];
};
export type PaymentBody = { id: string; orderId: string; amountCents: number; status: string; version: number; provider: string };
export type WebhookEvent = { id: string; type: "payment.succeeded" | "payment.failed"; data: { paymentId: string; amountCents: number } };

export const newEventId = () => `evt_test_${randomBytes(8).toString("hex")}`;

export async function placeOrder(t: TestApp, c: Auth, lines: { sku: string; quantity: number }[]): Promise<OrderBody> {
  const res = await t.http().post("/v1/orders").set(c.auth).set("Idempotency-Key", uniqueKey()).send({ lines });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as OrderBody;
}

export function requestPayment(t: TestApp, c: Auth, orderId: string, key = uniqueKey()) {
  return t.http().post(`/v1/orders/${orderId}/payments`).set(c.auth).set("Idempotency-Key", key).send({});
}

export async function createPayment(t: TestApp, c: Auth, orderId: string): Promise<PaymentBody> {
  const res = await requestPayment(t, c, orderId);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as PaymentBody;
}

export function successEvent(p: { id: string; amountCents: number }, id = newEventId()): WebhookEvent {
  return { id, type: "payment.succeeded", data: { paymentId: p.id, amountCents: p.amountCents } };
}

export function failureEvent(p: { id: string; amountCents: number }, id = newEventId()): WebhookEvent {
  return { id, type: "payment.failed", data: { paymentId: p.id, amountCents: p.amountCents } };
}

/** Delivers an event signed as the provider would (or as told: another secret, another time, another header). */
export function deliver(t: TestApp, event: unknown, options: { secret?: string; atSeconds?: number; signature?: string | null } = {}) {
  const raw = JSON.stringify(event);
  const signature =
    options.signature === undefined ? signWebhook(options.secret ?? WEBHOOK_SECRET, raw, options.atSeconds) : options.signature;
  const req = t.http().post("/v1/webhooks/payments").set("Content-Type", "application/json");
  if (signature !== null) req.set("Payment-Signature", signature);
  return req.send(raw);
}

export async function deliverExpecting(t: TestApp, event: WebhookEvent, outcome: "processed" | "duplicate" | "ignored") {
  const res = await deliver(t, event);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toEqual({ received: true, outcome });
}

export const utcDay = (offsetDays = 0) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

export type { PurchaseReport };

/** Yesterday..tomorrow by default, so a test that runs across UTC midnight still sees its confirmations. */
export async function purchases(t: TestApp, from = utcDay(-1), to = utcDay(1)): Promise<PurchaseReport> {
  const res = await t.http().get(`/v1/metrics/purchases?from=${from}&to=${to}`).set(t.admin);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as PurchaseReport;
}

export type ReconciliationBody = Reconciliation;

export async function reconciliation(t: TestApp): Promise<ReconciliationBody> {
  const res = await t.http().get("/v1/metrics/purchases/reconciliation").set(t.admin);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as ReconciliationBody;
}

export const stockOf = async (t: TestApp, sku: string) =>
  (await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku]))[0] as { on_hand: number; reserved: number };

/** Polls until `check` passes or `timeoutMs` runs out (then fails with its last error): for effects of background deliveries. */
export async function eventually(check: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Fisher-Yates, in place. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
