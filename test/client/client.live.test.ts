import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrderlockClient, isProblem, type OrderlockClient, ProblemError } from "../../clients/typescript/src/index.js";
import { createCustomer, uniqueSku } from "../support/factories.js";
import { ADMIN_KEY, startTestApp, type TestApp } from "../support/test-app.js";

/**
 * The typed client against the real app on real PostgreSQL: the oversell
 * race, a versioned edit that loses a race and is re-applied by withVersion,
 * and a retry after a connection reset that must not order twice.
 */
let t: TestApp;
let admin: OrderlockClient;

type Sent = { key: string | null; status: number | "network"; code?: string };

/** A client whose every attempt is recorded (after the transport's retry logic chose to send it). */
function recordingClient(baseUrl: string, apiKey: string) {
  const sent: Sent[] = [];
  const retries: string[] = [];
  const client = createOrderlockClient({
    baseUrl,
    apiKey,
    baseDelayMs: 20,
    onRetry: ({ reason }) => retries.push(reason),
    fetch: async (request) => {
      const key = request.headers.get("idempotency-key");
      try {
        const res = await fetch(request);
        const code = res.status >= 400 ? ((await res.clone().json()) as { code: string }).code : undefined;
        sent.push({ key, status: res.status, code });
        return res;
      } catch (error) {
        sent.push({ key, status: "network" });
        throw error;
      }
    },
  });
  return { client, sent, retries };
}

beforeAll(async () => {
  t = await startTestApp();
  admin = createOrderlockClient({ baseUrl: t.url, apiKey: ADMIN_KEY });
});
afterAll(async () => t.close());

