import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey, uniqueSku } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const stock = async (sku: string) =>
  (await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku]))[0] as { on_hand: number; reserved: number };
const heldInOpenOrders = async (sku: string) =>
  (
    await t.ds.query(
      `SELECT coalesce(sum(l.quantity), 0)::int AS n FROM order_lines l JOIN orders o ON o.id = l.order_id
        WHERE l.sku = $1 AND o.status IN ('reserved', 'pending_payment')`,
      [sku],
    )
  )[0].n as number;

describe("POST /v1/orders under contention", () => {
  it("when 100 single-unit orders race for 20 units, then exactly 20 are placed and 80 get 409 out_of_stock", async () => {
    const p = await createProduct(t, { onHand: 20 });
    const customers = await Promise.all(Array.from({ length: 5 }, (_, i) => createCustomer(t, `buyer ${i}`)));
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t
          .http()
          .post("/v1/orders")
          .set(customers[i % 5].auth)
          .set("Idempotency-Key", uniqueKey())
          .send({ lines: [{ sku: p.sku, quantity: 1 }] }),
      ),
    );
    const byStatus = new Map<number, number>();
    for (const r of responses) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 201: 20, 409: 80 });
    for (const r of responses.filter((x) => x.status === 409)) {
      expect(r.body).toMatchObject({ code: "out_of_stock", unavailable: [{ sku: p.sku, requested: 1, available: 0 }] });
    }
    expect(await stock(p.sku)).toEqual({ on_hand: 20, reserved: 20 });
    expect(await heldInOpenOrders(p.sku)).toBe(20);
  });

  it("when 80 two-line orders race with their lines in opposite orders, then none deadlocks or fails and reservations are exact", async () => {
    const a = await createProduct(t, { sku: uniqueSku("A"), onHand: 1000 });
    const b = await createProduct(t, { sku: uniqueSku("B"), onHand: 1000 });
    const c = await createCustomer(t);
    const responses = await Promise.all(
      Array.from({ length: 80 }, (_, i) => {
        const lines =
          i % 2 === 0
            ? [
                { sku: a.sku, quantity: 2 },
                { sku: b.sku, quantity: 3 },
              ]
            : [
                { sku: b.sku, quantity: 3 },
                { sku: a.sku, quantity: 2 },
              ];
        return t.http().post("/v1/orders").set(c.auth).set("Idempotency-Key", uniqueKey()).send({ lines });
      }),
    );
    expect(responses.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);
    expect(await stock(a.sku)).toEqual({ on_hand: 1000, reserved: 160 });
    expect(await stock(b.sku)).toEqual({ on_hand: 1000, reserved: 240 });
  });

  it("when one line of an order is short, then 409 lists every short line and nothing at all is reserved", async () => {
    const a = await createProduct(t, { onHand: 5 });
    const b = await createProduct(t, { onHand: 1 });
    const c2 = await createProduct(t, { onHand: 0 });
    const cust = await createCustomer(t);
    const res = await t
      .http()
      .post("/v1/orders")
      .set(cust.auth)
      .set("Idempotency-Key", uniqueKey())
      .send({
        lines: [
          { sku: a.sku, quantity: 5 },
          { sku: b.sku, quantity: 2 },
          { sku: c2.sku, quantity: 1 },
        ],
      });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("out_of_stock");
    expect([...res.body.unavailable].sort((x: { sku: string }, y: { sku: string }) => x.sku.localeCompare(y.sku))).toEqual(
      [
        { sku: b.sku, requested: 2, available: 1 },
        { sku: c2.sku, requested: 1, available: 0 },
      ].sort((x, y) => x.sku.localeCompare(y.sku)),
    );
    for (const p of [a, b, c2]) expect((await stock(p.sku)).reserved).toBe(0);
    expect((await t.ds.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [cust.id]))[0].n).toBe(0);
  });

  it("when an order is placed, then prices come from the product and totals are computed server-side", async () => {
    const a = await createProduct(t, { priceCents: 250, onHand: 10 });
    const b = await createProduct(t, { priceCents: 1999, onHand: 10 });
    const cust = await createCustomer(t);
    const res = await t
      .http()
      .post("/v1/orders")
      .set(cust.auth)
      .set("Idempotency-Key", uniqueKey())
      .send({
        lines: [
          { sku: b.sku, quantity: 1 },
          { sku: a.sku, quantity: 4 },
        ],
      });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/orders/${res.body.id}`);
    expect(res.headers.etag).toBe('"1"');
    expect(res.body).toMatchObject({ status: "reserved", totalCents: 2999, version: 1, customerId: cust.id });
    expect(new Date(res.body.reservedUntil).getTime()).toBeGreaterThan(Date.now() + 800_000);
    const byLine = Object.fromEntries(res.body.lines.map((l: { sku: string }) => [l.sku, l]));
    expect(byLine[a.sku]).toEqual({ sku: a.sku, quantity: 4, unitPriceCents: 250, lineTotalCents: 1000 });
    expect(byLine[b.sku]).toEqual({ sku: b.sku, quantity: 1, unitPriceCents: 1999, lineTotalCents: 1999 });
    // The body is rendered by the database (orderlock_place_order); a read renders the same order in the service.
    const read = await t.http().get(`/v1/orders/${res.body.id}`).set(cust.auth);
    expect(read.body).toEqual(res.body);
    expect(JSON.stringify(Object.keys(read.body).sort())).toBe(JSON.stringify(Object.keys(res.body).sort()));
  });

  it("when a client tries to set prices, totals, status or version, then 422 and nothing is written", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const cust = await createCustomer(t);
    for (const body of [
      { lines: [{ sku: a.sku, quantity: 1, unitPriceCents: 1 }] },
      { lines: [{ sku: a.sku, quantity: 1 }], totalCents: 1 },
      { lines: [{ sku: a.sku, quantity: 1 }], status: "paid" },
      { lines: [{ sku: a.sku, quantity: 1 }], customerId: cust.id },
    ]) {
      const res = await t.http().post("/v1/orders").set(cust.auth).set("Idempotency-Key", uniqueKey()).send(body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    expect((await stock(a.sku)).reserved).toBe(0);
  });

  it("when lines are invalid (empty, duplicate SKU, bad quantities, unknown SKU), then 422 and nothing is reserved", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const cust = await createCustomer(t);
    const cases = [
      { lines: [] },
      {
        lines: [
          { sku: a.sku, quantity: 1 },
          { sku: a.sku, quantity: 2 },
        ],
      },
      { lines: [{ sku: a.sku, quantity: 0 }] },
      { lines: [{ sku: a.sku, quantity: 10001 }] },
      { lines: [{ sku: a.sku, quantity: 1.5 }] },
      { lines: [{ sku: a.sku, quantity: "1" }] },
      {
        lines: [
          { sku: a.sku, quantity: 1 },
          { sku: "NO-SUCH-SKU", quantity: 1 },
        ],
      },
      { lines: Array.from({ length: 101 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) },
    ];
    for (const body of cases) {
      const res = await t.http().post("/v1/orders").set(cust.auth).set("Idempotency-Key", uniqueKey()).send(body);
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(422);
      expect(res.body.code).toBe("validation_failed");
    }
    expect((await stock(a.sku)).reserved).toBe(0);
  });

  it("when Idempotency-Key is missing or invalid, then 400 idempotency_key_missing", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const cust = await createCustomer(t);
    const missing = await t
      .http()
      .post("/v1/orders")
      .set(cust.auth)
      .send({ lines: [{ sku: a.sku, quantity: 1 }] });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe("idempotency_key_missing");
    const tooLong = await t
      .http()
      .post("/v1/orders")
      .set(cust.auth)
      .set("Idempotency-Key", "k".repeat(256))
      .send({ lines: [{ sku: a.sku, quantity: 1 }] });
    expect(tooLong.status).toBe(400);
    expect((await stock(a.sku)).reserved).toBe(0);
  });
});
