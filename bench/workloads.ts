import type pg from "pg";
import { PURCHASE_COUNTER_SHARDS } from "../src/metrics/counter-shards.js";
import type { ApiClient } from "./api-client.js";
import type { OrdersTarget, WebhooksTarget } from "./load-spec.js";
import type { WorkloadName } from "./options.js";
import type { RawTransaction } from "./raw-sql.js";
import {
  type Customer,
  createPendingPayments,
  ensureAvailable,
  insertRawPendingPayments,
  RAW_HOT_SKU,
  RAW_PAYMENT_SEQUENCE,
  RAW_SPREAD_PREFIX,
  rawPaymentIdSql,
  SERVICE_HOT_SKU,
  SERVICE_SPREAD_PREFIX,
  SPREAD_SKU_COUNT,
  spreadSkuSql,
  spreadSkus,
} from "./seed.js";

/**
 * The three workloads, each as a pair: what the service is asked over HTTP,
 * and the same transaction as raw SQL (the physical limit).
 *
 * (a) orders-spread: POST /v1/orders, one unit of one of 10,000 SKUs. Little
 *     row contention: this is the per-request cost of the service.
 * (b) orders-hot: the same, always the same SKU. Every order serialises on one
 *     product row lock: this is the cost of correctness under contention.
 * (c) payments-confirm: one signed payment.succeeded webhook per pending
 *     payment: the confirmation transaction (payment, order, stock, counters).
 */
export type BenchContext = {
  api: ApiClient;
  db: pg.Client;
  adminKey: string;
  webhookSecret: string;
  /** The service side's customers, with their API keys. */
  customers: Customer[];
  /** The raw side's customers (ids only; see seed.ts). */
  rawCustomerIds: string[];
  durationSeconds: number;
  /** Service req/s and raw tps of the orders-spread cells, by connections: they size the payment workload's preparation. */
  measured: { serviceOrderRps: Map<number, number>; rawOrderTps: Map<number, number> };
  log: (line: string) => void;
};

export type Workload = {
  name: WorkloadName;
  /** Undefined when every endpoint the service side needs answers; otherwise why that side is skipped. */
  probe(ctx: BenchContext): Promise<string | undefined>;
  /** Seeds what one service cell needs; returns its load target. */
  prepareService(ctx: BenchContext, connections: number): Promise<OrdersTarget | WebhooksTarget>;
  /** Seeds what one raw cell needs; returns its transaction. */
  prepareRaw(ctx: BenchContext, connections: number): Promise<RawTransaction>;
};

export const ENDPOINT_MISSING = "skipped: endpoint not available";

/**
 * Whether POST /v1/orders exists, without side effects: an empty order is a
 * 422 when the route exists; the catch-all answers 404 when it does not.
 */
async function probeOrders(ctx: BenchContext): Promise<string | undefined> {
  const res = await ctx.api.call("POST", "/v1/orders", { key: ctx.customers[0].apiKey, body: { lines: [] } });
  return res.status === 404 ? `${ENDPOINT_MISSING} (POST /v1/orders answered 404)` : undefined;
}

// Customer ids are embedded in the raw scripts; they come from our own seeding,
// but check their shape anyway before putting them into SQL text.
export function customerArraySql(customerIds: string[]): string {
  for (const id of customerIds) if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`unexpected customer id ${id}`);
  return `ARRAY[${customerIds.map((id) => `'${id}'`).join(", ")}]::uuid[]`;
}

/**
 * The core of what the service does for a one-line order: lock the product
 * row, raise `reserved`, insert the order (a hold until reserved_until, and
 * a time-ordered id as the service's, so that its index entries land where
 * the service's do: the column's default, a random UUID, makes every insert
 * a random leaf of the 10 M-entry indexes of a preloaded run) and its line,
 * in one transaction. Not included, so that the ratio shows their
 * cost: HTTP and JSON, the API-key lookup, the rate-limit counter upsert, the
 * Idempotency-Key lock, lookup and stored response, and the per-customer cap
 * (customer-row lock and the query of the customer's held units).
 */
