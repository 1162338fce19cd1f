import pg from "pg";
import { PURCHASE_COUNTER_SHARDS } from "../src/metrics/counter-shards.js";
import { SERVICE_SPREAD_PREFIX, SPREAD_SKU_COUNT, spreadSkuSql } from "./seed.js";

/**
 * `--preload=<orders>`: a month of history written before the cells, so that
 * they run against tables as full as a busy deployment's: `orders` orders
 * with their lines, one Idempotency-Key answer each, the events they
 * produced, their payments (with the provider events and the purchase
 * counters of the paid ones), and the customers who placed them, each with
 * an API key.
 *
 * Every row is one the service would have written (the same columns, facts,
 * versions, timestamps and time-ordered ids as its code paths, with their production defaults:
 * holds of 15 min, payments that expire after 30 min):
 *   placed    v1 `reserved`, its `order.placed` event and its key's stored
 *             answer (the same facts);
 *   paid      80 %: a payment created 10–300 s later (order v2
 *             `pending_payment`), settled 2–60 s after that by a
 *             `payment.succeeded` provider event (payment v2 `succeeded`,
 *             order v3 `paid`, `order.paid`), counted once in the purchase
 *             counters;
 *   payment expired  4 %: the payment (v2 `expired`, cancelled at the
 *             provider) and the order (v3 `expired`) at its expiry,
 *             `payment.expired` then `order.expired`;
 *   hold expired     8 %: v2 `expired` at the end of its hold, `order.expired`;
 *   cancelled        8 %: v2 `cancelled` within its hold, `order.cancelled`.
 * Orders are spread evenly over the 30 days up to an hour ago, so every one of
 * them has reached its final state: none holds stock, and the bench's
 * invariants (reserved = held by open orders; counters = succeeded payments =
 * paid orders) hold with them as without. Their lines are of the service's
 * own catalogue (BS-*), at its prices; their customers are their own.
 *
 * Set-based and in chunks: each chunk of CHUNK_ORDERS orders is one
 * transaction of a few INSERT … SELECT statements, with every index and
 * constraint in place as in production. A chunk's events all carry its
 * transaction id as their feed position (as any transaction's events do),
 * ordered by `seq` in the order they happened. Progress goes to `log`.
 * Afterwards VACUUM (FREEZE, ANALYZE) and a CHECKPOINT, so the cells neither
 * plan against stale statistics nor pay for the load's dirty pages, nor
 * rewrite its pages on first reading them.
 */
export const PRELOAD_DAYS = 30;
/** The production defaults of RESERVATION_TTL_SECONDS and PAYMENT_TTL_SECONDS (src/config.ts). */
const HOLD_SECONDS = 900;
const PAYMENT_TTL_SECONDS = 1800;
const ORDERS_PER_CUSTOMER = 20;
const CHUNK_ORDERS = 100_000;

export type PreloadResult = {
  orders: number;
  customers: number;
  seconds: number;
  /** Rows per table after the load (exact counts). */
  rows: Record<string, number>;
};

/** The tables the preload writes, in the order it writes them. */
export const PRELOADED_TABLES = [
  "customers",
  "customer_api_keys",
  "orders",
  "order_lines",
  "payments",
  "payment_events",
  "counted_payments",
  "counted_customer_days",
  "purchase_counters",
  "events",
  "idempotency_keys",
] as const;

/** The n-th (1-based, SQL expression) product of the service's spread catalogue. */
const catalogueSku = (nExpr: string) => spreadSkuSql(SERVICE_SPREAD_PREFIX, nExpr);

/**
 * A UUID version 7 of the given time, as the service makes its ids
 * (src/db/new-id.sql, with the time given instead of the clock's): the
 * history's ids sort in the order its rows were written.
 */
const uuidV7At = (timeExpr: string) =>
  `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM ${timeExpr}) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid`;

/** SHA-256 of a text as lowercase hex (Node's createHash(...).digest("hex")). */
const sha256Hex = (textExpr: string) => `encode(sha256(convert_to(${textExpr}, 'UTF8')), 'hex')`;

