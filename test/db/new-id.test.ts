import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/db/new-id.js";
import { createCustomer, createProduct } from "../support/factories.js";
import { createPayment, placeOrder } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Rows inserted on every request get time-ordered ids (UUID version 7), made
 * in Node (newId) and in SQL (orderlock_new_id): one after another, they
 * sort one after another, and each still carries 74 random bits.
 */
const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisOf = (id: string) => Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("new ids", () => {
  it("when Node makes ids, then each is a version 7 UUID carrying the time, later ones sort after earlier ones, and none repeats", () => {
    expect(newId(Date.UTC(2026, 11, 2, 10, 0, 0, 123))).toMatch(/^01a23632-5d7b-7/);
    expect(millisOf(newId(1_764_669_600_123))).toBe(1_764_669_600_123);
    const ids = Array.from({ length: 2000 }, (_, i) => newId(1_764_669_600_000 + Math.floor(i / 100)));
    for (const id of ids) expect(id).toMatch(V7);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 100; i < ids.length; i += 100) expect(ids[i] > ids[i - 1]).toBe(true);
  });

  it("when SQL makes ids, then they are version 7 UUIDs of the database clock, in order", async () => {
    // Each id's time lies between the statement's start and a clock read
    // taken after it was made (the CTE is materialized row by row ahead of
    // the outer select), however long the backend is descheduled between.
    const rows: { id: string; lo: string; hi: string }[] = await t.ds.query(
      `WITH ids AS MATERIALIZED (SELECT n, orderlock_new_id() AS id FROM generate_series(1, 3) n)
       SELECT id::text AS id,
              floor(extract(epoch FROM statement_timestamp()) * 1000)::text AS lo,
              floor(extract(epoch FROM clock_timestamp()) * 1000)::text AS hi
         FROM ids ORDER BY n`,
    );
    let previous = 0;
    for (const r of rows) {
      expect(r.id).toMatch(V7);
      expect(millisOf(r.id)).toBeGreaterThanOrEqual(Number(r.lo));
      expect(millisOf(r.id)).toBeLessThanOrEqual(Number(r.hi));
      expect(millisOf(r.id)).toBeGreaterThanOrEqual(previous);
      previous = millisOf(r.id);
    }
  });

  it("when an order is placed and paid, then the order, its payment and its event have time-ordered ids", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const before = Date.now();
    const order = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const payment = await createPayment(t, c, order.id);
    expect(order.id).toMatch(V7);
    expect(payment.id).toMatch(V7);
    expect(millisOf(order.id)).toBeGreaterThanOrEqual(before - 1);
    expect(payment.id > order.id).toBe(true);
    const [event] = await t.ds.query(`SELECT id FROM events WHERE resource_id = $1`, [order.id]);
    const eventUuid = event.id as string;
    expect(eventUuid).toMatch(V7);
    expect(millisOf(eventUuid)).toBeGreaterThanOrEqual(before - 1);
  });
});