function rawOrderTransaction(skuSql: string, random: RawTransaction["random"], customerIds: string[]): RawTransaction {
  return {
    random: { ...random, c: [1, customerIds.length] },
    steps: [
      { sql: "BEGIN" },
      { sql: `SELECT price_cents AS price, on_hand, reserved FROM products WHERE sku = ${skuSql} FOR UPDATE`, gset: true },
      { sql: `UPDATE products SET reserved = reserved + 1, version = version + 1, updated_at = now() WHERE sku = ${skuSql}` },
      {
        sql: `INSERT INTO orders (id, customer_id, status, total_cents, reserved_until)
              VALUES (orderlock_new_id(), (${customerArraySql(customerIds)})[:c::int], 'reserved', :price::bigint, now() + interval '30 days')
              RETURNING id AS order_id`,
        gset: true,
      },
      {
        sql: `INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
              VALUES (:order_id::uuid, ${skuSql}, 1, :price::int, :price::bigint)`,
      },
      { sql: "COMMIT" },
    ],
  };
}

const ordersSpread: Workload = {
  name: "orders-spread",
  probe: probeOrders,
  async prepareService(ctx) {
    return { kind: "orders", customerKeys: ctx.customers.map((c) => c.apiKey), skus: spreadSkus(SERVICE_SPREAD_PREFIX) };
  },
  async prepareRaw(ctx) {
    return rawOrderTransaction(spreadSkuSql(RAW_SPREAD_PREFIX, ":n::int"), { n: [1, SPREAD_SKU_COUNT] }, ctx.rawCustomerIds);
  },
};

const ordersHot: Workload = {
  name: "orders-hot",
  probe: probeOrders,
  async prepareService(ctx) {
    // Far more than 2 cores can reserve in one cell; topped up before each.
    await ensureAvailable(ctx.api, ctx.adminKey, SERVICE_HOT_SKU, 5000 * ctx.durationSeconds);
    return { kind: "orders", customerKeys: ctx.customers.map((c) => c.apiKey), skus: [SERVICE_HOT_SKU] };
  },
  async prepareRaw(ctx) {
    return rawOrderTransaction(`'${RAW_HOT_SKU}'`, {}, ctx.rawCustomerIds);
  },
};

