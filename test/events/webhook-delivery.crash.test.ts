import { afterAll, describe, expect, it } from "vitest";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, type ServiceConfig, startService } from "../support/service-process.js";
import { startReceiver } from "../support/webhook-receiver.js";

/**
 * The real service (production build, embedded PostgreSQL) killed with
 * SIGKILL while a webhook POST is in flight: after a restart every event
 * arrives at least once, and a repeated delivery keeps its webhook-id.
 */
const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
let cfg: ServiceConfig | undefined;
afterAll(() => {
  if (cfg) removeDataDir(cfg.dataDir);
});

describe("webhook delivery across a SIGKILL", () => {
  it("when the service is killed mid-delivery and restarted, then every event arrives at least once and duplicates keep their webhook-id", async () => {
    let killed = false;
    // The very first request hangs (the kill lands while it is in flight); before the kill, every
    // other one fails too, so nothing is settled before the crash; after the restart, all succeed.
    const receiver = await startReceiver(() => (killed ? 200 : receiver.received.length === 0 ? "hang" : 500));
    cfg = await newServiceConfig({
      WEBHOOK_ALLOW_INSECURE_URLS: "1",
      WEBHOOK_ALLOW_PRIVATE_URLS: "1",
      WEBHOOK_TIMEOUT_MS: "2000",
      WEBHOOK_RETRY_DELAYS_MS: "200",
      WEBHOOK_RELAY_INTERVAL_MS: "50",
    });
    let svc = await startService(cfg);
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${svc.url}${path}`, { method: "POST", headers: admin, body: JSON.stringify(body) });
      const ep = (await (await post("/v1/webhook-endpoints", { url: receiver.url })).json()) as { id: string; secret: string };
      receiver.setSecret(ep.secret);
      expect((await post("/v1/products", { sku: "HOOK-A", name: "A", priceCents: 100, onHand: 100 })).status).toBe(201);
      const customer = (await (await post("/v1/customers", { name: "hooks" })).json()) as { apiKey: string };
      const auth = { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json" };
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${svc.url}/v1/orders`, {
          method: "POST",
          headers: { ...auth, "Idempotency-Key": `hook-${i}` },
          body: JSON.stringify({ lines: [{ sku: "HOOK-A", quantity: 1 }] }),
        });
        expect(res.status).toBe(201);
      }
      const deadline = Date.now() + 20_000;
      while (!receiver.received.some((r) => r.answered === "hung")) {
        if (Date.now() > deadline) throw new Error(`no delivery in flight:\n${svc.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await svc.kill9();
      killed = true;
      const hungId = receiver.received.find((r) => r.answered === "hung")!.webhookId;

      svc = await startService(cfg);
      const feed = (await (await fetch(`${svc.url}/v1/events?limit=100`, { headers: admin })).json()) as { items: { id: string }[] };
      expect(feed.items.length).toBe(6);
      const wanted = new Set(feed.items.map((e) => e.id));
      expect(wanted.has(hungId)).toBe(true);
      const until = Date.now() + 45_000;
      while (!feed.items.every((e) => receiver.delivered().some((r) => r.webhookId === e.id))) {
        if (Date.now() > until) throw new Error(`not every event delivered after the restart:\n${svc.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // At least once: every event delivered; the one cut off by the kill arrived again, under the same webhook-id.
      expect(receiver.received.filter((r) => r.webhookId === hungId).length).toBeGreaterThanOrEqual(2);
      for (const r of receiver.received) {
        expect(r.signatureValid).toBe(true);
        expect(r.body.id).toBe(r.webhookId);
        expect(wanted.has(r.webhookId)).toBe(true);
      }
      expect(await svc.stop()).toBe(0);
    } finally {
      if (svc.child.exitCode === null) await svc.kill9();
      await receiver.close();
    }
  }, 180_000);
});
