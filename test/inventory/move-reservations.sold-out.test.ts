import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

// The sold-out fast path of the one reserve rule (move-reservations.sql): a
// refusal that a plain read already proves is answered without taking the
// product row lock; anything else still waits for the lock and is decided
// under it. A naive implementation (lock first, always) makes the refusals
// here wait on the held row lock and fail with lock_timeout.
let t: TestApp;
beforeAll(async () => {
  // Short enough that an HTTP order stuck on a row lock fails (503) well within the test.
  t = await startTestApp({ db: { lockTimeoutMs: 300 } });
});
afterAll(async () => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function session(): Promise<pg.Client & { pid: number }> {
  const c = new pg.Client({ connectionString: t.databaseUrl });
  await c.connect();
  const { rows } = await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  return Object.assign(c, { pid: rows[0].pid });
}

/** Another transaction holding the product row, as a long reservation or a stock adjustment would. */
async function holdRow(sku: string): Promise<pg.Client & { pid: number }> {
  const c = await session();
  await c.query("BEGIN");
  await c.query("SELECT 1 FROM products WHERE sku = $1 FOR UPDATE", [sku]);
  return c;
}

type Placed = { outcome: string; facts: Record<string, unknown> };

/** orderlock_place_order without a key, as a batch of one order calls it. */
async function placeOne(c: pg.Client, customerId: string, sku: string, qty: number): Promise<Placed> {
  const { rows } = await c.query<Placed>(
    `SELECT outcome, facts FROM orderlock_place_order(NULL, NULL, NULL, 24, $1, $2, ARRAY[$3], ARRAY[$4::int], 900, 0)`,
    [randomUUID(), customerId, sku, qty],
  );
  return rows[0];
}

/** Polls until backend `pid` waits on a lock (a row lock shows as a wait on the tuple or the holder's transaction). */
async function waitUntilBlocked(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = (await t.ds.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid])) as { wait_event_type: string }[];
    if (rows[0]?.wait_event_type === "Lock") return;
    await sleep(20);
  }
  throw new Error(`backend ${pid} never waited on a lock`);
}

const stockOf = async (sku: string) =>
  ((await t.ds.query(`SELECT on_hand, reserved FROM products WHERE sku = $1`, [sku])) as { on_hand: number; reserved: number }[])[0];