const paymentsConfirm: Workload = {
  name: "payments-confirm",
  async probe(ctx) {
    const missingOrders = await probeOrders(ctx);
    if (missingOrders) return missingOrders;
    // A real order of our own: a 404 on its payments can only mean the route is missing.
    const customer = ctx.customers[0];
    const order = await ctx.api.expect(201, "POST", "/v1/orders", {
      key: customer.apiKey,
      body: { lines: [{ sku: `${SERVICE_SPREAD_PREFIX}-00001`, quantity: 1 }] },
    });
    const payment = await ctx.api.call("POST", `/v1/orders/${order.id as string}/payments`, { key: customer.apiKey, body: {} });
    if (payment.status === 404) return `${ENDPOINT_MISSING} (POST /v1/orders/:id/payments answered 404)`;
    // With a bad signature, an existing webhook route answers 401 invalid_signature.
    // The admin key is sent only so that a missing route is a 404, not the 401 of the /v1 key check.
    const webhook = await ctx.api.call("POST", "/v1/webhooks/payments", {
      key: ctx.adminKey,
      idempotencyKey: false,
      headers: { "Payment-Signature": "t=0,v1=00" },
      body: {
        id: "evt_bench_probe",
        type: "payment.succeeded",
        data: { paymentId: "00000000-0000-4000-8000-000000000000", amountCents: 0 },
      },
    });
    if (webhook.status === 404) return `${ENDPOINT_MISSING} (POST /v1/webhooks/payments answered 404)`;
    return undefined;
  },
  async prepareService(ctx, connections) {
    // One webhook per pending payment: prepare half again as many as the order
    // rate at these connections suggests the cell can confirm. If they run
    // out early the cell ends early, and the report says so.
    const rps = ctx.measured.serviceOrderRps.get(connections) ?? 300;
    const count = Math.min(30_000, Math.max(200, Math.ceil(rps * ctx.durationSeconds * 1.5) + connections));
    ctx.log(`  preparing ${count} orders with pending payments through the API`);
    const started = Date.now();
    const payments = await createPendingPayments(ctx.api, ctx.customers, spreadSkus(SERVICE_SPREAD_PREFIX), count);
    ctx.log(`  prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { kind: "webhooks", webhookSecret: ctx.webhookSecret, payments };
  },
  async prepareRaw(ctx, connections) {
    // The raw script takes the next payment number from a sequence; a number
    // past the prepared range would abort pgbench, so prepare generously.
    const tps = ctx.measured.rawOrderTps.get(connections) ?? 5000;
    const count = Math.ceil(tps * ctx.durationSeconds * 2) + 2000;
    await insertRawPendingPayments(ctx.db, ctx.rawCustomerIds, count);
    const utcDay = `(now() AT TIME ZONE 'UTC')::date`;
    return {
      random: {},
      steps: [
        // Outside the transaction, like the webhook's own lookup of its payment id.
        { sql: `SELECT nextval('${RAW_PAYMENT_SEQUENCE}') AS n`, gset: true },
        { sql: "BEGIN" },
        {
          sql: `SELECT id AS payment_id, order_id, customer_id, amount_cents AS amount FROM payments
                WHERE id = ${rawPaymentIdSql(":n::bigint")} AND status = 'pending' FOR UPDATE`,
          gset: true,
        },
        {
          sql: `INSERT INTO payment_events (event_id, payment_id, type, outcome)
                VALUES ('evt_raw_' || :n::text, :payment_id::uuid, 'payment.succeeded', 'processed')`,
        },
        {
          sql: `UPDATE payments SET status = 'succeeded', succeeded_at = now(), version = version + 1, updated_at = now() WHERE id = :payment_id::uuid`,
        },
        {
          sql: `UPDATE orders SET status = 'paid', reserved_until = NULL, version = version + 1, updated_at = now() WHERE id = :order_id::uuid`,
        },
        {
          sql: `UPDATE products p SET on_hand = p.on_hand - l.quantity, reserved = p.reserved - l.quantity, version = p.version + 1, updated_at = now()
                FROM order_lines l WHERE l.order_id = :order_id::uuid AND p.sku = l.sku`,
        },
        {
          sql: `INSERT INTO counted_payments (payment_id, day, customer_id, amount_cents)
                VALUES (:payment_id::uuid, ${utcDay}, :customer_id::uuid, :amount::bigint)`,
        },
        {
          // The unique-customer count rides along in the same upsert, as in the
          // service. The counter row is spread over the service's shard count:
          // on one row (shard 0) every confirmation would queue on its lock
          // until COMMIT, a limit the service does not have.
          sql: `WITH first_today AS (
                  INSERT INTO counted_customer_days (day, customer_id) VALUES (${utcDay}, :customer_id::uuid)
                  ON CONFLICT DO NOTHING RETURNING 1)
                INSERT INTO purchase_counters AS c (day, shard, purchases, revenue_cents, unique_customers)
                VALUES (${utcDay}, :n::bigint % ${PURCHASE_COUNTER_SHARDS}, 1, :amount::bigint, (SELECT count(*) FROM first_today))
                ON CONFLICT (day, shard) DO UPDATE SET
                  purchases = c.purchases + EXCLUDED.purchases,
                  revenue_cents = c.revenue_cents + EXCLUDED.revenue_cents,
                  unique_customers = c.unique_customers + EXCLUDED.unique_customers`,
        },
        { sql: "COMMIT" },
      ],
    };
  },
};

export const WORKLOADS: Record<WorkloadName, Workload> = {
  "orders-spread": ordersSpread,
  "orders-hot": ordersHot,
  "payments-confirm": paymentsConfirm,
};
