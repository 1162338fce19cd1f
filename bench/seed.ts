import type pg from "pg";
import { type ApiClient, mapConcurrent } from "./api-client.js";

/**
 * The data the workloads need. Customers, the hot product, restocking and
 * the service's pending payments go through the HTTP API, as a real client
 * would create them. The 10,000-product catalogues and the raw-SQL side's
 * rows are inserted with SQL: 10,000 POSTs would take longer than the
 * quick run may, and the raw side must not depend on the service at all.
 *
 * The service and the raw-SQL runs use disjoint SKUs (BS-* and HOT-SVC vs
 * BR-* and HOT-RAW), so neither can use up the other's stock, and disjoint
 * customers, so the raw side's tens of thousands of orders do not lengthen
 * the service's per-customer lookups. Every row the raw side writes keeps the
 * invariants the service keeps (the checks in invariants.ts cover both).
 */
export const SPREAD_SKU_COUNT = 10_000;
export const SERVICE_SPREAD_PREFIX = "BS";
export const RAW_SPREAD_PREFIX = "BR";
export const SERVICE_HOT_SKU = "HOT-SVC";
export const RAW_HOT_SKU = "HOT-RAW";
/**
 * Many customers, as in production: the service locks the customer's row for
 * the per-customer cap and keeps one rate-limit row per customer, so a
 * handful of customers at 64 connections would measure queueing on those
 * rows rather than the order path.
 */
export const CUSTOMER_COUNT = 64;

/** Spread products hold this much each: no cell can come close to selling one out. */
const SPREAD_ON_HAND = 1_000_000;

export type Customer = { id: string; apiKey: string };
export type PendingPayment = { id: string; amountCents: number };

export function spreadSkus(prefix: string): string[] {
  return Array.from({ length: SPREAD_SKU_COUNT }, (_, i) => `${prefix}-${String(i + 1).padStart(5, "0")}`);
}

/** The same naming in SQL, for the n-th (1-based) product: `prefix-00042`. */
export function spreadSkuSql(prefix: string, nExpr: string): string {
  return `'${prefix}-' || lpad((${nExpr})::text, 5, '0')`;
}

export async function createCustomers(
  api: ApiClient,
  adminKey: string,
  count = CUSTOMER_COUNT,
  label = "Bench customer",
): Promise<Customer[]> {
  return mapConcurrent(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const body = await api.expect(201, "POST", "/v1/customers", { key: adminKey, body: { name: `${label} ${i + 1}` } });
      return { id: body.id as string, apiKey: body.apiKey as string };
    },
  );
}

