import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrations } from "../../migrations/index.js";
import { buildApp } from "../../src/app.js";
import { hashApiKey, newCustomerApiKey } from "../../src/auth/api-keys.js";
import { startTestApp, type TestApp, testAppDeps } from "../support/test-app.js";

/**
 * The CustomerKeys migration on a database that already has customers: each
 * customer's key (customers.api_key_hash before) becomes its first key, and
 * keeps working. Down and up again, on the test's own clone of the template.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("migrating customer keys", () => {
  it("when customers exist before the migration, then each one's key is its first key afterwards and still authenticates", async () => {
    // Back to just before CustomerKeys: it and every migration after it undone.
    const redone = migrations.slice(migrations.findIndex((m) => m.name === "CustomerKeys1764000000100")).map((m) => m.name);
    for (let i = 0; i < redone.length; i++) await t.ds.undoLastMigration({ transaction: "each" });
    const apiKey = newCustomerApiKey();
    const [{ id }] = await t.ds.query(`INSERT INTO customers (name, api_key_hash) VALUES ('Before keys', $1) RETURNING id`, [
      hashApiKey(apiKey),
    ]);
    expect((await t.ds.runMigrations({ transaction: "each" })).map((m) => m.name)).toEqual(redone);
    expect(redone[0]).toBe("CustomerKeys1764000000100");

    const columns = await t.ds.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'`);
    expect(columns.map((c: { column_name: string }) => c.column_name)).not.toContain("api_key_hash");
    const app = buildApp(testAppDeps(t.ds));
    expect((await request(app).get("/v1/orders").set("Authorization", `Bearer ${apiKey}`)).status).toBe(200);
    const keys = await request(app).get(`/v1/customers/${id}/keys`).set(t.admin);
    expect(keys.status).toBe(200);
    expect(keys.body.items).toHaveLength(1);
    expect(keys.body.items[0].revokedAt).toBeNull();
    // The migrated key holds a slot: one more may be issued, not two.
    expect((await request(app).post(`/v1/customers/${id}/keys`).set(t.admin).send({})).status).toBe(201);
    expect((await request(app).post(`/v1/customers/${id}/keys`).set(t.admin).send({})).status).toBe(409);
  });
});
