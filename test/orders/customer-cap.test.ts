import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

const CAP = 5;
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ maxUnitsPerCustomerSku: CAP });
});
afterAll(async () => t.close());

const reserved = async (sku: string) => (await t.ds.query(`SELECT reserved FROM products WHERE sku = $1`, [sku]))[0].reserved as number;
const place = (c: { auth: Record<string, string> }, sku: string, quantity: number) =>
  t
    .http()
    .post("/v1/orders")
    .set(c.auth)
    .set("Idempotency-Key", uniqueKey())
    .send({ lines: [{ sku, quantity }] });

describe("cap on the units one customer may hold of one SKU", () => {
  it("when one customer fires 12 concurrent single-unit orders with a cap of 5, then exactly 5 succeed; another customer can still buy", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const hoarder = await createCustomer(t);
    const responses = await Promise.all(Array.from({ length: 12 }, () => place(hoarder, p.sku, 1)));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(CAP);
    const refused = responses.filter((r) => r.status === 409);
    expect(refused).toHaveLength(12 - CAP);
    expect(refused[0].body.unavailable).toEqual([{ sku: p.sku, requested: 1, available: 0, perCustomerLimit: CAP }]);
    expect(await reserved(p.sku)).toBe(CAP);

    const other = await createCustomer(t);
    expect((await place(other, p.sku, CAP)).status).toBe(201);
  });

  it("when a cancelled order frees the customer's holds, then they may reserve again; patching past the cap is refused", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const first = await place(c, p.sku, 4);
    expect(first.status).toBe(201);
    expect((await place(c, p.sku, 2)).status).toBe(409);
    const patch = await t
      .http()
      .patch(`/v1/orders/${first.body.id}`)
      .set(c.auth)
      .send({ version: 1, lines: [{ sku: p.sku, quantity: 6 }] });
    expect(patch.status).toBe(409);
    expect(patch.body.unavailable[0]).toMatchObject({ perCustomerLimit: CAP, available: CAP });
    await t.http().post(`/v1/orders/${first.body.id}/cancel`).set(c.auth);
    expect((await place(c, p.sku, 5)).status).toBe(201);
    expect(await reserved(p.sku)).toBe(5);
  });
});
