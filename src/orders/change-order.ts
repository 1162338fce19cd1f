import type { EntityManager } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { InvalidStateError, NotFoundError, OutOfStockError, ValidationError, VersionConflictError } from "../errors.js";
import { appendEvents } from "../events/append-event.js";
import { moveReservations, type StockLine } from "../inventory/move-reservations.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import { findOrderOwner, lockCustomer, lockOrder, repriceOrder } from "./order-store.js";
import { type OrderView, renderOrder } from "./order-view.js";

/**
 * Replaces a reserved order's lines (versioned), in the caller's
 * transaction: lock the order row, check the client's version (stale → 409
 * version_conflict with the current order; never retried) and the status
 * (only `reserved`, and not past its deadline), move the hold from the old
 * lines to the new ones (orderlock_move_reservations: product rows in SKU
 * order, all or nothing, the per-customer cap included), then price and
 * write the new lines, the total and the version (orderlock_reprice_order:
 * a SKU already in the order keeps the unit price it was reserved at, a new
 * one takes the product's current price; the totals are
 * orderlock_price_lines', as when the order was placed), then write
 * `order.changed`. Out of stock or an unknown SKU leaves the order exactly
 * as it was. The hold deadline is not extended. With a per-customer cap
 * (> 0) the customer row is locked first (customer → order → products).
 */
export async function changeOrder(
  m: EntityManager,
  caller: Caller,
  orderId: string,
  expectedVersion: number,
  lines: StockLine[],
  maxUnitsPerCustomerSku: number,
): Promise<OrderView> {
  if (maxUnitsPerCustomerSku > 0) {
    const owner = await findOrderOwner(m, orderId, ownerFilter(caller));
    if (owner) await lockCustomer(m, owner);
  }
  const order = await lockOrder(m, orderId, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${orderId}`);
  if (order.version !== expectedVersion) {
    concurrencyMetrics.versionConflicts.inc({ resource: "order", source: "client" });
    throw new VersionConflictError(order.version, renderOrder(order));
  }
  if (order.status !== "reserved" || order.overdue) {
    throw new InvalidStateError(
      order.overdue ? "The order's hold has expired; it can no longer be changed." : `A ${order.status} order cannot be changed.`,
    );
  }
  const moved = await moveReservations(
    m,
    { from: order.lines, to: lines, customerId: order.customerId, cap: maxUnitsPerCustomerSku, exceptOrderId: order.id },
    "change",
  );
  if (!moved.ok) {
    const unknown = moved.lines.filter((l) => !l.known);
    if (unknown.length > 0) {
      throw new ValidationError(unknown.map((l) => ({ path: `lines.${l.sku}`, message: `unknown SKU ${l.sku}` })));
    }
    throw new OutOfStockError(
      moved.lines
        .filter((l) => l.requested > l.available)
        .map((l) => ({
          sku: l.sku,
          requested: l.requested,
          available: l.available,
          ...(l.perCustomerLimit !== null ? { perCustomerLimit: l.perCustomerLimit } : {}),
        })),
    );
  }
  const changed = await repriceOrder(m, order, lines);
  await appendEvents(m, "order.changed", [order.id]);
  return renderOrder(changed);
}
