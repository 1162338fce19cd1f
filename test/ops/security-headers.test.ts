import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("security headers", () => {
  it("when any response is sent, success or error, then it carries helmet's headers and no X-Powered-By", async () => {
    const responses = [
      await t.http().get("/healthz"),
      await t.http().get("/v1/products").set(t.admin),
      await t.http().get("/v1/products"), // 401
      await t.http().get("/nope"), // 404
      await t.http().post("/v1/products").set(t.admin).set("Content-Type", "application/json").send("{bad"), // 400
    ];
    for (const r of responses) {
      expect(r.headers["x-powered-by"]).toBeUndefined();
      expect(r.headers["x-content-type-options"]).toBe("nosniff");
      expect(r.headers["content-security-policy"]).toContain("default-src 'self'");
      expect(r.headers["x-frame-options"]).toBeDefined();
      expect(r.headers["strict-transport-security"]).toBeDefined();
    }
  });
});
