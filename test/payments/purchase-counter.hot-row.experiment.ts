/**
 * Experiment (not part of `npm test`): is one purchase_counters row per UTC
 * day a bottleneck under a burst of confirmations?
 *
 *   npx tsx test/payments/purchase-counter.hot-row.experiment.ts [payments=1200] [concurrency=32]
 *
 * Starts its own embedded PostgreSQL (durable settings: fsync and
 * synchronous_commit on, as in production) under .test-pg/, seeds pending
 * payments for orders spread over 200 SKUs (so product rows are not the hot
 * spot), then confirms them with `concurrency` parallel transactions shaped
 * exactly like the webhook's (lock payment, record event, lock order, settle,
 * paid, stock sold, counters last), once with every increment on one row per
 * day (shards = 1) and once spread (shards = 16). It samples pg_stat_activity
 * every 5 ms for backends waiting on a lock while running the counter upsert.
 */
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { DataSource } from "typeorm";
import { createDataSource } from "../../ormconfig.js";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { migrate } from "../../src/db/migrate.js";
import { withRetry } from "../../src/db/with-retry.js";
import { counterShardOf } from "../../src/metrics/counter-shards.js";
import { freePort } from "../support/service-process.js";

const PAYMENTS = Number(process.argv[2] ?? 1200);
const CONCURRENCY = Number(process.argv[3] ?? 32);
const SKUS = 200;

async function seed(ds: DataSource, n: number, tag: string): Promise<{ paymentId: string }[]> {
  const customers = Array.from({ length: 50 }, () => randomUUID());
  await ds.query(`INSERT INTO customers (id, name) SELECT c, 'c' FROM unnest($1::uuid[]) c`, [customers]);
  await ds.query(
    `INSERT INTO products (sku, name, price_cents, on_hand, reserved)
     SELECT $1 || '-' || i, 'p', 100, 1000000, 0 FROM generate_series(1, $2) i`,
    [tag, SKUS],
  );
  const rows = Array.from({ length: n }, (_, i) => ({
    orderId: randomUUID(),
    paymentId: randomUUID(),
    customerId: customers[i % customers.length],
    sku: `${tag}-${1 + (i % SKUS)}`,
  }));
  await ds.query(
    `WITH r AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[]) AS r(order_id, payment_id, customer_id, sku)),
     o AS (INSERT INTO orders (id, customer_id, status, total_cents, reserved_until)
           SELECT order_id, customer_id, 'pending_payment', 100, now() + interval '1 hour' FROM r),
     l AS (INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
           SELECT order_id, sku, 1, 100, 100 FROM r),
     p AS (INSERT INTO payments (id, order_id, customer_id, amount_cents, currency, status, provider, provider_payment_id)
           SELECT payment_id, order_id, customer_id, 100, 'USD', 'pending', 'sandbox', 'x' || payment_id FROM r),
     s AS (UPDATE products SET reserved = reserved + c.n FROM (SELECT sku, count(*) AS n FROM r GROUP BY sku) c WHERE products.sku = c.sku)
     SELECT 1`,
    [rows.map((r) => r.orderId), rows.map((r) => r.paymentId), rows.map((r) => r.customerId), rows.map((r) => r.sku)],
  );
  return rows.map((r) => ({ paymentId: r.paymentId }));
}

/** The webhook's call for payment.succeeded (the real one), with the shard count as a parameter. */
async function confirm(ds: DataSource, paymentId: string, shards: number): Promise<void> {
  await withRetry(() =>
    ds.query(`SELECT * FROM orderlock_settle_payments($1, $2)`, [
      JSON.stringify([{ eventId: `evt-${paymentId}`, type: "payment.succeeded", paymentId, amountCents: 100, holdSeconds: 600 }]),
      counterShardOf(paymentId, shards),
    ]),
  );
}

async function run(ds: DataSource, shards: number, round: number) {
  const work = await seed(ds, PAYMENTS, `R${round}S${shards}`);
  let samples = 0;
  let waitingOnCounter = 0;
  let waitingOnAnything = 0;
  let sampling = true;
  const sampler = (async () => {
    const probe = createDataSource((ds.options as { url: string }).url, {
      poolSize: 1,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 5000,
      lockTimeoutMs: 5000,
    });
    await probe.initialize();
    while (sampling) {
      const [row] = await probe.query(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND query LIKE '%purchase_counters%')::int AS counter,
                count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS any
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      samples++;
      waitingOnCounter += row.counter;
      waitingOnAnything += row.any;
      await new Promise((r) => setTimeout(r, 5));
    }
    await probe.destroy();
  })();

  const latencies: number[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < work.length) {
        const { paymentId } = work[next++];
        const t0 = performance.now();
        await confirm(ds, paymentId, shards);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = Date.now() - started;
  sampling = false;
  await sampler;
  latencies.sort((a, b) => a - b);
  const [check] = await ds.query(`SELECT coalesce(sum(purchases), 0)::int AS n, count(*)::int AS rows FROM purchase_counters`);
  await ds.query(`TRUNCATE purchase_counters, counted_customer_days, counted_payments`);
  return {
    shards,
    confirmations: work.length,
    counted: check.n,
    counterRows: check.rows,
    elapsedMs,
    perSecond: Math.round((work.length / elapsedMs) * 1000),
    p50Ms: Number(latencies[Math.floor(latencies.length * 0.5)].toFixed(1)),
    p99Ms: Number(latencies[Math.floor(latencies.length * 0.99)].toFixed(1)),
    avgBackendsWaitingOnCounterRow: Number((waitingOnCounter / samples).toFixed(2)),
    avgBackendsWaitingOnAnyLock: Number((waitingOnAnything / samples).toFixed(2)),
  };
}

const dataDir = path.resolve(".test-pg", `hot-row-${randomBytes(4).toString("hex")}`);
fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), password: "experiment", database: "experiment" });
try {
  const ds = createDataSource(pg.url, {
    poolSize: CONCURRENCY + 2,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 60000,
    lockTimeoutMs: 60000,
  });
  await ds.initialize();
  await migrate(ds);
  const results = [];
  for (const [round, shards] of [1, 16, 1, 16].entries()) results.push(await run(ds, shards, round));
  console.table(results);
  await ds.destroy();
} finally {
  await pg.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
