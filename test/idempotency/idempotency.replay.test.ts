import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const orderCount = async (customerId: string) =>
  (await t.ds.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [customerId]))[0].n as number;
const reserved = async (sku: string) => (await t.ds.query(`SELECT reserved FROM products WHERE sku = $1`, [sku]))[0].reserved as number;

describe("Idempotency-Key", () => {
  it("when a keyed order is repeated, then the stored response is replayed with Idempotent-Replayed and nothing happens again", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const send = () =>
      t
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", key)
        .send({ lines: [{ sku: p.sku, quantity: 2 }] });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(second.body).toEqual(first.body);
    expect(second.headers.location).toBe(first.headers.location);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(await orderCount(c.id)).toBe(1);
    expect(await reserved(p.sku)).toBe(2);
  });

  it("when the same key comes with a different body or path, then 422 idempotency_key_reused", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    const other = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 3 }] });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    expect(await reserved(p.sku)).toBe(1);
  });

  it("when the same body is spelled with keys in another order, then it is the same request and is replayed", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const a = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .set("Content-Type", "application/json")
      .send(`{"lines":[{"sku":"${p.sku}","quantity":1}]}`);
    const b = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .set("Content-Type", "application/json")
      .send(`{ "lines" : [ { "quantity" : 1, "sku" : "${p.sku}" } ] }`);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers["idempotent-replayed"]).toBe("true");
  });

  it("when two customers use the same key, then each gets an order of their own (keys are scoped per caller)", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const [c1, c2] = [await createCustomer(t), await createCustomer(t)];
    const key = uniqueKey();
    const r1 = await t
      .http()
      .post("/v1/orders")
      .set(c1.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    const r2 = await t
      .http()
      .post("/v1/orders")
      .set(c2.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    expect([r1.status, r2.status]).toEqual([201, 201]);
    expect(r1.body.id).not.toBe(r2.body.id);
    expect(r2.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("when 20 identical keyed requests race, then exactly one order exists and every other answer is a replay or 409 idempotency_key_in_use", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", key)
          .send({ lines: [{ sku: p.sku, quantity: 1 }] }),
      ),
    );
    const fresh = responses.filter((r) => r.status === 201 && r.headers["idempotent-replayed"] === undefined);
    const replays = responses.filter((r) => r.status === 201 && r.headers["idempotent-replayed"] === "true");
    const inUse = responses.filter((r) => r.status === 409);
    expect(fresh).toHaveLength(1);
    expect(replays.length + inUse.length).toBe(19);
    for (const r of replays) expect(r.body.id).toBe(fresh[0].body.id);
    for (const r of inUse) {
      expect(r.body.code).toBe("idempotency_key_in_use");
      expect(r.headers["retry-after"]).toBeDefined();
    }
    expect(await orderCount(c.id)).toBe(1);
    expect(await reserved(p.sku)).toBe(1);
  });

  it("when the first answer was 409 out_of_stock, then a retry with the key replays it even after stock arrives", async () => {
    const p = await createProduct(t, { onHand: 0 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const send = () =>
      t
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", key)
        .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    const first = await send();
    expect(first.status).toBe(409);
    await t.http().post(`/v1/products/${p.sku}/stock-adjustments`).set(t.admin).send({ delta: 5, reason: "restock" });
    const again = await send();
    expect(again.status).toBe(409);
    expect(again.body).toEqual(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(await reserved(p.sku)).toBe(0);
  });

  it("when validation fails, then nothing is stored and the key can be used for the corrected request", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const bad = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 0 }] });
    expect(bad.status).toBe(422);
    const good = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    expect(good.status).toBe(201);
    expect(good.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("when a key is older than the TTL, then it is purged and the key is free again", async () => {
    const { purgeExpiredKeys } = await import("../../src/idempotency/purge-expired-keys.js");
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    await t.ds.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, [key]);
    expect(await purgeExpiredKeys(t.ds, 24)).toBeGreaterThanOrEqual(1);
    expect((await t.ds.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1`, [key]))[0].n).toBe(0);
    const again = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
    expect(await orderCount(c.id)).toBe(2);
  });

  it("when a key is honoured on an admin POST (stock adjustment), then a retry does not adjust twice", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const key = uniqueKey();
    for (let i = 0; i < 3; i++) {
      const r = await t
        .http()
        .post(`/v1/products/${p.sku}/stock-adjustments`)
        .set(t.admin)
        .set("Idempotency-Key", key)
        .send({ delta: 4, reason: "restock" });
      expect(r.status).toBe(200);
    }
    expect((await t.ds.query(`SELECT on_hand FROM products WHERE sku = $1`, [p.sku]))[0].on_hand).toBe(9);
  });
});

describe("Idempotency-Key with a TTL of a fraction of an hour (IDEMPOTENCY_TTL_HOURS=0.01, 36 s)", () => {
  let short: TestApp;
  beforeAll(async () => {
    short = await startTestApp({ idempotencyTtlHours: 0.01 });
  });
  afterAll(async () => short.close());
  const age = (key: string, seconds: number) =>
    short.ds.query(`UPDATE idempotency_keys SET created_at = now() - make_interval(secs => $2) WHERE key = $1`, [key, seconds]);

  it("when a key is older than the fraction, then an order (place-order.sql) and an admin command both run again, and the purge takes only the old keys", async () => {
    const p = await createProduct(short, { onHand: 10 });
    const c = await createCustomer(short);
    const [orderKey, adjustKey, freshKey] = [uniqueKey(), uniqueKey(), uniqueKey()];
    const order = () =>
      short
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", orderKey)
        .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    const adjust = (key: string) =>
      short
        .http()
        .post(`/v1/products/${p.sku}/stock-adjustments`)
        .set(short.admin)
        .set("Idempotency-Key", key)
        .send({ delta: 1, reason: "r" });

    expect((await order()).status).toBe(201);
    expect((await adjust(adjustKey)).status).toBe(200);
    // 30 s old: still within 36 s, so both replay.
    await age(orderKey, 30);
    await age(adjustKey, 30);
    expect((await order()).headers["idempotent-replayed"]).toBe("true");
    expect((await adjust(adjustKey)).headers["idempotent-replayed"]).toBe("true");
    // 40 s old: expired, so both run again.
    await age(orderKey, 40);
    await age(adjustKey, 40);
    const again = await order();
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
    expect((await adjust(adjustKey)).headers["idempotent-replayed"]).toBeUndefined();
    expect((await short.ds.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [c.id]))[0].n).toBe(2);
    expect((await short.ds.query(`SELECT on_hand FROM products WHERE sku = $1`, [p.sku]))[0].on_hand).toBe(12);

    const { purgeExpiredKeys } = await import("../../src/idempotency/purge-expired-keys.js");
    expect((await adjust(freshKey)).status).toBe(200);
    await short.ds.query(`UPDATE idempotency_keys SET created_at = now() - interval '40 seconds'`);
    await age(freshKey, 20);
    expect(await purgeExpiredKeys(short.ds, 0.01)).toBeGreaterThanOrEqual(2);
    expect((await short.ds.query(`SELECT key FROM idempotency_keys`)).map((r: { key: string }) => r.key)).toEqual([freshKey]);
  });
});
