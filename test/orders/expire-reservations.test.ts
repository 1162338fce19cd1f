import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireReservations } from "../../src/orders/expire-reservations.js";
import { lockOverdueOrders } from "../../src/orders/order-store.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { indexFetches } from "../support/index-fetches.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ reservationTtlSeconds: 1 });
});
afterAll(async () => t.close());

const stock = async (sku: string) =>
  (await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku]))[0] as { on_hand: number; reserved: number };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function place(c: { auth: Record<string, string> }, sku: string, quantity: number) {
  const res = await t
    .http()
    .post("/v1/orders")
    .set(c.auth)
    .set("Idempotency-Key", uniqueKey())
    .send({ lines: [{ sku, quantity }] });
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

describe("reservation expiry", () => {
  it("when holds run out and three sweepers run at once, then every overdue order expires exactly once and its stock comes back", async () => {
    const p = await createProduct(t, { onHand: 50 });
    const c = await createCustomer(t);
    const orders = [];
    for (let i = 0; i < 12; i++) orders.push(await place(c, p.sku, 2));
    expect(await stock(p.sku)).toEqual({ on_hand: 50, reserved: 24 });
    await sleep(1200);
    const counts = await Promise.all([expireReservations(t.ds, 5), expireReservations(t.ds, 5), expireReservations(t.ds, 5)]);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12); // other tests' orders may expire too
    expect(await stock(p.sku)).toEqual({ on_hand: 50, reserved: 0 });
    const statuses = await t.ds.query(`SELECT status, reserved_until FROM orders WHERE id = ANY($1::uuid[])`, [orders.map((o) => o.id)]);
    expect(statuses.every((s: { status: string; reserved_until: unknown }) => s.status === "expired" && s.reserved_until === null)).toBe(
      true,
    );
  });

  it("when an overdue order is read before the sweeper runs, then it reads as expired, the read writes nothing, and the sweeper gives its stock back", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const o = await place(c, p.sku, 5);
    await sleep(1200);
    const res = await t.http().get(`/v1/orders/${o.id}`).set(c.auth);
    expect(res.body).toMatchObject({ status: "expired", reservedUntil: null, version: 1 });
    const list = await t.http().get(`/v1/orders?status=expired`).set(c.auth);
    expect(list.body.items.map((x: { id: string }) => x.id)).toContain(o.id);
    // A GET never writes: the hold is still counted until the sweeper makes the expiry so.
    expect(await stock(p.sku)).toEqual({ on_hand: 5, reserved: 5 });
    await expireReservations(t.ds);
    expect(await stock(p.sku)).toEqual({ on_hand: 5, reserved: 0 });
    expect((await t.http().get(`/v1/orders/${o.id}`).set(c.auth)).body).toMatchObject({
      status: "expired",
      reservedUntil: null,
      version: 2,
    });
    // And it can be ordered again by someone else.
    const other = await createCustomer(t);
    await place(other, p.sku, 5);
  });

  it("when an overdue order is cancelled or patched, then cancel releases once and patch gets 409 invalid_state", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const o1 = await place(c, p.sku, 2);
    const o2 = await place(c, p.sku, 2);
    await sleep(1200);
    const patch = await t
      .http()
      .patch(`/v1/orders/${o2.id}`)
      .set(c.auth)
      .send({ version: 1, lines: [{ sku: p.sku, quantity: 1 }] });
    expect(patch.status).toBe(409);
    expect(patch.body.code).toBe("invalid_state");
    await Promise.all([t.http().post(`/v1/orders/${o1.id}/cancel`).set(c.auth), expireReservations(t.ds)]);
    await expireReservations(t.ds);
    expect(await stock(p.sku)).toEqual({ on_hand: 5, reserved: 0 });
  });

  it("when many holds are far from due, then a sweep does not fetch each of them to test it (the overdue test is an index condition, not a filter over every reserved order)", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await place(c, p.sku, 1)).id);
    await t.ds.query(`UPDATE orders SET reserved_until = now() + interval '1 day' WHERE id = ANY($1::uuid[])`, [ids]);
    const fetched = await indexFetches(t.ds, "orders", (m) => lockOverdueOrders(m, 100));
    // With a volatile clock in the WHERE clause the scan walks the whole partial index and fetches each reserved row.
    expect(fetched).toBeLessThan(ids.length);
  });
});
