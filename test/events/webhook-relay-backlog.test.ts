import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookRelay } from "../../src/events/start-webhook-relay.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { eventually, placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";
import { startReceiver } from "../support/webhook-receiver.js";

/**
 * A backlog drains at the endpoint's pace, not at one batch of `concurrency`
 * deliveries per tick interval: with every slot busy, the relay ticks again as
 * soon as a delivery ends. (Before, it waited a whole interval, which capped an
 * instance at 2 × concurrency deliveries a second at the production 500 ms, and
 * the 15-minute soak's backlog grew without end.)
 */
const policy = { allowInsecure: true, allowPrivate: true };
const INTERVAL_MS = 2000;
const CONCURRENCY = 2;
const EVENTS = 12;
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ webhooks: { policy, retryHours: 1 } });
});
afterAll(async () => {
  await t.close();
});

describe("webhook relay under a backlog", () => {
  it("when 12 events wait and 2 slots are free, then all are delivered within one tick interval of the first, not one interval per 2", async () => {
    const receiver = await startReceiver(() => 204);
    const res = await t.http().post("/v1/webhook-endpoints").set(t.admin).send({ url: receiver.url });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    receiver.setSecret(res.body.secret);
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    for (let i = 0; i < EVENTS; i++) await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);

    // The backlog exists before the relay starts, so no tick waits for new events.
    const relay = startWebhookRelay(t.ds, {
      serviceSecret: WEBHOOK_SECRET,
      policy,
      retryDelaysMs: [100],
      retryHours: 1,
      timeoutMs: 2000,
      concurrency: CONCURRENCY,
      intervalMs: INTERVAL_MS,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    });
    try {
      await eventually(async () => expect(new Set(receiver.delivered().map((r) => r.webhookId)).size).toBe(EVENTS), 30_000);
      const at = receiver.received.map((r) => r.atMs);
      // One interval per batch of two would spread them over 5 intervals (10 s).
      expect(Math.max(...at) - Math.min(...at)).toBeLessThan(INTERVAL_MS);
      expect(receiver.received.length).toBe(EVENTS);
      expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    } finally {
      await relay.stop();
      await receiver.close();
    }
  });
});
