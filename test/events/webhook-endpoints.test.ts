import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookRelay } from "../../src/events/start-webhook-relay.js";
import type { ResolvedAddress } from "../../src/events/url-policy.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { eventually, placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";

/**
 * Webhook endpoints as a resource, and the SSRF policy, with the production
 * policy (https only, public addresses only) and an injected resolver.
 */
const dns = new Map<string, ResolvedAddress[]>([["hooks.example.test", [{ address: "93.184.216.34", family: 4 }]]]);
const resolve = async (host: string) => {
  if (host === "localhost") return [{ address: "127.0.0.1", family: 4 as const }];
  const found = dns.get(host);
  if (!found) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  return found;
};
const policy = { allowInsecure: false, allowPrivate: false, resolve };

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ webhooks: { policy, retryHours: 24 } });
});
afterAll(async () => t.close());

const create = (body: unknown, key?: string) => {
  const req = t.http().post("/v1/webhook-endpoints").set(t.admin);
  return (key ? req.set("Idempotency-Key", key) : req).send(body as object);
};

describe("POST /v1/webhook-endpoints", () => {
  it("when created, then 201 with a whsec_ secret shown once, stored encrypted, and never in a GET", async () => {
    const res = await create({ url: "https://hooks.example.test/orderlock", eventTypes: ["order.placed"], description: "shop" });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      url: "https://hooks.example.test/orderlock",
      eventTypes: ["order.placed"],
      status: "enabled",
      version: 1,
    });
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(res.headers.etag).toBe('"1"');
    const [row] = await t.ds.query(`SELECT secret_encrypted FROM webhook_endpoints WHERE id = $1`, [res.body.id]);
    expect(row.secret_encrypted).not.toContain(res.body.secret.slice(6));
    const got = await t.http().get(`/v1/webhook-endpoints/${res.body.id}`).set(t.admin);
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect(got.body.health).toEqual({ lastSuccessAt: null, lastFailureAt: null, lastError: null, failingStreak: 0, pendingDeliveries: 0 });
    const list = await t.http().get("/v1/webhook-endpoints").set(t.admin);
    expect(list.body.items.map((e: { id: string }) => e.id)).toContain(res.body.id);
    expect(JSON.stringify(list.body)).not.toContain(res.body.secret);
  });

  it("when replayed with the same Idempotency-Key, then the same status and body with secret null, and no secret is stored", async () => {
    const key = uniqueKey();
    const first = await create({ url: "https://hooks.example.test/a" }, key);
    const again = await create({ url: "https://hooks.example.test/a" }, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual({ ...first.body, secret: null });
    const stored = await t.ds.query(`SELECT facts::text AS facts FROM idempotency_keys WHERE key = $1`, [key]);
    expect(stored[0].facts).not.toContain(first.body.secret.slice(6, 30));
    expect(Number((await t.ds.query(`SELECT count(*) FROM webhook_endpoints WHERE url = $1`, [first.body.url]))[0].count)).toBe(1);
  });

  it.each([
    ["http://127.0.0.1/hook", "https"],
    ["https://10.0.0.1/hook", "10.0.0.1"],
    ["https://169.254.169.254/latest/meta-data", "169.254.169.254"],
    ["https://localhost/hook", "127.0.0.1"],
    ["https://[::1]/hook", "::1"],
    ["https://[fd00::1]/hook", "fd00::1"],
    ["https://100.64.0.1/hook", "100.64.0.1"],
    ["https://0.0.0.0/hook", "0.0.0.0"],
    ["https://2130706433/hook", "127.0.0.1"], // a decimal IPv4 literal, normalised by the URL parser
    ["https://0x7f.1/hook", "127.0.0.1"],
    ["https://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1"],
    ["https://user:pw@hooks.example.test/hook", "credentials"],
    ["https://nowhere.example.test/hook", "resolve"],
    ["ftp://hooks.example.test/hook", "https"],
  ])("when the url is %s, then 422 validation_failed and nothing is stored", async (url, why) => {
    const before = (await t.ds.query(`SELECT count(*)::int AS n FROM webhook_endpoints`))[0].n;
    const res = await create({ url });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe("validation_failed");
    expect(res.body.errors[0].path).toBe("url");
    expect(JSON.stringify(res.body.errors)).toContain(why);
    expect((await t.ds.query(`SELECT count(*)::int AS n FROM webhook_endpoints`))[0].n).toBe(before);
  });
});

