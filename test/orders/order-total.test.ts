import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * An order's prices have one definition (src/orders/price-lines.sql): a
 * line's total is unit price × quantity, the order's total the sum of its
 * lines' totals. Placing alone, placing in a batch and changing the lines
 * all write what it returns.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type Line = { sku: string; quantity: number; unitPriceCents: number; lineTotalCents: number };

/** Orders whose stored total is not the sum of their stored lines (the oracle, written out). */
const ordersOffTheirLines = async (ids: string[]) =>
  (await t.ds.query(
    `SELECT o.id FROM orders o
      WHERE o.id = ANY($1::uuid[])
        AND o.total_cents <> (SELECT sum(l.unit_price_cents::bigint * l.quantity) FROM order_lines l WHERE l.order_id = o.id)`,
    [ids],
  )) as { id: string }[];

describe("an order's total", () => {
  it("when lines are priced, then each line's total is unit price × quantity and every line carries the order's total", async () => {
    const rows = await t.ds.query(`SELECT * FROM orderlock_price_lines($1::text[], $2::int[], $3::int[])`, [
      ["A", "B"],
      [3, 2],
      [250, 1999],
    ]);
    expect(rows).toEqual([
      { sku: "A", quantity: 3, unit_price_cents: 250, line_total_cents: 750, total_cents: 4748 },
      { sku: "B", quantity: 2, unit_price_cents: 1999, line_total_cents: 3998, total_cents: 4748 },
    ]);
  });

  it("when an order is changed after a price change, then a kept SKU keeps its price, a new one takes today's, and the total is their sum", async () => {
    const a = await createProduct(t, { priceCents: 100 });
    const b = await createProduct(t, { priceCents: 300 });
    const c = await createCustomer(t);
    const placed = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", uniqueKey())
      .send({ lines: [{ sku: a.sku, quantity: 2 }] });
    expect(placed.status).toBe(201);
    for (const p of [a, b]) {
      const { version } = (await t.http().get(`/v1/products/${p.sku}`).set(t.admin)).body as { version: number };
      const r = await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).send({ priceCents: 1000, version });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const changed = await t
      .http()
      .patch(`/v1/orders/${placed.body.id}`)
      .set(c.auth)
      .send({
        version: 1,
        lines: [
          { sku: a.sku, quantity: 3 },
          { sku: b.sku, quantity: 1 },
        ],
      });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const bySku = Object.fromEntries((changed.body.lines as Line[]).map((l) => [l.sku, l]));
    expect(bySku).toEqual({
      [a.sku]: { sku: a.sku, quantity: 3, unitPriceCents: 100, lineTotalCents: 300 },
      [b.sku]: { sku: b.sku, quantity: 1, unitPriceCents: 1000, lineTotalCents: 1000 },
    });
    expect(changed.body).toMatchObject({ totalCents: 1300, version: 2 });
    expect((await t.http().get(`/v1/orders/${placed.body.id}`).set(c.auth)).body).toEqual(changed.body);
    expect(await ordersOffTheirLines([placed.body.id])).toEqual([]);
  });

  it("when orders are placed alone and in batches, then every stored total is the sum of its stored lines", async () => {
    const a = await createProduct(t, { priceCents: 1234, onHand: 1000 });
    const b = await createProduct(t, { priceCents: 99, onHand: 1000 });
    const c = await createCustomer(t);
    const batch = [1, 2, 3].map((q) => ({
      owner: `customer:${c.id}`,
      key: uniqueKey(),
      fingerprint: "fp",
      keyTtlHours: 24,
      orderId: randomUUID(),
      customerId: c.id,
      skus: [a.sku, b.sku],
      qtys: [q, 7 * q],
      holdSeconds: 600,
      cap: 0,
    }));
    const rows = (await t.ds.query(`SELECT * FROM orderlock_place_orders($1)`, [JSON.stringify(batch)])) as { outcome: string }[];
    expect(rows.map((r) => r.outcome)).toEqual(["placed", "placed", "placed"]);
    const alone = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((q) =>
        t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", uniqueKey())
          .send({
            lines: [
              { sku: a.sku, quantity: q },
              { sku: b.sku, quantity: q + 1 },
            ],
          }),
      ),
    );
    for (const [i, r] of alone.entries()) expect(r.body.totalCents).toBe(1234 * (i + 1) + 99 * (i + 2));
    expect(await ordersOffTheirLines([...batch.map((o) => o.orderId), ...alone.map((r) => r.body.id as string)])).toEqual([]);
  });
});
