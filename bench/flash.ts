import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { ApiClient } from "./api-client.js";
import { type CpuPerRequest, measureCpu } from "./cpu-usage.js";
import { checkInvariants, recordStockBaseline } from "./invariants.js";
import { type LatencyPercentiles, type LoggedTransaction, latencyPercentiles, msOf, readTransactionLog } from "./latency.js";
import { runLoad } from "./load.js";
import type { LoadResult } from "./load-spec.js";
import type { LoadDriver, RawDriver } from "./options.js";
import { type RawResult, type RawTransaction, runRawSql } from "./raw-sql.js";
import { createCustomers } from "./seed.js";
import { customerArraySql } from "./workloads.js";

/**
 * The flash sale (`npm run bench -- --workloads=flash`): one SKU with exactly
 * FLASH_UNITS units, FLASH_CONNECTIONS connections each ordering one unit
 * with a fresh Idempotency-Key for FLASH_SECONDS, most of them after the
 * last unit is gone. What it shows: that exactly the stock is sold, however
 * many ask at once, and what a refusal of a sold-out SKU costs.
 *
 * - The buyers are FLASH_CUSTOMERS customers, each request a random one's
 *   key: a thousand buyers, as in a real sale, so that what is measured is
 *   the sale, not one customer's rate-limit row; at the rates this machine
 *   reaches, each stays under even the production limit of 1,200/min (the
 *   bench raises it anyway, and runs with the per-customer cap off).
 * - The load generator times the sellout (first request sent to the
 *   1,000th 201) and the latency of every answer to a request sent after it.
 * - The database is checked too: reserved + sold = 1,000, 1,000 orders, and
 *   the stock left, sampled every 50 ms during the sale, never below zero
 *   (the CHECK 0 <= reserved <= on_hand forbids it; this watches it hold).
 * - The raw-SQL twin sells its own 1,000 units the fastest way SQL can: one
 *   conditional statement (UPDATE ... WHERE on_hand - reserved >= 1, and the
 *   order and its line from what it returns), autocommit, by pgbench at as
 *   many clients as max_connections leaves room for, up to 1,000. Once sold
 *   out it, too, locks nothing: the UPDATE's condition fails on its snapshot.
 *   Before the sellout its clients queue on the row lock, as the service's
 *   batches do not. pgbench's -T counts the time it takes to open its
 *   connections (seconds; a minute on a busy machine), so it runs longer, in
 *   one thread whose clients all start once all are open, and its figures
 *   come from its per-transaction log: the sellout from its first
 *   transaction, and up to 20 s of the transactions begun after it.
 *
 * Criteria, printed pass/fail: the correctness ones fail the run (like a
 * broken invariant); the latency goal is reported and recorded only.
 */
const FLASH_UNITS = 1000;
const FLASH_CONNECTIONS = 1000;
const FLASH_SECONDS = 20;
const FLASH_CUSTOMERS = 1000;
const REFUSAL_P99_GOAL_MS = 100;
const SERVICE_FLASH_SKU = "FLASH-SVC";
const RAW_FLASH_SKU = "FLASH-RAW";
const FLASH_PRICE_CENTS = 4999;
/**
 * The service's embedded PostgreSQL is started with this max_connections when
 * the flash sale runs (EMBEDDED_PG_MAX_CONNECTIONS): pgbench's 1,000 clients,
 * the service's pool (10 per instance), the bench's own connection, the
 * reserved ones.
 */
export const FLASH_SERVICE_ENV = { EMBEDDED_PG_MAX_CONNECTIONS: "1100" };

type Criterion = { name: string; pass: boolean; detail: string; goal?: boolean };

type SkuState = { onHand: number; reserved: number; sold: number; orders: number };

