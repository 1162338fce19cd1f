import { randomBytes } from "node:crypto";
import pg from "pg";
import { expect } from "vitest";
import { adminHeaders, sleep } from "./fault-app.js";
import { confirmPayment, type FinalState, type History, type Model, type Op, type OrderLine, placeKeyedOrder } from "./history.js";
import { shuffle } from "./payment-factories.js";
import { WEBHOOK_SECRET } from "./test-app.js";

/**
 * The load of the fault scenarios: 300 keyed orders (two SKUs, two lines
 * each) and 100 confirmations of payments created beforehand, in random
 * order, from 16 concurrent clients. Fresh SKUs and customers per run, so
 * several runs in one database check only their own effects.
 */
export type Load = {
  model: Model;
  apiKey: string;
  skus: string[];
  paymentIds: string[];
  countersBefore: { purchases: number; revenueCents: number };
};

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = adminHeaders) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  expect(res.status, `${path}: ${JSON.stringify(json)}`).toBeLessThan(300);
  return json;
}

export async function counters(base: string) {
  const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
  const res = await fetch(`${base}/v1/metrics/purchases?from=${day(-1)}&to=${day(1)}`, { headers: adminHeaders });
  expect(res.status).toBe(200);
  const { totals } = (await res.json()) as { totals: { purchases: number; revenueCents: number } };
  return { purchases: totals.purchases, revenueCents: totals.revenueCents };
}

export async function prepareLoad(base: string, orders = 300, payments = 100): Promise<Load> {
  const run = randomBytes(3).toString("hex");
  const skus = [`F-${run}-A`, `F-${run}-B`];
  for (const sku of skus) await post(base, "/v1/products", { sku, name: sku, priceCents: 100, onHand: 1_000_000 });
  const paySku = `F-${run}-P`;
  await post(base, "/v1/products", { sku: paySku, name: paySku, priceCents: 700, onHand: 1_000_000 });
  const { apiKey } = (await post(base, "/v1/customers", { name: `load-${run}` })) as { apiKey: string };
  const { apiKey: payerKey } = (await post(base, "/v1/customers", { name: `payer-${run}` })) as { apiKey: string };
  const payer = { Authorization: `Bearer ${payerKey}` };

  const confirmations = new Map<string, { id: string; amountCents: number }>();
  for (let i = 0; i < payments; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, payments - i) }, async () => {
        const order = (await post(
          base,
          "/v1/orders",
          { lines: [{ sku: paySku, quantity: 1 }] },
          { ...payer, "Idempotency-Key": randomBytes(8).toString("hex") },
        )) as {
          id: string;
        };
        const p = (await post(
          base,
          `/v1/orders/${order.id}/payments`,
          {},
          { ...payer, "Idempotency-Key": randomBytes(8).toString("hex") },
        )) as {
          id: string;
          amountCents: number;
        };
        confirmations.set(`evt_${run}_${p.id}`, { id: p.id, amountCents: p.amountCents });
      }),
    );
  }
  const orderLines = new Map<string, OrderLine[]>();
  for (let i = 0; i < orders; i++) {
    orderLines.set(`ord-${run}-${i}`, [
      { sku: skus[0], quantity: 1 + (i % 3) },
      { sku: skus[1], quantity: 1 },
    ]);
  }
  return {
    model: { orderLines, confirmations, boundMs: 15_000 },
    apiKey,
    skus,
    paymentIds: [...confirmations.values()].map((p) => p.id),
    countersBefore: await counters(base),
  };
}

/** Sends one operation of the load (or its retry) and records it. */
export function send(h: History, base: string, load: Load, kind: "order" | "confirm", key: string): Promise<Op> {
  if (kind === "order") return placeKeyedOrder(h, base, load.apiKey, key, load.model.orderLines.get(key)!);
  return confirmPayment(h, base, WEBHOOK_SECRET, key, load.model.confirmations.get(key)!);
}

/**
 * 16 clients take the operations in random order, each waiting `pacingMs`
 * between its requests; a client does not retry during the load (the
 * resolution afterwards does). `onProgress` sees the number completed.
 */
export async function runLoad(h: History, base: string, load: Load, pacingMs: number, clients = 16): Promise<void> {
  const work = shuffle([
    ...[...load.model.orderLines.keys()].map((k) => ["order", k] as const),
    ...[...load.model.confirmations.keys()].map((k) => ["confirm", k] as const),
  ]);
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < work.length) {
        const [kind, key] = work[next++];
        await send(h, base, load, kind, key);
        await sleep(pacingMs);
      }
    }),
  );
}

/** The database's side, read on a connection of the test's own (not the app's pool). */
export async function readFinalState(databaseUrl: string, base: string, load: Load): Promise<FinalState> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const rows = await c.query<{ id: string; status: string; sku: string; quantity: number }>(
      `SELECT o.id, o.status, l.sku, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.id
        WHERE o.id IN (SELECT order_id FROM order_lines WHERE sku = ANY($1))`,
      [load.skus],
    );
    const orders = new Map<string, { status: string; lines: OrderLine[] }>();
    for (const r of rows.rows) {
      const o = orders.get(r.id) ?? { status: r.status, lines: [] };
      o.lines.push({ sku: r.sku, quantity: r.quantity });
      orders.set(r.id, o);
    }
    const reserved = new Map<string, number>();
    for (const r of (
      await c.query<{ sku: string; reserved: number }>(`SELECT sku, reserved FROM products WHERE sku = ANY($1)`, [load.skus])
    ).rows) {
      reserved.set(r.sku, Number(r.reserved));
    }
    const payments = new Map<string, string>();
    for (const r of (await c.query<{ id: string; status: string }>(`SELECT id, status FROM payments WHERE id = ANY($1)`, [load.paymentIds]))
      .rows) {
      payments.set(r.id, r.status);
    }
    const after = await counters(base);
    return {
      orders,
      reserved,
      payments,
      counted: {
        purchases: after.purchases - load.countersBefore.purchases,
        revenueCents: after.revenueCents - load.countersBefore.revenueCents,
      },
    };
  } finally {
    await c.end();
  }
}

/** Polls until a keyed write and /readyz succeed; returns how long that took. */
export async function timeToHealthy(base: string, load: Load, limitMs = 20_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (ready?.status === 200) {
      const res = await fetch(`${base}/v1/products/${load.skus[0]}`, { headers: adminHeaders, signal: AbortSignal.timeout(5000) }).catch(
        () => undefined,
      );
      if (res?.status === 200) return Date.now() - started;
    }
    await sleep(100);
  }
  return Number.POSITIVE_INFINITY;
}
