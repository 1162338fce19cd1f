import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct } from "../support/factories.js";
import type { Auth, OrderBody, PaymentBody } from "../support/payment-factories.js";
import { createPayment, newEventId, placeOrder, reconciliation, stockOf } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

// The batch function (src/payments/settle-payments.sql) called directly, so the
// test decides exactly what one batch holds.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type Verdict = { pos: number; outcome: string; reason: string; counted: boolean };
type Event = { eventId: string; paymentId: string | null; amountCents: number };

async function confirmBatch(events: Event[], shard = 0): Promise<Verdict[]> {
  const successes = events.map((e) => ({ ...e, type: "payment.succeeded", holdSeconds: 600 }));
  return (await t.ds.query(`SELECT * FROM orderlock_settle_payments($1, $2) ORDER BY pos`, [
    JSON.stringify(successes),
    shard,
  ])) as Verdict[];
}

const todayCounters = async () =>
  (
    (await t.ds.query(
      `SELECT coalesce(sum(purchases), 0)::int AS purchases, coalesce(sum(revenue_cents), 0)::int AS revenue,
              coalesce(sum(unique_customers), 0)::int AS customers
         FROM purchase_counters WHERE day = (now() AT TIME ZONE 'UTC')::date`,
    )) as { purchases: number; revenue: number; customers: number }[]
  )[0];

describe("orderlock_settle_payments (one transaction for a batch of success events)", () => {
  it("when a batch repeats an event id, names a payment twice, and holds an unknown payment and a wrong amount, then each payment is applied and counted once", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { priceCents: 250, onHand: 20 });
    const orders = [await placeOrder(t, c, [{ sku: p.sku, quantity: 2 }]), await placeOrder(t, c, [{ sku: p.sku, quantity: 3 }])];
    const [a, b] = [await createPayment(t, c, orders[0].id), await createPayment(t, c, orders[1].id)];
    const third = await createPayment(t, c, (await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }])).id);
    const e1 = newEventId();
    const before = await todayCounters();

    const verdicts = await confirmBatch([
      { eventId: e1, paymentId: a.id, amountCents: a.amountCents },
      { eventId: e1, paymentId: a.id, amountCents: a.amountCents }, // the same delivery again
      { eventId: newEventId(), paymentId: a.id, amountCents: a.amountCents }, // another event for a paid payment
      { eventId: newEventId(), paymentId: b.id, amountCents: b.amountCents },
      { eventId: newEventId(), paymentId: "00000000-0000-4000-8000-000000000000", amountCents: 1 },
      { eventId: newEventId(), paymentId: third.id, amountCents: third.amountCents + 1 },
    ]);
    expect(verdicts.map((v) => [v.outcome, v.counted])).toEqual([
      ["processed", true],
      ["duplicate", false],
      ["duplicate", false],
      ["processed", true],
      ["ignored", false],
      ["ignored", false],
    ]);

    const statuses = (await t.ds.query(`SELECT id, status FROM orders WHERE id = ANY($1::uuid[]) ORDER BY created_at`, [
      orders.map((o) => o.id),
    ])) as { status: string }[];
    expect(statuses.map((s) => s.status)).toEqual(["paid", "paid"]);
    // Sold: 5 units left on hand; the third order's unit is still held.
    expect(await stockOf(t, p.sku)).toEqual({ on_hand: 15, reserved: 1 });
    const after = await todayCounters();
    expect(after.purchases - before.purchases).toBe(2);
    expect(after.revenue - before.revenue).toBe(a.amountCents + b.amountCents);
    expect(after.customers - before.customers).toBe(1); // one customer, however many payments
    expect((await reconciliation(t)).ok).toBe(true);
  });
});