describe("@orderlock/client against the live service", () => {
  it("when 30 clients race for 10 units, then exactly 10 orders exist, the other 20 get OutOfStock problems, and no out_of_stock is retried", async () => {
    const product = await admin.createProduct({ sku: uniqueSku("RACE"), name: "Scarce", priceCents: 500, onHand: 10 });
    const customers = await Promise.all(Array.from({ length: 3 }, (_, i) => createCustomer(t, `racer ${i}`)));
    const clients = Array.from({ length: 30 }, (_, i) => recordingClient(t.url, customers[i % 3].apiKey));

    const results = await Promise.allSettled(clients.map(({ client }) => client.placeOrder([{ sku: product.sku, quantity: 1 }])));
    const placed = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const refused = results.filter((r) => r.status === "rejected").map((r) => r.reason as unknown);

    expect(placed).toHaveLength(10);
    expect(new Set(placed.map((o) => o.id)).size).toBe(10);
    expect(refused).toHaveLength(20);
    for (const error of refused) {
      expect(error).toBeInstanceOf(ProblemError);
      if (!isProblem(error, "out_of_stock")) throw new Error(`expected out_of_stock, got ${String(error)}`);
      expect(error.status).toBe(409);
      expect(error.problem.unavailable).toEqual([{ sku: product.sku, requested: 1, available: 0 }]);
    }
    // Each call sent one key, however many attempts it took, and no attempt followed an out_of_stock.
    for (const { sent, retries } of clients) {
      expect(new Set(sent.map((s) => s.key)).size).toBe(1);
      expect(sent[0].key).toMatch(/^olc-[0-9a-f-]{36}$/);
      expect(sent.slice(0, -1).some((s) => s.code === "out_of_stock")).toBe(false);
      expect(retries.every((r) => !r.includes("out_of_stock"))).toBe(true);
    }
    expect(clients.flatMap((c) => c.sent).filter((s) => s.code === "out_of_stock")).toHaveLength(20);

    const after = await admin.getProduct(product.sku);
    expect(after).toMatchObject({ onHand: 10, reserved: 10, available: 0 });
    const [{ n }] = await t.ds.query(`SELECT count(*)::int AS n FROM order_lines WHERE sku = $1`, [product.sku]);
    expect(n).toBe(10);
  });

  it("when an edit loses the race to a concurrent one, then withVersion re-reads and re-applies it: both edits land and the version is exact", async () => {
    const p = await admin.createProduct({ sku: uniqueSku("EDIT"), name: "Blue widget", priceCents: 1000, onHand: 5 });
    expect(p.version).toBe(1);
    const seenVersions: number[] = [];
    const result = await admin.withVersion(
      () => admin.getProduct(p.sku),
      async (current) => {
        seenVersions.push(current.version);
        // Another admin renames it between our read and our write, the first time round.
        if (seenVersions.length === 1) await admin.updateProduct(p.sku, current.version, { name: "Blue widget XL" });
        return admin.updateProduct(p.sku, current.version, { priceCents: current.priceCents - 100 });
      },
    );
    expect(seenVersions).toEqual([1, 2]);
    expect(result).toMatchObject({ name: "Blue widget XL", priceCents: 900, version: 3 });
    expect(await admin.getProduct(p.sku)).toMatchObject({ name: "Blue widget XL", priceCents: 900, version: 3 });
  });

  it("when 6 clients each add one cent to a price at once through withVersion, then no increment is lost", async () => {
    const p = await admin.createProduct({ sku: uniqueSku("CAS"), name: "Contended", priceCents: 1000, onHand: 1 });
    const editors = Array.from({ length: 6 }, () => createOrderlockClient({ baseUrl: t.url, apiKey: ADMIN_KEY }));
    let conflicts = 0;
    await Promise.all(
      editors.map((c) =>
        c.withVersion(
          () => c.getProduct(p.sku),
          (current) =>
            c.updateProduct(p.sku, current.version, { priceCents: current.priceCents + 1 }).catch((e: unknown) => {
              if (isProblem(e, "version_conflict")) conflicts++;
              throw e;
            }),
          { maxAttempts: 6 }, // each round at least one of the contenders wins
        ),
      ),
    );
    expect(await admin.getProduct(p.sku)).toMatchObject({ priceCents: 1006, version: 7 });
    expect(conflicts).toBeGreaterThan(0); // they really raced
  });

  it("when withVersion runs out of attempts, then the version conflict is thrown with the current version", async () => {
    const p = await admin.createProduct({ sku: uniqueSku("STALE"), name: "Stale", priceCents: 1000, onHand: 1 });
    let calls = 0;
    const stale = admin.withVersion(
      async () => ({ ...p, version: 1 }), // a reader that never sees the new version
      async (current) => {
        calls++;
        if (calls === 1) await admin.updateProduct(p.sku, 1, { name: "Moved on" });
        return admin.updateProduct(p.sku, current.version, { priceCents: 1 });
      },
      { maxAttempts: 3 },
    );
    const error = await stale.catch((e: unknown) => e);
    if (!isProblem(error, "version_conflict")) throw new Error(`expected version_conflict, got ${String(error)}`);
    expect(error.problem.currentVersion).toBe(2);
    expect(error.headers.get("etag")).toBe('"2"');
    expect(calls).toBe(3);
    expect(await admin.getProduct(p.sku)).toMatchObject({ priceCents: 1000, version: 2 });
  });

  it("when the connection is reset after the order was forwarded, then the client retries with the same key and exactly one order exists", async () => {
    const product = await admin.createProduct({ sku: uniqueSku("RESET"), name: "Fragile", priceCents: 700, onHand: 5 });
    const customer = await createCustomer(t, "reset");
    const proxy = await resetFirstAnswerProxy(new URL(t.url).port);
    try {
      const { client, sent, retries } = recordingClient(proxy.url, customer.apiKey);
      const order = await client.placeOrder([{ sku: product.sku, quantity: 2 }]);

      expect(proxy.connections()).toBe(2);
      expect(proxy.resets()).toBe(1);
      expect(sent.map((s) => s.status)).toEqual(["network", 201]);
      expect(sent[1].key).toBe(sent[0].key);
      expect(proxy.idempotencyKeys()).toEqual([sent[0].key, sent[0].key]); // what reached the service, both times
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatch(/^network/);

      const rows = await t.ds.query(`SELECT id FROM orders WHERE customer_id = $1`, [customer.id]);
      expect(rows).toEqual([{ id: order.id }]);
      expect(await admin.getProduct(product.sku)).toMatchObject({ reserved: 2, available: 3 });
    } finally {
      await proxy.close();
    }
  });

  it("when the connection is reset after a versioned edit was forwarded, then the client does not resend it (it has no key) and the caller sees the error", async () => {
    const product = await admin.createProduct({ sku: uniqueSku("NOKEY"), name: "Edited once", priceCents: 700, onHand: 5 });
    const proxy = await resetFirstAnswerProxy(new URL(t.url).port);
    try {
      const { client, sent, retries } = recordingClient(proxy.url, ADMIN_KEY);
      const error = await client.updateProduct(product.sku, 1, { priceCents: 650 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError); // fetch's network failure, not a problem answer
      expect(sent.map((s) => s.status)).toEqual(["network"]);
      expect(retries).toEqual([]);
      expect(proxy.connections()).toBe(1);
      expect(await admin.getProduct(product.sku)).toMatchObject({ priceCents: 650, version: 2 }); // applied once, by the one attempt
    } finally {
      await proxy.close();
    }
  });
});

/**
 * A TCP proxy to the app whose first connection is reset (RST) the moment
 * the app starts answering: the request was forwarded and processed, the
 * answer never reaches the client. Later connections pass through.
 */
async function resetFirstAnswerProxy(upstreamPort: string) {
  let connections = 0;
  let resets = 0;
  const keys: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const n = ++connections;
    const upstream = net.connect(Number(upstreamPort), "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      for (const m of chunk.toString("latin1").matchAll(/^idempotency-key:\s*(\S+)\r$/gim)) keys.push(m[1]);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (n === 1) {
        if (!client.destroyed) {
          resets++;
          client.resetAndDestroy();
        }
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    for (const s of [client, upstream]) s.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    resets: () => resets,
    idempotencyKeys: () => keys,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
