import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookRelay } from "../../src/events/start-webhook-relay.js";
import { registry } from "../../src/metrics/registry.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { eventually, placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";
import { startReceiver } from "../support/webhook-receiver.js";

/**
 * Deliveries end to end: real HTTP to local receivers on 127.0.0.1 (insecure
 * and private URLs allowed for them), Standard Webhooks signatures verified
 * by the receiver, retries on short delays, a short retry window.
 */
const policy = { allowInsecure: true, allowPrivate: true };
let t: TestApp;
let relays: { stop(): Promise<void> }[] = [];
const RETRY_HOURS = 4 / 3600; // 4 s

beforeAll(async () => {
  t = await startTestApp({ webhooks: { policy, retryHours: RETRY_HOURS } });
  // Two relays on one database, as two instances would run them.
  relays = [1, 2].map(() =>
    startWebhookRelay(t.ds, {
      serviceSecret: WEBHOOK_SECRET,
      policy,
      retryDelaysMs: [100, 300],
      retryHours: RETRY_HOURS,
      timeoutMs: 2000,
      concurrency: 8,
      intervalMs: 50,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    }),
  );
});
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await t.close();
});

type FeedItem = { id: string; type: string; data: { object: { id: string } } };
async function feed(): Promise<FeedItem[]> {
  const res = await t.http().get("/v1/events").query({ limit: 100 }).set(t.admin);
  expect(res.status).toBe(200);
  return res.body.items;
}