describe("orderlock_move_reservations: the sold-out fast path", () => {
  it("when a sold-out product's row is locked by another transaction, then an order for it is refused at once, without waiting for the lock", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 1 });
    const buyer = await session();
    try {
      expect((await placeOne(buyer, c.id, p.sku, 1)).outcome).toBe("placed");
      const holder = await holdRow(p.sku);
      try {
        // Any wait on the row fails this call: the refusal must come from the plain read.
        await buyer.query("SET lock_timeout = '100ms'");
        const refused = await placeOne(buyer, c.id, p.sku, 1);
        expect(refused).toEqual({
          outcome: "out_of_stock",
          facts: { unavailable: [{ sku: p.sku, requested: 1, available: 0, per_customer_limit: null }] },
        });
        // A multi-line order with one short line is refused the same way, reporting that line.
        const other = await createProduct(t, { onHand: 5 });
        const { rows } = await buyer.query<Placed>(
          `SELECT outcome, facts FROM orderlock_place_order(NULL, NULL, NULL, 24, $1, $2, ARRAY[$3, $4], ARRAY[2, 1], 900, 0)`,
          [randomUUID(), c.id, other.sku, p.sku],
        );
        expect(rows[0]).toEqual({
          outcome: "out_of_stock",
          facts: { unavailable: [{ sku: p.sku, requested: 1, available: 0, per_customer_limit: null }] },
        });
      } finally {
        await holder.query("ROLLBACK");
        await holder.end();
      }
    } finally {
      await buyer.end();
    }
    expect(await stockOf(p.sku)).toEqual({ on_hand: 1, reserved: 1 });
  });

  it("when stock is available but the row is locked, then the order waits for the lock instead of being refused, and is placed once the holder commits", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 3 });
    const buyer = await session();
    const holder = await holdRow(p.sku);
    try {
      await buyer.query("SET lock_timeout = '100ms'");
      await expect(placeOne(buyer, c.id, p.sku, 1)).rejects.toMatchObject({ code: "55P03" }); // it asked for the lock
      await buyer.query("SET lock_timeout = 0");
      const placing = placeOne(buyer, c.id, p.sku, 3);
      await waitUntilBlocked(buyer.pid);
      await holder.query("COMMIT");
      expect((await placing).outcome).toBe("placed");
    } finally {
      await holder.end();
      await buyer.end();
    }
    expect(await stockOf(p.sku)).toEqual({ on_hand: 3, reserved: 3 });
  });

  it("when the plain read sees the last unit but a transaction in flight is taking it, then the order is decided under the lock: refused with the fast path's facts if that one commits, placed if it rolls back", async () => {
    const c = await createCustomer(t);
    for (const finish of ["COMMIT", "ROLLBACK"] as const) {
      const p = await createProduct(t, { onHand: 1 });
      const first = await session();
      const second = await session();
      const third = await session();
      try {
        await first.query("BEGIN");
        expect((await placeOne(first, c.id, p.sku, 1)).outcome).toBe("placed"); // uncommitted: the unit is still free to a plain read
        const racing = placeOne(second, c.id, p.sku, 1);
        await waitUntilBlocked(second.pid);
        await first.query(finish);
        const decided = await racing;
        if (finish === "ROLLBACK") {
          expect(decided.outcome).toBe("placed");
        } else {
          // Refused under the lock; a later order is refused by the fast path, with the same facts.
          const fast = await placeOne(third, c.id, p.sku, 1);
          expect(decided).toEqual({
            outcome: "out_of_stock",
            facts: { unavailable: [{ sku: p.sku, requested: 1, available: 0, per_customer_limit: null }] },
          });
          expect(fast).toEqual(decided);
        }
      } finally {
        await Promise.all([first.end(), second.end(), third.end()]);
      }
      expect(await stockOf(p.sku)).toEqual({ on_hand: 1, reserved: 1 });
    }
  });

  it("when a sold-out line is also over the customer's cap, then the plain read refuses it with the cap in its facts, as the locked check would", async () => {
    const [c, other] = [await createCustomer(t), await createCustomer(t)];
    const p = await createProduct(t, { onHand: 4 });
    const buyer = await session();
    try {
      const place = (customerId: string, qty: number) =>
        buyer.query<Placed>(
          `SELECT outcome, facts FROM orderlock_place_order(NULL, NULL, NULL, 24, $1, $2, ARRAY[$3], ARRAY[$4::int], 900, 2)`,
          [randomUUID(), customerId, p.sku, qty],
        );
      expect((await place(c.id, 2)).rows[0].outcome).toBe("placed");
      expect((await place(other.id, 1)).rows[0].outcome).toBe("placed");
      // 1 unit left in stock, 0 left under c's cap of 2: the cap is what limits c's line.
      const holder = await holdRow(p.sku);
      try {
        await buyer.query("SET lock_timeout = '100ms'");
        expect((await place(c.id, 2)).rows[0]).toEqual({
          outcome: "out_of_stock",
          facts: { unavailable: [{ sku: p.sku, requested: 2, available: 0, per_customer_limit: 2 }] },
        });
      } finally {
        await holder.query("ROLLBACK");
        await holder.end();
      }
    } finally {
      await buyer.end();
    }
    expect(await stockOf(p.sku)).toEqual({ on_hand: 4, reserved: 3 });
  });

  it("when the row is locked, then giving stock back still waits for the lock (a release never takes the plain-read path)", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 2 });
    const buyer = await session();
    try {
      expect((await placeOne(buyer, c.id, p.sku, 2)).outcome).toBe("placed");
      const holder = await holdRow(p.sku);
      try {
        await buyer.query("SET lock_timeout = '100ms'");
        await buyer.query("BEGIN");
        await expect(
          buyer.query(`SELECT ok FROM orderlock_move_reservations(ARRAY[$1], ARRAY[2], ARRAY[0], NULL, 0, NULL)`, [p.sku]),
        ).rejects.toMatchObject({ code: "55P03" });
        await buyer.query("ROLLBACK");
      } finally {
        await holder.query("ROLLBACK");
        await holder.end();
      }
    } finally {
      await buyer.end();
    }
  });
});

describe("POST /v1/orders for a sold-out SKU whose row is locked elsewhere", () => {
  it("when the row lock is held, then the order gets 409 out_of_stock at once, and its Idempotency-Key replays the same answer", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 1 });
    const first = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", uniqueKey())
      .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    expect(first.status).toBe(201);

    const holder = await holdRow(p.sku); // past the app's 300 ms lock_timeout: a locked path would answer 503
    try {
      const key = uniqueKey();
      const order = () =>
        t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", key)
          .send({ lines: [{ sku: p.sku, quantity: 1 }] });
      const refused = await order();
      expect(refused.status, JSON.stringify(refused.body)).toBe(409);
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({
        code: "out_of_stock",
        status: 409,
        unavailable: [{ sku: p.sku, requested: 1, available: 0 }],
      });
      expect(refused.body.unavailable[0]).not.toHaveProperty("perCustomerLimit");
      expect(refused.headers["idempotent-replayed"]).toBeUndefined();

      const replayed = await order();
      expect(replayed.status).toBe(409);
      expect(replayed.body).toEqual(refused.body);
      expect(replayed.headers["idempotent-replayed"]).toBe("true");
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    expect(await stockOf(p.sku)).toEqual({ on_hand: 1, reserved: 1 });
  });
});
