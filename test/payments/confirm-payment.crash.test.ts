import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stopOrphan } from "../../src/db/embedded-postgres.js";
import { signWebhook } from "../../src/payments/webhook-signature.js";
import { newEventId, utcDay, type WebhookEvent } from "../support/payment-factories.js";
import {
  newServiceConfig,
  removeDataDir,
  SERVICE_ADMIN_KEY,
  SERVICE_WEBHOOK_SECRET,
  type ServiceConfig,
  type ServiceProcess,
  startService,
} from "../support/service-process.js";

// The real service from its production build, with its own embedded
// PostgreSQL (fsync on, as in production), killed with SIGKILL mid-burst.
const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}` };
let cfg: ServiceConfig | undefined;
let svc: ServiceProcess | undefined;
afterAll(async () => {
  if (!cfg) return;
  if (svc && svc.child.exitCode === null && svc.child.signalCode === null) await svc.kill9();
  await stopOrphan(path.join(cfg.dataDir, "pg"), () => {}); // a failed test may have left the killed service's postgres
  removeDataDir(cfg.dataDir);
});

async function call<T = Record<string, unknown>>(
  method: string,
  route: string,
  auth: Record<string, string>,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${svc!.url}${route}`, {
    method,
    headers: { ...auth, ...headers, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

type Delivery = { eventId: string; outcome: string | "error" };

async function deliver(event: WebhookEvent): Promise<Delivery> {
  const raw = JSON.stringify(event);
  try {
    const res = await fetch(`${svc!.url}/v1/webhooks/payments`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Payment-Signature": signWebhook(SERVICE_WEBHOOK_SECRET, raw) },
      body: raw,
    });
    const body = (await res.json()) as { outcome?: string };
    return { eventId: event.id, outcome: res.status === 200 && body.outcome ? body.outcome : `HTTP ${res.status}` };
  } catch {
    return { eventId: event.id, outcome: "error" }; // the connection died with the service
  }
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

describe("confirming payments across a SIGKILL", () => {
  it("when the service is killed during a burst of confirmations and restarted, then redelivering every event leaves the counters equal to the paid orders, exactly", async () => {
    cfg = await newServiceConfig();
    svc = await startService(cfg);

    const sku = "CRASH-PAY";
    expect((await call("POST", "/v1/products", admin, { sku, name: "Crash", priceCents: 125, onHand: 10_000 })).status).toBe(201);
    const customers = await inBatches([0, 1, 2, 3, 4], 5, async (i) => {
      const res = await call<{ id: string; apiKey: string }>("POST", "/v1/customers", admin, { name: `crash ${i}` });
      expect(res.status).toBe(201);
      return { id: res.body.id, auth: { Authorization: `Bearer ${res.body.apiKey}` } };
    });
    // 80 orders (16 per customer), each with a pending payment.
    const setups = Array.from({ length: 80 }, (_, i) => ({ customer: customers[i % 5], quantity: 1 + (i % 4), i }));
    const payments = await inBatches(setups, 10, async ({ customer, quantity, i }) => {
      const order = await call<{ id: string }>(
        "POST",
        "/v1/orders",
        customer.auth,
        { lines: [{ sku, quantity }] },
        { "Idempotency-Key": `o-${i}` },
      );
      expect(order.status).toBe(201);
      const payment = await call<{ id: string; amountCents: number }>(
        "POST",
        `/v1/orders/${order.body.id}/payments`,
        customer.auth,
        {},
        {
          "Idempotency-Key": `p-${i}`,
        },
      );
      expect(payment.status).toBe(201);
      return { orderId: order.body.id, paymentId: payment.body.id, amountCents: payment.body.amountCents, quantity };
    });
    const events: WebhookEvent[] = payments.map((p) => ({
      id: newEventId(),
      type: "payment.succeeded",
      data: { paymentId: p.paymentId, amountCents: p.amountCents },
    }));

    // The burst, 10 at a time. Once 20 confirmations are acknowledged, the
    // next batch is sent and the service is SIGKILLed as soon as the first of
    // its answers arrives, with the rest of that batch in flight.
    const before: Delivery[] = [];
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      if (before.filter((d) => d.outcome === "processed").length < 20) {
        before.push(...(await Promise.all(batch.map(deliver))));
        continue;
      }
      let firstAnswer!: () => void;
      const answered = new Promise<void>((r) => (firstAnswer = r));
      const inFlight = Promise.all(batch.map((e) => deliver(e).finally(firstAnswer)));
      await answered;
      await svc.kill9();
      before.push(...(await inFlight));
      break;
    }
    const acknowledged = before.filter((d) => d.outcome === "processed").map((d) => d.eventId);
    expect(acknowledged.length).toBeGreaterThanOrEqual(20);
    expect(before.length).toBeLessThan(events.length); // the kill landed mid-burst: some events were never sent
    expect(before.every((d) => d.outcome === "processed" || d.outcome === "error")).toBe(true);

    // Restart on the same data directory (it stops the orphaned postgres first), then redeliver everything.
    svc = await startService(cfg);
    const after = await inBatches(events, 20, deliver);
    expect(after.filter((d) => d.outcome !== "processed" && d.outcome !== "duplicate")).toEqual([]);
    const afterById = new Map(after.map((d) => [d.eventId, d.outcome]));
    for (const id of acknowledged) expect(afterById.get(id)).toBe("duplicate"); // acknowledged before the kill = committed
    // Each event was applied exactly once: before the kill (committed, whether or not its answer
    // got out) or after the restart. Those never sent before the kill must be processed now.
    const processedAfter = after.filter((d) => d.outcome === "processed").length;
    expect(processedAfter).toBeGreaterThanOrEqual(events.length - before.length);
    expect(processedAfter).toBeLessThanOrEqual(events.length - acknowledged.length);

    // Everything settled exactly once.
    const paid = await call<{ items: { id: string; totalCents: number }[]; nextCursor: string | null }>(
      "GET",
      "/v1/orders?status=paid&limit=100",
      admin,
    );
    expect(paid.body.items).toHaveLength(80);
    expect(paid.body.nextCursor).toBeNull();
    const paidRevenue = paid.body.items.reduce((s, o) => s + o.totalCents, 0);
    expect(paidRevenue).toBe(payments.reduce((s, p) => s + p.amountCents, 0));
    for (const p of payments.slice(0, 10)) {
      expect((await call<{ status: string }>("GET", `/v1/payments/${p.paymentId}`, admin)).body.status).toBe("succeeded");
    }

    const report = await call<{ totals: { purchases: number; revenueCents: number; uniqueCustomers: number } }>(
      "GET",
      `/v1/metrics/purchases?from=${utcDay(-1)}&to=${utcDay(1)}`,
      admin,
    );
    expect(report.body.totals).toEqual({
      purchases: 80,
      revenueCents: paidRevenue,
      uniqueCustomers: 5,
      refunds: 0,
      refundedCents: 0,
      netRevenueCents: paidRevenue,
    });
    const rec = await call<{ drift: unknown; ok: boolean; counters: unknown }>("GET", "/v1/metrics/purchases/reconciliation", admin);
    expect(rec.body).toMatchObject({
      counters: { purchases: 80, revenueCents: paidRevenue },
      drift: { purchases: 0, revenueCents: 0 },
      ok: true,
    });
    const product = await call<{ onHand: number; reserved: number }>("GET", `/v1/products/${sku}`, admin);
    const sold = payments.reduce((s, p) => s + p.quantity, 0);
    expect(product.body).toMatchObject({ onHand: 10_000 - sold, reserved: 0 });

    // A second full redelivery changes nothing.
    expect((await inBatches(events, 20, deliver)).every((d) => d.outcome === "duplicate")).toBe(true);
    expect((await call<{ totals: unknown }>("GET", `/v1/metrics/purchases?from=${utcDay(-1)}&to=${utcDay(1)}`, admin)).body.totals).toEqual(
      report.body.totals,
    );

    expect(await svc.stop()).toBe(0);
  });
});