async function createCustomers(db: pg.Client, count: number): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS bench`);
  await db.query(`CREATE UNLOGGED TABLE bench.preload_customers (i int PRIMARY KEY, id uuid NOT NULL)`);
  // Each customer as POST /v1/customers makes one: a row and its first API key (slot 1, a SHA-256 hash).
  await db.query(
    `WITH c AS (
       INSERT INTO customers (name, created_at)
       SELECT 'Customer ' || n, date_trunc('milliseconds', now() - make_interval(days => $2) - random() * interval '365 days')
         FROM generate_series(1, $1::int) AS n
       RETURNING id, created_at
     ), k AS (
       INSERT INTO customer_api_keys (customer_id, key_hash, slot, created_at, last_used_at)
       SELECT id, ${sha256Hex("gen_random_uuid()::text")}, 1, created_at, now() - interval '1 hour' - random() * interval '2 days' FROM c
     )
     INSERT INTO bench.preload_customers (i, id) SELECT row_number() OVER (), id FROM c`,
    [count, PRELOAD_DAYS],
  );
  await db.query(`ANALYZE bench.preload_customers`);
}

/**
 * One chunk, orders number `from`..`to` of `total`, in the caller's
 * transaction. The draws are made once (temporary tables), then every table
 * is filled from them, so an order's lines, total, payment and events agree.
 */
async function loadChunk(db: pg.Client, from: number, to: number, total: number, customers: number, windowStart: Date): Promise<void> {
  const windowSeconds = PRELOAD_DAYS * 86400 - 3600;
  await db.query(
    `CREATE TEMP TABLE preload_draws ON COMMIT DROP AS
     SELECT ${uuidV7At("d.created_at")} AS id, d.*
       FROM (SELECT n, date_trunc('milliseconds', $3::timestamptz + make_interval(secs => $4::float8 * (n - 1 + random()) / $5)) AS created_at,
                    random() AS u_fate, random() AS u_lines, floor(random() * ${SPREAD_SKU_COUNT})::int AS sku_start,
                    1 + floor(random() * $6)::int AS customer_i, random() AS u1, random() AS u2
               FROM generate_series($1::bigint, $2::bigint) AS n) d`,
    [from, to, windowStart, windowSeconds, total, customers],
  );
  // 1–3 lines (60 / 25 / 15 %) of distinct SKUs, 1–3 units each, at the product's price.
  await db.query(
    `CREATE TEMP TABLE preload_lines ON COMMIT DROP AS
     SELECT d.id AS order_id, d.created_at, p.sku, 1 + (random() < 0.2)::int + (random() < 0.05)::int AS quantity, p.price_cents
       FROM preload_draws d
      CROSS JOIN LATERAL generate_series(1, 1 + (d.u_lines >= 0.6)::int + (d.u_lines >= 0.85)::int) AS j
       JOIN products p ON p.sku = ${catalogueSku(`(d.sku_start + (j - 1) * 3331) % ${SPREAD_SKU_COUNT} + 1`)}`,
  );
  await db.query(
    `CREATE TEMP TABLE preload_orders ON COMMIT DROP AS
     WITH totals AS (
       SELECT order_id, sum(quantity::bigint * price_cents) AS total,
              jsonb_agg(jsonb_build_object('sku', sku, 'quantity', quantity, 'unit_price_cents', price_cents,
                                           'line_total_cents', quantity::bigint * price_cents) ORDER BY sku) AS lines,
              '{"lines":[' || string_agg('{"quantity":' || quantity || ',"sku":"' || sku || '"}', ',' ORDER BY sku) || ']}' AS body
         FROM preload_lines GROUP BY order_id
     ), fated AS (
       SELECT d.*, c.id AS customer_id, t.total, t.lines, t.body,
              CASE WHEN d.u_fate < 0.80 THEN 'paid' WHEN d.u_fate < 0.84 THEN 'payment_expired'
                   WHEN d.u_fate < 0.92 THEN 'hold_expired' ELSE 'cancelled' END AS fate
         FROM preload_draws d JOIN bench.preload_customers c ON c.i = d.customer_i JOIN totals t ON t.order_id = d.id
     ), paying AS (
       SELECT f.*,
              date_trunc('milliseconds', f.created_at + make_interval(secs => 10 + f.u1 * 290)) AS paying_at
         FROM fated f
     ), paid AS (
       SELECT p.*, CASE WHEN p.fate IN ('paid', 'payment_expired') THEN ${uuidV7At("p.paying_at")} END AS payment_id FROM paying p
     )
     SELECT p.*,
            p.paying_at + make_interval(secs => ${PAYMENT_TTL_SECONDS}) AS payment_expires_at,
            p.paying_at + make_interval(secs => 2 + p.u2 * 58) AS paid_at,
            CASE p.fate
              WHEN 'paid' THEN p.paying_at + make_interval(secs => 2 + p.u2 * 58)
              WHEN 'payment_expired' THEN p.paying_at + make_interval(secs => ${PAYMENT_TTL_SECONDS} + p.u2)
              WHEN 'hold_expired' THEN p.created_at + make_interval(secs => ${HOLD_SECONDS} + p.u2)
              ELSE p.created_at + make_interval(secs => 30 + p.u1 * ${HOLD_SECONDS - 60})
            END AS final_at
       FROM paid p`,
  );
  await db.query(`ANALYZE preload_orders`);

  // The orders in their final state (the version counts their changes), their lines, their payments.
  await db.query(
    `CREATE TEMP TABLE preload_rows ON COMMIT DROP AS
     WITH o AS (
       INSERT INTO orders (id, customer_id, status, total_cents, version, reserved_until, created_at, updated_at, refunded_cents)
       SELECT id, customer_id, CASE fate WHEN 'paid' THEN 'paid' WHEN 'cancelled' THEN 'cancelled' ELSE 'expired' END,
              total, CASE WHEN payment_id IS NULL THEN 2 ELSE 3 END, NULL, created_at, final_at, 0
         FROM preload_orders ORDER BY created_at
       RETURNING *
     )
     SELECT id, to_jsonb(o) AS row_now FROM o`,
  );
  await db.query(
    `INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
     SELECT order_id, sku, quantity, price_cents, quantity::bigint * price_cents FROM preload_lines ORDER BY created_at, sku`,
  );
  // The sandbox provider's payment id; creation does not change the version, the verdict or the expiry does.
  await db.query(
    `CREATE TEMP TABLE preload_payment_rows ON COMMIT DROP AS
     WITH p AS (
     INSERT INTO payments (id, order_id, customer_id, amount_cents, currency, status, provider, provider_payment_id, version,
                           succeeded_at, created_at, updated_at, expires_at, client_secret, refunded_cents, refund_claimed_cents,
                           provider_cancelled_at, provider_claimed_until)
     SELECT payment_id, id, customer_id, total, 'USD', CASE fate WHEN 'paid' THEN 'succeeded' ELSE 'expired' END, 'sandbox',
            'sbx_' || left(${sha256Hex("payment_id::text")}, 24), 2,
            CASE WHEN fate = 'paid' THEN paid_at END, paying_at, final_at, payment_expires_at, NULL, 0, 0,
            CASE WHEN fate = 'payment_expired' THEN final_at + interval '40 milliseconds' END, NULL
       FROM preload_orders WHERE payment_id IS NOT NULL ORDER BY paying_at
     RETURNING *
     )
     SELECT id, to_jsonb(p) AS payment_now FROM p WHERE status = 'expired'`,
  );
  await db.query(
    `INSERT INTO payment_events (event_id, payment_id, type, outcome, received_at)
     SELECT 'evt_sbx_' || substr(md5(payment_id::text || random()::text), 1, 24), payment_id, 'payment.succeeded', 'processed', paid_at
       FROM preload_orders WHERE fate = 'paid' ORDER BY paid_at`,
  );
  // Counting, as record-purchases.sql does it: once per payment, a customer once per UTC day, on the payment's shard (counter-shards.ts).
  await db.query(
    `WITH counted AS (
       INSERT INTO counted_payments (payment_id, day, customer_id, amount_cents, counted_at)
       SELECT payment_id, (paid_at AT TIME ZONE 'UTC')::date, customer_id, total, paid_at
         FROM preload_orders WHERE fate = 'paid' ORDER BY paid_at
       RETURNING payment_id, day, customer_id, amount_cents, counted_at
     ), sharded AS (
       SELECT c.*, (get_byte(sha256(convert_to(c.payment_id::text, 'UTF8')), 0) * 256
                    + get_byte(sha256(convert_to(c.payment_id::text, 'UTF8')), 1)) % ${PURCHASE_COUNTER_SHARDS} AS shard
         FROM counted c
     ), first_of_day AS (
       INSERT INTO counted_customer_days (day, customer_id)
       SELECT DISTINCT day, customer_id FROM counted ORDER BY day, customer_id
       ON CONFLICT (day, customer_id) DO NOTHING
       RETURNING day, customer_id
     ), first_payment AS (
       SELECT DISTINCT ON (day, customer_id) day, customer_id, shard FROM sharded ORDER BY day, customer_id, counted_at
     )
     INSERT INTO purchase_counters AS pc (day, shard, purchases, revenue_cents, unique_customers)
     SELECT day, shard, sum(purchases), sum(revenue_cents), sum(unique_customers)
       FROM (SELECT day, shard, count(*) AS purchases, sum(amount_cents) AS revenue_cents, 0 AS unique_customers
               FROM sharded GROUP BY day, shard
             UNION ALL
             SELECT f.day, f.shard, 0, 0, count(*) FROM first_payment f JOIN first_of_day n USING (day, customer_id)
              GROUP BY f.day, f.shard) x
      GROUP BY day, shard ORDER BY day, shard
     ON CONFLICT (day, shard) DO UPDATE
        SET purchases = pc.purchases + EXCLUDED.purchases,
            revenue_cents = pc.revenue_cents + EXCLUDED.revenue_cents,
            unique_customers = pc.unique_customers + EXCLUDED.unique_customers`,
  );
  // Events and keys from the rows as stored (to_jsonb, as append-event.sql and order-facts.sql make them), each
  // event's facts the resource as it was at that change; the key's stored answer is the placed order's facts.
  await db.query(
    `WITH stored AS (
       SELECT d.id, d.customer_id, d.created_at, d.fate, d.final_at, d.body, d.lines, o.row_now, p.payment_now
         FROM preload_orders d JOIN preload_rows o ON o.id = d.id LEFT JOIN preload_payment_rows p ON p.id = d.payment_id
     ), happened AS (
       SELECT created_at AS at, 0 AS step, 'order.placed' AS type, id AS resource_id, 1 AS version,
              row_now || jsonb_build_object('status', 'reserved', 'version', 1, 'updated_at', created_at,
                                            'reserved_until', created_at + make_interval(secs => ${HOLD_SECONDS}), 'lines', lines) AS facts
         FROM stored
       UNION ALL
       SELECT final_at, 1, 'payment.expired', (payment_now ->> 'id')::uuid, 2, payment_now || '{"provider_cancelled_at": null}'
         FROM stored WHERE fate = 'payment_expired'
       UNION ALL
       SELECT final_at, 2, CASE fate WHEN 'paid' THEN 'order.paid' WHEN 'cancelled' THEN 'order.cancelled' ELSE 'order.expired' END,
              id, (row_now ->> 'version')::int, row_now || jsonb_build_object('lines', lines)
         FROM stored
     ), keys AS (
       INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts, created_at)
       SELECT s.customer_id::text, gen_random_uuid()::text, ${sha256Hex(`'POST' || E'\\n' || '/v1/orders' || E'\\n' || s.body`)},
              'placed', h.facts, s.created_at
         FROM stored s JOIN happened h ON h.resource_id = s.id AND h.type = 'order.placed'
        ORDER BY s.created_at
     )
     INSERT INTO events (id, type, resource_id, resource_version, position, facts, created_at)
     SELECT ${uuidV7At("at")}, type::orderlock_event_type, resource_id, version, pg_current_xact_id(), facts, at
       FROM happened ORDER BY at, step`,
  );
}

/** Live rows per table, as the VACUUM that just scanned every page counted them (pg_class.reltuples). */
async function countRows(db: pg.Client): Promise<Record<string, number>> {
  const { rows } = await db.query<{ relname: string; n: number }>(
    `SELECT relname, reltuples::float8 AS n FROM pg_class WHERE relname = ANY($1) AND relnamespace = 'public'::regnamespace`,
    [PRELOADED_TABLES],
  );
  return Object.fromEntries(PRELOADED_TABLES.map((t) => [t, rows.find((r) => r.relname === t)?.n ?? 0]));
}

/**
 * Server settings for the load only (reloadable ones; ALTER SYSTEM, then
 * reset): checkpoints far apart and without full-page images, so the load
 * writes its WAL about once; no autovacuum racing it (a VACUUM follows).
 * The bench's throwaway database may lose the load to a crash meanwhile; the
 * cells run with the defaults again.
 */
const BULK_LOAD_SETTINGS = { max_wal_size: "4GB", checkpoint_timeout: "1h", full_page_writes: "off", autovacuum: "off" };

async function bulkLoadSettings(db: pg.Client, on: boolean): Promise<void> {
  for (const [name, value] of Object.entries(BULK_LOAD_SETTINGS)) {
    await db.query(on ? `ALTER SYSTEM SET ${name} = '${value}'` : `ALTER SYSTEM RESET ${name}`);
  }
  await db.query(`SELECT pg_reload_conf()`);
}

async function connect(databaseUrl: string): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: databaseUrl, application_name: "orderlock-bench-preload" });
  db.on("error", () => {});
  await db.connect();
  // Large sorts and aggregates per chunk in memory; a bulk load's statements may take minutes.
  await db.query(`SET work_mem = '256MB'`);
  await db.query(`SET maintenance_work_mem = '1GB'`);
  await db.query(`SET statement_timeout = 0`);
  await db.query(`SET synchronous_commit = off`);
  // The rows are made consistent by construction (test/bench/preload.test.ts checks every foreign key after a
  // load): no per-row foreign-key lookups, as pg_restore --disable-triggers. Replica mode fires no trigger that
  // is not ENABLE ALWAYS; the only other trigger, the order-status guard, fires on UPDATE, which the load does not run.
  await db.query(`SET session_replication_role = replica`);
  return db;
}

/**
 * Loads the history through `loaders` connections at once (chunks are
 * independent; the purchase-counter rows two chunks share are taken in key
 * order, so they cannot deadlock), then vacuums and checkpoints.
 */
export async function preloadHistory(
  databaseUrl: string,
  orders: number,
  log: (line: string) => void,
  {
    loaders = 2,
    chunkOrders = CHUNK_ORDERS,
    bulkLoadServer = true,
  }: { loaders?: number; chunkOrders?: number; bulkLoadServer?: boolean } = {},
): Promise<PreloadResult> {
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const customers = Math.max(1, Math.ceil(orders / ORDERS_PER_CUSTOMER));
  const db = await connect(databaseUrl);
  try {
    if (bulkLoadServer) await bulkLoadSettings(db, true);
    const windowStart = (await db.query<{ at: Date }>(`SELECT now() - make_interval(days => $1) AS at`, [PRELOAD_DAYS])).rows[0].at;
    log(
      `preload: ${orders.toLocaleString("en-US")} orders of ${customers.toLocaleString("en-US")} customers over ${PRELOAD_DAYS} days, ${loaders} connections`,
    );
    await createCustomers(db, customers);

    let next = 1;
    let done = 0;
    let lastLog = Date.now();
    const loader = async (client: pg.Client) => {
      for (;;) {
        const from = next;
        if (from > orders) return;
        const to = Math.min(orders, from + chunkOrders - 1);
        next = to + 1;
        await client.query("BEGIN");
        try {
          await loadChunk(client, from, to, orders, customers, windowStart);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          next = orders + 1; // the other loaders stop after their chunk
          throw err;
        }
        done += to - from + 1;
        if (done === orders || Date.now() - lastLog >= 10_000) {
          lastLog = Date.now();
          const rate = done / elapsed();
          log(
            `  ${done.toLocaleString("en-US")} orders (${Math.round((100 * done) / orders)} %) in ${elapsed().toFixed(0)} s, ${Math.round(rate).toLocaleString("en-US")}/s${done < orders ? `, ~${Math.ceil((orders - done) / rate / 60)} min left` : ""}`,
          );
        }
      }
    };
    const others = await Promise.all(Array.from({ length: Math.max(0, loaders - 1) }, () => connect(databaseUrl)));
    const outcomes = await Promise.allSettled([db, ...others].map(loader));
    await Promise.all(others.map((c) => c.end().catch(() => {})));
    for (const o of outcomes) if (o.status === "rejected") throw o.reason;
    await db.query(`DROP TABLE bench.preload_customers`);
    const loaded = elapsed();
    log(`preload: loaded in ${loaded.toFixed(0)} s; VACUUM (FREEZE, ANALYZE) of the ${PRELOADED_TABLES.length} tables`);
    // FREEZE: rows a month old have long been read, hinted and frozen. After a plain
    // VACUUM (ANALYZE) here, the first read of orders, their lines, payments, payment events
    // and the counted_* tables still dirtied every page (hint bits) and wrote it to the WAL again
    // as a full-page image (PostgreSQL 18's initdb turns data checksums on): at 2 M orders,
    // 135 MB of WAL for counted_payments alone, during the cells after the bench's first
    // invariant check (docs/performance.md). Why that VACUUM left them: not traced.
    await db.query(`VACUUM (FREEZE, ANALYZE) ${PRELOADED_TABLES.join(", ")}`);
    const rows = await countRows(db);
    return { orders, customers, seconds: Math.round(elapsed()), rows };
  } finally {
    // The server as it was, and the load's dirty pages written now rather than during the cells.
    if (bulkLoadServer) {
      await bulkLoadSettings(db, false).catch((err: unknown) => log(`preload: restoring the server settings failed: ${String(err)}`));
    }
    await db.query(`CHECKPOINT`).catch(() => {});
    log(`preload: done in ${elapsed().toFixed(0)} s`);
    await db.end().catch(() => {});
  }
}