export type FlashResult = {
  units: number;
  connections: number;
  durationSeconds: number;
  customers: number;
  loadDriver: LoadDriver;
  /** The machine's 1-minute load average when the sale began: the cores are shared, and a busy machine moves every figure. */
  loadAverage: number;
  service: LoadResult;
  /** CPU per answer during the service's sale (most answers are refusals after the sellout). */
  serviceCpu?: CpuPerRequest;
  serviceDb: SkuState & { stockSamples: number; minAvailableSeen: number };
  raw: {
    result: RawResult;
    maxConnections: number;
    db: SkuState;
    /** From pgbench's transaction log (pgbench only). */
    log?: {
      /** From its first transaction's end (the load's start, to within one transaction) to the 1,000th sale (its insert, by the database clock). */
      selloutMs?: number;
      /**
       * Until the last client had its first answer: the clients that asked
       * before the sellout queue on the row lock (the conditional UPDATE
       * waits for the row whenever its snapshot still shows stock), and
       * each is let through only after the one before it commits.
       */
      allAnsweredMs: number;
      /** The transactions begun after the 1,000th sale, over up to FLASH_SECONDS: refusals, which lock nothing. */
      afterSellout?: { seconds: number; transactions: number; tps: number; latency: LatencyPercentiles };
    };
  };
  criteria: Criterion[];
};

type FlashContext = {
  api: ApiClient;
  db: pg.Client;
  adminKey: string;
  rawCustomerIds: string[];
  baseUrl: string;
  databaseUrl: string;
  servicePids: (number | undefined)[];
  proxyPid?: number;
  pgDataDir: string;
  loadDriver: LoadDriver;
  rawDriver: RawDriver;
  scriptDir: string;
  log: (line: string) => void;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

/** The service must be allowed a socket per connection: Node raises its soft limit to the hard one, which may still be low. */
function checkServiceOpenFiles(pids: (number | undefined)[], needed: number): void {
  for (const pid of pids) {
    if (pid === undefined) continue;
    let limits: string;
    try {
      limits = fs.readFileSync(`/proc/${pid}/limits`, "utf8");
    } catch {
      return; // no /proc: nothing to check
    }
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    if (soft && soft !== "unlimited" && Number(soft) < needed) {
      throw new Error(
        `the service (pid ${pid}) may open ${soft} files, fewer than the ${needed} the flash sale's connections need: raise its hard limit`,
      );
    }
  }
}

/** Polls the SKU's stock until stopped: how low `on_hand - reserved` ever got. */
function watchStock(db: pg.Client, sku: string): () => Promise<{ samples: number; minAvailable: number }> {
  let stopped = false;
  const seen = { samples: 0, minAvailable: Number.POSITIVE_INFINITY };
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await db.query<{ available: number }>(`SELECT on_hand - reserved AS available FROM products WHERE sku = $1`, [sku]);
      seen.samples++;
      seen.minAvailable = Math.min(seen.minAvailable, rows[0].available);
      await sleep(50);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return seen;
  };
}

async function skuState(db: pg.Client, sku: string): Promise<SkuState> {
  const { rows } = await db.query<{ on_hand: number; reserved: number; orders: string }>(
    `SELECT p.on_hand, p.reserved,
            (SELECT count(DISTINCT l.order_id) FROM order_lines l WHERE l.sku = p.sku) AS orders
       FROM products p WHERE p.sku = $1`,
    [sku],
  );
  const r = rows[0];
  // Sold units have left on_hand (a payment turns a hold into a sale); none are paid here, but count them if they were.
  return { onHand: r.on_hand, reserved: r.reserved, sold: FLASH_UNITS - r.on_hand, orders: Number(r.orders) };
}

function rawFlashTransaction(customerIds: string[]): RawTransaction {
  return {
    random: { c: [1, customerIds.length] },
    steps: [
      {
        sql: `WITH sold AS (
                UPDATE products SET reserved = reserved + 1, version = version + 1, updated_at = now()
                 WHERE sku = '${RAW_FLASH_SKU}' AND on_hand - reserved >= 1
                RETURNING price_cents),
              placed AS (
                INSERT INTO orders (id, customer_id, status, total_cents, reserved_until, created_at, updated_at)
                SELECT orderlock_new_id(), (${customerArraySql(customerIds)})[:c::int], 'reserved', sold.price_cents,
                       now() + interval '30 days', clock_timestamp(), clock_timestamp()
                  FROM sold
                RETURNING id, total_cents)
              INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
              SELECT placed.id, '${RAW_FLASH_SKU}', 1, placed.total_cents::int, placed.total_cents FROM placed`,
      },
    ],
  };
}

