import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, SERVICE_WEBHOOK_SECRET, startService } from "../support/service-process.js";
import { createTestDatabase } from "../support/test-database.js";

const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe("SIGTERM with requests still at work", () => {
  it("when orders wait on a locked row and their clients have hung up, then SIGTERM lets them finish: all are placed, nothing fails, exit 0", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const cfg = await newServiceConfig({
      DATABASE_URL: database.url,
      ADMIN_API_KEY: SERVICE_ADMIN_KEY,
      WEBHOOK_SECRET: SERVICE_WEBHOOK_SECRET,
      DB_LOCK_TIMEOUT_MS: "20000",
      DB_STATEMENT_TIMEOUT_MS: "30000",
      LOG_LEVEL: "info",
    });
    cleanups.push(() => removeDataDir(cfg.dataDir));
    const svc = await startService(cfg);
    const post = (path: string, body: unknown, headers: Record<string, string> = admin, signal?: AbortSignal) =>
      fetch(`${svc.url}${path}`, { method: "POST", headers, body: JSON.stringify(body), signal });
    expect((await post("/v1/products", { sku: "HELD-1", name: "Held", priceCents: 100, onHand: 100 })).status).toBe(201);
    const customer = (await (await post("/v1/customers", { name: "hung up" })).json()) as { apiKey: string };

    // Hold the product's row, so that every order for it waits inside its database call.
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    cleanups.push(() => holder.end());
    await holder.query("BEGIN");
    await holder.query("SELECT 1 FROM products WHERE sku = 'HELD-1' FOR UPDATE");

    const keys = Array.from({ length: 40 }, (_, i) => `held-${i}`);
    const hangUp = new AbortController();
    const sent = keys.map((key) =>
      post(
        "/v1/orders",
        { lines: [{ sku: "HELD-1", quantity: 1 }] },
        { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json", "Idempotency-Key": key },
        hangUp.signal,
      ).catch(() => "hung up"),
    );
    // Wait until all 40 requests are in the service (its in-flight gauge, which counts this
    // /metrics request too) and the first batch is blocked on the row (its transaction waits
    // for the lock). (Asked on another connection: inside the holder's transaction
    // pg_stat_activity is a snapshot.)
    const watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
    cleanups.push(() => watcher.end());
    for (;;) {
      const { rows } = await watcher.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      const inFlight = Number(/^orderlock_http_requests_in_flight (\d+)/m.exec(metrics)?.[1] ?? 0);
      if (rows[0].waiting > 0 && inFlight >= keys.length + 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    hangUp.abort(); // the clients are gone; their requests are still queued or running in the service
    expect(await Promise.all(sent)).toEqual(keys.map(() => "hung up"));

    const exited = new Promise<number | null>((resolve) => svc.child.once("exit", (code) => resolve(code)));
    svc.child.kill("SIGTERM");
    // (Released within the batchers' 2 s queue limit, so no order is shed as overload.)
    await new Promise((r) => setTimeout(r, 500));
    await holder.query("COMMIT");
    expect(await exited).toBe(0);

    expect(svc.output()).not.toContain("unhandled error");
    expect(svc.output()).not.toContain("still in flight");
    const { rows } = await holder.query<{ orders: number; reserved: number }>(
      "SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT reserved FROM products WHERE sku = 'HELD-1') AS reserved",
    );
    expect(rows[0]).toEqual({ orders: 40, reserved: 40 });
  }, 120_000);
});
