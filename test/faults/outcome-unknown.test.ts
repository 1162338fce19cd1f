import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, type FaultApp, startFaultApp, viaPort } from "../support/fault-app.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { createTestDatabase } from "../support/test-database.js";

/**
 * A 5xx must not hide a commit. The pool's query_timeout (statement timeout
 * + 5 s) gives up on a call whose answer does not come back; the call itself
 * may have committed. Here a proxy lets the order's call through to
 * PostgreSQL and holds back the answer: the order commits, the client
 * side times out. The answer must say the outcome is unknown, and the retry
 * with the same key must return the order that was placed, once.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TcpProxy;
let app: FaultApp;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy(Number(new URL(database.url).port));
  // Statement timeout 1 s: the client-side query_timeout fires at 6 s.
  app = await startFaultApp(viaPort(database.url, proxy.port), { db: { statementTimeoutMs: 1000 } });
});

afterAll(async () => {
  await app?.close();
  await proxy?.close();
  await database?.drop();
});

async function post(path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${app.url}${path}`, { method: "POST", headers: { ...adminHeaders, ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe("a call that commits but whose answer never arrives", () => {
  it("when the answer to a committing order is held back past the client timeout, then the 503 says outcome unknown and the retry with the same key returns that order, placed once", async () => {
    const sku = `OU-${randomBytes(4).toString("hex")}`;
    expect((await post("/v1/products", { sku, name: "x", priceCents: 100, onHand: 50 }, {})).status).toBe(201);
    const customer = (await post("/v1/customers", { name: "ou" }, {})).body as { apiKey: string };
    const auth = { Authorization: `Bearer ${customer.apiKey}` };
    const key = `ou-${randomBytes(6).toString("hex")}`;

    proxy.stallRepliesAfter("orderlock_place_counted_orders");
    const started = Date.now();
    const first = await post("/v1/orders", { lines: [{ sku, quantity: 3 }] }, { ...auth, "Idempotency-Key": key });
    const tookMs = Date.now() - started;
    proxy.heal();

    // The order did commit: the 5xx is not "nothing happened".
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    try {
      const { rows } = await direct.query(`SELECT reserved FROM products WHERE sku = $1`, [sku]);
      expect(rows[0].reserved).toBe(3);
    } finally {
      await direct.end();
    }

    expect(first.status).toBe(503);
    expect(first.body.code).toBe("service_unavailable");
    expect(first.body.outcome).toBe("unknown");
    expect(first.headers.get("retry-after")).not.toBeNull();
    expect(tookMs).toBeLessThan(15_000);

    // The retry tells the truth: the stored answer, the same order, nothing reserved twice.
    const retry = await post("/v1/orders", { lines: [{ sku, quantity: 3 }] }, { ...auth, "Idempotency-Key": key });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const product = (await (await fetch(`${app.url}/v1/products/${sku}`, { headers: adminHeaders })).json()) as { reserved: number };
    expect(product.reserved).toBe(3);
  }, 30_000);

  it("when the database refuses the connection outright, then the 503 does not claim an unknown outcome (nothing was sent)", async () => {
    const customer = (await post("/v1/customers", { name: "ou2" }, {})).body as { apiKey: string };
    // A pool of its own, on a port where nothing listens.
    const refused = await startFaultApp(viaPort(database.url, proxy.port), { db: { connectTimeoutMs: 500 } });
    try {
      await proxy.close();
      await new Promise((r) => setTimeout(r, 200)); // the pool sees its idle connections close
      const res = await fetch(`${refused.url}/v1/orders`, {
        method: "POST",
        headers: { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json", "Idempotency-Key": "k-refused" },
        body: JSON.stringify({ lines: [{ sku: "NOPE", quantity: 1 }] }),
      });
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(503);
      expect(body.code).toBe("service_unavailable");
      expect(body.outcome).toBeUndefined();
    } finally {
      await refused.close();
    }
  });
});
