import type request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  // A short lock_timeout, so a row held elsewhere turns into a quick 503.
  t = await startTestApp({ db: { lockTimeoutMs: 300 } });
});
afterAll(async () => t.close());

describe("Idempotency-Key while the first request is in flight, and after a failure", () => {
  it("when another transaction holds the key, then the request gets 409 idempotency_key_in_use at once, not a wait", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const runner = t.ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      // Exactly the lock an in-flight request with this key holds.
      await runner.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || E'\\n' || $2, 0))`, [c.id, key]);
      const started = Date.now();
      const res = await t
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", key)
        .send({ lines: [{ sku: p.sku, quantity: 1 }] });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("idempotency_key_in_use");
      expect(res.headers["retry-after"]).toBe("1");
      expect(Date.now() - started).toBeLessThan(5000); // generous: it must not wait for the holder
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    const after = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    expect(after.status).toBe(201);
  });

  it("when the first attempt fails with a 503 (a product row locked too long), then nothing is committed and the same key then succeeds", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const runner = t.ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    let first: request.Response;
    try {
      await runner.query(`SELECT * FROM products WHERE sku = $1 FOR UPDATE`, [p.sku]);
      first = await t
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", key)
        .send({ lines: [{ sku: p.sku, quantity: 2 }] });
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect(first.status).toBe(503);
    expect(first.body.code).toBe("service_unavailable");
    expect(first.headers["retry-after"]).toBeDefined();
    expect((await t.ds.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1`, [key]))[0].n).toBe(0);
    expect((await t.ds.query(`SELECT reserved FROM products WHERE sku = $1`, [p.sku]))[0].reserved).toBe(0);

    const retry = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 2 }] });
    expect(retry.status).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    expect((await t.ds.query(`SELECT reserved FROM products WHERE sku = $1`, [p.sku]))[0].reserved).toBe(2);
  });
});
