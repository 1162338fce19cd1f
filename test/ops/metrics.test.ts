import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const metric = (text: string, name: string, labels = ""): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels}`) && !l.startsWith("#"));
  return line ? Number(line.split(" ").pop()) : 0;
};

describe("operations endpoints", () => {
  it("when the app is up, then /healthz and /readyz answer 200", async () => {
    expect((await t.http().get("/healthz")).status).toBe(200);
    const ready = await t.http().get("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
  });

  it("when conflicts, replays and in-use rejections happen, then /metrics counts them", async () => {
    const before = (await t.http().get("/metrics")).text;
    const p = await createProduct(t);
    await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).send({ version: 1, name: "a" });
    await t.http().patch(`/v1/products/${p.sku}`).set(t.admin).send({ version: 1, name: "b" }); // stale
    const c = await createCustomer(t);
    const key = uniqueKey();
    for (let i = 0; i < 2; i++)
      await t
        .http()
        .post("/v1/orders")
        .set(c.auth)
        .set("Idempotency-Key", key)
        .send({ lines: [{ sku: p.sku, quantity: 1 }] });
    const after = (await t.http().get("/metrics")).text;

    const conflicts = '{resource="product",source="client"}';
    expect(
      metric(after, "orderlock_version_conflicts_total", conflicts) - metric(before, "orderlock_version_conflicts_total", conflicts),
    ).toBe(1);
    expect(metric(after, "orderlock_idempotent_replays_total") - metric(before, "orderlock_idempotent_replays_total")).toBe(1);
    // Requests in flight: the /metrics request itself; every other one was answered.
    expect(metric(after, "orderlock_http_requests_in_flight")).toBe(1);
    for (const name of [
      "orderlock_http_request_duration_seconds_bucket",
      "orderlock_lock_wait_seconds_bucket",
      "orderlock_idempotency_key_in_use_total",
      "orderlock_transaction_retries_total",
    ]) {
      expect(after).toContain(name);
    }
  });
});
