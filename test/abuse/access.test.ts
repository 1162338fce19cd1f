import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { createPayment, placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Every route that takes an id, driven from the OpenAPI document so a new
 * route cannot be forgotten: another customer's id is 404 (existence never
 * leaks), and a customer key on an admin route is 403. Nothing changes.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("access to other customers' resources", () => {
  it("when a customer names another customer's order or payment on any id-taking route, then 404 and nothing changes", async () => {
    const p = await createProduct(t, { onHand: 10 });
    const owner = await createCustomer(t, "owner");
    const intruder = await createCustomer(t, "intruder");
    const order = await placeOrder(t, owner, [{ sku: p.sku, quantity: 2 }]);
    const payment = await createPayment(t, owner, order.id);
    const other = await placeOrder(t, owner, [{ sku: p.sku, quantity: 1 }]);

    const doc = (await t.http().get("/openapi.json")).body as { paths: Record<string, Record<string, { "x-orderlock-auth": string }>> };
    const before = JSON.stringify(await t.ds.query(`SELECT id, status, version FROM orders ORDER BY id`));
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.includes("{id}")) continue;
      for (const [method, op] of Object.entries(methods)) {
        const id =
          path.startsWith("/v1/payments") || path.startsWith("/v1/sandbox") ? payment.id : path.endsWith("/payments") ? other.id : order.id;
        const url = path.replace("{id}", id);
        const call = (t.http() as unknown as Record<string, (u: string) => import("supertest").Test>)
          [method](url)
          .set(intruder.auth)
          .set("Idempotency-Key", uniqueKey());
        const res =
          method === "get" ? await call : await call.send(method === "patch" ? { version: 1, lines: [{ sku: p.sku, quantity: 1 }] } : {});
        const expected = op["x-orderlock-auth"] === "admin" ? 403 : 404;
        expect(res.status, `${method.toUpperCase()} ${path}`).toBe(expected);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    expect(JSON.stringify(await t.ds.query(`SELECT id, status, version FROM orders ORDER BY id`))).toBe(before);
    // The owner still sees both.
    expect((await t.http().get(`/v1/orders/${order.id}`).set(owner.auth)).status).toBe(200);
    expect((await t.http().get(`/v1/payments/${payment.id}`).set(owner.auth)).status).toBe(200);
  });

  it("when a customer key is used on any admin route, then 403 forbidden", async () => {
    const c = await createCustomer(t);
    const doc = (await t.http().get("/openapi.json")).body as { paths: Record<string, Record<string, { "x-orderlock-auth": string }>> };
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op["x-orderlock-auth"] !== "admin") continue;
        const url = path
          .replace(/\{[a-z]+\}/gi, "00000000-0000-4000-8000-000000000000")
          .replace("/products/00000000-0000-4000-8000-000000000000", "/products/ANY-SKU");
        const res = await (t.http() as unknown as Record<string, (u: string) => import("supertest").Test>)
          [method](url)
          .set(c.auth)
          .send(method === "get" ? undefined : {});
        expect(res.status, `${method.toUpperCase()} ${path}`).toBe(403);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(7);
  });
});
