import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const stock = async (sku: string) =>
  (await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku]))[0] as { on_hand: number; reserved: number };

async function order(c: { auth: Record<string, string> }, lines: { sku: string; quantity: number }[]) {
  const res = await t.http().post("/v1/orders").set(c.auth).set("Idempotency-Key", uniqueKey()).send({ lines });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; version: number; totalCents: number };
}

describe("PATCH /v1/orders/:id", () => {
  it("when lines change, then reservations move atomically and the version bumps", async () => {
    const a = await createProduct(t, { onHand: 10, priceCents: 100 });
    const b = await createProduct(t, { onHand: 10, priceCents: 300 });
    const c = await createCustomer(t);
    const o = await order(c, [{ sku: a.sku, quantity: 4 }]);
    const res = await t
      .http()
      .patch(`/v1/orders/${o.id}`)
      .set(c.auth)
      .set("If-Match", '"1"')
      .send({
        lines: [
          { sku: a.sku, quantity: 1 },
          { sku: b.sku, quantity: 2 },
        ],
      });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ version: 2, totalCents: 700, status: "reserved" });
    expect(res.headers.etag).toBe('"2"');
    expect(await stock(a.sku)).toEqual({ on_hand: 10, reserved: 1 });
    expect(await stock(b.sku)).toEqual({ on_hand: 10, reserved: 2 });
  });

  it("when a new line is short, then 409 out_of_stock and the order and stock are exactly as before", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const b = await createProduct(t, { onHand: 1 });
    const c = await createCustomer(t);
    const o = await order(c, [{ sku: a.sku, quantity: 4 }]);
    const res = await t
      .http()
      .patch(`/v1/orders/${o.id}`)
      .set(c.auth)
      .send({
        version: 1,
        lines: [
          { sku: a.sku, quantity: 2 },
          { sku: b.sku, quantity: 5 },
        ],
      });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "out_of_stock", unavailable: [{ sku: b.sku, requested: 5, available: 1 }] });
    expect(await stock(a.sku)).toEqual({ on_hand: 10, reserved: 4 });
    expect(await stock(b.sku)).toEqual({ on_hand: 1, reserved: 0 });
    const now = await t.http().get(`/v1/orders/${o.id}`).set(c.auth);
    expect(now.body).toMatchObject({ version: 1, lines: [{ sku: a.sku, quantity: 4 }] });
  });

  it("when a line's quantity grows into stock the order already holds, then availability counts its own hold", async () => {
    const a = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const o = await order(c, [{ sku: a.sku, quantity: 3 }]);
    const res = await t
      .http()
      .patch(`/v1/orders/${o.id}`)
      .set(c.auth)
      .send({ version: 1, lines: [{ sku: a.sku, quantity: 5 }] });
    expect(res.status).toBe(200);
    expect(await stock(a.sku)).toEqual({ on_hand: 5, reserved: 5 });
  });

  it("when 10 PATCHes race on the same version, then one applies and nine get 409 version_conflict; stock matches the winner", async () => {
    const a = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const o = await order(c, [{ sku: a.sku, quantity: 1 }]);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t
          .http()
          .patch(`/v1/orders/${o.id}`)
          .set(c.auth)
          .set("If-Match", '"1"')
          .send({ lines: [{ sku: a.sku, quantity: i + 2 }] }),
      ),
    );
    const winners = responses.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    expect(responses.filter((r) => r.status === 409 && r.body.code === "version_conflict")).toHaveLength(9);
    expect((await stock(a.sku)).reserved).toBe(winners[0].body.lines[0].quantity);
  });

  it("when another customer patches, reads or cancels the order, then 404", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const owner = await createCustomer(t);
    const other = await createCustomer(t);
    const o = await order(owner, [{ sku: a.sku, quantity: 1 }]);
    expect((await t.http().get(`/v1/orders/${o.id}`).set(other.auth)).status).toBe(404);
    expect(
      (
        await t
          .http()
          .patch(`/v1/orders/${o.id}`)
          .set(other.auth)
          .send({ version: 1, lines: [{ sku: a.sku, quantity: 2 }] })
      ).status,
    ).toBe(404);
    expect((await t.http().post(`/v1/orders/${o.id}/cancel`).set(other.auth)).status).toBe(404);
    expect((await t.http().get(`/v1/orders/not-a-uuid`).set(owner.auth)).status).toBe(404);
    expect((await t.http().get(`/v1/orders/${o.id}`).set(t.admin)).status).toBe(200);
    expect(await stock(a.sku)).toEqual({ on_hand: 10, reserved: 1 });
  });
});

describe("POST /v1/orders/:id/cancel", () => {
  it("when 8 cancels race, then stock is released exactly once and every cancel answers 200 cancelled", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const b = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const o = await order(c, [
      { sku: a.sku, quantity: 3 },
      { sku: b.sku, quantity: 2 },
    ]);
    const other = await order(c, [{ sku: a.sku, quantity: 1 }]);
    const responses = await Promise.all(Array.from({ length: 8 }, () => t.http().post(`/v1/orders/${o.id}/cancel`).set(c.auth)));
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(responses.every((r) => r.body.status === "cancelled" && r.body.reservedUntil === null)).toBe(true);
    expect(new Set(responses.map((r) => r.body.version))).toEqual(new Set([2]));
    expect(await stock(a.sku)).toEqual({ on_hand: 10, reserved: 1 });
    expect(await stock(b.sku)).toEqual({ on_hand: 10, reserved: 0 });
    expect(other.id).toBeDefined();
  });

  it("when a cancelled order is patched, then 409 invalid_state", async () => {
    const a = await createProduct(t, { onHand: 10 });
    const c = await createCustomer(t);
    const o = await order(c, [{ sku: a.sku, quantity: 1 }]);
    await t.http().post(`/v1/orders/${o.id}/cancel`).set(c.auth);
    const res = await t
      .http()
      .patch(`/v1/orders/${o.id}`)
      .set(c.auth)
      .send({ version: 2, lines: [{ sku: a.sku, quantity: 2 }] });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("invalid_state");
  });
});

describe("GET /v1/orders", () => {
  it("when listing, then a customer sees only their own orders, newest first, filtered by status, page by page", async () => {
    const a = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const other = await createCustomer(t);
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await order(c, [{ sku: a.sku, quantity: 1 }]));
    await order(other, [{ sku: a.sku, quantity: 1 }]);
    await t.http().post(`/v1/orders/${mine[1].id}/cancel`).set(c.auth);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await t
        .http()
        .get(`/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ""}`)
        .set(c.auth);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((o) => o.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(mine.map((o) => o.id).reverse());

    const cancelled = await t.http().get(`/v1/orders?status=cancelled`).set(c.auth);
    expect(cancelled.body.items.map((o: { id: string }) => o.id)).toEqual([mine[1].id]);
    const bad = await t.http().get(`/v1/orders?status=lost`).set(c.auth);
    expect(bad.status).toBe(422);
    const all = await t.http().get(`/v1/orders?limit=100`).set(t.admin);
    expect(all.body.items.length).toBeGreaterThanOrEqual(6);
  });
});