/** Customers for the raw side only: rows, no API keys. */
export async function insertRawCustomers(db: pg.Client, count = CUSTOMER_COUNT): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO customers (name)
     SELECT 'Bench raw-SQL customer ' || n
     FROM generate_series(1, $1::int) AS n
     RETURNING id`,
    [count],
  );
  return rows.map((r) => r.id);
}

/** Both 10,000-product catalogues in two statements (prices vary so totals are not all alike). */
export async function insertSpreadProducts(db: pg.Client): Promise<void> {
  for (const prefix of [SERVICE_SPREAD_PREFIX, RAW_SPREAD_PREFIX]) {
    await db.query(
      `INSERT INTO products (sku, name, price_cents, on_hand)
       SELECT ${spreadSkuSql(prefix, "n")}, 'Bench product ' || n, 100 + (n * 37) % 9900, $1
       FROM generate_series(1, $2::int) AS n`,
      [SPREAD_ON_HAND, SPREAD_SKU_COUNT],
    );
  }
  // Fresh statistics after a bulk load, so that neither side plans against an empty table.
  await db.query("ANALYZE products");
}

export async function createHotProducts(api: ApiClient, adminKey: string, db: pg.Client): Promise<void> {
  await api.expect(201, "POST", "/v1/products", {
    key: adminKey,
    body: { sku: SERVICE_HOT_SKU, name: "Bench hot product", priceCents: 1999, onHand: 100_000 },
  });
  await db.query(`INSERT INTO products (sku, name, price_cents, on_hand) VALUES ($1, 'Bench hot product (raw SQL)', 1999, 1000000000)`, [
    RAW_HOT_SKU,
  ]);
}

/**
 * Restocks through the API (a relative, atomic adjustment) so that at least
 * `minAvailable` units are free: the hot-SKU cells measure reservations, not
 * out_of_stock answers.
 */
export async function ensureAvailable(api: ApiClient, adminKey: string, sku: string, minAvailable: number): Promise<void> {
  const product = await api.expect(200, "GET", `/v1/products/${encodeURIComponent(sku)}`, { key: adminKey });
  const available = Number(product.available ?? product.onHand - product.reserved);
  if (available >= minAvailable) return;
  await api.expect(200, "POST", `/v1/products/${encodeURIComponent(sku)}/stock-adjustments`, {
    key: adminKey,
    body: { delta: 2 * minAvailable - available, reason: "bench restock" },
  });
}

/**
 * Orders with a pending payment each, through the API: POST /v1/orders, then
 * POST /v1/orders/:id/payments. `count` of them, spread over customers and SKUs.
 */
export async function createPendingPayments(
  api: ApiClient,
  customers: Customer[],
  skus: string[],
  count: number,
): Promise<PendingPayment[]> {
  return mapConcurrent(
    Array.from({ length: count }, (_, i) => i),
    32,
    async (i) => {
      const customer = customers[i % customers.length];
      const sku = skus[Math.floor(Math.random() * skus.length)];
      const order = await api.expect(201, "POST", "/v1/orders", { key: customer.apiKey, body: { lines: [{ sku, quantity: 1 }] } });
      const payment = await api.expect(201, "POST", `/v1/orders/${order.id as string}/payments`, { key: customer.apiKey, body: {} });
      return { id: payment.id as string, amountCents: Number(payment.amountCents) };
    },
  );
}

/** Deterministic ids for the raw side's rows, so the SQL script can find the n-th one. */
export const rawOrderIdSql = (nExpr: string) => `('cccccccc' || lpad(to_hex(${nExpr}), 24, '0'))::uuid`;
export const rawPaymentIdSql = (nExpr: string) => `('dddddddd' || lpad(to_hex(${nExpr}), 24, '0'))::uuid`;
export const RAW_PAYMENT_SEQUENCE = "bench.raw_payment_seq";

/**
 * `count` more pending payments for the raw confirmation transaction,
 * numbered on from the ones made before:
 * each an order in pending_payment holding one unit of a BR-* product (its
 * `reserved` raised to match), with a pending payment for its total. The
 * script takes the next number from RAW_PAYMENT_SEQUENCE, so every
 * transaction confirms a different payment, as every webhook does.
 */
export async function insertRawPendingPayments(db: pg.Client, customerIds: string[], count: number): Promise<void> {
  const rows = `generate_series($1::bigint, $2::bigint) AS n`;
  const sku = spreadSkuSql(RAW_SPREAD_PREFIX, `n % ${SPREAD_SKU_COUNT} + 1`);
  const customer = `($3::uuid[])[1 + n % array_length($3::uuid[], 1)]`;
  await db.query("BEGIN");
  try {
    await db.query(`CREATE SCHEMA IF NOT EXISTS bench`);
    await db.query(`CREATE SEQUENCE IF NOT EXISTS ${RAW_PAYMENT_SEQUENCE}`);
    const made = await db.query<{ n: string }>(`SELECT count(*) AS n FROM payments WHERE provider = 'bench-raw'`);
    const from = Number(made.rows[0].n) + 1;
    const params = [from, from + count - 1, customerIds];
    await db.query(
      `INSERT INTO orders (id, customer_id, status, total_cents, reserved_until)
       SELECT ${rawOrderIdSql("n")}, ${customer}, 'pending_payment', p.price_cents, now() + interval '30 days'
       FROM ${rows} JOIN products p ON p.sku = ${sku}`,
      params,
    );
    await db.query(
      `INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
       SELECT ${rawOrderIdSql("n")}, p.sku, 1, p.price_cents, p.price_cents
       FROM ${rows} JOIN products p ON p.sku = ${sku}`,
      params.slice(0, 2),
    );
    await db.query(
      `UPDATE products p SET reserved = p.reserved + held.quantity, version = p.version + 1, updated_at = now()
       FROM (SELECT ${sku} AS sku, count(*)::int AS quantity FROM ${rows} GROUP BY 1) held
       WHERE p.sku = held.sku`,
      params.slice(0, 2),
    );
    await db.query(
      `INSERT INTO payments (id, order_id, customer_id, amount_cents, currency, status, provider, provider_payment_id, expires_at)
       SELECT ${rawPaymentIdSql("n")}, o.id, o.customer_id, o.total_cents, 'USD', 'pending', 'bench-raw', 'raw-' || n,
              now() + interval '1 day'
       FROM ${rows} JOIN orders o ON o.id = ${rawOrderIdSql("n")}`,
      params.slice(0, 2),
    );
    await db.query(`SELECT setval('${RAW_PAYMENT_SEQUENCE}', $1, false)`, [from]);
    await db.query("COMMIT");
  } catch (err) {
    await db.query("ROLLBACK").catch(() => {});
    throw err;
  }
  // Tens of thousands of rows just arrived; autovacuum would analyze them only later.
  await db.query("ANALYZE orders, order_lines, payments, products");
}
