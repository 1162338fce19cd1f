import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey, uniqueSku } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

// The batch function (src/orders/place-orders.sql) called directly, so each
// test decides exactly what one batch holds; then, through HTTP, that
// concurrent orders really are placed in batches.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type Row = { pos: number; replayed: boolean; outcome: string; facts: Record<string, unknown> };

function placement(customerId: string, lines: [string, number][], key = uniqueKey(), fingerprint = "fp") {
  return {
    owner: `customer:${customerId}`,
    key,
    fingerprint,
    keyTtlHours: 24,
    orderId: randomUUID(),
    customerId,
    skus: lines.map(([sku]) => sku),
    qtys: lines.map(([, q]) => q),
    holdSeconds: 600,
    cap: 0,
  };
}

async function placeBatch(batch: ReturnType<typeof placement>[]): Promise<Row[]> {
  const rows = (await t.ds.query(`SELECT * FROM orderlock_place_orders($1) ORDER BY pos`, [JSON.stringify(batch)])) as Row[];
  expect(rows.map((r) => r.pos)).toEqual(batch.map((_, i) => i + 1));
  return rows;
}

const reservedOf = async (sku: string) =>
  ((await t.ds.query(`SELECT reserved, on_hand FROM products WHERE sku = $1`, [sku])) as { reserved: number; on_hand: number }[])[0];

describe("orderlock_place_orders (one transaction for a batch of orders)", () => {
  it("when a batch asks for more than the stock, then orders are served in batch order: each that still fits is placed, the others get 409, and reserved is exact", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 3 });
    const rows = await placeBatch([placement(c.id, [[p.sku, 2]]), placement(c.id, [[p.sku, 2]]), placement(c.id, [[p.sku, 1]])]);
    expect(rows.map((r) => r.outcome)).toEqual(["placed", "out_of_stock", "placed"]);
    expect(rows[1].facts.unavailable).toEqual([{ sku: p.sku, requested: 2, available: 1, per_customer_limit: null }]);
    expect(await reservedOf(p.sku)).toEqual({ reserved: 3, on_hand: 3 });
  });

  it("when one order of a batch names an unknown SKU, then it alone gets 422 and nothing of it is written; the others are placed", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 10 });
    const rows = await placeBatch([
      placement(c.id, [[p.sku, 1]]),
      placement(c.id, [
        [p.sku, 4],
        [uniqueSku("NOPE"), 1],
      ]),
      placement(c.id, [[p.sku, 2]]),
    ]);
    expect(rows.map((r) => r.outcome)).toEqual(["placed", "unknown_sku", "placed"]);
    expect((await reservedOf(p.sku)).reserved).toBe(3);
  });

  it("when one Idempotency-Key appears twice in a batch, then the later request gets 409 in_use (the first is still in flight), and one order exists", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 10 });
    const key = uniqueKey();
    const rows = await placeBatch([
      placement(c.id, [[p.sku, 1]], key),
      placement(c.id, [[p.sku, 1]], key),
      placement(c.id, [[p.sku, 5]], key, "another-fingerprint"),
      placement(c.id, [[p.sku, 2]]),
    ]);
    expect(rows.map((r) => r.outcome)).toEqual(["placed", "in_use", "in_use", "placed"]);
    expect((await reservedOf(p.sku)).reserved).toBe(3);
    const orders = (await t.ds.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [c.id])) as { n: number }[];
    expect(orders[0].n).toBe(2);
    // Once it has committed, the same request replays it.
    const [again] = await placeBatch([placement(c.id, [[p.sku, 1]], key), placement(c.id, [[p.sku, 1]])]);
    expect([again.replayed, again.outcome]).toEqual([true, "placed"]);
    expect(again.facts).toEqual(rows[0].facts);
  });
});

describe("placing orders under load (src/db/batcher.ts)", () => {
  it("when 60 orders for one SKU arrive at once, then they commit in fewer transactions than orders, and every unit is accounted for exactly", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 45 });
    const responses = await Promise.all(
      Array.from({ length: 60 }, () =>
        t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", uniqueKey())
          .send({ lines: [{ sku: p.sku, quantity: 1 }] }),
      ),
    );
    const placed = responses.filter((r) => r.status === 201);
    expect(placed).toHaveLength(45);
    expect(responses.filter((r) => r.status === 409).every((r) => r.body.code === "out_of_stock")).toBe(true);
    expect(responses.filter((r) => r.status === 409)).toHaveLength(15);
    expect((await reservedOf(p.sku)).reserved).toBe(45);
    // Rows written by one transaction share its xmin: fewer distinct xmins than orders means batches.
    const ids = placed.map((r) => r.body.id as string);
    const [{ transactions }] = (await t.ds.query(
      `SELECT count(DISTINCT xmin::text)::int AS transactions FROM orders WHERE id = ANY($1::uuid[])`,
      [ids],
    )) as { transactions: number }[];
    expect(transactions).toBeLessThan(45);
  });
});
