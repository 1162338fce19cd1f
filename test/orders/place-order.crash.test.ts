import { afterAll, describe, expect, it } from "vitest";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, type ServiceConfig, startService } from "../support/service-process.js";

const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
let cfg: ServiceConfig | undefined;
afterAll(() => {
  if (cfg) removeDataDir(cfg.dataDir);
});

type Outcome = { key: string; status: number | "error"; id?: string };

async function placeKeyed(url: string, auth: Record<string, string>, key: string, lines: unknown): Promise<Outcome> {
  try {
    const res = await fetch(`${url}/v1/orders`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ lines }),
    });
    const body = (await res.json()) as { id?: string };
    return { key, status: res.status, id: body.id };
  } catch {
    return { key, status: "error" };
  }
}

describe("placing orders across a SIGKILL", () => {
  it("when the service is killed during a burst of 300 keyed orders and restarted, then retrying every key yields exactly one order per key and exact reservations", async () => {
    cfg = await newServiceConfig();
    let svc = await startService(cfg);
    const post = (path: string, body: unknown) =>
      fetch(`${svc.url}${path}`, { method: "POST", headers: admin, body: JSON.stringify(body) });
    expect((await post("/v1/products", { sku: "BURST-A", name: "A", priceCents: 100, onHand: 10000 })).status).toBe(201);
    expect((await post("/v1/products", { sku: "BURST-B", name: "B", priceCents: 250, onHand: 10000 })).status).toBe(201);
    const customer = (await (await post("/v1/customers", { name: "burst" })).json()) as { apiKey: string; id: string };
    const auth = { Authorization: `Bearer ${customer.apiKey}` };
    const lines = [
      { sku: "BURST-B", quantity: 2 },
      { sku: "BURST-A", quantity: 1 },
    ];
    const keys = Array.from({ length: 300 }, (_, i) => `burst-${i}`);

    // Fire the burst 25 at a time and kill the service part-way through.
    const before: Outcome[] = [];
    let killed = false;
    const burst = (async () => {
      for (let i = 0; i < keys.length && !killed; i += 25) {
        before.push(...(await Promise.all(keys.slice(i, i + 25).map((k) => placeKeyed(svc.url, auth, k, lines)))));
      }
    })();
    while (before.filter((o) => o.status === 201).length < 60) await new Promise((r) => setTimeout(r, 5));
    await svc.kill9();
    killed = true;
    await burst;
    const acknowledged = before.filter((o) => o.status === 201);
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);
    expect(acknowledged.length).toBeLessThan(300); // the kill really landed mid-burst

    svc = await startService(cfg);
    const after = new Map<string, Outcome>();
    for (let i = 0; i < keys.length; i += 25) {
      for (const o of await Promise.all(keys.slice(i, i + 25).map((k) => placeKeyed(svc.url, auth, k, lines)))) after.set(o.key, o);
    }
    // Every key now has an order, and an order acknowledged before the kill is the same order now.
    expect([...after.values()].filter((o) => o.status !== 201)).toEqual([]);
    for (const o of acknowledged) expect(after.get(o.key)!.id).toBe(o.id);
    expect(new Set([...after.values()].map((o) => o.id)).size).toBe(300);

    const orders: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (
        await fetch(`${svc.url}/v1/orders?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { headers: auth })
      ).json()) as {
        items: { id: string }[];
        nextCursor: string | null;
      };
      orders.push(...page.items.map((o) => o.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(orders.length).toBe(300);
    const a = (await (await fetch(`${svc.url}/v1/products/BURST-A`, { headers: admin })).json()) as { reserved: number };
    const b = (await (await fetch(`${svc.url}/v1/products/BURST-B`, { headers: admin })).json()) as { reserved: number };
    expect(a.reserved).toBe(300);
    expect(b.reserved).toBe(600);
    expect(await svc.stop()).toBe(0);
  });
});
