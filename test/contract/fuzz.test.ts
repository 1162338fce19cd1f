import fc from "fast-check";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/payments/webhook-signature.js";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp, WEBHOOK_SECRET } from "../support/test-app.js";

/**
 * Fuzzes every operation of GET /openapi.json with bodies, path ids, query
 * strings and headers shaped by the document's own schemas (mostly a little
 * wrong, sometimes right). Whatever arrives: never a 5xx; a 4xx is an RFC 9457
 * problem with a code from the contract and nothing internal in it, and
 * writes nothing.
 */
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  default?: unknown;
  anyOf?: Schema[];
};
type Operation = {
  method: string;
  path: string;
  auth: string;
  parameters: { name: string; in: string; required: boolean; schema: Schema }[];
  body?: Schema;
  problemCodes: string[];
};

const CODES = new Set([
  "malformed_json",
  "idempotency_key_missing",
  "unauthorized",
  "invalid_signature",
  "forbidden",
  "not_found",
  "version_conflict",
  "out_of_stock",
  "insufficient_stock",
  "invalid_state",
  "sku_exists",
  "idempotency_key_in_use",
  "payload_too_large",
  "unsupported_media_type",
  "validation_failed",
  "idempotency_key_reused",
  "precondition_required",
  "rate_limited",
]);

const nasty = fc.constantFrom<unknown>(
  "",
  " ",
  "0",
  "-1",
  "1e309",
  "NaN",
  "null",
  "'; DROP TABLE orders; --",
  "\u0000",
  "💥",
  "__proto__",
  "../../etc/passwd",
  "x".repeat(300),
  -1,
  0,
  1,
  1.5,
  -2147483649,
  2147483648,
  Number.MAX_SAFE_INTEGER,
  1e300,
  true,
  false,
  null,
  [],
  {},
);

/** A value for `s`: usually of the right type near its bounds, sometimes anything at all. */
function valueFor(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 3) return fc.oneof(nasty, fc.jsonValue({ maxDepth: 2 }));
  const anything = fc.oneof(nasty, fc.jsonValue({ maxDepth: 2 }));
  const typed = (() => {
    if (s.enum) return fc.constantFrom(...s.enum);
    if (s.anyOf) return fc.oneof(...s.anyOf.map((x) => valueFor(x, depth + 1)));
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    switch (type) {
      case "integer":
      case "number": {
        const lo = Math.max(s.minimum ?? -1e6, -1e12);
        const hi = Math.min(s.maximum ?? 1e6, 1e12);
        return fc.oneof(fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }), fc.constantFrom(lo - 1, hi + 1, 0.5, -0));
      }
      case "string":
        return fc.oneof(
          fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 80) }),
          fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
        );
      case "boolean":
        return fc.boolean();
      case "array":
        return fc.array(valueFor(s.items, depth + 1), { minLength: 0, maxLength: Math.min(s.maxItems ?? 4, 4) });
      case "object":
        return objectFor(s, depth + 1);
      default:
        return anything;
    }
  })();
  return fc.oneof({ weight: 4, arbitrary: typed }, { weight: 1, arbitrary: anything });
}

function objectFor(s: Schema, depth: number): fc.Arbitrary<unknown> {
  const props = s.properties ?? {};
  const known = fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, valueFor(v, depth)])), { requiredKeys: [] });
  const extra = fc.dictionary(
    fc.constantFrom("__proto__", "constructor", "prototype", "price", "status", "version", "customerId", "zz"),
    nasty,
    { maxKeys: 2 },
  );
  return fc.oneof(
    { weight: 4, arbitrary: known },
    { weight: 1, arbitrary: fc.tuple(known, extra).map(([a, b]) => ({ ...(a as object), ...b })) },
  );
}

const STRIPE_WEBHOOK_SECRET = "whsec_fuzz_0123456789abcdef";
let t: TestApp;
let ops: Operation[];
let customer: { auth: Record<string, string> };
const ids: Record<string, string[]> = { sku: [], id: [] };

beforeAll(async () => {
  t = await startTestApp({ stripeWebhookSecrets: [STRIPE_WEBHOOK_SECRET] });
  const doc = (await t.http().get("/openapi.json")).body as {
    paths: Record<
      string,
      Record<
        string,
        {
          "x-orderlock-auth": string;
          "x-problem-codes": string[];
          parameters: Operation["parameters"];
          requestBody?: { content: Record<string, { schema: Schema }> };
        }
      >
    >;
  };
  ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method,
      path,
      auth: op["x-orderlock-auth"],
      parameters: op.parameters,
      body: op.requestBody?.content["application/json"].schema,
      problemCodes: op["x-problem-codes"],
    })),
  );
  // Real ids, so fuzzed requests also reach the code behind the lookups.
  const p = await createProduct(t, { onHand: 1000 });
  customer = await createCustomer(t, "fuzz");
  const order = await t
    .http()
    .post("/v1/orders")
    .set(customer.auth)
    .set("Idempotency-Key", uniqueKey())
    .send({ lines: [{ sku: p.sku, quantity: 1 }] });
  ids.sku.push(p.sku);
  ids.id.push(order.body.id);
});
afterAll(async () => t.close());

