import type { EntityManager } from "typeorm";
import { Order } from "../../entities/order.entity.js";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { compareAndSwap } from "../db/compare-and-swap.js";
import {
  InternalConflictError,
  InvalidStateError,
  NotFoundError,
  OutOfStockError,
  ValidationError,
  VersionConflictError,
} from "../errors.js";
import { appendEvents } from "../events/append-event.js";
import { moveReservations, type StockLine } from "../inventory/move-reservations.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import { findOrderOwner, lockCustomer, lockOrder, replaceLines } from "./order-store.js";
import { type LineFacts, type OrderView, renderOrder } from "./order-view.js";

/**
 * Replaces a reserved order's lines (versioned), in the caller's
 * transaction: lock the order row, check the client's version (stale → 409
 * version_conflict with the current order; never retried) and the status
 * (only `reserved`, and not past its deadline), move the hold from the old
 * lines to the new ones (orderlock_move_reservations: product rows in SKU
 * order, all or nothing, the per-customer cap included), replace the lines
 * and compare-and-swap the order, then write `order.changed`. Out of stock
 * or an unknown SKU leaves the
 * order exactly as it was.
 *
 * Pricing: a SKU already in the order keeps the unit price it was reserved
 * at; a newly added SKU takes the product's current price. The hold deadline
 * is not extended. With a per-customer cap (> 0) the customer row is locked
 * first (customer → order → products).
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
  const oldPrice = new Map(order.lines.map((l) => [l.sku, l.unitPriceCents]));
  const newPrice = new Map(moved.lines.map((l) => [l.sku, l.priceCents]));
  const newLines: LineFacts[] = lines.map((l) => {
    const unit = oldPrice.get(l.sku) ?? newPrice.get(l.sku)!;
    return { sku: l.sku, quantity: l.quantity, unitPriceCents: unit, lineTotalCents: unit * l.quantity };
  });
  await replaceLines(m, order.id, newLines);
  const total = newLines.reduce((s, l) => s + l.lineTotalCents, 0);
  const swapped = await compareAndSwap(m, Order, order.id, order.version, { totalCents: total });
  if (!swapped.ok) throw new InternalConflictError(`order ${order.id}`); // impossible while we hold the row lock
  await appendEvents(m, "order.changed", [order.id]);
  return renderOrder({ ...swapped.row, lines: newLines });
}
