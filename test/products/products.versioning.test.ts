import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProduct } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("PATCH /v1/products/:sku (versioned)", () => {
  it("when 10 PATCHes race with the same If-Match, then exactly one wins and nine get 409 version_conflict", async () => {
    const p = await createProduct(t);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t
          .http()
          .patch(`/v1/products/${p.sku}`)
          .set(t.admin)
          .set("If-Match", `"${p.version}"`)
          .send({ name: `Name ${i}` }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    const winner = responses.find((r) => r.status === 200)!;
    for (const loser of responses.filter((r) => r.status === 409)) {
      expect(loser.body).toMatchObject({ code: "version_conflict", currentVersion: 2, current: { version: 2, name: winner.body.name } });
      expect(loser.headers.etag).toBe('"2"');
      expect(loser.headers["content-type"]).toMatch(/^application\/problem\+json/);
    }
    const now = await t.http().get(`/v1/products/${p.sku}`).set(t.admin);
    expect(now.body).toMatchObject({ version: 2, name: winner.body.name });
    expect(now.headers.etag).toBe('"2"');
  });

  it("when a second PATCH reuses an already-consumed version, then it gets 409 and changes nothing (save() would overwrite)", async () => {
    const p = await createProduct(t, { name: "Original" });
    const first = await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).send({ name: "First", version: 1 });
    expect(first.status).toBe(200);
    const stale = await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).send({ name: "Stale", version: 1 });
    expect(stale.status).toBe(409);
    const now = await t.http().get(`/v1/products/${p.sku}`).set(t.admin);
    expect(now.body).toMatchObject({ name: "First", version: 2 });
  });

  it("when no precondition is given, then 428 precondition_required", async () => {
    const p = await createProduct(t);
    const res = await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).send({ name: "X" });
    expect(res.status).toBe(428);
    expect(res.body.code).toBe("precondition_required");
  });

  it("when the body version and If-Match disagree, then 422 and nothing changes", async () => {
    const p = await createProduct(t);
    const res = await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).set("If-Match", '"1"').send({ name: "X", version: 2 });
    expect(res.status).toBe(422);
    expect((await t.http().get(`/v1/products/${p.sku}`).set(t.admin)).body.version).toBe(1);
  });

  it("when the product does not exist, then 404", async () => {
    const res = await t.http().patch(`/v1/products/NOPE-404`).set(t.admin).send({ name: "X", version: 1 });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
  });

  it("when a customer key edits a product, then 403", async () => {
    const p = await createProduct(t);
    const cust = await t.http().post("/v1/customers").set(t.admin).send({ name: "C" });
    const res = await t
      .http()
      .patch(`/v1/products/${p.sku}`)
      .set("Authorization", `Bearer ${cust.body.apiKey}`)
      .send({ name: "X", version: 1 });
    expect(res.status).toBe(403);
  });
});
