import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, uniqueKey } from "../support/factories.js";
import { eventually } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/** Key rotation and revocation (admin): issue, list, revoke; at most two active keys per customer. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type KeyView = { id: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null };
const bearer = (apiKey: string) => ({ Authorization: `Bearer ${apiKey}` });
const listKeys = async (customerId: string) => {
  const res = await t.http().get(`/v1/customers/${customerId}/keys`).set(t.admin);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items as KeyView[];
};
const issueKey = (customerId: string) => t.http().post(`/v1/customers/${customerId}/keys`).set(t.admin).send({});
const revoke = (customerId: string, keyId: string) => t.http().delete(`/v1/customers/${customerId}/keys/${keyId}`).set(t.admin);
const activeKeys = async (customerId: string) =>
  (await t.ds.query(`SELECT count(*)::int AS n FROM customer_api_keys WHERE customer_id = $1 AND revoked_at IS NULL`, [customerId]))[0]
    .n as number;

describe("customer API keys", () => {
  it("when a customer is created, then its key is listed as its first key, with no secret in the list", async () => {
    const c = await createCustomer(t);
    const items = await listKeys(c.id);
    expect(items).toHaveLength(1);
    expect(Object.keys(items[0]).sort()).toEqual(["createdAt", "id", "lastUsedAt", "revokedAt"]);
    expect(items[0].revokedAt).toBeNull();
    expect(JSON.stringify(items)).not.toContain(c.apiKey);
  });

  it("when a key is rotated, then both keys work, a third is 409 invalid_state, and revoking the old one frees a slot", async () => {
    const c = await createCustomer(t);
    const [first] = await listKeys(c.id);

    const second = await issueKey(c.id);
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    expect(second.body).toEqual({
      id: expect.any(String),
      customerId: c.id,
      apiKey: expect.stringMatching(/^ol_cust_/),
      createdAt: expect.any(String),
    });
    expect(second.headers.location).toBe(`/v1/customers/${c.id}/keys/${second.body.id}`);
    expect((await t.http().get("/v1/orders").set(c.auth)).status).toBe(200);
    expect((await t.http().get("/v1/orders").set(bearer(second.body.apiKey))).status).toBe(200);

    const third = await issueKey(c.id);
    expect(third.status).toBe(409);
    expect(third.body.code).toBe("invalid_state");
    expect(await activeKeys(c.id)).toBe(2);

    const revoked = await revoke(c.id, first.id);
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body).toMatchObject({ id: first.id, createdAt: first.createdAt });
    expect(Date.parse(revoked.body.revokedAt)).toBeGreaterThan(0);
    await eventually(async () => expect((await t.http().get("/v1/orders").set(c.auth)).status).toBe(401), 5000);
    expect((await t.http().get("/v1/orders").set(bearer(second.body.apiKey))).status).toBe(200);

    const again = await issueKey(c.id);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await t.http().get("/v1/orders").set(bearer(again.body.apiKey))).status).toBe(200);
    const items = await listKeys(c.id);
    expect(items.map((k) => k.id)).toEqual([first.id, second.body.id, again.body.id]);
    expect(items.map((k) => k.revokedAt === null)).toEqual([false, true, true]);
  });

  it("when twenty issues for one customer race, then exactly one succeeds and the customer holds exactly two active keys", async () => {
    const c = await createCustomer(t);
    const results = await Promise.all(Array.from({ length: 20 }, () => issueKey(c.id)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === "invalid_state")).toBe(true);
    expect(await activeKeys(c.id)).toBe(2);
  });

  it("when a third active key is inserted behind the service's back, then the database refuses it", async () => {
    const c = await createCustomer(t);
    expect((await issueKey(c.id)).status).toBe(201);
    const insert = (slot: number) =>
      t.ds.query(`INSERT INTO customer_api_keys (customer_id, key_hash, slot) VALUES ($1, repeat('a', 64), $2)`, [c.id, slot]);
    await expect(insert(1)).rejects.toMatchObject({ driverError: { code: "23505" } });
    await expect(insert(2)).rejects.toMatchObject({ driverError: { code: "23505" } });
    await expect(insert(3)).rejects.toMatchObject({ driverError: { code: "23514" } });
  });

  it("when a revoked key is revoked again, then 200 with its first revokedAt; an unknown key or another customer's is 404", async () => {
    const a = await createCustomer(t, "a");
    const b = await createCustomer(t, "b");
    const [key] = await listKeys(a.id);
    const first = await revoke(a.id, key.id);
    const second = await revoke(a.id, key.id);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const [bKey] = await listKeys(b.id);
    expect((await revoke(a.id, bKey.id)).status).toBe(404);
    expect((await revoke(a.id, "00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await revoke(a.id, "not-a-uuid")).status).toBe(404);
    expect((await listKeys(b.id))[0].revokedAt).toBeNull();
    for (const res of [
      await issueKey("00000000-0000-4000-8000-000000000000"),
      await t.http().get("/v1/customers/00000000-0000-4000-8000-000000000000/keys").set(t.admin),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
  });

  it("when a customer key calls the key routes, then 403, and the admin key is never listed", async () => {
    const c = await createCustomer(t);
    const [key] = await listKeys(c.id);
    expect((await t.http().get(`/v1/customers/${c.id}/keys`).set(c.auth)).status).toBe(403);
    expect((await t.http().post(`/v1/customers/${c.id}/keys`).set(c.auth).send({})).status).toBe(403);
    expect((await t.http().delete(`/v1/customers/${c.id}/keys/${key.id}`).set(c.auth)).status).toBe(403);
    expect((await listKeys(c.id))[0].revokedAt).toBeNull();
  });

  it("when a key is used, then its lastUsedAt is recorded once, and not rewritten by uses within the minute", async () => {
    const c = await createCustomer(t);
    expect((await listKeys(c.id))[0].lastUsedAt).toBeNull();
    expect((await t.http().get("/v1/orders").set(c.auth)).status).toBe(200);
    let firstUse = "";
    await eventually(async () => {
      firstUse = (await listKeys(c.id))[0].lastUsedAt ?? "";
      expect(firstUse).not.toBe("");
    }, 5000);
    for (let i = 0; i < 5; i++) expect((await t.http().get("/v1/orders").set(c.auth)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect((await listKeys(c.id))[0].lastUsedAt).toBe(firstUse);
  });

  it("when an issue is repeated with its Idempotency-Key, then no second key is issued", async () => {
    const c = await createCustomer(t);
    const key = uniqueKey();
    const first = await t.http().post(`/v1/customers/${c.id}/keys`).set(t.admin).set("Idempotency-Key", key).send({});
    const replay = await t.http().post(`/v1/customers/${c.id}/keys`).set(t.admin).set("Idempotency-Key", key).send({});
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(await activeKeys(c.id)).toBe(2);
  });
});
