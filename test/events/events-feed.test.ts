import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventIdOf } from "../../src/events/event-id.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { createPayment, deliverExpecting, placeOrder, successEvent } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type FeedEvent = { id: string; type: string; createdAt: string; data: { object: { id: string; version: number; status: string } } };

/** A reader of the real feed: follows nextCursor from wherever it stands. */
function feedReader() {
  let cursor: string | undefined;
  const seen: FeedEvent[] = [];
  return {
    seen,
    async poll(): Promise<FeedEvent[]> {
      const got: FeedEvent[] = [];
      for (;;) {
        const res = await t
          .http()
          .get("/v1/events")
          .query({ limit: 100, ...(cursor ? { after: cursor } : {}) })
          .set(t.admin);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(typeof res.body.nextCursor).toBe("string");
        cursor = res.body.nextCursor;
        got.push(...res.body.items);
        if (res.body.items.length < 100) break;
      }
      seen.push(...got);
      return got;
    },
  };
}

/** The naive reader the feed must beat: everything with a sequence number above the last one seen. */
function naiveReader() {
  let last = 0;
  const seen: string[] = [];
  return {
    seen,
    async poll() {
      const rows = (await t.ds.query(`SELECT id, seq::int AS seq FROM events WHERE seq > $1 ORDER BY seq`, [last])) as {
        id: string;
        seq: number;
      }[];
      for (const r of rows) {
        seen.push(eventIdOf(r.id));
        last = r.seq;
      }
    },
  };
}

async function openTransaction() {
  const c = new pg.Client({ connectionString: t.databaseUrl });
  await c.connect();
  await c.query("BEGIN");
  return c;
}

