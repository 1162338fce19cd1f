import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { type PgBouncer, startPgBouncer } from "../support/pgbouncer.js";
import { systemBinary } from "../support/system-binary.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * The service's pool through a real PgBouncer 1.18 in transaction pooling
 * mode (pool_mode=transaction, only extra_float_digits ignored among startup
 * parameters), with the service's default timeouts set as role defaults over
 * the direct connection, as at migrate. 20 server connections serve 100
 * concurrent clients' transactions.
 */
const pgbouncer = systemBinary("/usr/sbin/pgbouncer");

let bouncer: PgBouncer;
let t: TestApp;
beforeAll(async () => {
  if (!pgbouncer.available) return;
  bouncer = await startPgBouncer(pgbouncer.path, inject("pgAdminUrl"), 20);
  // The service's defaults: a lock held elsewhere answers within 2 s.
  t = await startTestApp({
    throughPooler: (url) => bouncer.through(url),
    db: { lockTimeoutMs: 2000, statementTimeoutMs: 5000, poolSize: 50 },
  });
});
afterAll(async () => {
  await t?.close();
  await bouncer?.stop();
});

const stock = async (sku: string) =>
  (await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku]))[0] as { on_hand: number; reserved: number };

async function direct<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: t.databaseUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe.skipIf(!pgbouncer.available)("the service through PgBouncer in transaction mode", () => {
  it("when a client sends a timeout as a startup parameter, then PgBouncer refuses it (why the pool must not)", async () => {
    const c = new pg.Client({ connectionString: bouncer.through(t.databaseUrl), statement_timeout: 1000 });
    await expect(c.connect()).rejects.toThrow(/unsupported startup parameter/);
    await c.end().catch(() => {});
  });

  it("when the app's pool runs a query through PgBouncer, then the server connection carries the role's timeouts", async () => {
    const rows = await t.ds.query(
      `SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS stmt,
              current_setting('idle_in_transaction_session_timeout') AS idle`,
    );
    expect(new URL((t.ds.options as { url: string }).url).port).toBe(String(bouncer.port));
    expect(rows[0]).toEqual({ lock: "2s", stmt: "5s", idle: "10s" });
    const prepared = await t.ds.query(`SELECT count(*)::int AS n FROM pg_prepared_statements`);
    expect(prepared[0].n).toBe(0); // unnamed statements only: nothing named left on a shared server connection
  });

  it("when 100 single-unit orders race for 20 units, then exactly 20 are placed and 80 get 409 out_of_stock", async () => {
    const p = await createProduct(t, { onHand: 20 });
    const customers = await Promise.all(Array.from({ length: 5 }, (_, i) => createCustomer(t, `bouncer buyer ${i}`)));
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t
          .http()
          .post("/v1/orders")
          .set(customers[i % 5].auth)
          .set("Idempotency-Key", uniqueKey())
          .send({ lines: [{ sku: p.sku, quantity: 1 }] }),
      ),
    );
    const byStatus: Record<number, number> = {};
    for (const r of responses) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(byStatus).toEqual({ 201: 20, 409: 80 });
    expect(await stock(p.sku)).toEqual({ on_hand: 20, reserved: 20 });
  });

  it("when 20 requests race with one Idempotency-Key, then exactly one order exists and every 2xx names it", async () => {
    const p = await createProduct(t, { onHand: 100 });
    const c = await createCustomer(t);
    const key = uniqueKey();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", key)
          .send({ lines: [{ sku: p.sku, quantity: 3 }] }),
      ),
    );
    const ok = responses.filter((r) => r.status === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(responses.filter((r) => r.status !== 201 && r.status !== 409).map((r) => r.status)).toEqual([]);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    const orders = await t.ds.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [c.id]);
    expect(orders[0].n).toBe(1);
    expect(await stock(p.sku)).toEqual({ on_hand: 100, reserved: 3 });
    const replay = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 3 }] });
    expect(replay.status).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.body.id).toBe(ok[0].body.id);
  });

  it("when a product row is locked elsewhere for 15 s, then the order answers 503 with Retry-After within 6 s and commits nothing", async () => {
    const p = await createProduct(t, { onHand: 5 });
    const c = await createCustomer(t);
    const holder = new pg.Client({ connectionString: t.databaseUrl }); // direct, not through the pooler
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT * FROM products WHERE sku = $1 FOR UPDATE`, [p.sku]);
      const release = setTimeout(() => void holder.query("ROLLBACK").catch(() => {}), 15000);
      const started = Date.now();
      const res = await t
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", uniqueKey())
        .send({ lines: [{ sku: p.sku, quantity: 1 }] });
      const elapsedMs = Date.now() - started;
      clearTimeout(release);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("service_unavailable");
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      expect(elapsedMs).toBeLessThan(6000);
      expect(elapsedMs).toBeGreaterThanOrEqual(1900); // it waited its lock_timeout (2 s), from the role default
      await holder.query("ROLLBACK");
    } finally {
      await holder.end();
    }
    expect(await direct((d) => d.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1`, [c.id]))).toMatchObject({
      rows: [{ n: 0 }],
    });
    expect(await stock(p.sku)).toEqual({ on_hand: 5, reserved: 0 });
  });
});