/** As many pgbench clients as PostgreSQL has room for, up to the flash sale's connections. */
async function rawClients(db: pg.Client): Promise<{ clients: number; maxConnections: number }> {
  const { rows } = await db.query<{ max: number; reserved: number; used: number }>(
    `SELECT current_setting('max_connections')::int AS max,
            current_setting('superuser_reserved_connections')::int
              + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS used`,
  );
  const { max, reserved, used } = rows[0];
  // A few to spare: the service's pool may open a connection it does not hold yet.
  return { clients: Math.max(1, Math.min(FLASH_CONNECTIONS, max - reserved - used - 10)), maxConnections: max };
}

/**
 * The raw figures from pgbench's log. Its clients start together once all
 * are open: the first transaction to end marks the load's start. A client's
 * first transaction is timed by pgbench from before it opened its
 * connections; none begins after the sellout, so no figure below counts one.
 */
function rawFigures(txs: LoggedTransaction[], lastSaleUs: number | undefined): NonNullable<FlashResult["raw"]["log"]> | undefined {
  const firsts = txs.filter((t) => t.first);
  if (firsts.length === 0) return undefined;
  const startUs = firsts.reduce((min, t) => Math.min(min, t.endUs), Number.POSITIVE_INFINITY);
  const allAnsweredUs = firsts.reduce((max, t) => Math.max(max, t.endUs), 0);
  const lastEnd = txs.reduce((max, t) => Math.max(max, t.endUs), 0);
  const figures = {
    ...(lastSaleUs !== undefined ? { selloutMs: msOf(lastSaleUs - startUs) } : {}),
    allAnsweredMs: msOf(allAnsweredUs - startUs),
  };
  if (lastSaleUs === undefined) return figures;
  const endUs = Math.min(lastSaleUs + FLASH_SECONDS * 1e6, lastEnd);
  const after = txs.filter((t) => !t.first && t.startUs >= lastSaleUs && t.endUs <= endUs);
  const seconds = (endUs - lastSaleUs) / 1e6;
  if (after.length === 0 || seconds <= 0) return figures;
  return {
    ...figures,
    afterSellout: {
      seconds: Math.round(seconds * 10) / 10,
      transactions: after.length,
      tps: after.length / seconds,
      latency: latencyPercentiles(after.map((t) => t.latencyUs)),
    },
  };
}

/**
 * How long pgbench will take to open `clients` connections, one after
 * another (a fork and an authentication each), timed here on a few. A busy
 * machine can take tens of seconds for a thousand.
 */
async function estimateConnectSeconds(databaseUrl: string, clients: number): Promise<number> {
  const probes = 8;
  const started = performance.now();
  for (let i = 0; i < probes; i++) {
    const c = new pg.Client({ connectionString: databaseUrl, application_name: "orderlock-bench-probe" });
    await c.connect();
    await c.end();
  }
  const perConnectionMs = (performance.now() - started) / probes;
  return (clients * perConnectionMs) / 1000;
}

/** The 1,000th raw sale, by the database clock (clock_timestamp() at its insert), µs since the epoch. */
async function lastRawSaleUs(db: pg.Client): Promise<number | undefined> {
  const { rows } = await db.query<{ us: string | null }>(
    `SELECT (extract(epoch FROM max(o.created_at)) * 1e6)::bigint AS us
       FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.sku = $1`,
    [RAW_FLASH_SKU],
  );
  return rows[0].us === null ? undefined : Number(rows[0].us);
}

