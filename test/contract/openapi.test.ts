import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
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
});
