import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/auth/api-keys.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/** A stored Idempotency-Key answer never holds a secret: a replay answers the secret member null. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

/** Every row of every table in the public schema, as JSON text. */
async function dumpEveryTable(): Promise<string> {
  const tables: { name: string }[] = await t.ds.query(
    `SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
  );
  expect(tables.map((x) => x.name)).toEqual(expect.arrayContaining(["customers", "customer_api_keys", "idempotency_keys"]));
  let dump = "";
  for (const { name } of tables) {
    const rows: { row: string }[] = await t.ds.query(`SELECT row_to_json(x)::text AS row FROM ${name} x`);
    for (const { row } of rows) dump += `${name}: ${row}\n`;
  }
  return dump;
}

describe("secrets and stored Idempotency-Key answers", () => {
  it("when a keyed customer creation is replayed, then the same status and body with apiKey null, and the key still works", async () => {
    const key = uniqueKey();
    const send = () => t.http().post("/v1/customers").set(t.admin).set("Idempotency-Key", key).send({ name: "Replayed" });
    const first = await send();
    const replay = await send();
    expect(first.status).toBe(201);
    expect(first.body.apiKey).toMatch(/^ol_cust_/);
    expect(replay.status).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.headers.location).toBe(first.headers.location);
    expect(replay.body).toEqual({ ...first.body, apiKey: null });
    expect((await t.http().get("/v1/products").set("Authorization", `Bearer ${first.body.apiKey}`)).status).toBe(200);
  });

  it("when a keyed key issue is replayed, then the same status and body with apiKey null", async () => {
    const c = await createCustomer(t);
    const key = uniqueKey();
    const send = () => t.http().post(`/v1/customers/${c.id}/keys`).set(t.admin).set("Idempotency-Key", key).send({});
    const first = await send();
    const replay = await send();
    expect(first.status).toBe(201);
    expect(first.body.apiKey).toMatch(/^ol_cust_/);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual({ ...first.body, apiKey: null });
  });

  it("when a refused keyed issue is replayed, then the stored problem is answered again", async () => {
    const c = await createCustomer(t);
    expect((await t.http().post(`/v1/customers/${c.id}/keys`).set(t.admin).send({})).status).toBe(201);
    const key = uniqueKey();
    const send = () => t.http().post(`/v1/customers/${c.id}/keys`).set(t.admin).set("Idempotency-Key", key).send({});
    const first = await send();
    const replay = await send();
    expect(first.status).toBe(409);
    expect(replay.status).toBe(409);
    expect(replay.body).toEqual(first.body);
  });

  it("when the API tour has run (customers, an order, key rotation and revocation), then no table holds an issued key in plain text", async () => {
    const issued: string[] = [];
    const p = await createProduct(t, { onHand: 5 });
    const plain = await createCustomer(t, "tour, no Idempotency-Key");
    issued.push(plain.apiKey);
    const keyed = await t.http().post("/v1/customers").set(t.admin).set("Idempotency-Key", uniqueKey()).send({ name: "tour, keyed" });
    expect(keyed.status).toBe(201);
    issued.push(keyed.body.apiKey);
    await placeOrder(t, plain, [{ sku: p.sku, quantity: 1 }]);

    const rotated = await t.http().post(`/v1/customers/${plain.id}/keys`).set(t.admin).set("Idempotency-Key", uniqueKey()).send({});
    expect(rotated.status).toBe(201);
    issued.push(rotated.body.apiKey);
    const [oldKey] = (await t.http().get(`/v1/customers/${plain.id}/keys`).set(t.admin)).body.items;
    expect((await t.http().delete(`/v1/customers/${plain.id}/keys/${oldKey.id}`).set(t.admin)).status).toBe(200);
    const rotatedAgain = await t.http().post(`/v1/customers/${keyed.body.id}/keys`).set(t.admin).send({});
    expect(rotatedAgain.status).toBe(201);
    issued.push(rotatedAgain.body.apiKey);
    // Keys in use, so lastUsedAt and rate-limit rows are written too.
    await placeOrder(t, { auth: { Authorization: `Bearer ${rotated.body.apiKey}` } }, [{ sku: p.sku, quantity: 1 }]);

    const dump = await dumpEveryTable();
    expect(issued).toHaveLength(4);
    for (const secret of issued) {
      expect(secret).toMatch(/^ol_cust_/);
      // The dump really covers the key table: each key's hash is in it ...
      expect(dump).toContain(hashApiKey(secret));
      // ... and no key itself, nor its random part, anywhere.
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice("ol_cust_".length));
    }
    expect(dump).toMatch(/idempotency_keys: .*"apiKey": ?null/);
  });
});
