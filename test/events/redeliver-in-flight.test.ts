import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookRelay } from "../../src/events/start-webhook-relay.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { eventually, placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";

/**
 * POST /v1/events/:id/redeliver while an attempt of that delivery is in
 * flight, with every relay slot busy: the redeliver answers 202 (pending
 * again, due now), so the event is POSTed again after it, whatever the
 * in-flight attempt then answers.
 */
const policy = { allowInsecure: true, allowPrivate: true };
let t: TestApp;
let relay: { stop(): Promise<void> };

beforeAll(async () => {
  t = await startTestApp({ webhooks: { policy, retryHours: 1 } });
  relay = startWebhookRelay(t.ds, {
    serviceSecret: WEBHOOK_SECRET,
    policy,
    retryDelaysMs: [100],
    retryHours: 1,
    timeoutMs: 5000,
    concurrency: 1, // every slot busy while the slow attempt runs (any instance under a backlog)
    intervalMs: 50,
    logger: pino({ level: "silent" }),
  });
});
afterAll(async () => {
  await relay.stop();
  await t.close();
});

describe("a redeliver during an attempt in flight", () => {
  it("when the event is redelivered while its first attempt is in flight, then it is POSTed again after the 202, even though the first attempt then succeeds", async () => {
    const got: { id: string; at: number }[] = [];
    let release: (() => void) | undefined;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const id = String(req.headers["webhook-id"]);
        got.push({ id, at: Date.now() });
        if (got.filter((g) => g.id === id).length === 1) {
          // first attempt: answer 200 only when the test says so
          release = () => res.writeHead(200).end();
        } else res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const ep = (
      await t
        .http()
        .post("/v1/webhook-endpoints")
        .set(t.admin)
        .send({ url, eventTypes: ["order.placed"] })
    ).body;
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    await eventually(async () => expect(got.length).toBe(1), 30_000);
    const eventId = got[0].id;

    const re = await t.http().post(`/v1/events/${eventId}/redeliver`).set(t.admin).send({ endpointId: ep.id });
    expect(re.status).toBe(202);
    const redeliveredAt = Date.now();
    release?.(); // the first attempt now succeeds

    try {
      await eventually(async () => expect(got.filter((g) => g.id === eventId && g.at >= redeliveredAt).length).toBe(1), 15_000);
      await eventually(async () => {
        const [d] = (await t.ds.query(`SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = $1`, [ep.id])) as {
          status: string;
          attempts: number;
        }[];
        expect(d).toEqual({ status: "delivered", attempts: 2 });
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);
});
