import { randomBytes } from "node:crypto";
import fs from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { buildApp } from "../../src/app.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { migrate } from "../../src/db/migrate.js";
import { createHttpServer } from "../../src/http/server.js";
import { freePort } from "../support/service-process.js";
import { ADMIN_KEY, testAppDeps } from "../support/test-app.js";

/**
 * A scratch PostgreSQL server of this test's own, stopped and started again
 * under load: requests meanwhile get 503 service_unavailable with
 * Retry-After (never a 500, never a crash), and the service recovers by
 * itself once the server is back.
 */
const dataDir = path.resolve(".test-pg", `fault-${randomBytes(4).toString("hex")}`);
let pgPort: number;
let pgServer: EmbeddedPostgres;
let ds: DataSource;
let server: http.Server;
let base: string;
const admin = { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" };

const startPg = () =>
  startEmbeddedPostgres({ dataDir, port: pgPort, password: "fault", database: "orderlock", settings: { fsync: "off" } });

beforeAll(async () => {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  pgPort = await freePort();
  pgServer = await startPg();
  ds = createDataSource(pgServer.url, { poolSize: 4, connectTimeoutMs: 1000, statementTimeoutMs: 5000, lockTimeoutMs: 2000 });
  await ds.initialize();
  await migrate(ds);
  const app = buildApp(testAppDeps(ds));
  server = createHttpServer(app);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await ds?.destroy().catch(() => {});
  await pgServer?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("the database goes away under load", () => {
  it("when PostgreSQL stops during load, then requests get 503 with Retry-After, never 500, and within 10 s of its return the service answers again", async () => {
    await fetch(`${base}/v1/products`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ sku: "OUT-1", name: "x", priceCents: 1, onHand: 1_000_000 }),
    });
    const customer = (await (
      await fetch(`${base}/v1/customers`, { method: "POST", headers: admin, body: "{}".replace("{}", '{"name":"c"}') })
    ).json()) as { apiKey: string };
    const auth = { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json" };

    const statuses: { at: number; status: number; retryAfter: string | null; code?: string }[] = [];
    let running = true;
    let n = 0;
    const worker = async () => {
      while (running) {
        const res = await fetch(`${base}/v1/orders`, {
          method: "POST",
          headers: { ...auth, "Idempotency-Key": `outage-${n++}` },
          body: JSON.stringify({ lines: [{ sku: "OUT-1", quantity: 1 }] }),
        });
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        statuses.push({ at: Date.now(), status: res.status, retryAfter: res.headers.get("retry-after"), code: body.code });
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const workers = Array.from({ length: 4 }, worker);

    await new Promise((r) => setTimeout(r, 500));
    await pgServer.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);

    const restartAt = Date.now();
    pgServer = await startPg();
    const backAt = Date.now();
    let recoveredAt = 0;
    while (Date.now() - backAt < 10_000) {
      const last = statuses.filter((s) => s.at > backAt).at(-1);
      if (last?.status === 201) {
        recoveredAt = last.at;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    running = false;
    await Promise.all(workers);

    expect(statuses.filter((s) => s.status >= 500 && s.status !== 503)).toEqual([]);
    const outage = statuses.filter((s) => s.at > stoppedAt + 200 && s.at < restartAt);
    expect(outage.length).toBeGreaterThan(0);
    for (const s of outage) {
      expect(s.status).toBe(503);
      expect(s.code).toBe("service_unavailable");
      expect(s.retryAfter).not.toBeNull();
    }
    expect(recoveredAt, "no 201 within 10 s of the database's return").toBeGreaterThan(0);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // Nothing acknowledged was lost: every 201 is an order in the database, and reserved matches.
    const acknowledged = statuses.filter((s) => s.status === 201).length;
    const [{ orders }] = await ds.query(`SELECT count(*)::int AS orders FROM orders`);
    const [{ reserved }] = await ds.query(`SELECT reserved FROM products WHERE sku = 'OUT-1'`);
    expect(orders).toBeGreaterThanOrEqual(acknowledged);
    expect(reserved).toBe(orders);
  }, 120_000);

  it("when every pooled connection is busy, then a request gets a quick 503 instead of queueing forever", async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => ds.createQueryRunner()));
    await Promise.all(held.map((q) => q.connect()));
    try {
      const started = Date.now();
      const res = await fetch(`${base}/v1/products/OUT-1`, { headers: admin });
      // The admin key needs no database, the product read does: it waits connectTimeoutMs (1 s) at most.
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).not.toBeNull();
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      await Promise.all(held.map((q) => q.release()));
    }
    expect((await fetch(`${base}/v1/products/OUT-1`, { headers: admin })).status).toBe(200);
  });
});
