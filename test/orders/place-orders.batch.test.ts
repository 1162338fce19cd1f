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

const orderFactsOf = async (orderId: string) =>
  ((await t.ds.query(`SELECT facts AS f FROM orderlock_order_facts(ARRAY[$1::uuid])`, [orderId])) as { f: Record<string, unknown> }[])[0].f;

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

  it("when a batch of new orders fits the stock, then it is placed all at once exactly as one by one: each order, its lines at the product's price, its total, its order.placed event and its stored key", async () => {
    const c = await createCustomer(t);
    const a = await createProduct(t, { onHand: 10, priceCents: 250 });
    const b = await createProduct(t, { onHand: 10, priceCents: 100 });
    const batch = [
      placement(c.id, [[a.sku, 2]]),
      placement(c.id, [
        [b.sku, 3],
        [a.sku, 1],
      ]),
      placement(c.id, [[b.sku, 1]]),
    ];
    const rows = await placeBatch(batch);
    expect(rows.map((r) => r.outcome)).toEqual(["placed", "placed", "placed"]);
    expect(rows.map((r) => r.facts.total_cents)).toEqual([500, 550, 100]);
    expect(rows[1].facts.lines).toEqual(
      [
        { sku: a.sku, quantity: 1, unit_price_cents: 250, line_total_cents: 250 },
        { sku: b.sku, quantity: 3, unit_price_cents: 100, line_total_cents: 300 },
      ].sort((x, y) => (x.sku < y.sku ? -1 : 1)),
    );
    expect(await reservedOf(a.sku)).toEqual({ reserved: 3, on_hand: 10 });
    expect(await reservedOf(b.sku)).toEqual({ reserved: 4, on_hand: 10 });
    // All at once: one reservation move for the batch, so each product changed once (one by one: once per order).
    const versions = (await t.ds.query(`SELECT version FROM products WHERE sku = ANY($1) ORDER BY sku`, [[a.sku, b.sku].sort()])) as {
      version: number;
    }[];
    expect(versions.map((v) => v.version)).toEqual([a, b].sort((x, y) => (x.sku < y.sku ? -1 : 1)).map((p) => p.version + 1));
    // What one order alone would have written: the same facts in its event and its stored key, events in batch order.
    for (const [i, r] of rows.entries()) expect(r.facts).toEqual(await orderFactsOf(batch[i].orderId));
    const events = (await t.ds.query(
      `SELECT resource_id, type, facts FROM events WHERE resource_id = ANY($1::uuid[]) ORDER BY position, seq`,
      [batch.map((o) => o.orderId)],
    )) as { resource_id: string; type: string; facts: unknown }[];
    expect(events.map((e) => [e.resource_id, e.type])).toEqual(batch.map((o) => [o.orderId, "order.placed"]));
    expect(events.map((e) => e.facts)).toEqual(rows.map((r) => r.facts));
    const replays = await placeBatch(batch);
    expect(replays.map((r) => [r.replayed, r.outcome])).toEqual(batch.map(() => [true, "placed"]));
    expect(replays.map((r) => r.facts)).toEqual(rows.map((r) => r.facts));
    expect((await reservedOf(a.sku)).reserved).toBe(3);
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
