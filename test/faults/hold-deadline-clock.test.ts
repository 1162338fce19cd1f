import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct } from "../support/factories.js";
import { placeOrder, requestPayment } from "../support/payment-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * A hold's deadline is checked against the clock when the check happens, not
 * when the transaction began. Creating a payment locks the order row; if
 * that lock is granted only after the order's reservedUntil has passed, the
 * hold is over and the payment must be refused, even though the
 * transaction's now() (its start) is still inside the hold.
 *
 * Expected to fail until create-payment compares with clock_timestamp() (or
 * an equivalent) after taking the lock: the lead's change.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ reservationTtlSeconds: 2 });
});
afterAll(async () => {
  await t?.close();
});

describe("a payment whose order lock is granted after the hold ended", () => {
  it("when create-payment waits on the order row until 1.5 s past reservedUntil, then it is refused with 409 invalid_state", async () => {
    const product = await createProduct(t, { onHand: 5 });
    const customer = await createCustomer(t);
    const order = await placeOrder(t, customer, [{ sku: product.sku, quantity: 1 }]);
    const holdEndsAt = new Date(order.reservedUntil!).getTime();

    const holder = new pg.Client({ connectionString: t.databaseUrl });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, [order.id]);
      // Sent while the hold still runs; its transaction starts now and waits on the row.
      expect(Date.now()).toBeLessThan(holdEndsAt);
      const payment = requestPayment(t, customer, order.id).then((r) => r);
      await new Promise((r) => setTimeout(r, Math.max(0, holdEndsAt + 1500 - Date.now())));
      await holder.query("COMMIT");
      const res = await payment;
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.code).toBe("invalid_state");
    } finally {
      await holder.end();
    }
    const after = (await t.http().get(`/v1/orders/${order.id}`).set(customer.auth)).body as { status: string };
    expect(after.status).not.toBe("pending_payment");
  }, 30_000);
});
