import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inTransaction } from "../../src/db/in-transaction.js";
import { sqlState, violatedConstraint } from "../../src/db/postgres-errors.js";
import { InvalidStateError } from "../../src/errors.js";
import { lockOrder } from "../../src/orders/order-store.js";
import { transitionOrder } from "../../src/orders/transition-order.js";
import { createCustomer } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * The order state machine has one home, in the database
 * (src/orders/order-may-become.sql, enforced by guard-order-status.sql on
 * every UPDATE of orders.status): these tests hold it to API.md's statuses,
 * whatever statement makes the change.
 */
let t: TestApp;
let customerId: string;
beforeAll(async () => {
  t = await startTestApp();
  customerId = (await createCustomer(t, "machine")).id;
});
afterAll(async () => t.close());

const STATUSES = ["reserved", "pending_payment", "paid", "refunded", "cancelled", "expired"] as const;
type Status = (typeof STATUSES)[number];
/** API.md's order statuses, written out here as the oracle. */
const CONTRACT = [
  "reserved → pending_payment",
  "reserved → cancelled",
  "reserved → expired",
  "pending_payment → paid",
  "pending_payment → reserved",
  "pending_payment → expired",
  "paid → refunded",
  "refunded → paid",
];
const holdsStock = (s: Status) => s === "reserved" || s === "pending_payment";
const holdFor = (s: Status) => (holdsStock(s) ? new Date(Date.now() + 3_600_000) : null);

async function insertOrder(status: Status): Promise<string> {
  const [{ id }] = await t.ds.query(
    `INSERT INTO orders (id, customer_id, status, total_cents, reserved_until) VALUES (gen_random_uuid(), $1, $2, 0, $3) RETURNING id`,
    [customerId, status, holdFor(status)],
  );
  return id;
}

describe("the order state machine", () => {
  it("when an order's status is changed by a plain UPDATE, then the database allows exactly the contract's transitions and refuses every other by name", async () => {
    const allowed: string[] = [];
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        if (from === to) continue;
        const id = await insertOrder(from);
        const refusal = await t.ds
          .query(`UPDATE orders SET status = $2, reserved_until = $3, version = version + 1 WHERE id = $1`, [id, to, holdFor(to)])
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        if (refusal === undefined) {
          allowed.push(`${from} → ${to}`);
          continue;
        }
        expect([sqlState(refusal), violatedConstraint(refusal)], `${from} → ${to}`).toEqual(["23514", "orders_status_transition"]);
        expect((await t.ds.query(`SELECT status, version FROM orders WHERE id = $1`, [id]))[0]).toEqual({ status: from, version: 1 });
      }
    }
    expect(allowed.sort()).toEqual([...CONTRACT].sort());
  });

  it("when an update keeps the status (as a refund's update of a paid order does), then the guard lets it through", async () => {
    const id = await insertOrder("paid");
    await t.ds.query(`UPDATE orders SET status = status, version = version + 1 WHERE id = $1`, [id]);
    expect((await t.ds.query(`SELECT status, version FROM orders WHERE id = $1`, [id]))[0]).toEqual({ status: "paid", version: 2 });
  });

  it("when TypeScript asks for a transition the machine refuses, then it is InvalidStateError (409 invalid_state) and the order is unchanged", async () => {
    const id = await insertOrder("expired");
    const attempt = inTransaction(t.ds, async (m) => transitionOrder(m, (await lockOrder(m, id))!, "pending_payment", new Date()));
    await expect(attempt).rejects.toBeInstanceOf(InvalidStateError);
    await expect(attempt).rejects.toMatchObject({ code: "invalid_state", status: 409 });
    expect((await t.ds.query(`SELECT status, version FROM orders WHERE id = $1`, [id]))[0]).toEqual({ status: "expired", version: 1 });
  });
});