describe("GET /v1/webhook-endpoints", () => {
  it("when followed page by page (limit 1), then every endpoint comes once, oldest first, and the last page has no nextCursor", async () => {
    const before = ((await t.ds.query(`SELECT count(*)::int AS n FROM webhook_endpoints WHERE deleted_at IS NULL`)) as { n: number }[])[0]
      .n;
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await create({ url: `https://hooks.example.test/page-${i}` })).body.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < before + 4; page++) {
      const res = await t
        .http()
        .get("/v1/webhook-endpoints")
        .query({ limit: 1, ...(cursor ? { cursor } : {}) })
        .set(t.admin);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((e: { id: string }) => e.id));
      cursor = res.body.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect({ done: cursor === undefined, count: seen.length, distinct: new Set(seen).size, last: seen.slice(-3) }).toEqual({
      done: true,
      count: before + 3,
      distinct: before + 3,
      last: made,
    });
  });
});

describe("PATCH and DELETE /v1/webhook-endpoints/:id", () => {
  it("when patched with a stale version, then 409 with the current one; without one, 428; a private url, 422", async () => {
    const { body: ep } = await create({ url: "https://hooks.example.test/p" });
    const first = await t.http().patch(`/v1/webhook-endpoints/${ep.id}`).set(t.admin).set("If-Match", '"1"').send({ status: "disabled" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ status: "disabled", version: 2 });
    const stale = await t.http().patch(`/v1/webhook-endpoints/${ep.id}`).set(t.admin).send({ version: 1, description: "late" });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ code: "version_conflict", currentVersion: 2, current: { status: "disabled", description: null } });
    expect((await t.http().patch(`/v1/webhook-endpoints/${ep.id}`).set(t.admin).send({ status: "enabled" })).status).toBe(428);
    const priv = await t.http().patch(`/v1/webhook-endpoints/${ep.id}`).set(t.admin).send({ version: 2, url: "https://10.1.2.3/x" });
    expect(priv.status).toBe(422);
    const both = await t
      .http()
      .patch(`/v1/webhook-endpoints/${ep.id}`)
      .set(t.admin)
      .send({ version: 2, status: "enabled", eventTypes: null, url: "https://hooks.example.test/q" });
    expect(both.body).toMatchObject({ version: 3, status: "enabled", eventTypes: null, url: "https://hooks.example.test/q" });
  });

  it("when deleted, then 204, then 404 for GET, PATCH, DELETE and its deliveries", async () => {
    const { body: ep } = await create({ url: "https://hooks.example.test/d" });
    expect((await t.http().delete(`/v1/webhook-endpoints/${ep.id}`).set(t.admin)).status).toBe(204);
    expect((await t.http().get(`/v1/webhook-endpoints/${ep.id}`).set(t.admin)).status).toBe(404);
    expect((await t.http().delete(`/v1/webhook-endpoints/${ep.id}`).set(t.admin)).status).toBe(404);
    expect((await t.http().patch(`/v1/webhook-endpoints/${ep.id}`).set(t.admin).send({ version: 2, status: "enabled" })).status).toBe(404);
    expect((await t.http().get(`/v1/webhook-endpoints/${ep.id}/deliveries`).set(t.admin)).status).toBe(404);
  });
});

describe("delivery-time SSRF check", () => {
  it("when the host's DNS changes to a private address after creation, then the delivery is refused, logged, and nothing is sent", async () => {
    // Everything before this endpoint is disabled, so the relay only talks to this one.
    await t.ds.query(`UPDATE webhook_endpoints SET status = 'disabled'`);
    dns.set("rebind.example.test", [{ address: "93.184.216.34", family: 4 }]);
    const { body: ep } = await create({ url: "https://rebind.example.test/hook" });
    expect(ep.id).toBeDefined();
    dns.set("rebind.example.test", [{ address: "10.0.0.7", family: 4 }]);

    const relay = startWebhookRelay(t.ds, {
      serviceSecret: WEBHOOK_SECRET,
      policy,
      retryDelaysMs: [60_000],
      retryHours: 24,
      timeoutMs: 2000,
      concurrency: 8,
      intervalMs: 50,
      logger: pino({ level: "silent" }),
    });
    try {
      const p = await createProduct(t, { onHand: 5 });
      const c = await createCustomer(t);
      await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
      await eventually(async () => {
        const res = await t.http().get(`/v1/webhook-endpoints/${ep.id}/deliveries`).set(t.admin);
        expect(res.body.items.length).toBeGreaterThan(0);
        expect(res.body.items[0]).toMatchObject({ attempt: 1, status: "refused", httpStatus: null });
        expect(res.body.items[0].error).toContain("10.0.0.7");
      });
      const got = await t.http().get(`/v1/webhook-endpoints/${ep.id}`).set(t.admin);
      expect(got.body.health).toMatchObject({ failingStreak: 1, lastSuccessAt: null, pendingDeliveries: 1 });
    } finally {
      await relay.stop();
    }
  });
});