/** Everything a request could write, idempotency keys and rate-limit counters aside (both are written by design). */
async function stateFingerprint(): Promise<string> {
  const [row] = await t.ds.query(`
    SELECT (SELECT count(*) || ':' || coalesce(sum(version), 0) || ':' || coalesce(sum(on_hand), 0) || ':' || coalesce(sum(reserved), 0) FROM products) AS products,
           (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM orders) AS orders,
           (SELECT count(*) || ':' || coalesce(sum(quantity), 0) FROM order_lines) AS lines,
           (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM payments) AS payments,
           (SELECT count(*) FROM customers) AS customers,
           (SELECT count(*) || ':' || count(revoked_at) FROM customer_api_keys) AS api_keys,
           (SELECT count(*) FROM stock_adjustments) AS adjustments,
           (SELECT count(*) FROM payment_events) AS events,
           (SELECT count(*) FROM counted_payments) AS counted,
           (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM webhook_endpoints) AS endpoints,
           (SELECT count(*) || ':' || coalesce(sum(attempts), 0) FROM webhook_deliveries) AS deliveries`);
  return JSON.stringify(row);
}

const sandbox = (path: string) => path.startsWith("/v1/sandbox/");

describe("fuzzing every documented operation", () => {
  it("when any shaped-but-hostile request arrives, then no 5xx, a clean problem for every 4xx, and a 4xx writes nothing", async () => {
    const caseArb = fc.record({
      op: fc.nat(),
      realId: fc.boolean(),
      rawId: fc.oneof(fc.string({ maxLength: 40 }), fc.uuid(), fc.constantFrom("..", "%00", "%E0%A4%A", "a b")),
      body: fc.nat(),
      bodySeed: fc.integer(),
      keyKind: fc.constantFrom("none", "valid", "invalid"),
      asAdmin: fc.boolean(),
      credentials: fc.constantFrom("expected", "expected", "expected", "expected", "customer", "none"),
      rawBody: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.string({ maxLength: 50 }) }),
      query: fc.dictionary(
        fc.constantFrom("limit", "cursor", "status", "from", "to", "x"),
        fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("0", "101", "2024-02-30", "2025-01-01", "reserved")),
      ),
      signed: fc.boolean(),
    });
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const op = ops[c.op % ops.length];
        const path = op.path.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) =>
          c.realId && !sandbox(op.path) && ids[name]?.length ? ids[name][0] : encodeURIComponent(c.rawId),
        );
        const body = op.body ? fc.sample(valueFor(op.body), { seed: c.bodySeed, numRuns: 1 })[0] : undefined;
        const raw = c.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));

        const before = await stateFingerprint();
        let req = (t.http() as unknown as Record<string, (p: string) => import("supertest").Test>)
          [op.method](path)
          .query(op.method === "get" ? c.query : {});
        if (op.auth === "webhook") {
          // Signed bodies reach past the signature check: hostile but authentic events must not 500 either.
          if (c.signed && raw !== undefined) {
            req = op.parameters.some((p) => p.name === "Stripe-Signature")
              ? req.set("Stripe-Signature", Stripe.webhooks.generateTestHeaderString({ payload: raw, secret: STRIPE_WEBHOOK_SECRET }))
              : req.set("Payment-Signature", signWebhook(WEBHOOK_SECRET, raw));
          }
        } else {
          const expected = op.auth === "admin" || (op.auth === "any" && c.asAdmin) ? t.admin : customer.auth;
          if (c.credentials !== "none") req = req.set(c.credentials === "customer" ? customer.auth : expected);
        }
        if (c.keyKind === "valid") req = req.set("Idempotency-Key", uniqueKey());
        if (c.keyKind === "invalid") req = req.set("Idempotency-Key", "k".repeat(256));
        if (raw !== undefined) req = req.set("Content-Type", "application/json").send(raw);
        const res = await req;

        const outcome = res.status >= 400 ? String(res.body.code) : String(res.status);
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        const ctx = `${op.method.toUpperCase()} ${path} ${String(raw).slice(0, 200)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
        expect(res.status, ctx).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.headers["content-type"], ctx).toMatch(/^application\/problem\+json/);
          expect(CODES.has(res.body.code), ctx).toBe(true);
          // An empty, "." or ".." id makes the path another route's (GET /v1/orders/ is the list): only the exact route is held to its list.
          if (!/\/\.{0,2}(\/|$)/.test(path)) {
            expect(op.problemCodes, `${ctx}: the code is not in the operation's x-problem-codes`).toContain(res.body.code);
          }
          expect(res.body.status, ctx).toBe(res.status);
          expect(res.text, ctx).not.toMatch(/\n\s+at |SELECT |INSERT |UPDATE |node_modules|QueryFailedError/);
          expect(await stateFingerprint(), ctx).toBe(before);
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1000) },
    );
    // The fuzzer must get past the front door, not only bounce off it.
    const reached = [...seen.keys()];
    expect(reached.filter((k) => /^2/.test(k)).length, JSON.stringify(Object.fromEntries(seen))).toBeGreaterThan(0);
    for (const code of ["validation_failed", "not_found", "unauthorized", "forbidden", "invalid_signature", "malformed_json"])
      expect(reached, JSON.stringify(Object.fromEntries(seen))).toContain(code);
    console.info("fuzz outcomes", Object.fromEntries(seen));
  }, 600_000);
});
