import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTracing } from "../../src/tracing/start-tracing.js";

/**
 * With the SDK on (here with an in-memory exporter instead of the one
 * OTEL_TRACES_EXPORTER names), an order placed over real HTTP is one trace
 * from the HTTP server span through the batch span down to PostgreSQL, and
 * a batch that serves several requests links to each of them.
 *
 * Tracing must start before express, http and pg are imported, as main.ts
 * does it: so this file imports the app only after startTracing. (Under
 * vitest's module loader express escapes the ES-module hook, so express's
 * own spans are checked on the built service, in tracing.entry.test.ts.)
 */
const exporter = new InMemorySpanExporter();
const stopTracing = startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const { startTestApp } = await import("../support/test-app.js");
const { createCustomer, createProduct, uniqueKey } = await import("../support/factories.js");
type TestApp = Awaited<ReturnType<typeof startTestApp>>;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
  await stopTracing();
});

const attr = (span: ReadableSpan, ...names: string[]) => names.map((n) => span.attributes[n]).find((v) => v !== undefined);
const isPg = (span: ReadableSpan) => attr(span, "db.system", "db.system.name") === "postgresql";
const isServerSpanOf = (span: ReadableSpan, path: string) =>
  span.kind === 1 /* SERVER */ && span.name.startsWith("POST") && attr(span, "http.target", "url.path") === path;

/** POST /v1/orders over real HTTP (fetch: no client span, so the server span is the trace's root). */
async function placeOrder(auth: Record<string, string>, sku: string) {
  const res = await fetch(`${t.url}/v1/orders`, {
    method: "POST",
    headers: { ...auth, "Idempotency-Key": uniqueKey(), "Content-Type": "application/json" },
    body: JSON.stringify({ lines: [{ sku, quantity: 1 }] }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return res;
}

/** Spans end (and are exported) just after the response is sent: wait until `done` holds. */
async function spansWhen(done: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const spans = exporter.getFinishedSpans();
    if (done(spans) || Date.now() > deadline) return spans;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ancestors(span: ReadableSpan, byId: Map<string, ReadableSpan>): ReadableSpan[] {
  const chain: ReadableSpan[] = [];
  for (let parent = span.parentSpanContext?.spanId; parent; ) {
    const next = byId.get(parent);
    if (!next) break;
    chain.push(next);
    parent = next.parentSpanContext?.spanId;
  }
  return chain;
}

describe("tracing", () => {
  it("when one order is placed over HTTP, then one trace runs from the HTTP span through the batch span down to the PostgreSQL span of the order", async () => {
    const product = await createProduct(t, { onHand: 5 });
    const customer = await createCustomer(t);
    exporter.reset();

    await placeOrder(customer.auth, product.sku);
    const spans = await spansWhen((all) => all.some((s) => isServerSpanOf(s, "/v1/orders")));

    const server = spans.find((s) => isServerSpanOf(s, "/v1/orders"));
    expect(server, `no HTTP server span among: ${spans.map((s) => s.name).join(", ")}`).toBeDefined();
    expect(server!.parentSpanContext).toBeUndefined(); // the root
    const trace = spans.filter((s) => s.spanContext().traceId === server!.spanContext().traceId);
    const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));

    // the order's own database call: the PostgreSQL span of orderlock_place_counted_orders, under a batch span, under the HTTP span
    const placeSql = trace.filter(
      (s) => isPg(s) && /orderlock_place_counted_orders\(/.test(String(attr(s, "db.statement", "db.query.text"))),
    );
    expect(placeSql, `pg spans: ${trace.filter(isPg).map((s) => attr(s, "db.statement", "db.query.text"))}`).toHaveLength(1);
    const chain = ancestors(placeSql[0], byId);
    expect(chain.map((s) => s.name)).toContain("orderlock.batch");
    expect(chain.at(-1)).toBe(server);

    // the batch span links to the request it serves (a span of this same trace)
    const batch = chain.find((s) => s.name === "orderlock.batch")!;
    expect(batch.attributes["orderlock.batch.size"]).toBe(1);
    expect(batch.links).toHaveLength(1);
    expect(byId.has(batch.links[0].context.spanId)).toBe(true);
  });

  it("when concurrent orders share a batch, then that batch's span links to each request it serves, in their own traces", async () => {
    const product = await createProduct(t, { onHand: 100 });
    const customers = await Promise.all(Array.from({ length: 4 }, () => createCustomer(t)));
    exporter.reset();

    await Promise.all(Array.from({ length: 24 }, (_, i) => placeOrder(customers[i % 4].auth, product.sku)));
    const spans = await spansWhen((all) => all.filter((s) => isServerSpanOf(s, "/v1/orders")).length === 24);

    const requestTraces = new Set(spans.filter((s) => isServerSpanOf(s, "/v1/orders")).map((s) => s.spanContext().traceId));
    expect(requestTraces.size).toBe(24);
    const shared = spans.filter((s) => s.name === "orderlock.batch" && s.links.length > 1);
    expect(shared.length, "no batch served more than one request").toBeGreaterThan(0);
    for (const batch of shared) {
      expect(batch.attributes["orderlock.batch.size"]).toBe(batch.links.length);
      const linked = batch.links.map((l) => l.context.traceId);
      expect(new Set(linked).size).toBe(linked.length); // one link per request
      expect(linked.every((id) => requestTraces.has(id))).toBe(true);
      expect(linked).toContain(batch.spanContext().traceId); // parented to the first request's trace
    }
  });
});
