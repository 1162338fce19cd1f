import pg from "pg";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { buildApp } from "../../src/app.js";
import { createHttpServer } from "../../src/http/server.js";
import { placeOrder } from "../../src/orders/place-order.js";
import { purgeExpiredRateLimits } from "../../src/rate-limits/purge-expired-rate-limits.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp, testAppDeps } from "../support/test-app.js";

const LIMIT = 10;
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ rateLimitPerMinute: LIMIT });
});
afterAll(async () => t.close());

/** Uses up the customer's points of the current window. */
async function atLimit(customerId: string): Promise<void> {
  await t.ds.query(`INSERT INTO rate_limits (key, points, expire) VALUES ($1, $2, (extract(epoch FROM now()) * 1000)::bigint + 60000)`, [
    `cust:${customerId}`,
    LIMIT,
  ]);
}

/** placeOrder straight (no HTTP), one unit of `sku`; a refused request rejects with "rate limited", as the route's 429. */
function placeDirect(customerId: string, sku: string) {
  const policy = { reservationTtlSeconds: 900, maxUnitsPerCustomerSku: 0, rateLimitPerMinute: LIMIT, idempotencyTtlHours: 24 };
  const refuse = (rate: { allowed: boolean }) => {
    if (!rate.allowed) throw new Error("rate limited");
  };
  return placeOrder(t.ds, { customerId, lines: [{ sku, quantity: 1 }], counted: refuse }, policy);
}

