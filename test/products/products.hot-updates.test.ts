import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Every order updates its products' rows (reserved, version, updated_at).
 * Those updates must stay HOT (heap-only: the new version on the same page,
 * no new index entry) from the first one on, also on a catalogue loaded in
 * one go and while concurrent transactions keep the old versions from being
 * pruned: the products table keeps room on each page (migration HotUpdateRoom).
 */
let t: TestApp;
let db: pg.Client;
beforeAll(async () => {
  t = await startTestApp();
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await t?.close();
});

describe("product row updates", () => {
  it("when products of a freshly loaded catalogue are reserved while other transactions still see their old versions, then every update is HOT", async () => {
    const count = 800;
    await db.query(
      `INSERT INTO products (sku, name, price_cents, on_hand)
       SELECT 'HOT-' || lpad(n::text, 5, '0'), 'Product ' || n, 100 + n, 1000 FROM generate_series(1, $1::int) AS n`,
      [count],
    );
    // A concurrent transaction's snapshot: no old version can be pruned meanwhile, as under load.
    const reader = new pg.Client({ connectionString: t.databaseUrl });
    await reader.connect();
    await reader.query(`BEGIN ISOLATION LEVEL REPEATABLE READ`);
    await reader.query(`SELECT count(*) FROM products`);
    // One reservation for every fourth product, each its own transaction, as the order path moves them.
    const updated = [];
    for (let n = 1; n <= count; n += 4) updated.push(`HOT-${String(n).padStart(5, "0")}`);
    for (const sku of updated) {
      await db.query(`UPDATE products SET reserved = reserved + 1, version = version + 1, updated_at = now() WHERE sku = $1`, [sku]);
    }
    await reader.query(`ROLLBACK`);
    await reader.end();
    await db.query(`SELECT pg_stat_force_next_flush()`);
    const r = (
      await db.query<{ updates: string; hot: string }>(
        `SELECT n_tup_upd AS updates, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'products'`,
      )
    ).rows[0];
    expect(Number(r.updates)).toBe(updated.length);
    expect(Number(r.hot)).toBe(updated.length);
  });
});