async function registerEndpoint(url: string, extra: object = {}) {
  const res = await t
    .http()
    .post("/v1/webhook-endpoints")
    .set(t.admin)
    .send({ url, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

const deliveredCount = async () => (await registry.getSingleMetric("orderlock_webhook_deliveries_total")?.get())?.values ?? [];

describe("webhook delivery", () => {
  it("when the receiver fails the first two attempts of every event, then every event is delivered, signed, as the feed renders it, and one order's placed arrives before its cancelled", async () => {
    // Fails attempts 1 and 2 of every event; a 3xx would not be followed either.
    const receiver = await startReceiver((attempt) => (attempt === 1 ? 500 : attempt === 2 ? 302 : 204));
    const ep = await registerEndpoint(receiver.url, { description: "flaky" });
    receiver.setSecret(ep.secret);
    try {
      const p = await createProduct(t, { onHand: 100 });
      const c = await createCustomer(t);
      const orders: { id: string }[] = [];
      for (let i = 0; i < 4; i++) orders.push(await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]));
      const cancel = await t.http().post(`/v1/orders/${orders[0].id}/cancel`).set(c.auth).set("Idempotency-Key", uniqueKey()).send({});
      expect(cancel.status).toBe(200);

      const events = (await feed()).filter((e) => orders.some((o) => o.id === e.data.object.id));
      expect(events.length).toBe(5);
      await eventually(async () => {
        expect(new Set(receiver.delivered().map((r) => r.webhookId))).toEqual(new Set(events.map((e) => e.id)));
      }, 30_000);

      expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
      for (const e of events) {
        const attempts = receiver.received.filter((r) => r.webhookId === e.id);
        expect(attempts.map((r) => r.answered).slice(0, 3)).toEqual([500, 302, 204]);
        // The body is exactly the feed's rendering of the event; webhook-id is the event id.
        expect(JSON.parse(attempts[2].rawBody)).toEqual(e);
      }
      // Order: no attempt of order 0's cancellation before its placement was delivered.
      const placed = events.find((e) => e.type === "order.placed" && e.data.object.id === orders[0].id)!;
      const cancelled = events.find((e) => e.type === "order.cancelled")!;
      const placedDeliveredAt = receiver.received.findIndex((r) => r.webhookId === placed.id && r.answered === 204);
      const cancelledFirstAt = receiver.received.findIndex((r) => r.webhookId === cancelled.id);
      expect(placedDeliveredAt).toBeGreaterThanOrEqual(0);
      expect(cancelledFirstAt).toBeGreaterThan(placedDeliveredAt);

      const log = await t.http().get(`/v1/webhook-endpoints/${ep.id}/deliveries`).query({ limit: 100 }).set(t.admin);
      expect(log.status).toBe(200);
      const delivered = log.body.items.filter((i: { status: string }) => i.status === "delivered");
      expect(delivered.length).toBe(5);
      expect(delivered.every((i: { attempt: number; httpStatus: number }) => i.attempt === 3 && i.httpStatus === 204)).toBe(true);
      expect(log.body.items.filter((i: { status: string }) => i.status === "failed").length).toBe(10);
      const health = (await t.http().get(`/v1/webhook-endpoints/${ep.id}`).set(t.admin)).body.health;
      expect(health).toMatchObject({ failingStreak: 0, pendingDeliveries: 0 });
      expect(health.lastSuccessAt).not.toBeNull();
      const values = await deliveredCount();
      expect(values.find((v) => v.labels.outcome === "delivered")?.value).toBeGreaterThanOrEqual(5);

      // Redelivery sends the same event again, with the same webhook-id.
      const before = receiver.received.filter((r) => r.webhookId === placed.id).length;
      const re = await t.http().post(`/v1/events/${placed.id}/redeliver`).set(t.admin).send({ endpointId: ep.id });
      expect(re.status).toBe(202);
      await eventually(async () => expect(receiver.received.filter((r) => r.webhookId === placed.id).length).toBeGreaterThan(before));
      expect(
        (
          await t
            .http()
            .post(`/v1/events/evt_${"0".repeat(32)}/redeliver`)
            .set(t.admin)
            .send({ endpointId: ep.id })
        ).status,
      ).toBe(404);
    } finally {
      await t.http().delete(`/v1/webhook-endpoints/${ep.id}`).set(t.admin);
      await receiver.close();
    }
  }, 60_000);

  it("when an endpoint keeps failing past WEBHOOK_RETRY_HOURS, then its delivery is abandoned and counted, and later events of the order are not held back forever", async () => {
    const receiver = await startReceiver(() => 503);
    const ep = await registerEndpoint(receiver.url, { eventTypes: ["order.placed", "order.cancelled"] });
    receiver.setSecret(ep.secret);
    try {
      const p = await createProduct(t, { onHand: 10 });
      const c = await createCustomer(t);
      const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
      await t.http().post(`/v1/orders/${order.id}/cancel`).set(c.auth).set("Idempotency-Key", uniqueKey()).send({});
      await eventually(async () => {
        const log = await t.http().get(`/v1/webhook-endpoints/${ep.id}/deliveries`).query({ limit: 100 }).set(t.admin);
        expect(log.body.items.filter((i: { status: string }) => i.status === "abandoned").length).toBe(2);
      }, 30_000);
      const types = receiver.received.map((r) => r.body.type);
      // Every placed attempt came before the first cancelled one.
      expect(types.lastIndexOf("order.placed")).toBeLessThan(types.indexOf("order.cancelled"));
      const values = await deliveredCount();
      expect(values.find((v) => v.labels.outcome === "abandoned")?.value).toBeGreaterThanOrEqual(2);
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it("when one endpoint hangs, then another endpoint's deliveries go on meanwhile (a slow endpoint holds up nothing else)", async () => {
    const slow = await startReceiver(() => "hang");
    const fast = await startReceiver(() => 200);
    const a = await registerEndpoint(slow.url, { eventTypes: ["order.placed"] });
    const b = await registerEndpoint(fast.url, { eventTypes: ["order.placed"] });
    slow.setSecret(a.secret);
    fast.setSecret(b.secret);
    try {
      const p = await createProduct(t, { onHand: 10 });
      const c = await createCustomer(t);
      await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
      await eventually(async () => expect(slow.received.length).toBe(1));
      const hungAt = slow.received[0].atMs;
      // While the first POST to the slow endpoint is still open (2 s timeout), new events reach the fast one.
      const second = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
      await eventually(async () => expect(fast.received.some((r) => r.body.data.object.id === second.id)).toBe(true));
      const got = fast.received.find((r) => r.body.data.object.id === second.id)!;
      expect(got.atMs - hungAt).toBeLessThan(2000);
    } finally {
      await t.http().delete(`/v1/webhook-endpoints/${a.id}`).set(t.admin);
      await t.http().delete(`/v1/webhook-endpoints/${b.id}`).set(t.admin);
      await slow.close();
      await fast.close();
    }
  }, 60_000);
});
