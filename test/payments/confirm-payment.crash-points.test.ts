import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stopOrphan } from "../../src/db/embedded-postgres.js";
import { signWebhook } from "../../src/payments/webhook-signature.js";
import {
  newServiceConfig,
  removeDataDir,
  SERVICE_ADMIN_KEY,
  SERVICE_WEBHOOK_SECRET,
  type ServiceConfig,
  startService,
} from "../support/service-process.js";

/**
 * SIGKILL at chosen points of confirming a payment (src/fault-injection.ts):
 * before the confirmation's one database call is sent, and after it
 * committed but before the webhook is answered. The provider, seeing no
 * answer, delivers the event again: the payment ends succeeded once, the
 * order paid once, the counters moved once.
 */
const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
const dirs: ServiceConfig[] = [];
afterAll(async () => {
  for (const d of dirs) {
    await stopOrphan(path.join(d.dataDir, "pg"), () => {});
    removeDataDir(d.dataDir);
  }
});

async function scenario(point: string): Promise<string> {
  const cfg = await newServiceConfig({ ORDERLOCK_CRASH_AT: point, ORDERLOCK_CRASH_TOKEN: "evt_doomed" });
  dirs.push(cfg);
  let svc = await startService(cfg);
  const post = async (route: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${svc.url}${route}`, { method: "POST", headers, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, unknown>;
  };
  await post("/v1/products", { sku: "CC-1", name: "x", priceCents: 700, onHand: 5 }, admin);
  const customer = (await post("/v1/customers", { name: "c" }, admin)) as { apiKey: string };
  const auth = { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json" };
  const order = (await post("/v1/orders", { lines: [{ sku: "CC-1", quantity: 2 }] }, { ...auth, "Idempotency-Key": "o1" })) as {
    id: string;
  };
  const payment = (await post(`/v1/orders/${order.id}/payments`, {}, { ...auth, "Idempotency-Key": "p1" })) as {
    id: string;
    amountCents: number;
  };
  const raw = JSON.stringify({
    id: "evt_doomed",
    type: "payment.succeeded",
    data: { paymentId: payment.id, amountCents: payment.amountCents },
  });
  const deliver = () =>
    fetch(`${svc.url}/v1/webhooks/payments`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Payment-Signature": signWebhook(SERVICE_WEBHOOK_SECRET, raw) },
      body: raw,
    });

  expect(await deliver().catch((err: unknown) => err)).toBeInstanceOf(Error); // no answer: the process died
  await new Promise<void>((r) => (svc.child.exitCode !== null || svc.child.signalCode !== null ? r() : svc.child.once("exit", () => r())));
  svc = await startService({ ...cfg, env: {} });

  const again = await deliver();
  expect(again.status).toBe(200);
  const { outcome } = (await again.json()) as { outcome: string };
  expect(((await (await deliver()).json()) as { outcome: string }).outcome).toBe("duplicate");

  const get = async (route: string, headers: Record<string, string>) =>
    (await (await fetch(`${svc.url}${route}`, { headers })).json()) as Record<string, unknown>;
  expect(await get(`/v1/payments/${payment.id}`, auth)).toMatchObject({ status: "succeeded", version: 2 });
  expect(await get(`/v1/orders/${order.id}`, auth)).toMatchObject({ status: "paid" });
  expect(await get(`/v1/products/CC-1`, admin)).toMatchObject({ onHand: 3, reserved: 0 });
  const recon = await get(`/v1/metrics/purchases/reconciliation`, admin);
  expect(recon).toMatchObject({ ok: true, counters: { purchases: 1, revenueCents: 1400 } });
  expect(await svc.stop()).toBe(0);
  return outcome;
}

describe("SIGKILL at chosen points of confirming a payment", () => {
  it("when killed before the confirmation is sent to the database, then the redelivery processes it once", async () => {
    expect(await scenario("confirm:before-statement")).toBe("processed");
  });

  it("when killed after the confirmation committed but before answering, then the redelivery is a duplicate and nothing moves twice", async () => {
    expect(await scenario("confirm:after-commit")).toBe("duplicate");
  });
});
