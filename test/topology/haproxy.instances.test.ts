import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Haproxy, startHaproxy } from "../../bench/haproxy.js";
import { type PgBouncer, startPgBouncer } from "../support/pgbouncer.js";
import {
  freePort,
  newServiceConfig,
  removeDataDir,
  SERVICE_ADMIN_KEY,
  type ServiceProcess,
  startService,
} from "../support/service-process.js";
import { systemBinary } from "../support/system-binary.js";
import { createTestDatabase } from "../support/test-database.js";

/**
 * The deployment of docs/deployment.md on one machine: two instances of the
 * real service (dist/src/main.js) behind a real HAProxy (ops/haproxy), both
 * on one database through a real PgBouncer in transaction mode (DATABASE_URL)
 * with migrations over DATABASE_DIRECT_URL. One instance gets SIGTERM in the
 * middle of the load; the client retries a failed request with the same
 * Idempotency-Key, as clients are told to.
 */
const haproxyBin = systemBinary("/usr/sbin/haproxy");
const pgbouncerBin = systemBinary("/usr/sbin/pgbouncer");
const available = haproxyBin.available && pgbouncerBin.available;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let bouncer: PgBouncer;
let instances: ServiceProcess[] = [];
let proxy: Haproxy;

beforeAll(async () => {
  if (!available) return;
  database = await createTestDatabase();
  bouncer = await startPgBouncer(pgbouncerBin.path, inject("pgAdminUrl"), 20);
  const env = {
    DATABASE_URL: bouncer.through(database.url),
    DATABASE_DIRECT_URL: database.url,
    SHUTDOWN_DRAIN_MS: "2000",
    DB_POOL_SIZE: "10",
  };
  // Started together: both apply pending migrations and session defaults over the direct URL.
  instances = await Promise.all([startService(await newServiceConfig(env)), startService(await newServiceConfig(env))]);
  proxy = await startHaproxy({
    binary: haproxyBin.path,
    port: await freePort(),
    instancePorts: instances.map((s) => s.port),
    dir: path.join(instances[0].dataDir, "haproxy"),
  });
}, 180_000);
afterAll(async () => {
  await proxy?.stop();
  for (const s of instances) {
    await s.stop();
    removeDataDir(s.dataDir);
  }
  await bouncer?.stop();
  await database?.drop();
});

const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };

async function call(method: string, p: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${proxy.baseUrl}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!available)("two instances behind HAProxy", () => {
  it("when one instance gets SIGTERM mid-load, then it leaves rotation, every order ends placed or out of stock, and stock is exact", async () => {
    const sku = `LB-${Date.now()}`;
    expect((await call("POST", "/v1/products", admin, { sku, name: "Balanced", priceCents: 500, onHand: 150 })).status).toBe(201);
    const customers = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const r = await call("POST", "/v1/customers", admin, { name: `lb buyer ${i}` });
        expect(r.status).toBe(201);
        return { id: r.body.id as string, auth: `Bearer ${r.body.apiKey}` };
      }),
    );

    // Single-unit orders for 150 units, 16 at a time; each retried with its own key
    // on a network error, a 502/503/504 or 409 idempotency_key_in_use.
    const outcomes: { status: number; code?: string; id?: string; attempts: number }[] = [];
    let retries = 0;
    let next = 0;
    let sigtermAt = 0;
    const drainObserved = new Set<string>();
    let stoppedAt = 0;
    instances[1].child.once("exit", () => (stoppedAt = Date.now()));
    const order = async (i: number) => {
      const key = `lb-${sku}-${i}`;
      const c = customers[i % customers.length];
      for (let attempt = 1; ; attempt++) {
        let r: Awaited<ReturnType<typeof call>> | undefined;
        try {
          r = await call(
            "POST",
            "/v1/orders",
            { Authorization: c.auth, "Idempotency-Key": key, "Content-Type": "application/json" },
            { lines: [{ sku, quantity: 1 }] },
          );
        } catch {
          r = undefined;
        }
        const retry = !r || [502, 503, 504].includes(r.status) || (r.status === 409 && r.body?.code === "idempotency_key_in_use");
        if (!retry && r) {
          outcomes.push({ status: r.status, code: r.body?.code, id: r.body?.id, attempts: attempt });
          return;
        }
        retries++;
        if (attempt >= 10) throw new Error(`order ${i} still failing after 10 attempts: ${r?.status} ${JSON.stringify(r?.body)}`);
        await new Promise((res) => setTimeout(res, 100 * attempt));
      }
    };
    // At least 300 orders, and on until 1 s after the stopped instance has exited,
    // so the load always spans the whole drain and stop (at most 3000).
    const more = () => next < 300 || ((!stoppedAt || Date.now() < stoppedAt + 1000) && next < 3000);
    const worker = async () => {
      while (more()) {
        const i = next++;
        if (i === 100) {
          sigtermAt = Date.now();
          instances[1].child.kill("SIGTERM");
        }
        await order(i);
        await new Promise((r) => setTimeout(r, 40)); // spread 300 orders over several seconds
      }
    };
    const watchDrain = (async () => {
      while (!sigtermAt) await new Promise((r) => setTimeout(r, 20));
      // Straight at the stopping instance: out of rotation within a moment (the
      // signal reaches its event loop asynchronously), still answering.
      for (const until = Date.now() + 1000; ; ) {
        const r = await fetch(`${instances[1].url}/readyz`);
        const seen = `readyz ${r.status} ${r.headers.get("connection")}`;
        if (r.status === 503 || Date.now() > until) {
          drainObserved.add(seen);
          break;
        }
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    await Promise.all(Array.from({ length: 16 }, worker));
    const loadEndedAt = Date.now();
    await watchDrain;

    const exitCode = await instances[1].stop();
    expect(exitCode).toBe(0);
    expect([...drainObserved]).toEqual(["readyz 503 close"]);
    // The load outlasted the stopped instance: orders kept coming after it closed.
    expect(stoppedAt).toBeGreaterThan(sigtermAt);
    expect(stoppedAt).toBeLessThan(loadEndedAt);

    const placed = outcomes.filter((o) => o.status === 201);
    const short = outcomes.filter((o) => o.status === 409 && o.code === "out_of_stock");
    expect(outcomes.length).toBe(next);
    expect(next).toBeGreaterThanOrEqual(300);
    expect(outcomes.filter((o) => o.status !== 201 && !(o.status === 409 && o.code === "out_of_stock"))).toEqual([]);
    expect(placed.length).toBe(150);
    expect(short.length).toBe(next - 150);
    expect(new Set(placed.map((o) => o.id)).size).toBe(150);

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const stock = await db.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku]);
      expect(stock.rows[0]).toEqual({ on_hand: 150, reserved: 150 });
      const orders = await db.query(`SELECT count(*)::int AS n FROM order_lines WHERE sku = $1`, [sku]);
      expect(orders.rows[0].n).toBe(150);
      // The instances' migrate made the timeouts role defaults, since DATABASE_URL is a pooler.
      const defaults = await db.query(
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
          WHERE d.datname = current_database() AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
      );
      expect([...defaults.rows[0].setconfig].sort()).toEqual([
        "idle_in_transaction_session_timeout=10000ms",
        "lock_timeout=2000ms",
        "statement_timeout=5000ms",
      ]);
    } finally {
      await db.end();
    }
    // Visible in the test output: how many retries the client needed (0 is the aim; any is safe).
    process.stderr.write(
      `haproxy test: ${retries} client retries over ${next} orders; SIGTERM at +0, instance exited at +${stoppedAt - sigtermAt} ms, load ended at +${loadEndedAt - sigtermAt} ms\n`,
    );
  });
});