describe("orderlock_settle_payments all at once", () => {
  type Settled = { pos: number; outcome: string; reason: string; counted: boolean };
  type Sent = { eventId: string; type: string; paymentId: string; amountCents: number; holdSeconds: number };

  /** Calls the batch function in a transaction of its own, counting its per-event calls (pg_stat_xact_user_functions). */
  async function settle(events: Sent[]): Promise<{ settled: Settled[]; oneByOne: number }> {
    const q = t.ds.createQueryRunner();
    await q.connect();
    try {
      await q.startTransaction();
      await q.query("SET LOCAL track_functions = 'pl'");
      // (The view also counts this backend's earlier transactions until its stats are flushed: take the difference.)
      const calls = async () =>
        (
          (await q.query(
            "SELECT coalesce(sum(calls), 0)::int AS n FROM pg_stat_xact_user_functions WHERE funcname = 'orderlock_settle_payment'",
          )) as { n: number }[]
        )[0].n;
      const before = await calls();
      const settled = (await q.query("SELECT * FROM orderlock_settle_payments($1, 0) ORDER BY pos", [JSON.stringify(events)])) as Settled[];
      const oneByOne = (await calls()) - before;
      await q.commitTransaction();
      return { settled, oneByOne };
    } finally {
      await q.release();
    }
  }

  /** Two products and six orders across them, each with a pending payment: four will succeed, two fail. */
  async function world(c: Auth) {
    const [x, y] = [await createProduct(t, { priceCents: 300, onHand: 50 }), await createProduct(t, { priceCents: 700, onHand: 50 })];
    const shapes = [
      [{ sku: x.sku, quantity: 1 }],
      [
        { sku: x.sku, quantity: 2 },
        { sku: y.sku, quantity: 1 },
      ],
      [{ sku: y.sku, quantity: 3 }],
      [
        { sku: x.sku, quantity: 4 },
        { sku: y.sku, quantity: 2 },
      ],
      [{ sku: x.sku, quantity: 5 }],
      [{ sku: y.sku, quantity: 6 }],
    ];
    const orders: OrderBody[] = [];
    for (const lines of shapes) orders.push(await placeOrder(t, c, lines));
    const payments: PaymentBody[] = [];
    for (const o of orders) payments.push(await createPayment(t, c, o.id));
    const events: Sent[] = payments.map((p, i) => ({
      eventId: newEventId(),
      type: i === 1 || i === 4 ? "payment.failed" : "payment.succeeded",
      paymentId: p.id,
      amountCents: p.amountCents,
      holdSeconds: 600,
    }));
    const state = async () => ({
      orders: (
        (await t.ds.query(
          "SELECT status, version, reserved_until IS NULL AS unheld FROM orders WHERE id = ANY($1::uuid[]) ORDER BY created_at",
          [orders.map((o) => o.id)],
        )) as object[]
      ).map((r) => ({ ...r })),
      payments: (await t.ds.query("SELECT status, version FROM payments WHERE id = ANY($1::uuid[]) ORDER BY created_at", [
        payments.map((p) => p.id),
      ])) as object[],
      stock: [await stockOf(t, x.sku), await stockOf(t, y.sku)],
      events: (
        (await t.ds.query(
          "SELECT type, resource_id, resource_version FROM events WHERE resource_id = ANY($1::uuid[]) AND type IN ('order.paid', 'payment.failed') ORDER BY position, seq",
          [[...orders.map((o) => o.id), ...payments.map((p) => p.id)]],
        )) as { type: string; resource_id: string; resource_version: number }[]
      ).map((e) => ({
        type: e.type,
        resource: [...orders, ...payments].findIndex((r) => r.id === e.resource_id),
        version: e.resource_version,
      })),
      counted: (
        (await t.ds.query("SELECT count(*)::int AS n FROM counted_payments WHERE payment_id = ANY($1::uuid[])", [
          payments.map((p) => p.id),
        ])) as {
          n: number;
        }[]
      )[0].n,
    });
    return { events, state };
  }

  it("when every event of a batch is new and names its own pending payment, then the batch is settled at once, exactly as one by one settles it", async () => {
    const c = await createCustomer(t);
    const together = await world(c);
    const apart = await world(c);

    const atOnce = await settle(together.events);
    // The same events, with one event about an unknown payment at the end: the batch then goes one by one.
    const unknown: Sent = { ...apart.events[0], eventId: newEventId(), paymentId: "00000000-0000-4000-8000-000000000000" };
    const oneByOne = await settle([...apart.events, unknown]);

    expect(atOnce.oneByOne).toBe(0);
    expect(oneByOne.oneByOne).toBe(7);
    expect(oneByOne.settled.at(-1)).toMatchObject({ outcome: "ignored", reason: "unknown payment", counted: false });
    expect(atOnce.settled.map(({ pos, outcome, reason, counted }) => ({ pos, outcome, reason, counted }))).toEqual(
      oneByOne.settled.slice(0, 6).map(({ pos, outcome, reason, counted }) => ({ pos, outcome, reason, counted })),
    );
    expect(atOnce.settled.map((s) => [s.outcome, s.counted])).toEqual([
      ["processed", true],
      ["processed", false],
      ["processed", true],
      ["processed", true],
      ["processed", false],
      ["processed", true],
    ]);
    const [a, b] = [await together.state(), await apart.state()];
    expect(a).toEqual(b);
    // Sold: the four paid orders' units; the two failed orders' units stay held.
    expect(a.stock).toEqual([
      { on_hand: 45, reserved: 7 },
      { on_hand: 39, reserved: 1 },
    ]);
    expect(a.counted).toBe(4);
    expect(a.events.map((e) => e.type)).toEqual([
      "order.paid",
      "order.paid",
      "order.paid",
      "order.paid",
      "payment.failed",
      "payment.failed",
    ]);
    expect((await reconciliation(t)).ok).toBe(true);
  });

  it("when one event of an otherwise clean batch was already received, then the batch goes one by one and that event is a duplicate", async () => {
    const c = await createCustomer(t);
    const w = await world(c);
    // Its first delivery carried a wrong amount: recorded and ignored, and its payment stays pending.
    const first = await settle([{ ...w.events[2], amountCents: w.events[2].amountCents + 1 }]);
    expect(first.settled[0]).toMatchObject({ outcome: "ignored", counted: false });

    const again = await settle([w.events[0], w.events[2], w.events[3]]);
    expect(again.oneByOne).toBe(3);
    expect(again.settled.map((s) => [s.outcome, s.reason, s.counted])).toEqual([
      ["processed", "payment succeeded; order paid", true],
      ["duplicate", "event id already received", false],
      ["processed", "payment succeeded; order paid", true],
    ]);
    const single = await settle([w.events[5]]);
    expect(single.oneByOne).toBe(0); // a batch of one new event is settled at once too
    expect(single.settled[0]).toMatchObject({ outcome: "processed", counted: true });
  });
});
