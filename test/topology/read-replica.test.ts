import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { pino } from "pino";
import request from "supertest";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource, type DbSettings } from "../../ormconfig.js";
import { buildApp } from "../../src/app.js";
import { migrate } from "../../src/db/migrate.js";
import { type ReadReplica, startReadReplica } from "../../src/db/read-replica.js";
import { registry } from "../../src/metrics/registry.js";
import { type StreamingPair, startStreamingPair } from "../support/streaming-replica.js";
import { systemBinary } from "../support/system-binary.js";
import { ADMIN_KEY, testAppDeps } from "../support/test-app.js";

/**
 * Purchase-metrics reads against a real streaming standby (PostgreSQL 15
 * primary + pg_basebackup -R standby). Which server answered is proven by
 * orderlock_replica_eligible_reads_total{source}. REPLICA_MAX_LAG_SECONDS is
 * 2 here (default 5) so the lag case takes seconds, not tens of them.
 */
const PG15 = "/usr/lib/postgresql/15/bin";
const pgBasebackup = systemBinary(`${PG15}/pg_basebackup`);

let pair: StreamingPair;
let ds: DataSource;
let replica: ReadReplica;
let server: http.Server;
let primary: pg.Client;
const admin = { Authorization: `Bearer ${ADMIN_KEY}` };
const settings: DbSettings = { poolSize: 5, connectTimeoutMs: 2000, statementTimeoutMs: 5000, lockTimeoutMs: 2000 };

beforeAll(async () => {
  if (!pgBasebackup.available) return;
  pair = await startStreamingPair(PG15);
  const setup = new pg.Client({ connectionString: pair.primary.url("postgres") });
  await setup.connect();
  await setup.query("CREATE DATABASE orderlock");
  await setup.end();
  ds = createDataSource(pair.primary.url("orderlock"), settings);
  await ds.initialize();
  await migrate(ds);
  primary = new pg.Client({ connectionString: pair.primary.url("orderlock") });
  await primary.connect();
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  replica = startReadReplica({ primary: ds, url: pair.standby.url("orderlock"), maxLagSeconds: 2, db: settings, logger });
  server = http.createServer(buildApp(testAppDeps(ds, { readReplica: replica })));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
}, 120_000);
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await replica?.close();
  await primary?.end();
  await ds?.destroy();
  await pair?.remove();
});

const baseUrl = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const purchases = (from: string, to = from) => request(baseUrl()).get(`/v1/metrics/purchases?from=${from}&to=${to}`).set(admin);

async function metric(name: string, labels = ""): Promise<number> {
  const text = await registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  if (!line) throw new Error(`${name}${labels} not in /metrics`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}
const reads = (source: "replica" | "primary") => metric("orderlock_replica_eligible_reads_total", `{source="${source}"}`);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

async function count(day: string, purchasesToAdd: number): Promise<void> {
  await primary.query(
    `INSERT INTO purchase_counters (day, shard, purchases, revenue_cents, unique_customers) VALUES ($1::date, 0, $2::bigint, $2::bigint * 1000, 1)
     ON CONFLICT (day, shard) DO UPDATE SET purchases = purchase_counters.purchases + EXCLUDED.purchases`,
    [day, purchasesToAdd],
  );
}

describe.skipIf(!pgBasebackup.available)("purchase-metrics reads with DATABASE_REPLICA_URL", () => {
  it("when the standby is streaming and caught up, then reads come from it, and its lag is 0 also on an idle primary", async () => {
    await count("2026-01-05", 3);
    const standby = new pg.Client({ connectionString: pair.standby.url("orderlock") });
    await standby.connect();
    try {
      expect((await standby.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(true);
      await until(
        "the standby has the row",
        // (42P01: the standby has not replayed the schema yet, which a busy machine can make last a while.)
        async () =>
          (await standby.query(`SELECT 1 FROM purchase_counters WHERE day = '2026-01-05'`).then(
            (r) => r.rowCount,
            (err: { code?: string }) => (err.code === "42P01" ? 0 : Promise.reject(err)),
          )) === 1,
        10000,
      );
    } finally {
      await standby.end();
    }
    await until("the replica serves reads", async () => (await metric("orderlock_replica_up")) === 1, 10000);
    await new Promise((r) => setTimeout(r, 3000)); // idle primary: the last commit ages, the lag must not
    expect(await metric("orderlock_replica_lag_seconds")).toBe(0);
    expect(await metric("orderlock_replica_up")).toBe(1);

    const [onReplica, onPrimary] = [await reads("replica"), await reads("primary")];
    const res = await purchases("2026-01-05");
    expect(res.status).toBe(200);
    expect(res.body.totals).toMatchObject({ purchases: 3, revenueCents: 3000 });
    expect(await reads("replica")).toBe(onReplica + 1);
    expect(await reads("primary")).toBe(onPrimary);
  });

  it("when replay on the standby is paused past REPLICA_MAX_LAG_SECONDS, then reads go to the primary and see the newest data, and return when it catches up", async () => {
    const standby = new pg.Client({ connectionString: pair.standby.url("orderlock") });
    await standby.connect();
    try {
      await standby.query("SELECT pg_wal_replay_pause()");
      await count("2026-01-06", 7);
      await until("the lag passes 2 s", async () => (await metric("orderlock_replica_up")) === 0, 10000);
      expect(await metric("orderlock_replica_lag_seconds")).toBeGreaterThanOrEqual(2);
      const onPrimary = await reads("primary");
      const res = await purchases("2026-01-06");
      expect(res.status).toBe(200);
      expect(res.body.totals.purchases).toBe(7); // the standby has not replayed it: the primary answered
      expect(await reads("primary")).toBe(onPrimary + 1);
    } finally {
      await standby.query("SELECT pg_wal_replay_resume()");
      await standby.end();
    }
    await until("the replica serves reads again", async () => (await metric("orderlock_replica_up")) === 1, 10000);
    const onReplica = await reads("replica");
    expect((await purchases("2026-01-06")).body.totals.purchases).toBe(7);
    expect(await reads("replica")).toBe(onReplica + 1);
  });

  it("when the standby stops, then within 5 s reads go to the primary, and no read fails meanwhile", async () => {
    const statuses: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        statuses.push((await purchases("2026-01-05")).status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await pair.standby.stop("immediate");
    const fellBackMs = await until("reads fall back to the primary", async () => (await metric("orderlock_replica_up")) === 0, 10000);
    const onPrimary = await reads("primary");
    await new Promise((r) => setTimeout(r, 500));
    polling = false;
    await poller;
    expect(fellBackMs).toBeLessThan(5000);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await reads("primary")).toBeGreaterThan(onPrimary);
    expect(Number.isNaN(await metric("orderlock_replica_lag_seconds"))).toBe(true);
  });
});