function judge(service: LoadResult, serviceDb: FlashResult["serviceDb"], raw: FlashResult["raw"], loadDriver: LoadDriver): Criterion[] {
  const sale = service.sale;
  const statuses = sale?.statuses ?? {};
  const created = statuses["201"] ?? 0;
  const fiveXx = Object.entries(statuses)
    .filter(([s]) => Number(s) >= 500)
    .reduce((n, [, c]) => n + c, 0);
  const refusals = service.responses - created;
  const otherProblems = Object.entries(service.problems).filter(([k]) => k !== "409 out_of_stock");
  const after = sale?.afterSellout;
  return [
    {
      name: `exactly ${fmt(FLASH_UNITS)} answers are 201`,
      pass: created === FLASH_UNITS && service.created === FLASH_UNITS,
      detail: `${fmt(created)} × 201`,
    },
    {
      name: `the database agrees: reserved + sold = ${fmt(FLASH_UNITS)}, ${fmt(FLASH_UNITS)} orders, stock never negative`,
      pass:
        serviceDb.reserved + serviceDb.sold === FLASH_UNITS &&
        serviceDb.orders === FLASH_UNITS &&
        serviceDb.onHand >= serviceDb.reserved &&
        serviceDb.minAvailableSeen >= 0,
      detail: `reserved ${fmt(serviceDb.reserved)} + sold ${fmt(serviceDb.sold)}, ${fmt(serviceDb.orders)} orders, lowest stock left ${serviceDb.minAvailableSeen} in ${fmt(serviceDb.stockSamples)} samples`,
    },
    {
      name: "no 5xx, no connection errors or timeouts",
      pass: fiveXx === 0 && service.connectionErrors === 0,
      detail: `${fmt(fiveXx)} × 5xx, ${fmt(service.connectionErrors)} connection errors (${fmt(service.timeouts)} timeouts)`,
    },
    {
      name: "every refusal is 409 out_of_stock",
      pass: refusals === service.outOfStock && otherProblems.length === 0,
      detail:
        otherProblems.length === 0
          ? `${fmt(service.outOfStock)} of ${fmt(refusals)}`
          : `also ${otherProblems.map(([k, v]) => `${k} ×${fmt(v)}`).join(", ")}`,
    },
    {
      name: `refusals after the sellout: p99 < ${REFUSAL_P99_GOAL_MS} ms`,
      pass: after !== undefined && after.answers > 0 && after.p99Ms < REFUSAL_P99_GOAL_MS,
      detail: after ? `p99 ${after.p99Ms} ms over ${fmt(after.answers)} refusals (${loadDriver})` : "no sellout",
      goal: true,
    },
    {
      // Whether it sold out in its time is a figure (a busy machine may not let it); overselling would be a broken twin.
      name: `raw SQL never sold more than ${fmt(FLASH_UNITS)} (the twin is sound)`,
      pass: raw.db.reserved + raw.db.sold <= FLASH_UNITS && raw.db.orders === raw.db.reserved + raw.db.sold && raw.result.failed === 0,
      detail: `reserved ${fmt(raw.db.reserved)} + sold ${fmt(raw.db.sold)}, ${fmt(raw.db.orders)} orders, ${fmt(raw.result.failed)} failed${raw.db.reserved + raw.db.sold < FLASH_UNITS ? "; it did not sell out in its time" : ""}`,
    },
  ];
}

