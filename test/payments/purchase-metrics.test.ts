import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct } from "../support/factories.js";
import {
  createPayment,
  deliverExpecting,
  placeOrder,
  purchases,
  reconciliation,
  successEvent,
  utcDay,
} from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const get = (path: string, auth = t.admin) => t.http().get(path).set(auth);

describe("GET /v1/metrics/purchases", () => {
  it("when the range is invalid, then 422 validation_failed naming the parameter; a customer gets 403", async () => {
    for (const [qs, path] of [
      ["", "query.from"],
      ["from=2024-01-01", "query.to"],
      ["from=2024-1-01&to=2024-01-02", "query.from"],
      ["from=2023-02-29&to=2023-03-01", "query.from"], // not a leap year
      ["from=2024-04-01&to=2024-04-31", "query.to"],
      ["from=2024-13-01&to=2024-13-02", "query.from"],
      ["from=0000-01-01&to=0000-01-02", "query.from"],
      ["from=2024-03-02&to=2024-03-01", "query.to"], // from after to
      ["from=2023-01-01&to=2024-01-02", "query.to"], // 367 days
      ["from=2024-01-01T00:00:00Z&to=2024-01-02", "query.from"],
      ["from=2024-01-01&to=2024-01-02&shard=1", "query.shard"],
      ["from=2024-01-01&from=2024-01-02&to=2024-01-03", "query.from"],
    ]) {
      const res = await get(`/v1/metrics/purchases?${qs}`);
      expect(res.status, qs).toBe(422);
      expect(res.body.code, qs).toBe("validation_failed");
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        qs,
      ).toContain(path);
    }
    const c = await createCustomer(t);
    expect((await get(`/v1/metrics/purchases?from=2024-01-01&to=2024-01-02`, c.auth)).status).toBe(403);
    expect((await get(`/v1/metrics/purchases/reconciliation`, c.auth)).status).toBe(403);
  });

  it("when the range is a whole leap year (366 days) or a single day, then every day is listed, zero-filled", async () => {
    const year = await purchases(t, "2024-01-01", "2024-12-31");
    expect(year.days).toHaveLength(366);
    expect(year.days[59]).toEqual({
      day: "2024-02-29",
      purchases: 0,
      revenueCents: 0,
      uniqueCustomers: 0,
      refunds: 0,
      refundedCents: 0,
      netRevenueCents: 0,
    });
    expect(year.days[365].day).toBe("2024-12-31");
    expect(year.totals).toEqual({ purchases: 0, revenueCents: 0, uniqueCustomers: 0, refunds: 0, refundedCents: 0, netRevenueCents: 0 });
    const one = await purchases(t, "1999-12-31", "1999-12-31");
    expect(one).toEqual({
      from: "1999-12-31",
      to: "1999-12-31",
      days: [{ day: "1999-12-31", purchases: 0, revenueCents: 0, uniqueCustomers: 0, refunds: 0, refundedCents: 0, netRevenueCents: 0 }],
      totals: { purchases: 0, revenueCents: 0, uniqueCustomers: 0, refunds: 0, refundedCents: 0, netRevenueCents: 0 },
    });
  });

  it("when a day is spread over several shard rows, then its shards are summed, and range unique customers count each customer once", async () => {
    const c1 = await createCustomer(t);
    const c2 = await createCustomer(t);
    // Counter rows as recordPurchase leaves them, on days no real confirmation can reach.
    await t.ds.query(`INSERT INTO purchase_counters (day, shard, purchases, revenue_cents, unique_customers) VALUES
      ('2001-03-01', 0, 2, 500, 1), ('2001-03-01', 7, 1, 250, 1), ('2001-03-03', 3, 4, 1000, 1)`);
    await t.ds.query(
      `INSERT INTO counted_customer_days (day, customer_id) VALUES ('2001-03-01', $1), ('2001-03-01', $2), ('2001-03-03', $1)`,
      [c1.id, c2.id],
    );
    try {
      const report = await purchases(t, "2001-02-28", "2001-03-04");
      expect(report).toEqual({
        from: "2001-02-28",
        to: "2001-03-04",
        days: [
          { day: "2001-02-28", purchases: 0, revenueCents: 0, uniqueCustomers: 0, refunds: 0, refundedCents: 0, netRevenueCents: 0 },
          { day: "2001-03-01", purchases: 3, revenueCents: 750, uniqueCustomers: 2, refunds: 0, refundedCents: 0, netRevenueCents: 750 },
          { day: "2001-03-02", purchases: 0, revenueCents: 0, uniqueCustomers: 0, refunds: 0, refundedCents: 0, netRevenueCents: 0 },
          { day: "2001-03-03", purchases: 4, revenueCents: 1000, uniqueCustomers: 1, refunds: 0, refundedCents: 0, netRevenueCents: 1000 },
          { day: "2001-03-04", purchases: 0, revenueCents: 0, uniqueCustomers: 0, refunds: 0, refundedCents: 0, netRevenueCents: 0 },
        ],
        // c1 bought on two days: two daily uniques, one customer over the range.
        totals: { purchases: 7, revenueCents: 1750, uniqueCustomers: 2, refunds: 0, refundedCents: 0, netRevenueCents: 1750 },
      });

      // Counters with no succeeded payments behind them are drift, and reconciliation says so.
      const rec = await reconciliation(t);
      expect(rec.drift).toEqual({
        purchases: rec.counters.purchases - rec.events.purchases,
        revenueCents: rec.counters.revenueCents - rec.events.revenueCents,
        refunds: rec.counters.refunds - rec.events.refunds,
        refundedCents: rec.counters.refundedCents - rec.events.refundedCents,
      });
      expect(rec.drift).toEqual({ purchases: 7, revenueCents: 1750, refunds: 0, refundedCents: 0 });
      expect(rec.ok).toBe(false);
      const metrics = (await t.http().get("/metrics")).text;
      expect(metrics).toMatch(/^orderlock_purchase_counter_drift\{measure="purchases"\} 7$/m);
      expect(metrics).toMatch(/^orderlock_purchase_counter_drift\{measure="revenue_cents"\} 1750$/m);
    } finally {
      await t.ds.query(`DELETE FROM purchase_counters WHERE day BETWEEN '2001-03-01' AND '2001-03-03'`);
      await t.ds.query(`DELETE FROM counted_customer_days WHERE day BETWEEN '2001-03-01' AND '2001-03-03'`);
    }
    expect((await reconciliation(t)).ok).toBe(true);
  });

  it("when payments are confirmed today, then today's row counts them once each and reconciliation matches the succeeded payments", async () => {
    const p = await createProduct(t, { priceCents: 333, onHand: 100 });
    const c1 = await createCustomer(t);
    const c2 = await createCustomer(t);
    const before = await purchases(t);
    let revenue = 0;
    for (const [c, q] of [
      [c1, 1],
      [c1, 2],
      [c2, 3],
    ] as const) {
      const order = await placeOrder(t, c, [{ sku: p.sku, quantity: q }]);
      const payment = await createPayment(t, c, order.id);
      await deliverExpecting(t, successEvent(payment), "processed");
      revenue += 333 * q;
    }
    const after = await purchases(t);
    expect(after.totals.purchases - before.totals.purchases).toBe(3);
    expect(after.totals.revenueCents - before.totals.revenueCents).toBe(revenue);
    expect(after.totals.uniqueCustomers - before.totals.uniqueCustomers).toBe(2);
    expect(after.days.map((d) => d.day)).toEqual([utcDay(-1), utcDay(0), utcDay(1)]);

    const rec = await reconciliation(t);
    const [truth] = await t.ds.query(
      `SELECT count(*)::int AS purchases, coalesce(sum(amount_cents), 0)::bigint AS "revenueCents", 0 AS refunds, 0 AS "refundedCents"
         FROM payments WHERE status = 'succeeded'`,
    );
    expect(rec).toEqual({
      checkedAt: expect.any(String),
      counters: truth,
      events: truth,
      drift: { purchases: 0, revenueCents: 0, refunds: 0, refundedCents: 0 },
      ok: true,
    });
    expect(Math.abs(Date.parse(rec.checkedAt) - Date.now())).toBeLessThan(60_000);
  });

  it("when payments settled hours ago, then reconciliation counts each of them once, run after run, with the ones of the last hour", async () => {
    // An app of its own: its reconciliation keeps the sums of settled payments, made at its first run.
    const t2 = await startTestApp();
    try {
      const p = await createProduct(t2, { priceCents: 250, onHand: 100 });
      const c = await createCustomer(t2);
      const pay = async () => {
        const payment = await createPayment(t2, c, (await placeOrder(t2, c, [{ sku: p.sku, quantity: 1 }])).id);
        await deliverExpecting(t2, successEvent(payment), "processed");
        return payment.id as string;
      };
      const old = [await pay(), await pay()];
      await pay();
      await t2.ds.query(`UPDATE payments SET succeeded_at = succeeded_at - interval '5 hours' WHERE id = ANY($1::uuid[])`, [old]);
      const matches = (n: number) => ({
        checkedAt: expect.any(String),
        counters: { purchases: n, revenueCents: 250 * n, refunds: 0, refundedCents: 0 },
        events: { purchases: n, revenueCents: 250 * n, refunds: 0, refundedCents: 0 },
        drift: { purchases: 0, revenueCents: 0, refunds: 0, refundedCents: 0 },
        ok: true,
      });
      expect(await reconciliation(t2)).toEqual(matches(3));
      expect(await reconciliation(t2)).toEqual(matches(3));
      await pay();
      expect(await reconciliation(t2)).toEqual(matches(4));
    } finally {
      await t2.close();
    }
  });
});
