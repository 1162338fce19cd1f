import request from "supertest";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { buildApp } from "../../src/app.js";
import { createCustomer } from "../support/factories.js";
import { startTestApp, type TestApp, testAppDeps } from "../support/test-app.js";

/**
 * Two instances of the service (two buildApp, two pools) on one database,
 * each with its own key cache. A key revoked through one must get 401 on
 * both within 5 s, with nothing but the database between them.
 */
let a: TestApp;
let dsB: DataSource;
let b: ReturnType<typeof buildApp>;
beforeAll(async () => {
  a = await startTestApp();
  dsB = createDataSource(a.databaseUrl);
  await dsB.initialize();
  b = buildApp(testAppDeps(dsB));
});
afterAll(async () => {
  await dsB.destroy();
  await a.close();
});

describe("revoking a key with two instances", () => {
  it("when a key both instances have cached is revoked through one, then both answer 401 within 5 s", async () => {
    const c = await createCustomer(a);
    const viaA = () => a.http().get("/v1/orders").set(c.auth);
    const viaB = () => request(b).get("/v1/orders").set(c.auth);
    // Both instances have looked the key up and remember it.
    for (let i = 0; i < 3; i++) {
      expect((await viaA()).status).toBe(200);
      expect((await viaB()).status).toBe(200);
    }
    const [key] = (await a.http().get(`/v1/customers/${c.id}/keys`).set(a.admin)).body.items;

    const revokedAt = Date.now();
    expect((await request(b).delete(`/v1/customers/${c.id}/keys/${key.id}`).set(a.admin)).status).toBe(200);

    const refusedAfterMs = async (call: () => request.Test) => {
      for (;;) {
        const res = await call();
        const elapsed = Date.now() - revokedAt;
        if (res.status === 401) {
          expect(res.body.code).toBe("unauthorized");
          return elapsed;
        }
        expect(res.status).toBe(200);
        if (elapsed > 6000) return elapsed;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const [msA, msB] = await Promise.all([refusedAfterMs(viaA), refusedAfterMs(viaB)]);
    expect(msA).toBeLessThan(5000);
    expect(msB).toBeLessThan(5000);
    // And it stays refused.
    expect((await viaA()).status).toBe(401);
    expect((await viaB()).status).toBe(401);
  });
});
