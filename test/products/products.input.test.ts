import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProduct, uniqueSku } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const productCount = async () => (await t.ds.query(`SELECT count(*)::int AS n FROM products`))[0].n as number;

describe("bad input on product routes is a 4xx problem, never a 500, and writes nothing", () => {
  const valid = () => ({ sku: uniqueSku(), name: "Thing", priceCents: 500, onHand: 3 });
  const cases: [string, (b: ReturnType<typeof valid>) => unknown, number, string][] = [
    ["price as a string", (b) => ({ ...b, priceCents: "500" }), 422, "validation_failed"],
    ["negative price", (b) => ({ ...b, priceCents: -1 }), 422, "validation_failed"],
    ["fractional price", (b) => ({ ...b, priceCents: 1.5 }), 422, "validation_failed"],
    ["huge price", (b) => ({ ...b, priceCents: 1e20 }), 422, "validation_failed"],
    ["negative onHand", (b) => ({ ...b, onHand: -5 }), 422, "validation_failed"],
    ["huge onHand", (b) => ({ ...b, onHand: 2 ** 31 }), 422, "validation_failed"],
    ["unknown field", (b) => ({ ...b, reserved: 2 }), 422, "validation_failed"],
    ["a client-set version", (b) => ({ ...b, version: 9 }), 422, "validation_failed"],
    ["missing name", ({ name: _n, ...rest }) => rest, 422, "validation_failed"],
    ["empty sku", (b) => ({ ...b, sku: "" }), 422, "validation_failed"],
    ["sku with a slash", (b) => ({ ...b, sku: "a/b" }), 422, "validation_failed"],
    ["array body", () => [1, 2], 422, "validation_failed"],
    [
      "a NUL character in the name (found by the fuzzer: PostgreSQL text cannot hold it)",
      (b) => ({ ...b, name: "a\u0000b" }),
      422,
      "validation_failed",
    ],
    ["null body", () => null, 400, "malformed_json"],
    [
      "__proto__ key",
      (b) => JSON.parse(`{"sku":"${b.sku}","name":"x","priceCents":1,"onHand":1,"__proto__":{"admin":true}}`),
      422,
      "validation_failed",
    ],
  ];

  for (const [name, make, status, code] of cases) {
    it(`when the body has ${name}, then ${status} ${code}`, async () => {
      const before = await productCount();
      const body = make(valid());
      const res = await t.http().post("/v1/products").set(t.admin).set("Content-Type", "application/json").send(JSON.stringify(body));
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.code).toBe(code);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(await productCount()).toBe(before);
    });
  }

  it("when the JSON is malformed, then 400 malformed_json", async () => {
    const res = await t.http().post("/v1/products").set(t.admin).set("Content-Type", "application/json").send('{"sku": ');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("malformed_json");
  });

  it("when the content type is not JSON, then 415", async () => {
    const res = await t.http().post("/v1/products").set(t.admin).set("Content-Type", "text/plain").send("sku=x");
    expect(res.status).toBe(415);
    expect(res.body.code).toBe("unsupported_media_type");
  });

  it("when the body is 100 KiB, then 413 and nothing is written", async () => {
    const before = await productCount();
    const res = await t
      .http()
      .post("/v1/products")
      .set(t.admin)
      .set("Content-Type", "application/json")
      .send(JSON.stringify({ ...valid(), name: "x".repeat(100 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("payload_too_large");
    expect(await productCount()).toBe(before);
  });

  it("when a SKU already exists, then 409 sku_exists and the original is untouched", async () => {
    const p = await createProduct(t, { name: "Original" });
    const res = await t
      .http()
      .post("/v1/products")
      .set(t.admin)
      .send({ ...valid(), sku: p.sku, name: "Dup" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("sku_exists");
    expect((await t.http().get(`/v1/products/${p.sku}`).set(t.admin)).body.name).toBe("Original");
  });

  it("when a stock adjustment has a zero, fractional or string delta, then 422", async () => {
    const p = await createProduct(t);
    for (const delta of [0, 1.5, "3", null, 1e12]) {
      const res = await t.http().post(`/v1/products/${p.sku}/stock-adjustments`).set(t.admin).send({ delta, reason: "r" });
      expect(res.status, String(delta)).toBe(422);
    }
    expect((await t.http().get(`/v1/products/${p.sku}`).set(t.admin)).body.version).toBe(1);
  });

  it("when list parameters are out of range or the cursor is forged, then 422", async () => {
    for (const q of ["limit=0", "limit=1000", "limit=abc", "cursor=%%%", "cursor=Zm9v", "unknown=1"]) {
      const res = await t.http().get(`/v1/products?${q}`).set(t.admin);
      expect(res.status, q).toBe(422);
    }
  });

  it("when listing page by page, then every product is seen exactly once, in SKU order", async () => {
    const prefix = uniqueSku("PAGE");
    for (let i = 0; i < 7; i++) await createProduct(t, { sku: `${prefix}-${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { sku: string }[]; nextCursor: string | null } } = await t
        .http()
        .get(`/v1/products?limit=3${cursor ? `&cursor=${cursor}` : ""}`)
        .set(t.admin);
      seen.push(...res.body.items.map((i) => i.sku));
      cursor = res.body.nextCursor;
    } while (cursor);
    const mine = seen.filter((s) => s.startsWith(prefix));
    expect(mine).toEqual(Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`));
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
  });
});

describe("authentication", () => {
  it("when no key is sent, then 401 unauthorized with WWW-Authenticate", async () => {
    const res = await t.http().get("/v1/products");
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("unauthorized");
    expect(res.headers["www-authenticate"]).toMatch(/Bearer/);
  });

  it("when an unknown key is sent, then 401", async () => {
    const res = await t.http().get("/v1/products").set("Authorization", "Bearer ol_cust_nope");
    expect(res.status).toBe(401);
  });

  it("when a customer is created, then its key works once issued and is stored only as a hash", async () => {
    const res = await t.http().post("/v1/customers").set(t.admin).send({ name: "Ann" });
    expect(res.status).toBe(201);
    expect(res.body.apiKey).toMatch(/^ol_cust_/);
    const list = await t.http().get("/v1/products").set("Authorization", `Bearer ${res.body.apiKey}`);
    expect(list.status).toBe(200);
    const rows = await t.ds.query(`SELECT key_hash FROM customer_api_keys WHERE customer_id = $1`, [res.body.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash).not.toContain(res.body.apiKey);
    expect(JSON.stringify(rows)).not.toContain(res.body.apiKey);
  });

  it("when a customer key creates a product, then 403 forbidden", async () => {
    const c = await t.http().post("/v1/customers").set(t.admin).send({ name: "Bob" });
    const res = await t
      .http()
      .post("/v1/products")
      .set("Authorization", `Bearer ${c.body.apiKey}`)
      .send({ sku: uniqueSku(), name: "x", priceCents: 1, onHand: 1 });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("forbidden");
  });

  it("responses carry no X-Powered-By", async () => {
    const res = await t.http().get("/healthz");
    expect(res.headers["x-powered-by"]).toBeUndefined();
  });
});

describe("ids that cannot exist", () => {
  it("when a SKU in the path is malformed or unknown, then 404 not_found on every product route", async () => {
    for (const sku of ["NOPE-404", "bad%20sku", "-leading-dash", "x".repeat(80)]) {
      expect((await t.http().get(`/v1/products/${sku}`).set(t.admin)).status, sku).toBe(404);
      expect((await t.http().patch(`/v1/products/${sku}`).set(t.admin).send({ version: 1, name: "x" })).status, sku).toBe(404);
      expect((await t.http().post(`/v1/products/${sku}/stock-adjustments`).set(t.admin).send({ delta: 1, reason: "r" })).status, sku).toBe(
        404,
      );
    }
  });
});
