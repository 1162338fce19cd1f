import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSandboxProvider } from "../../src/payments/providers/sandbox-provider.js";
import { verifyWebhookSignature } from "../../src/payments/webhook-signature.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { createPayment, eventually, placeOrder, purchases, stockOf } from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const orderOf = async (id: string) =>
  (await t.http().get(`/v1/orders/${id}`).set(t.admin)).body as { status: string; reservedUntil: string | null };
const paymentOf = async (id: string) => (await t.http().get(`/v1/payments/${id}`).set(t.admin)).body as { status: string; version: number };
const eventsOf = async (paymentId: string) =>
  (await t.ds.query(`SELECT event_id, outcome FROM payment_events WHERE payment_id = $1`, [paymentId])) as {
    event_id: string;
    outcome: string;
  }[];
const metric = async (outcome: string) =>
  Number(
    new RegExp(`^orderlock_webhook_events_total\\{outcome="${outcome}"\\} (\\d+)`, "m").exec((await t.http().get("/metrics")).text)?.[1] ??
      0,
  );

describe("the sandbox payment provider", () => {
  it("when the admin asks it to succeed a payment, then it delivers a signed webhook over HTTP: order paid, stock sold (onHand and reserved both drop)", async () => {
    const p = await createProduct(t, { priceCents: 800, onHand: 10 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 3 }]);
    const payment = await createPayment(t, c, order.id);
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 10, reserved: 3 });
    const before = await purchases(t);
    const duplicatesBefore = await metric("duplicate");

    const res = await t.http().post(`/v1/sandbox/payments/${payment.id}/succeed`).set(t.admin).send({ duplicates: 3 });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      paymentId: payment.id,
      type: "payment.succeeded",
      eventId: expect.stringMatching(/^evt_sbx_/),
      deliveries: 4,
    });

    await eventually(async () => expect((await paymentOf(payment.id)).status).toBe("succeeded"));
    expect(await orderOf(order.id)).toMatchObject({ status: "paid", reservedUntil: null });
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 7, reserved: 0 });
    // All four deliveries of the one event arrive; one is processed, three are duplicates.
    await eventually(async () => expect((await metric("duplicate")) - duplicatesBefore).toBe(3));
    expect(await eventsOf(payment.id)).toEqual([{ event_id: res.body.eventId, outcome: "processed" }]);
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(1);
    expect(after.totals.revenueCents - before.totals.revenueCents).toBe(2400);
  });

  it("when the admin asks it to fail a payment, then the order is reserved again and can be paid by a new payment", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }]);
    const payment = await createPayment(t, c, order.id);
    expect((await t.http().post(`/v1/sandbox/payments/${payment.id}/fail`).set(t.admin).send({})).status).toBe(202);
    await eventually(async () => expect((await paymentOf(payment.id)).status).toBe("failed"));
    expect((await orderOf(order.id)).status).toBe("reserved");
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 5, reserved: 2 });

    const second = await createPayment(t, c, order.id);
    expect((await t.http().post(`/v1/sandbox/payments/${second.id}/succeed`).set(t.admin).send({})).status).toBe(202);
    await eventually(async () => expect((await orderOf(order.id)).status).toBe("paid"));
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 3, reserved: 0 });
  });

  it("when a sandbox request is replayed with its Idempotency-Key, then the stored 202 is returned and nothing is delivered again", async () => {
    const p = await createProduct(t);
    const c = await createCustomer(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const payment = await createPayment(t, c, order.id);
    const key = uniqueKey();
    const first = await t.http().post(`/v1/sandbox/payments/${payment.id}/succeed`).set(t.admin).set("Idempotency-Key", key).send({});
    await eventually(async () => expect((await paymentOf(payment.id)).status).toBe("succeeded"));
    const replay = await t.http().post(`/v1/sandbox/payments/${payment.id}/succeed`).set(t.admin).set("Idempotency-Key", key).send({});
    expect(replay.status).toBe(202);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.body).toEqual(first.body);
    expect(await eventsOf(payment.id)).toHaveLength(1);
  });

  it("when a customer calls it, the payment is unknown, or the body is wrong, then 403, 404 and 422", async () => {
    const c = await createCustomer(t);
    const unknown = "00000000-0000-4000-8000-000000000009";
    const p = await createProduct(t);
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const payment = await createPayment(t, c, order.id);
    expect((await t.http().post(`/v1/sandbox/payments/${payment.id}/succeed`).set(c.auth).send({})).status).toBe(403);
    expect((await t.http().post(`/v1/sandbox/payments/${unknown}/succeed`).set(t.admin).send({})).status).toBe(404);
    expect((await t.http().post(`/v1/sandbox/payments/nope/fail`).set(t.admin).send({})).status).toBe(404);
    expect((await t.http().post(`/v1/sandbox/payments/${payment.id}/succeed`).set(t.admin).send({ duplicates: 51 })).status).toBe(422);
    expect((await t.http().post(`/v1/sandbox/payments/${payment.id}/succeed`).set(t.admin).send({ amountCents: 1 })).status).toBe(422);
    expect((await paymentOf(payment.id)).status).toBe("pending");
  });

  it("when the webhook endpoint answers 5xx or drops the connection, then the provider retries the same event, re-signed, until it gets a 2xx", async () => {
    const received: { body: string; signature: string | undefined }[] = [];
    const stub = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push({ body, signature: req.headers["payment-signature"] as string | undefined });
        if (received.length === 1) res.writeHead(503).end();
        else if (received.length === 2) req.socket.destroy();
        else res.writeHead(200, { "Content-Type": "application/json" }).end('{"received":true}');
      });
    });
    await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = stub.address() as AddressInfo;
      const sandbox = createSandboxProvider({
        selfBaseUrl: () => `http://127.0.0.1:${port}`,
        webhookSecret: WEBHOOK_SECRET,
        logger: pino({ level: "silent" }),
        retry: { attempts: 5, baseDelayMs: 5, maxDelayMs: 20, maxTotalMs: 10_000 },
      });
      const event = sandbox.newEvent({ id: "00000000-0000-4000-8000-00000000000a", amountCents: 123 }, "payment.succeeded");
      expect(await sandbox.deliver(event)).toEqual({ attempts: 3 });
      expect(received).toHaveLength(3);
      for (const r of received) {
        expect(JSON.parse(r.body)).toEqual(event);
        expect(() => verifyWebhookSignature(WEBHOOK_SECRET, r.signature, Buffer.from(r.body))).not.toThrow();
      }
    } finally {
      stub.closeAllConnections();
      await new Promise<void>((resolve) => stub.close(() => resolve()));
    }
  });

  it("when the webhook endpoint never accepts, then delivery gives up after the attempt limit", async () => {
    let attempts = 0;
    const stub = http.createServer((_req, res) => {
      attempts++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = stub.address() as AddressInfo;
      const sandbox = createSandboxProvider({
        selfBaseUrl: () => `http://127.0.0.1:${port}`,
        webhookSecret: WEBHOOK_SECRET,
        logger: pino({ level: "silent" }),
        retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5, maxTotalMs: 10_000 },
      });
      const event = sandbox.newEvent({ id: "00000000-0000-4000-8000-00000000000b", amountCents: 1 }, "payment.failed");
      await expect(sandbox.deliver(event)).rejects.toThrow(/not delivered after 4 attempts/);
      expect(attempts).toBe(4);
    } finally {
      stub.closeAllConnections();
      await new Promise<void>((resolve) => stub.close(() => resolve()));
    }
  });
});
