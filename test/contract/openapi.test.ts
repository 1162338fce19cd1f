import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import * as errors from "../../src/errors.js";
import { apiOperations } from "../../src/http/openapi.js";
import { problemCatalogue, problemCodes } from "../../src/http/problem-catalogue.js";
import { problemSchemas } from "../../src/http/response-schemas.js";
import { startTestApp, type TestApp, testAppDeps } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };

/** Every METHOD path the Express app really mounts (routers flattened). */
function mountedRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

describe("GET /openapi.json", () => {
  it("when fetched, then it is an OpenAPI 3.1 document whose operations are exactly the /v1 routes the app mounts", async () => {
    const res = await t.http().get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{([A-Za-z]+)\}/g, ":$1")}`))
      .sort();
    const app = buildApp(testAppDeps(t.ds));
    const mounted = mountedRoutes(app)
      .filter((r) => r.split(" ")[1].startsWith("/v1/"))
      .sort();
    expect(documented).toEqual(mounted);
  });

  it("when a request body is documented, then it is the schema the route validates with (strict: unknown members rejected)", async () => {
    const doc = (await t.http().get("/openapi.json")).body;
    const placeOrder = doc.paths["/v1/orders"].post;
    const schema = placeOrder.requestBody.content["application/json"].schema;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.lines.maxItems).toBe(100);
    expect(schema.properties.lines.items.properties.quantity).toMatchObject({ type: "integer", minimum: 1, maximum: 10000 });
    expect(placeOrder.parameters).toContainEqual(expect.objectContaining({ name: "Idempotency-Key", in: "header", required: true }));
    expect(placeOrder.responses["409"].content["application/problem+json"]).toBeDefined();
  });

  it("when an operation can answer problems, then each status lists its codes, with a typed schema and a real example per code", async () => {
    const doc = (await t.http().get("/openapi.json")).body;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        const codes = op["x-problem-codes"] as string[];
        expect(codes.length, where).toBeGreaterThan(0);
        const fromResponses: string[] = [];
        for (const [status, res] of Object.entries(op.responses as Record<string, Record<string, unknown>>)) {
          if (Number(status) < 400) continue;
          const listed = res["x-problem-codes"] as string[];
          const media = (res.content as Record<string, { schema: { $ref?: string; oneOf?: { $ref: string }[] }; examples: object }>)[
            "application/problem+json"
          ];
          const refs = media.schema.oneOf?.map((s) => s.$ref) ?? [media.schema.$ref];
          expect(refs.length, where).toBe(listed.length);
          for (const [i, code] of listed.entries()) {
            const entry = problemCatalogue[code as keyof typeof problemCatalogue];
            expect(entry.status, `${where} ${code}`).toBe(Number(status));
            expect(res.description, where).toContain(`\`${code}\``);
            const schema = doc.components.schemas[(refs[i] as string).split("/").pop() as string];
            expect(schema.properties.code.const, where).toBe(code);
            expect((media.examples as Record<string, { value: { code: string } }>)[code].value.code).toBe(code);
          }
          fromResponses.push(...listed);
        }
        expect([...fromResponses].sort(), where).toEqual([...codes].sort());
      }
    }
    // The per-operation lists name the rules themselves, not only the generic front door.
    expect(doc.paths["/v1/orders"].post["x-problem-codes"]).toEqual(
      expect.arrayContaining(["out_of_stock", "idempotency_key_missing", "forbidden"]),
    );
    expect(doc.paths["/v1/products/{sku}"].patch["x-problem-codes"]).toEqual(
      expect.arrayContaining(["version_conflict", "precondition_required"]),
    );
    expect(doc.paths["/v1/products/{sku}"].get["x-problem-codes"]).not.toContain("version_conflict");
    expect(doc.paths["/v1/webhooks/payments"].post["x-problem-codes"]).toContain("invalid_signature");
    expect(doc.paths["/v1/webhooks/payments"].post["x-problem-codes"]).not.toContain("unauthorized");
  });

  it("when the catalogue is compared with the error classes, then every code the service throws is documented with its real status", () => {
    const thrown = new Map<string, number>();
    for (const value of Object.values(errors)) {
      if (typeof value !== "function" || !(value.prototype instanceof errors.AppError)) continue;
      const Ctor = value as unknown as new (...args: unknown[]) => errors.AppError;
      const e = new Ctor(1, [], "x");
      thrown.set(e.code, e.status);
    }
    expect(thrown.size).toBeGreaterThan(15);
    for (const [code, status] of thrown) expect(problemCatalogue[code as keyof typeof problemCatalogue]?.status, code).toBe(status);
    for (const code of problemCodes) expect(problemSchemas[code].safeParse(problemCatalogue[code].example).success, code).toBe(true);
  });

  it("when examples are documented, then each one is accepted by the schema it illustrates", async () => {
    const doc = (await t.http().get("/openapi.json")).body;
    let bodies = 0;
    for (const op of apiOperations) {
      if (op.example !== undefined) {
        bodies++;
        expect(op.body?.safeParse(op.example).success, `${op.method} ${op.path}`).toBe(true);
      }
      if (op.body && !op.body.safeParse({}).success) expect(op.example, `${op.method} ${op.path} needs an example`).toBeDefined();
      const schema = op.success.schema;
      const examples = (schema?.meta()?.examples ?? []) as unknown[];
      for (const example of examples) expect(schema?.safeParse(example).success, `${op.path} response`).toBe(true);
    }
    expect(bodies).toBeGreaterThanOrEqual(10);
    expect(doc.paths["/v1/orders"].post.requestBody.content["application/json"].example).toEqual({
      lines: [{ sku: "WIDGET-1", quantity: 2 }],
    });
    expect(doc.components.schemas.Order.examples).toHaveLength(1);
  });

  it("when security is documented, then Bearer covers every keyed operation and the webhook names its signature header", async () => {
    const doc = (await t.http().get("/openapi.json")).body;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes.paymentSignature).toMatchObject({ type: "apiKey", in: "header", name: "Payment-Signature" });
    expect(doc.components.securitySchemes.stripeSignature).toMatchObject({ type: "apiKey", in: "header", name: "Stripe-Signature" });
    for (const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, { security: object[]; "x-orderlock-auth": string }>>,
    )) {
      for (const op of Object.values(ops)) {
        const scheme =
          op["x-orderlock-auth"] !== "webhook" ? "bearer" : path === "/v1/webhooks/stripe" ? "stripeSignature" : "paymentSignature";
        expect(op.security, path).toEqual([{ [scheme]: [] }]);
      }
    }
  });
});
