import { afterAll, describe, expect, it } from "vitest";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, type ServiceConfig, startService } from "../support/service-process.js";

/**
 * SIGKILL at chosen points (src/fault-injection.ts). Placing an order is one
 * database call that commits by itself: killed before it is sent, nothing
 * happened; killed after it committed but before the answer, the order
 * stands and a retry replays it. A command that runs as several statements
 * (a keyed stock adjustment) is killed just before its COMMIT and just after
 * it. Either way a retry with the same Idempotency-Key ends with the effect
 * applied exactly once.
 */
const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
const dirs: ServiceConfig[] = [];
afterAll(() => {
  for (const d of dirs) removeDataDir(d.dataDir);
});

async function scenario(point: string) {
  const cfg = await newServiceConfig({ ORDERLOCK_CRASH_AT: point, ORDERLOCK_CRASH_TOKEN: "doomed-key" });
  dirs.push(cfg);
  let svc = await startService(cfg);
  const post = (path: string, body: unknown, headers: Record<string, string> = admin) =>
    fetch(`${svc.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  expect((await post("/v1/products", { sku: "CP-1", name: "x", priceCents: 500, onHand: 10 })).status).toBe(201);
  const customer = (await (await post("/v1/customers", { name: "c" })).json()) as { apiKey: string };
  const auth = { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json" };
  const order = (key: string) => post("/v1/orders", { lines: [{ sku: "CP-1", quantity: 3 }] }, { ...auth, "Idempotency-Key": key });

  expect((await order("fine-key")).status).toBe(201);
  const doomed = await order("doomed-key").catch((err: unknown) => err);
  expect(doomed).toBeInstanceOf(Error); // the connection died with the process: no answer
  await new Promise<void>((r) => (svc.child.exitCode !== null || svc.child.signalCode !== null ? r() : svc.child.once("exit", () => r())));
  expect(svc.child.signalCode).toBe("SIGKILL");

  svc = await startService({ ...cfg, env: {} });
  const retry = await order("doomed-key");
  expect(retry.status).toBe(201);
  const replayed = retry.headers.get("idempotent-replayed") === "true";
  const product = (await (await fetch(`${svc.url}/v1/products/CP-1`, { headers: admin })).json()) as { reserved: number };
  const list = (await (await fetch(`${svc.url}/v1/orders`, { headers: auth })).json()) as { items: unknown[] };
  expect(list.items).toHaveLength(2);
  expect(product.reserved).toBe(6);
  expect(await svc.stop()).toBe(0);
  return replayed;
}

describe("SIGKILL at chosen points of placing an order", () => {
  it("when killed just before the order's statement is sent, then nothing was kept and the retry places the order once", async () => {
    expect(await scenario("order:before-statement")).toBe(false);
  });

  it("when killed after COMMIT but before answering, then the order was kept and the retry replays it", async () => {
    expect(await scenario("order:after-commit")).toBe(true);
  });

  it.each([
    ["command:before-commit", false],
    ["command:after-commit", true],
  ])("when a keyed stock adjustment is killed at %s, then a retry applies it exactly once", async (point, replays) => {
    const cfg = await newServiceConfig({ ORDERLOCK_CRASH_AT: point, ORDERLOCK_CRASH_TOKEN: "doomed-restock" });
    dirs.push(cfg);
    let svc = await startService(cfg);
    const adjust = () =>
      fetch(`${svc.url}/v1/products/CP-2/stock-adjustments`, {
        method: "POST",
        headers: { ...admin, "Idempotency-Key": "doomed-restock" },
        body: JSON.stringify({ delta: 5, reason: "delivery" }),
      });
    expect(
      (
        await fetch(`${svc.url}/v1/products`, {
          method: "POST",
          headers: admin,
          body: JSON.stringify({ sku: "CP-2", name: "x", priceCents: 1, onHand: 10 }),
        })
      ).status,
    ).toBe(201);
    expect(await adjust().catch((err: unknown) => err)).toBeInstanceOf(Error);
    await new Promise<void>((r) =>
      svc.child.exitCode !== null || svc.child.signalCode !== null ? r() : svc.child.once("exit", () => r()),
    );
    svc = await startService({ ...cfg, env: {} });
    const retry = await adjust();
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed") === "true").toBe(replays);
    expect(((await retry.json()) as { onHand: number }).onHand).toBe(15);
    expect(await svc.stop()).toBe(0);
  });
});
