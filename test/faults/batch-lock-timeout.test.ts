import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, type FaultApp, sleep, startFaultApp } from "../support/fault-app.js";
import { createTestDatabase } from "../support/test-database.js";

/**
 * One order's lock trouble must not fail its whole batch. Concurrent orders
 * go to the database together (src/db/batcher.ts), and the batch function
 * locks every product row of every order up front; a row locked elsewhere
 * makes that batch hit lock_timeout (2 s, the default). The order that needs
 * that row gets 503; every other order of the batch is decided as it would
 * be alone.
 *
 * How the batch is made: PLACE_IN_FLIGHT (2) calls may be in the database at
 * once. Two orders for a gate SKU, row-locked by the test, sent one after the
 * other, fill both; the next orders queue and leave together as one batch
 * when the gate opens.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let app: FaultApp;

beforeAll(async () => {
  database = await createTestDatabase();
  app = await startFaultApp(database.url); // the service's defaults: lock_timeout 2 s
});

afterAll(async () => {
  await app?.close();
  await database?.drop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}${path}`, { method: "POST", headers: { ...adminHeaders, ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function lockRow(sku: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  await c.query("BEGIN");
  await c.query(`SELECT 1 FROM products WHERE sku = $1 FOR UPDATE`, [sku]);
  return c;
}

/** Polls until `n` backends of the test database wait on a lock. */
async function waitForLockWaiters(n: number): Promise<void> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0].n >= n) return;
      await sleep(20);
    }
    throw new Error(`fewer than ${n} backends waiting on a lock after 4 s`);
  } finally {
    await c.end();
  }
}

describe("a batch with one order whose SKU is locked elsewhere", () => {
  it("when one order of a batch waits on a row held elsewhere for 10 s, then that order gets 503 and the others are placed within 3 s", async () => {
    const run = randomBytes(3).toString("hex");
    const gate = `GATE-${run}`;
    const locked = `LOCKED-${run}`;
    const free = Array.from({ length: 7 }, (_, i) => `FREE-${run}-${i}`);
    for (const sku of [gate, locked, ...free])
      expect((await post("/v1/products", { sku, name: sku, priceCents: 100, onHand: 100 })).status).toBe(201);
    const { apiKey } = (await post("/v1/customers", { name: "batch" })).body as { apiKey: string };
    const order = (sku: string) => {
      const started = Date.now();
      return post(
        "/v1/orders",
        { lines: [{ sku, quantity: 1 }] },
        { Authorization: `Bearer ${apiKey}`, "Idempotency-Key": randomBytes(8).toString("hex") },
      ).then((r) => ({ ...r, sku, ms: Date.now() - started }));
    };

    // Warm the key's authentication cache, so the gated orders reach the database at once.
    expect((await fetch(`${app.url}/v1/orders`, { headers: { Authorization: `Bearer ${apiKey}` } })).status).toBe(200);

    const holder = await lockRow(locked); // held 10 s, far past any lock_timeout
    const releaseHolder = sleep(10_000).then(() => holder.query("ROLLBACK"));
    const gateHolder = await lockRow(gate);
    try {
      // One after the other, so each is its own call (orders that arrive in
      // one turn of the event loop would leave together as one batch).
      const gated = [order(gate)];
      await waitForLockWaiters(1);
      gated.push(order(gate));
      await waitForLockWaiters(2); // both in the database, waiting on the gate
      // Queued behind them: seven orders of free SKUs, then the locked one. It
      // arrives last on purpose: alone, one after another, an order behind a
      // blocked one waits out that one's lock_timeout too (at most 2 x 2 s,
      // inside the 5 s bound); this test is about the batch's failure no
      // longer being every order's.
      const frees = free.map(order);
      await sleep(60);
      const batch = [...frees, order(locked)];
      await sleep(100);
      await gateHolder.query("COMMIT"); // the gated calls finish; the eight queued leave as one batch

      const results = await Promise.all(batch);
      for (const g of await Promise.all(gated)) expect(g.status).toBe(201);
      const others = results.filter((r) => r.sku !== locked);
      const blocked = results.find((r) => r.sku === locked)!;
      expect(
        others.map((r) => r.status),
        JSON.stringify(others.map((r) => r.body)),
      ).toEqual(free.map(() => 201));
      for (const r of others) expect(r.ms, `${r.sku} took ${r.ms} ms`).toBeLessThan(3000);
      expect(blocked.status).toBe(503);
      expect(blocked.body.code).toBe("service_unavailable");
      expect(blocked.ms).toBeLessThan(5000); // API.md: a request blocked by a row lock answers within 5 s
    } finally {
      await gateHolder.end().catch(() => {});
      await releaseHolder;
      await holder.end();
    }
    // Nothing of the refused order was reserved; each placed order holds its unit.
    const c = new pg.Client({ connectionString: database.url });
    await c.connect();
    try {
      const { rows } = await c.query(`SELECT sku, reserved FROM products WHERE sku = ANY($1) ORDER BY sku`, [[locked, ...free]]);
      expect(Object.fromEntries(rows.map((r) => [r.sku, r.reserved]))).toEqual(
        Object.fromEntries([[locked, 0], ...free.map((s) => [s, 1])]),
      );
    } finally {
      await c.end();
    }
  }, 40_000);

  it("when a customer's order waits on a row held elsewhere, then that customer's other order and read are answered at once, not after it", async () => {
    // The order's rate-limit count is its batch's last statement: a batch
    // blocked on a product holds no counter row the customer's other
    // requests need (counted first, they would queue behind it for the
    // whole lock_timeout).
    const run = randomBytes(3).toString("hex");
    const [held, free] = [`HELD-${run}`, `OPEN-${run}`];
    for (const sku of [held, free]) expect((await post("/v1/products", { sku, name: sku, priceCents: 100, onHand: 10 })).status).toBe(201);
    const { apiKey } = (await post("/v1/customers", { name: "one customer" })).body as { apiKey: string };
    const auth = { Authorization: `Bearer ${apiKey}` };
    const order = (sku: string) =>
      post("/v1/orders", { lines: [{ sku, quantity: 1 }] }, { ...auth, "Idempotency-Key": randomBytes(8).toString("hex") });
    expect((await fetch(`${app.url}/v1/orders`, { headers: auth })).status).toBe(200);

    const holder = await lockRow(held);
    try {
      const blocked = order(held);
      await waitForLockWaiters(1);
      const started = Date.now();
      const other = await order(free);
      const read = await fetch(`${app.url}/v1/orders`, { headers: auth });
      const tookMs = Date.now() - started;
      expect(other.status).toBe(201);
      expect(read.status).toBe(200);
      expect(tookMs).toBeLessThan(1000); // the blocked order's lock_timeout is 2 s
      await holder.query("ROLLBACK");
      expect((await blocked).status).toBe(201);
    } finally {
      await holder.end();
    }
  }, 20_000);
});
