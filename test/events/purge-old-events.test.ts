import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeEveryMs } from "../../src/background-jobs.js";
import { loadConfig } from "../../src/config.js";
import { eventIdOf } from "../../src/events/event-id.js";
import { PURGE_OLD_EVENTS_BATCH, purgeOldEvents } from "../../src/events/purge-old-events.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/** Event retention: old events go in bounded batches; any a webhook still needs stays. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ webhooks: { policy: { allowInsecure: true, allowPrivate: true }, retryHours: 24 } });
});
afterAll(async () => t.close());

/** An order's event's stored id (a uuid; the API shows it through eventIdOf). */
const eventOf = async (orderId: string) => (await t.ds.query(`SELECT id FROM events WHERE resource_id = $1`, [orderId]))[0].id as string;

describe("purgeOldEvents", () => {
  it("when events are past EVENT_RETENTION_DAYS, then they are deleted in batches, except one a pending delivery or an endpoint's cursor still needs", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const [a, b, old] = [
      await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]),
      await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]),
      await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]),
    ];
    const ep = (await t.http().post("/v1/webhook-endpoints").set(t.admin).send({ url: "http://127.0.0.1:9/hook" })).body;
    // After the endpoint: its cursor (no relay runs here) has not passed this one.
    const ahead = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const fresh = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const [evA, evB, evOld, evAhead, evFresh] = await Promise.all([a, b, old, ahead, fresh].map((o) => eventOf(o.id)));

    // evA: a pending delivery (a redelivery); evB: a finished delivery with its attempt log.
    for (const ev of [evA, evB]) {
      const redelivered = await t
        .http()
        .post(`/v1/events/${eventIdOf(ev)}/redeliver`)
        .set(t.admin)
        .send({ endpointId: ep.id });
      expect(redelivered.status).toBe(202);
    }
    await t.ds.query(`UPDATE webhook_deliveries SET status = 'delivered', finished_at = now(), attempts = 1 WHERE event_id = $1`, [evB]);
    await t.ds.query(
      `INSERT INTO webhook_delivery_attempts (endpoint_id, event_id, attempt, status, http_status, duration_ms) VALUES ($1, $2, 1, 'delivered', 200, 5)`,
      [ep.id, evB],
    );
    await t.ds.query(`UPDATE events SET created_at = now() - interval '40 days' WHERE id <> $1`, [evFresh]);

    expect(await purgeOldEvents(t.ds, 30, 1)).toBe(2);
    const left = (await t.ds.query(`SELECT id FROM events`)).map((r: { id: string }) => r.id);
    expect(left).toEqual(expect.arrayContaining([evA, evAhead, evFresh]));
    expect(left).not.toContain(evB);
    expect(left).not.toContain(evOld);
    expect(Number((await t.ds.query(`SELECT count(*) FROM webhook_delivery_attempts WHERE event_id = $1`, [evB]))[0].count)).toBe(0);
    // Once the pending delivery is done and the cursor has moved on, they go too.
    await t.ds.query(`UPDATE webhook_deliveries SET status = 'abandoned', finished_at = now() WHERE event_id = $1`, [evA]);
    await t.ds.query(
      `UPDATE webhook_endpoint_states SET cursor_position = (SELECT max(position) FROM events), cursor_seq = 9223372036854775807`,
    );
    expect(await purgeOldEvents(t.ds, 30, 1)).toBe(2);
    expect((await t.ds.query(`SELECT id FROM events`)).map((r: { id: string }) => r.id)).toEqual([evFresh]);
  });

  it("when a batch is planned, then its candidates come from the created_at index, from where the last batch stopped, and are deleted by ctid, without scanning the table", async () => {
    // A handful of rows plan like millions once sequential scans are priced out.
    const plan = await t.ds.transaction(async (m) => {
      await m.query("SET LOCAL enable_seqscan = off");
      await m.query("SET LOCAL enable_bitmapscan = off");
      const rows: Record<string, string>[] = await m.query(`EXPLAIN ${PURGE_OLD_EVENTS_BATCH}`, [30, 1000, "2026-01-01T00:00:00.123456Z"]);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toMatch(/Index Scan using events_created_idx on events e\s.*\n\s*Index Cond: \(\(created_at < .*created_at >= /);
    expect(plan).toMatch(/Tid Scan on events/);
    expect(plan).not.toMatch(/Seq Scan on events/);
  });

  it("when EVENT_RETENTION_DAYS is a fraction (the bench's soak), then events older than that many seconds go and younger ones stay", async () => {
    for (const ep of (await t.http().get("/v1/webhook-endpoints").set(t.admin)).body.items) {
      expect((await t.http().delete(`/v1/webhook-endpoints/${ep.id}`).set(t.admin)).status).toBe(204);
    }
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const [old, young] = [await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]), await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }])];
    const [evOld, evYoung] = await Promise.all([eventOf(old.id), eventOf(young.id)]);
    await t.ds.query(`UPDATE events SET created_at = now() - interval '12 seconds' WHERE id = $1`, [evOld]);
    await t.ds.query(`UPDATE events SET created_at = now() - interval '8 seconds' WHERE id = $1`, [evYoung]);

    await purgeOldEvents(t.ds, 10 / 86_400);
    const left = (await t.ds.query(`SELECT id FROM events`)).map((r: { id: string }) => r.id);
    expect(left).toContain(evYoung);
    expect(left).not.toContain(evOld);
  });
});

describe("retention settings", () => {
  it("when EVENT_RETENTION_DAYS or IDEMPOTENCY_TTL_HOURS is a positive fraction, then it is taken as is; zero or below stops the start", () => {
    expect(loadConfig({ EVENT_RETENTION_DAYS: "0.001", IDEMPOTENCY_TTL_HOURS: "0.025" })).toMatchObject({
      eventRetentionDays: 0.001,
      idempotencyTtlHours: 0.025,
    });
    expect(loadConfig({})).toMatchObject({ eventRetentionDays: 30, idempotencyTtlHours: 24 });
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: "0" })).toThrow(/EVENT_RETENTION_DAYS/);
    expect(() => loadConfig({ IDEMPOTENCY_TTL_HOURS: "-1" })).toThrow(/IDEMPOTENCY_TTL_HOURS/);
  });

  it("when the window is long, then the production cadence; when short, a tenth of it; never under a second", () => {
    expect(purgeEveryMs(30 * 86_400_000, 600_000)).toBe(600_000);
    expect(purgeEveryMs(24 * 3_600_000, 60_000)).toBe(60_000);
    expect(purgeEveryMs(90_000, 600_000)).toBe(9_000);
    expect(purgeEveryMs(5_000, 60_000)).toBe(1_000);
  });
});