describe("per-customer-key rate limit", () => {
  it("when a customer exceeds the limit, then 429 rate_limited with Retry-After and RateLimit headers; other customers and the admin are unaffected", async () => {
    const c = await createCustomer(t);
    const other = await createCustomer(t);
    const responses = [];
    for (let i = 0; i < LIMIT + 3; i++) responses.push(await t.http().get("/v1/products").set(c.auth));
    expect(responses.slice(0, LIMIT).every((r) => r.status === 200)).toBe(true);
    expect(responses[0].headers["ratelimit-limit"]).toBe(String(LIMIT));
    expect(responses[0].headers["ratelimit-remaining"]).toBe(String(LIMIT - 1));
    expect(responses[0].headers["ratelimit-policy"]).toBe(`${LIMIT};w=60`);
    for (const r of responses.slice(LIMIT)) {
      expect(r.status).toBe(429);
      expect(r.body.code).toBe("rate_limited");
      expect(Number(r.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(r.headers["ratelimit-remaining"]).toBe("0");
    }
    expect((await t.http().get("/v1/products").set(other.auth)).status).toBe(200);
    for (let i = 0; i < LIMIT + 3; i++) expect((await t.http().get("/v1/products").set(t.admin)).status).toBe(200);
  });

  it("when two instances of the service share the database, then the limit holds across both", async () => {
    const ds2 = createDataSource(t.databaseUrl);
    await ds2.initialize();
    const app2 = buildApp(testAppDeps(ds2, { rateLimitPerMinute: LIMIT }));
    const server2 = createHttpServer(app2);
    try {
      const c = await createCustomer(t);
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          i % 2 === 0 ? t.http().get("/v1/products").set(c.auth) : request(server2).get("/v1/products").set(c.auth),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
      expect(statuses.filter((s) => s === 429)).toHaveLength(16 - LIMIT);
    } finally {
      server2.close();
      await ds2.destroy();
    }
  });

  it("when a customer's orders and other requests together exceed the limit, then exactly the limit is served; a refused order places nothing and claims no key", async () => {
    // Orders are counted in the order's own database call (batched), other
    // requests by the middleware: one count for both.
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 100 });
    const keys = Array.from({ length: LIMIT + 3 }, () => uniqueKey());
    const results = await Promise.all([
      ...keys.map((key) =>
        t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", key)
          .send({ lines: [{ sku: p.sku, quantity: 1 }] }),
      ),
      ...Array.from({ length: 3 }, () => t.http().get("/v1/products").set(c.auth)),
    ]);
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(16 - LIMIT);
    expect(statuses.filter((s) => s === 201 || s === 200)).toHaveLength(LIMIT);
    for (const r of results) {
      expect(r.headers["ratelimit-limit"]).toBe(String(LIMIT));
      if (r.status === 429) expect(r.body.code).toBe("rate_limited");
    }
    const placed = results.slice(0, keys.length).filter((r) => r.status === 201);
    const refusedKeys = keys.filter((_, i) => results[i].status === 429);
    expect(refusedKeys.length).toBeGreaterThan(0);
    const [row] = (await t.ds.query(
      `SELECT (SELECT count(*)::int FROM orders WHERE customer_id = $1) AS orders,
              (SELECT reserved FROM products WHERE sku = $2) AS reserved,
              (SELECT count(*)::int FROM idempotency_keys WHERE key = ANY($3)) AS claimed,
              (SELECT points FROM rate_limits WHERE key = $4) AS points`,
      [c.id, p.sku, refusedKeys, `cust:${c.id}`],
    )) as { orders: number; reserved: number; claimed: number; points: number }[];
    expect(row).toEqual({ orders: placed.length, reserved: placed.length, claimed: 0, points: 16 });

    // In a new window, a refused order's key places it: the refusal stored nothing under it.
    await t.ds.query(`UPDATE rate_limits SET expire = (extract(epoch FROM now()) * 1000)::bigint - 1 WHERE key = $1`, [`cust:${c.id}`]);
    const again = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", refusedKeys[0])
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
    expect(again.headers["ratelimit-remaining"]).toBe(String(LIMIT - 1));
  });

  it("when placing fails after an over-limit batch was counted, then the retry places its orders without counting them again", async () => {
    // A batch with a request over its limit is counted first (committed), then
    // placed; a deadlock in that placement retries the batch. The fault: B's
    // order insert fails once with 40P01, only once B's request has been counted.
    const over = await createCustomer(t);
    const fine = await createCustomer(t);
    const p = await createProduct(t, { onHand: 10 });
    await atLimit(over.id);
    await t.ds.query(`CREATE SEQUENCE test_deadlock_once`);
    await t.ds.query(`
      CREATE FUNCTION test_deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.customer_id = '${fine.id}' AND EXISTS (SELECT 1 FROM rate_limits WHERE key = 'cust:${fine.id}') THEN
          IF nextval('test_deadlock_once') = 1 THEN
            RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01';
          END IF;
        END IF;
        RETURN NEW;
      END $$`);
    await t.ds.query(`CREATE TRIGGER test_deadlock_once BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_deadlock_once()`);
    try {
      // Submitted in one turn of the event loop: one batch.
      const [a, b] = await Promise.allSettled([placeDirect(over.id, p.sku), placeDirect(fine.id, p.sku)]);
      expect(a.status === "rejected" && (a.reason as Error).message).toBe("rate limited");
      expect(b.status === "fulfilled" && b.value.outcome).toBe("placed");
      const [row] = (await t.ds.query(
        `SELECT (SELECT is_called FROM test_deadlock_once) AS injected,
                (SELECT points FROM rate_limits WHERE key = $1) AS over,
                (SELECT points FROM rate_limits WHERE key = $2) AS fine,
                (SELECT count(*)::int FROM orders WHERE customer_id = ANY($3)) AS orders`,
        [`cust:${over.id}`, `cust:${fine.id}`, [over.id, fine.id]],
      )) as { injected: boolean; over: number; fine: number; orders: number }[];
      expect(row).toEqual({ injected: true, over: LIMIT + 1, fine: 1, orders: 1 });
    } finally {
      await t.ds.query(`DROP TRIGGER test_deadlock_once ON orders`);
      await t.ds.query(`DROP FUNCTION test_deadlock_once()`);
      await t.ds.query(`DROP SEQUENCE test_deadlock_once`);
    }
  });

  it("when placing an order fails (a product row locked elsewhere: 503), then it still counts, and past the limit it is 429", async () => {
    const limit = 3;
    const short = await startTestApp({ rateLimitPerMinute: limit, db: { lockTimeoutMs: 300 } });
    const holder = new pg.Client({ connectionString: short.databaseUrl });
    try {
      const c = await createCustomer(short);
      const p = await createProduct(short, { onHand: 10 });
      await holder.connect();
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM products WHERE sku = $1 FOR UPDATE`, [p.sku]);
      const answers: [number, string][] = [];
      for (let i = 0; i < limit + 2; i++) {
        const r = await short
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", uniqueKey())
          .send({ lines: [{ sku: p.sku, quantity: 1 }] });
        answers.push([r.status, r.headers["ratelimit-remaining"]]);
      }
      await holder.query("ROLLBACK");
      const [row] = (await short.ds.query(
        `SELECT (SELECT points FROM rate_limits WHERE key = $1) AS points, (SELECT count(*)::int FROM orders WHERE customer_id = $2) AS orders`,
        [`cust:${c.id}`, c.id],
      )) as { points: number; orders: number }[];
      expect({ answers, ...row }).toEqual({
        answers: [
          [503, "2"],
          [503, "1"],
          [503, "0"],
          [429, "0"],
          [429, "0"],
        ],
        points: limit + 2,
        orders: 0,
      });
    } finally {
      await holder.end().catch(() => {});
      await short.close();
    }
  });

  it("when a customer was refused lately, then a batch mixing its orders with others' counts each request once and places the others, and after its window its order is placed again", async () => {
    // The batch and the order after the window go by the refused-keys shortcut (counted first); the
    // outcome is the same either way, which is the point: this checks the shortcut changes nothing.
    const over = await createCustomer(t);
    const fine = await createCustomer(t);
    const p = await createProduct(t, { onHand: 10 });
    await atLimit(over.id);
    const place = (customerId: string) => placeDirect(customerId, p.sku);
    // The first refusal (rolled back as OL429, then counted first) teaches the process; the next batch goes counted first.
    await expect(place(over.id)).rejects.toThrow("rate limited");
    const outcomes = (await Promise.allSettled([place(fine.id), place(over.id), place(fine.id)])).map((r) =>
      r.status === "fulfilled" ? r.value.outcome : (r.reason as Error).message,
    );
    expect(outcomes).toEqual(["placed", "rate limited", "placed"]);
    // A new window (the process still remembers the refusal): counted, allowed and placed.
    await t.ds.query(`DELETE FROM rate_limits WHERE key = $1`, [`cust:${over.id}`]);
    expect((await place(over.id)).outcome).toBe("placed");
    const [row] = (await t.ds.query(
      `SELECT (SELECT points FROM rate_limits WHERE key = $1) AS over, (SELECT points FROM rate_limits WHERE key = $2) AS fine,
              (SELECT count(*)::int FROM orders WHERE customer_id = $3) AS over_orders, (SELECT count(*)::int FROM orders WHERE customer_id = $4) AS fine_orders`,
      [`cust:${over.id}`, `cust:${fine.id}`, over.id, fine.id],
    )) as { over: number; fine: number; over_orders: number; fine_orders: number }[];
    expect(row).toEqual({ over: 1, fine: 2, over_orders: 1, fine_orders: 2 });
  });

  it("when an order is refused by validation, then it still counts, and over the limit it is 429 as any other request", async () => {
    const c = await createCustomer(t);
    const invalid = () => t.http().post("/v1/orders").set(c.auth).set("Idempotency-Key", uniqueKey()).send({ lines: [] });
    const first = await invalid();
    expect(first.status).toBe(422);
    expect(first.headers["ratelimit-remaining"]).toBe(String(LIMIT - 1));
    for (let i = 1; i < LIMIT; i++) expect((await invalid()).status).toBe(422);
    const over = await invalid();
    expect(over.status).toBe(429);
    expect(over.body.code).toBe("rate_limited");
  });

  it("when a window ended more than a window ago, then the purge deletes its row and keeps live ones, and the key starts afresh", async () => {
    const c = await createCustomer(t);
    expect((await t.http().get("/v1/products").set(c.auth)).status).toBe(200);
    const key = `cust:${c.id}`;
    const stale = `cust:stale-${c.id}`;
    await t.ds.query(`INSERT INTO rate_limits (key, points, expire) VALUES ($1, 99, (extract(epoch FROM now()) * 1000)::bigint - 120000)`, [
      stale,
    ]);
    expect(await purgeExpiredRateLimits(t.ds)).toBeGreaterThanOrEqual(1);
    const keys = ((await t.ds.query(`SELECT key FROM rate_limits WHERE key = ANY($1)`, [[key, stale]])) as { key: string }[]).map(
      (r) => r.key,
    );
    expect(keys).toEqual([key]);
  });
});