describe("the events feed (GET /v1/events)", () => {
  it("when a transaction that took a lower sequence number commits after a reader passed a later one, then the feed still delivers it and the naive `seq > last` reader misses it", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 10 });
    const a = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const feed = feedReader();
    const naive = naiveReader();
    await feed.poll();
    await naive.poll();

    // T1 changes order A and writes its event (taking the lower seq), but does not commit yet.
    const t1 = await openTransaction();
    await t1.query(`UPDATE orders SET version = version + 1 WHERE id = $1`, [a.id]);
    await t1.query(`SELECT orderlock_append_event('order.changed', $1)`, [a.id]);
    // Meanwhile another order commits (a higher seq).
    const b = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    await naive.poll();
    const early = await feed.poll();
    expect(early.map((e) => e.data.object.id)).not.toContain(b.id); // held back: T1 is still running below it
    await t1.query("COMMIT");
    await t1.end();
    await naive.poll();
    await feed.poll();

    const changedA = feed.seen.find((e) => e.type === "order.changed" && e.data.object.id === a.id);
    const placedB = feed.seen.find((e) => e.type === "order.placed" && e.data.object.id === b.id);
    expect(changedA).toBeDefined();
    expect(placedB).toBeDefined();
    expect(naive.seen).toContain(placedB!.id);
    expect(naive.seen).not.toContain(changedA!.id); // the naive cursor had passed it: lost
  });

  it("when a transaction that took its id first changes an order after a later one did, then the feed gives that order's events in version order (transaction-id order would not)", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 10 });
    const o = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const t1 = await openTransaction();
    await t1.query(`SELECT pg_current_xact_id()`); // T1 has the lower transaction id from here on
    const patched = await t
      .http()
      .patch(`/v1/orders/${o.id}`)
      .set(c.auth)
      .send({ version: 1, lines: [{ sku: p.sku, quantity: 2 }] });
    expect(patched.status).toBe(200);
    await t1.query(`UPDATE orders SET version = version + 1 WHERE id = $1`, [o.id]);
    await t1.query(`SELECT orderlock_append_event('order.changed', $1)`, [o.id]);
    await t1.query("COMMIT");
    await t1.end();

    const feed = feedReader();
    await feed.poll();
    const versions = feed.seen.filter((e) => e.data.object.id === o.id).map((e) => e.data.object.version);
    expect(versions).toEqual([1, 2, 3]);
    const byXid = (await t.ds.query(`SELECT resource_version FROM events WHERE resource_id = $1 ORDER BY xmin::text::bigint, seq`, [
      o.id,
    ])) as { resource_version: number }[];
    expect(byXid.map((r) => r.resource_version)).toEqual([1, 3, 2]);
  });

  it("when a change is refused, replayed or repeats nothing, then it writes no event; each real change writes one, whose object is the resource as the API showed it", async () => {
    const c = await createCustomer(t);
    const p = await createProduct(t, { onHand: 3, priceCents: 500 });
    const feed = feedReader();
    await feed.poll();
    const key = uniqueKey();
    const first = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 2 }] });
    expect(first.status).toBe(201);
    const replay = await t
      .http()
      .post("/v1/orders")
      .set(c.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: p.sku, quantity: 2 }] });
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    const short = await t
      .http()
      .patch(`/v1/orders/${first.body.id}`)
      .set(c.auth)
      .send({ version: 1, lines: [{ sku: p.sku, quantity: 4 }] });
    expect(short.status).toBe(409);
    const cancels = await Promise.all([1, 2, 3].map(() => t.http().post(`/v1/orders/${first.body.id}/cancel`).set(c.auth)));
    expect(cancels.map((r) => r.status)).toEqual([200, 200, 200]);
    const paid = await placeOrder(t, c, [{ sku: p.sku, quantity: 1 }]);
    const payment = await createPayment(t, c, paid.id);
    await deliverExpecting(t, successEvent(payment), "processed");

    const events = await feed.poll();
    expect(events.map((e) => [e.type, e.data.object.id])).toEqual([
      ["order.placed", first.body.id],
      ["order.cancelled", first.body.id],
      ["order.placed", paid.id],
      ["order.paid", paid.id],
    ]);
    expect(events[0].data.object).toEqual(first.body);
    const shown = await t.http().get(`/v1/orders/${paid.id}`).set(c.auth);
    expect(events[3].data.object).toEqual(shown.body);
  });

  it("when 300 orders and 100 cancels run concurrently over 20 SKUs, then a reader following the cursor from the start sees every committed change exactly once and nothing else", async () => {
    const c = await createCustomer(t);
    const skus = await Promise.all(Array.from({ length: 20 }, () => createProduct(t, { onHand: 12 })));
    const start = feedReader();
    await start.poll();
    const feed = feedReader();
    // Start this reader where the other stands now, so it sees only this test's events.
    for (const e of start.seen) feed.seen.push(e);
    const before = new Set(start.seen.map((e) => e.id));
    let running = true;
    const polling = (async () => {
      while (running) {
        await feed.poll();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const placed: string[] = [];
    const cancelled = new Set<string>();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < 300; i = next++) {
        const sku = skus[i % 20].sku;
        const res = await t
          .http()
          .post("/v1/orders")
          .set(c.auth)
          .set("Idempotency-Key", uniqueKey())
          .send({ lines: [{ sku, quantity: 1 + (i % 2) }] });
        if (res.status === 201) placed.push(res.body.id);
        else expect(res.body.code).toBe("out_of_stock");
        if (i % 3 === 0 && placed.length > 0 && cancelled.size < 100) {
          const victim = placed[Math.floor(Math.random() * placed.length)];
          const r = await t.http().post(`/v1/orders/${victim}/cancel`).set(c.auth);
          expect(r.status).toBe(200);
          cancelled.add(victim);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    running = false;
    await polling;
    await feed.poll();

    const mine = feed.seen.filter((e) => !before.has(e.id));
    expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length); // nothing twice
    const expected = [...placed.map((id) => `order.placed ${id}`), ...[...cancelled].map((id) => `order.cancelled ${id}`)].sort();
    expect(mine.map((e) => `${e.type} ${e.data.object.id}`).sort()).toEqual(expected);
    const committed = (await t.ds.query(`SELECT count(*)::int AS n FROM events WHERE resource_id = ANY($1::uuid[])`, [placed])) as {
      n: number;
    }[];
    expect(committed[0].n).toBe(expected.length);
    // Each order's events in the order of its changes.
    for (const id of cancelled) {
      expect(mine.filter((e) => e.data.object.id === id).map((e) => e.type)).toEqual(["order.placed", "order.cancelled"]);
    }
  });
});
