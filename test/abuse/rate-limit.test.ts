import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { buildApp } from "../../src/app.js";
import { createHttpServer } from "../../src/http/server.js";
import { purgeExpiredRateLimits } from "../../src/rate-limits/purge-expired-rate-limits.js";
import { createCustomer } from "../support/factories.js";
import { startTestApp, type TestApp, testAppDeps } from "../support/test-app.js";

const LIMIT = 10;
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ rateLimitPerMinute: LIMIT });
});
afterAll(async () => t.close());

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
