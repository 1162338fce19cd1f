import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

// The one definition of reserving and releasing stock (move-reservations.sql),
// driven directly: placing orders (through orderlock_place_order) while
// other transactions give holds back, on one SKU.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("orderlock_move_reservations under concurrent reserve and release", () => {
  it("when 12 clients place 1- and 2-unit orders on one SKU while 4 release holds, then no move is ever refused by the stock CHECK and reserved equals what is still held", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 12 });
    const pool = new pg.Pool({ connectionString: t.databaseUrl, max: 20 });
    const errors: string[] = [];
    const held: number[] = [];
    let releasing = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          try {
            if (w % 4 === 0) {
              const qty = held.pop();
              if (qty === undefined) continue;
              releasing++;
              const client = await pool.connect();
              try {
                await client.query("BEGIN");
                const r = await client.query(
                  `SELECT ok FROM orderlock_move_reservations(ARRAY[$1], ARRAY[$2::int], ARRAY[0], NULL, 0, NULL)`,
                  [p.sku, qty],
                );
                expect(r.rows[0].ok).toBe(true);
                await client.query("COMMIT");
              } finally {
                client.release();
                releasing--;
              }
              continue;
            }
            const qty = 1 + (i % 2);
            const r = await pool.query(
              `SELECT outcome FROM orderlock_place_order(NULL, NULL, NULL, 24, $1, $2, ARRAY[$3], ARRAY[$4::int], 900, 0)`,
              [randomUUID(), c.id, p.sku, qty],
            );
            if (r.rows[0].outcome === "placed") held.push(qty);
            else expect(r.rows[0].outcome).toBe("out_of_stock");
          } catch (e) {
            errors.push((e as Error).message);
          }
        }
      }),
    );
    await pool.end();
    expect(errors).toEqual([]);
    expect(releasing).toBe(0);
    const [row] = await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [p.sku]);
    expect(row).toEqual({ on_hand: 12, reserved: held.reduce((s, q) => s + q, 0) });
  });
});
