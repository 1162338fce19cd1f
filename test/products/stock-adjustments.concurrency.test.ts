import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProduct } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const adjust = (sku: string, delta: number) =>
  t.http().post(`/v1/products/${sku}/stock-adjustments`).set(t.admin).send({ delta, reason: "test" });

describe("POST /v1/products/:sku/stock-adjustments under contention", () => {
  it("when 50 +1 adjustments race, then on_hand rises by exactly 50 and the version by exactly 50", async () => {
    const p = await createProduct(t, { onHand: 7 });
    const responses = await Promise.all(Array.from({ length: 50 }, () => adjust(p.sku, 1)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const now = await t.http().get(`/v1/products/${p.sku}`).set(t.admin);
    expect(now.body).toMatchObject({ onHand: 57, version: 51 });
    const [{ count }] = await t.ds.query(`SELECT count(*)::int AS count FROM stock_adjustments WHERE sku = $1`, [p.sku]);
    expect(count).toBe(50);
  });

  it("when 30 -1 adjustments race for 20 units, then exactly 20 succeed, 10 get 409 insufficient_stock, and stock ends at 0", async () => {
    const p = await createProduct(t, { onHand: 20 });
    const responses = await Promise.all(Array.from({ length: 30 }, () => adjust(p.sku, -1)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(20);
    const rejected = responses.filter((r) => r.status === 409);
    expect(rejected).toHaveLength(10);
    expect(rejected.every((r) => r.body.code === "insufficient_stock")).toBe(true);
    const now = await t.http().get(`/v1/products/${p.sku}`).set(t.admin);
    expect(now.body).toMatchObject({ onHand: 0, available: 0 });
  });

  it("when an adjustment would take on_hand below reserved, then 409 and nothing changes", async () => {
    const p = await createProduct(t, { onHand: 10 });
    await t.ds.query(`UPDATE products SET reserved = 8 WHERE sku = $1`, [p.sku]);
    const res = await adjust(p.sku, -3);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("insufficient_stock");
    const [row] = await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [p.sku]);
    expect(row).toEqual({ on_hand: 10, reserved: 8 });
  });

  it("when the adjustment would overflow on_hand, then 422 and nothing changes", async () => {
    const p = await createProduct(t, { onHand: 1_000_000_000 });
    await adjust(p.sku, 1_000_000_000);
    const res = await adjust(p.sku, 1_000_000_000);
    expect(res.status).toBe(422);
    const [row] = await t.ds.query(`SELECT on_hand FROM products WHERE sku = $1`, [p.sku]);
    expect(row.on_hand).toBe(2_000_000_000);
  });
});