export async function runFlash(ctx: FlashContext): Promise<FlashResult> {
  const { api, db, log } = ctx;
  log(`flash sale: ${fmt(FLASH_UNITS)} units, ${fmt(FLASH_CONNECTIONS)} connections, ${FLASH_SECONDS} s`);
  checkServiceOpenFiles(ctx.servicePids, FLASH_CONNECTIONS + 64);
  const seeded = Date.now();
  await api.expect(201, "POST", "/v1/products", {
    key: ctx.adminKey,
    body: { sku: SERVICE_FLASH_SKU, name: "Bench flash-sale product", priceCents: FLASH_PRICE_CENTS, onHand: FLASH_UNITS },
  });
  await db.query(`INSERT INTO products (sku, name, price_cents, on_hand) VALUES ($1, 'Bench flash-sale product (raw SQL)', $2, $3)`, [
    RAW_FLASH_SKU,
    FLASH_PRICE_CENTS,
    FLASH_UNITS,
  ]);
  const buyers = await createCustomers(api, ctx.adminKey, FLASH_CUSTOMERS, "Bench flash buyer");
  log(`  ${fmt(buyers.length)} buyers and the products created in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
  // The stock check's baseline must know the two new products (created without a stock adjustment).
  await recordStockBaseline(db);

  const loadAverage = Math.round(os.loadavg()[0] * 100) / 100;
  log(`flash sale: service (${ctx.loadDriver}), ${FLASH_SECONDS} s; load average ${loadAverage} on ${os.cpus().length} cores`);
  const stopWatching = watchStock(db, SERVICE_FLASH_SKU);
  const cpuDone = measureCpu({ servicePids: ctx.servicePids, proxyPid: ctx.proxyPid, pgDataDir: ctx.pgDataDir });
  const service = await runLoad(
    {
      url: ctx.baseUrl,
      connections: FLASH_CONNECTIONS,
      durationSeconds: FLASH_SECONDS,
      target: { kind: "flash", customerKeys: buyers.map((b) => b.apiKey), sku: SERVICE_FLASH_SKU, units: FLASH_UNITS },
    },
    ctx.loadDriver,
    ctx.scriptDir,
    "flash",
  ).catch(async (err: unknown) => {
    await stopWatching().catch(() => {});
    throw err;
  });
  const serviceCpu = cpuDone(service.responses);
  const watched = await stopWatching();
  const serviceDb = { ...(await skuState(db, SERVICE_FLASH_SKU)), stockSamples: watched.samples, minAvailableSeen: watched.minAvailable };
  log(
    `  sold out in ${service.sale?.selloutMs ?? "-"} ms; ${fmt(service.requestsPerSecond)} req/s; refusals after it p99 ${service.sale?.afterSellout.p99Ms ?? "-"} ms`,
  );
  log(`  ${await checkInvariants(db, "flash sale (service)")}`);

  const { clients, maxConnections } = await rawClients(db);
  const room = clients < FLASH_CONNECTIONS ? `, all that max_connections (${maxConnections}) leaves room for` : "";
  let durationSeconds = FLASH_SECONDS;
  let transactionLog: string | undefined;
  if (ctx.rawDriver === "pgbench") {
    // pgbench's -T includes opening its connections, and the clients that asked before the sellout wait on the row
    // lock one after another: give it time for both on top, and take the figures from its log.
    const connectSeconds = await estimateConnectSeconds(ctx.databaseUrl, clients);
    durationSeconds = FLASH_SECONDS + Math.min(180, Math.ceil(2.5 * connectSeconds) + 10);
    transactionLog = path.join(ctx.scriptDir, "flash-raw-log");
    log(
      `flash sale: raw SQL (pgbench) at ${fmt(clients)} clients${room}; opening them takes ~${connectSeconds.toFixed(1)} s, so it runs ${durationSeconds} s`,
    );
  } else {
    log(`flash sale: raw SQL (${ctx.rawDriver}) at ${fmt(clients)} clients${room}, ${FLASH_SECONDS} s`);
  }
  const rawResult = await runRawSql(
    {
      databaseUrl: ctx.databaseUrl,
      clients,
      durationSeconds,
      transaction: rawFlashTransaction(ctx.rawCustomerIds),
      transactionLog,
      // One thread: it opens all its clients, then starts them together, as the sale's connections are. (With two, the
      // first thread's clients would sell out while the second still connects.)
      threads: 1,
    },
    ctx.rawDriver,
    ctx.scriptDir,
    "flash",
  );
  const raw: FlashResult["raw"] = { result: rawResult, maxConnections, db: await skuState(db, RAW_FLASH_SKU) };
  if (transactionLog) raw.log = rawFigures(readTransactionLog(transactionLog, { remove: true }), await lastRawSaleUs(db));
  log(
    `  sold out in ${raw.log?.selloutMs ?? "-"} ms; after it ${fmt(raw.log?.afterSellout?.tps ?? rawResult.tps)} tps${rawResult.connectMs !== undefined ? `; pgbench took ${(rawResult.connectMs / 1000).toFixed(1)} s to connect` : ""}`,
  );
  log(`  ${await checkInvariants(db, "flash sale (raw SQL)")}`);

  const result: FlashResult = {
    units: FLASH_UNITS,
    connections: FLASH_CONNECTIONS,
    durationSeconds: FLASH_SECONDS,
    customers: buyers.length,
    loadDriver: ctx.loadDriver,
    loadAverage,
    service,
    ...(serviceCpu ? { serviceCpu } : {}),
    serviceDb,
    raw,
    criteria: [],
  };
  result.criteria = judge(service, serviceDb, raw, ctx.loadDriver);
  return result;
}
