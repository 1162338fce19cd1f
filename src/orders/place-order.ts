import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { OutOfStockError, ValidationError } from "../errors.js";
import { insertOrderReservingStock, lockCustomer, toOrderView, type OrderView } from "./order-store.js";

export type OrderLineInput = { sku: string; quantity: number };
export type OrderPolicy = { reservationTtlSeconds: number; maxUnitsPerCustomerSku: number };

/**
 * Places an order, all or nothing. Runs inside the caller's transaction
 * (the command runner's, which also stores the Idempotency-Key response).
 * Locks: every product row of the order, in SKU order, in one statement that
 * also reserves and inserts the order (see insertOrderReservingStock); the
 * locks are held only until COMMIT. Unknown SKU → 422; any short line →
 * 409 out_of_stock listing every short line, with nothing reserved. With a
 * per-customer cap, the customer row is locked first (customer → products)
 * and a line that would take the customer past the cap is short too
 * (its `available` is what the customer may still reserve, `perCustomerLimit` set).
 */
export async function placeOrder(m: EntityManager, customerId: string, lines: OrderLineInput[], policy: OrderPolicy): Promise<OrderView> {
  if (policy.maxUnitsPerCustomerSku > 0) await lockCustomer(m, customerId);
  const sorted = [...lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  const result = await insertOrderReservingStock(m, {
    orderId: randomUUID(),
    customerId,
    skus: sorted.map((l) => l.sku),
    quantities: sorted.map((l) => l.quantity),
    ttlSeconds: policy.reservationTtlSeconds,
    maxUnitsPerCustomerSku: policy.maxUnitsPerCustomerSku,
  });
  if (result.ok) return toOrderView(result.order);

  const unknown = result.lines.filter((l) => l.available === null);
  if (unknown.length > 0) {
    throw new ValidationError(unknown.map((l) => ({ path: `lines.${lines.findIndex((x) => x.sku === l.sku)}.sku`, message: `unknown SKU ${l.sku}` })));
  }
  throw new OutOfStockError(
    result.lines
      .filter((l) => l.available! < l.requested)
      .map((l) => ({
        sku: l.sku,
        requested: l.requested,
        available: Math.max(0, l.available!),
        ...(l.capped ? { perCustomerLimit: policy.maxUnitsPerCustomerSku } : {}),
      })),
  );
}
