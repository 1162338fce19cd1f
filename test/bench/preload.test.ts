import { createHash } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants, recordStockBaseline } from "../../bench/invariants.js";
import { PRELOADED_TABLES, type PreloadResult, preloadHistory } from "../../bench/preload.js";
import { insertSpreadProducts } from "../../bench/seed.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * `npm run bench -- --preload=N` writes a month of history with SQL. Those
 * rows must be rows the service would have written: what its own functions
 * compute from them (an order's facts, the purchase counters) must agree with
 * what the preload stored, and the service must serve them.
 */
let t: TestApp;
let db: pg.Client;
let result: PreloadResult;
const ORDERS = 3000;
/** Per preloaded table, the pages its first full read dirtied (EXPLAIN's "Shared Dirtied Blocks"), and the pages read. */
let firstRead: { table: string; dirtied: number; read: number }[];

/**
 * Reads every preloaded table once and counts the pages each read dirtied:
 * a read dirties a page when it sets hint bits the load left unset, and
 * each such page is written again (with data checksums, PostgreSQL 18's
 * default, a full-page image in the WAL first). Counted per statement, so
 * other tests on the shared server do not count.
 */
async function pagesDirtiedByFirstRead(): Promise<{ table: string; dirtied: number; read: number }[]> {
  const result: { table: string; dirtied: number; read: number }[] = [];
  for (const table of PRELOADED_TABLES) {
    const { rows } = await db.query<{ "QUERY PLAN": [{ Plan: Record<string, number> }] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT count(*) FROM ${pg.escapeIdentifier(table)} WHERE ctid IS NOT NULL`,
    );
    const plan = rows[0]["QUERY PLAN"][0].Plan;
    result.push({ table, dirtied: plan["Shared Dirtied Blocks"], read: plan["Shared Hit Blocks"] + plan["Shared Read Blocks"] });
  }
  return result;
}

beforeAll(async () => {
  t = await startTestApp();
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
  await insertSpreadProducts(db);
  // Small chunks on two connections, as the bench's 10 M are loaded (without its server settings: a shared test server).
  result = await preloadHistory(t.databaseUrl, ORDERS, () => {}, { loaders: 2, chunkOrders: 500, bulkLoadServer: false });
  firstRead = await pagesDirtiedByFirstRead();
  await recordStockBaseline(db);
});
afterAll(async () => {
  await db?.end();
  await t?.close();
});

const one = async <T = Record<string, unknown>>(text: string, params: unknown[] = []) => (await db.query(text, params)).rows[0] as T;

describe("bench preload", () => {
  it("when the preloaded tables are first read after the preload, then no page of them is dirtied again (their hint bits already set, as a month-old table's are)", () => {
    expect(firstRead.map((r) => r.table)).toEqual(PRELOADED_TABLES);
    expect(firstRead.reduce((n, r) => n + r.read, 0)).toBeGreaterThan(100);
    expect(firstRead.filter((r) => r.dirtied > 0)).toEqual([]);
  });

  it("when N orders are preloaded, then each has lines summing to its total, a final status, a key and its events, within the last 30 days", async () => {
    expect(result.rows.orders).toBe(ORDERS);
    expect(result.rows.idempotency_keys).toBe(ORDERS);
    expect(result.customers).toBe(ORDERS / 20);
    const r = await one(`
      SELECT count(*)::int AS orders,
             count(*) FILTER (WHERE o.total_cents <> (SELECT sum(l.line_total_cents) FROM order_lines l WHERE l.order_id = o.id))::int AS wrong_totals,
             count(*) FILTER (WHERE o.status NOT IN ('paid', 'cancelled', 'expired'))::int AS open,
             count(*) FILTER (WHERE o.created_at < now() - interval '30 days' OR o.created_at > now() - interval '1 hour')::int AS outside,
             count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.owner = o.customer_id::text
                                                  AND k.outcome = 'placed' AND k.facts ->> 'id' = o.id::text))::int AS without_key,
             count(*) FILTER (WHERE (SELECT count(*) FROM events e WHERE e.resource_id = o.id) <> 2)::int AS not_two_events,
             count(DISTINCT o.status)::int AS statuses,
             -- Time-ordered ids, as the service makes them (src/db/new-id.ts): version 7, of the order's creation.
             count(*) FILTER (WHERE substr(o.id::text, 15, 1) <> '7'
                                 OR ('x' || lpad(replace(left(o.id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint
                                    <> floor(extract(epoch FROM o.created_at) * 1000))::int AS not_v7
        FROM orders o`);
    expect(r).toEqual({ orders: ORDERS, wrong_totals: 0, open: 0, outside: 0, without_key: 0, not_two_events: 0, statuses: 3, not_v7: 0 });
  });

  it("when an order's last event and its key's answer are compared with the service's own facts, then they are the same", async () => {
    const r = await one(`
      WITH last AS (
        SELECT DISTINCT ON (resource_id) resource_id, facts FROM events WHERE type::text LIKE 'order.%' ORDER BY resource_id, position DESC, seq DESC)
      SELECT count(*)::int AS orders,
             count(*) FILTER (WHERE l.facts IS DISTINCT FROM (SELECT f.facts FROM orderlock_order_facts(ARRAY[l.resource_id]) f))::int AS last_differs,
             (SELECT count(*) FROM idempotency_keys k JOIN events e ON e.resource_id = (k.facts ->> 'id')::uuid AND e.type = 'order.placed'
               WHERE k.facts IS DISTINCT FROM e.facts OR e.resource_version <> 1 OR k.facts ->> 'status' <> 'reserved')::int AS placed_differs,
             (SELECT count(*) FROM events e JOIN payments p ON p.id = e.resource_id
               WHERE e.type = 'payment.expired' AND e.facts IS DISTINCT FROM to_jsonb(p) || '{"provider_cancelled_at": null}')::int AS payment_differs
        FROM last l`);
    expect(r).toEqual({ orders: ORDERS, last_differs: 0, placed_differs: 0, payment_differs: 0 });
  });

  it("when the history is loaded, then the purchase counters agree with the paid orders and their payments, and no stock is held", async () => {
    const summary = await checkInvariants(db, "the preload");
    const paid = Number((await one(`SELECT count(*) AS n FROM orders WHERE status = 'paid'`)).n);
    expect(paid).toBeGreaterThan(ORDERS * 0.7);
    expect(summary).toContain(`payments ok (${paid} succeeded`);
    expect(summary).toContain("0 units held");
    const u = await one(
      `SELECT (SELECT sum(unique_customers) FROM purchase_counters) AS counted, (SELECT count(*) FROM counted_customer_days) AS days`,
    );
    expect(Number(u.counted)).toBe(Number(u.days));
    // The sandbox provider's payment id for our payment id (sandbox-provider.ts).
    const p = await one<{ id: string; provider_payment_id: string }>(
      `SELECT id, provider_payment_id FROM payments ORDER BY created_at LIMIT 1`,
    );
    expect(p.provider_payment_id).toBe(`sbx_${createHash("sha256").update(p.id).digest("hex").slice(0, 24)}`);
  });

  it("when the history is loaded without per-row foreign-key checks, then every foreign key of the schema still holds", async () => {
    // The load skips the foreign-key triggers (session_replication_role = replica); each constraint is checked here
    // as an anti-join from its own definition in pg_constraint, so a constraint added later is checked too.
    const { rows: fks } = await db.query<{ name: string; child: string; parent: string; pairs: { c: string; p: string }[] }>(`
      SELECT c.conname AS name, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
             (SELECT json_agg(json_build_object('c', quote_ident(ca.attname), 'p', quote_ident(pa.attname)) ORDER BY k.i)
                FROM unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ck, pk, i)
                JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.ck
                JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pk) AS pairs
        FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace ORDER BY 1`);
    expect(fks.map((f) => f.name)).toEqual(expect.arrayContaining(["order_lines_order_id_fkey", "payments_order_id_fkey"]));
    const broken: Record<string, number> = {};
    for (const fk of fks) {
      const notNull = fk.pairs.map((x) => `x.${x.c} IS NOT NULL`).join(" AND ");
      const matches = fk.pairs.map((x) => `y.${x.p} = x.${x.c}`).join(" AND ");
      const r = await one<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${fk.child} x WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${fk.parent} y WHERE ${matches})`,
      );
      broken[fk.name] = r.n;
    }
    expect(broken).toEqual(Object.fromEntries(fks.map((f) => [f.name, 0])));
  });

  it("when the service reads the history, then it serves the orders and the events feed in the order things happened", async () => {
    const order = await one(`SELECT id FROM orders WHERE status = 'paid' ORDER BY created_at LIMIT 1`);
    const got = await t.http().get(`/v1/orders/${order.id}`).set(t.admin);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: order.id, status: "paid", version: 3, reservedUntil: null });
    const feed = await t.http().get("/v1/events?limit=100").set(t.admin);
    expect(feed.status).toBe(200);
    const ofOrder = new Map<string, string[]>();
    for (const e of feed.body.items as { type: string; data: { object: { id: string } } }[]) {
      ofOrder.set(e.data.object.id, [...(ofOrder.get(e.data.object.id) ?? []), e.type]);
    }
    const seen = [...ofOrder.values()].filter((types) => types.length === 2);
    expect(seen.length).toBeGreaterThan(10);
    for (const types of seen) expect(types[0]).toBe("order.placed");
  });
});
