import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { retryingFetch } from "../../clients/typescript/src/retrying-fetch.js";

/**
 * The client's retry policy against a real HTTP server that answers from a
 * script: which answers are retried, how long the client waits, and that a
 * retry carries the same Idempotency-Key and body. Waiting is recorded, not
 * slept (the transport takes a sleep function).
 */
type Scripted = { status: number; code?: string; headers?: Record<string, string> } | "reset";
type Seen = { method: string; path: string; key: string | undefined; body: string };

let server: http.Server;
let base = "";
let script: Scripted[] = [];
let seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", key: req.headers["idempotency-key"] as string | undefined, body });
      const next = script.shift() ?? { status: 200 };
      if (next === "reset") {
        req.socket.resetAndDestroy();
        return;
      }
      const problem = next.code !== undefined;
      res.writeHead(next.status, { "content-type": problem ? "application/problem+json" : "application/json", ...next.headers });
      res.end(
        JSON.stringify(problem ? { type: "about:blank", title: "x", status: next.status, detail: "x", code: next.code } : { ok: true }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  script = [];
  seen = [];
});

function transport(overrides: Parameters<typeof retryingFetch>[0] = {}) {
  const waits: number[] = [];
  let keys = 0;
  const fetch = retryingFetch({
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    newIdempotencyKey: () => `key-${++keys}`,
    ...overrides,
  });
  return { fetch, waits };
}

const post = (path: string, body: unknown = { a: 1 }) =>
  new Request(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("retryingFetch", () => {
  it("when a POST is refused with 429 and 503, then it is retried after Retry-After with the same key and body, and the success returned", async () => {
    script = [
      { status: 429, code: "rate_limited", headers: { "retry-after": "2" } },
      { status: 503, code: "service_unavailable" },
      { status: 201 },
    ];
    const { fetch, waits } = transport();
    const res = await fetch(post("/v1/orders", { lines: [{ sku: "A", quantity: 1 }] }));
    expect(res.status).toBe(201);
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.key))).toEqual(new Set(["key-1"]));
    expect(new Set(seen.map((s) => s.body))).toEqual(new Set([JSON.stringify({ lines: [{ sku: "A", quantity: 1 }] })]));
    expect(waits[0]).toBeGreaterThanOrEqual(2000); // Retry-After honoured
    expect(waits[0]).toBeLessThan(2100); // plus at most baseDelayMs of jitter
    expect(waits[1]).toBe(100); // no Retry-After: full jitter of min(5000, 100 * 2^1) at random 0.5
  });

  it("when the first attempt is still running (409 idempotency_key_in_use), then it is retried; any other 409 or 4xx is returned at once", async () => {
    script = [{ status: 409, code: "idempotency_key_in_use", headers: { "retry-after": "1" } }, { status: 201 }];
    expect((await transport().fetch(post("/v1/orders"))).status).toBe(201);
    expect(seen).toHaveLength(2);

    for (const [status, code] of [
      [409, "out_of_stock"],
      [409, "version_conflict"],
      [409, "invalid_state"],
      [422, "validation_failed"],
      [400, "idempotency_key_missing"],
      [404, "not_found"],
    ] as const) {
      seen = [];
      script = [{ status, code }, { status: 201 }];
      const { fetch, waits } = transport();
      const res = await fetch(post("/v1/orders"));
      expect(res.status, code).toBe(status);
      expect(seen, code).toHaveLength(1);
      expect(waits, code).toEqual([]);
      script = [];
    }
  });

  it("when every attempt is refused, then it gives up after maxAttempts with the last answer, each wait capped", async () => {
    script = Array.from({ length: 10 }, () => ({ status: 503, code: "service_unavailable" }));
    const { fetch, waits } = transport({ maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 500, random: () => 0.999 });
    const res = await fetch(post("/v1/orders"));
    expect(res.status).toBe(503);
    expect(seen).toHaveLength(6);
    expect(waits).toEqual([99, 199, 399, 499, 499]); // 100, 200, 400, then capped at 500 (times 0.999)
  });

  it("when Retry-After is longer than the client will wait, then that answer is returned without waiting", async () => {
    script = [{ status: 429, code: "rate_limited", headers: { "retry-after": "3600" } }, { status: 201 }];
    const { fetch, waits } = transport();
    expect((await fetch(post("/v1/orders"))).status).toBe(429);
    expect(seen).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("when the connection is reset, then a POST (it has a key) is sent again with that key, and a PATCH (no key) is not", async () => {
    script = ["reset", { status: 201 }];
    const { fetch } = transport();
    expect((await fetch(post("/v1/orders"))).status).toBe(201);
    expect(seen.map((s) => s.key)).toEqual(["key-1", "key-1"]);

    seen = [];
    script = ["reset", { status: 200 }];
    const patch = new Request(`${base}/v1/products/A`, { method: "PATCH", headers: { "content-type": "application/json" }, body: "{}" });
    await expect(transport().fetch(patch)).rejects.toThrow();
    expect(seen).toHaveLength(1);
    expect(seen[0].key).toBeUndefined();
  });

  it("when the caller aborts while the client waits to retry, then no further attempt is sent", async () => {
    script = [{ status: 503, code: "service_unavailable" }, { status: 201 }];
    const controller = new AbortController();
    const fetch = retryingFetch({ sleep: async () => controller.abort(new Error("caller gave up")), random: () => 0.5 });
    await expect(fetch(new Request(`${base}/v1/orders`, { method: "POST", body: "{}", signal: controller.signal }))).rejects.toThrow(
      "caller gave up",
    );
    expect(seen).toHaveLength(1);
  });

  it("when the caller gave a key, or the POST is the provider's webhook, then the transport adds none of its own", async () => {
    const { fetch } = transport();
    await fetch(new Request(`${base}/v1/orders`, { method: "POST", headers: { "idempotency-key": "mine" }, body: "{}" }));
    await fetch(post("/v1/webhooks/payments"));
    await fetch(post("/api/v1/webhooks/payments")); // behind a path prefix too
    await fetch(new Request(`${base}/v1/orders`));
    expect(seen.map((s) => s.key)).toEqual(["mine", undefined, undefined, undefined]);
  });
});
