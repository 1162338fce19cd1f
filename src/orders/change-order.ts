import type { DataSource } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { compareAndSwap } from "../db/compare-and-swap.js";
import { inTransaction } from "../db/in-transaction.js";
import { InternalConflictError, InvalidStateError, NotFoundError, OutOfStockError, VersionConflictError } from "../errors.js";
import { moveReservation } from "../inventory/reserve-stock.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import {
  customerHolds,
  findOrderOwner,
  type LineRow,
  lockCustomer,
  lockOrder,
  type OrderRow,
  type OrderView,
  replaceLines,
  toOrderView,
} from "./order-store.js";
import type { OrderLineInput } from "./place-order.js";

/**
 * Replaces a reserved order's lines (versioned). One transaction: lock the
 * order row, check the client's version (stale → 409 version_conflict with
 * the current order; never retried) and the status (only `reserved`, and
 * not past its deadline), move the reservations from the old lines to the new
 * ones in one all-or-nothing statement (product rows in SKU order), replace
 * the lines and compare-and-swap the order. Out of stock or an unknown SKU
 * leaves the order exactly as it was.
 *
 * Pricing: a SKU already in the order keeps the unit price it was reserved
 * at; a newly added SKU takes the product's current price. The hold deadline
 * is not extended. With a per-customer cap (> 0) the customer row is locked
 * first (customer → order → products) and the new lines may not take the
 * customer's holds of a SKU past the cap.
 */
export function changeOrder(
  ds: DataSource,
  caller: Caller,
  orderId: string,
  expectedVersion: number,
  lines: OrderLineInput[],
  maxUnitsPerCustomerSku: number,
): Promise<OrderView> {
  return inTransaction(ds, async (m) => {
    if (maxUnitsPerCustomerSku > 0) {
      const owner = await findOrderOwner(m, orderId, ownerFilter(caller));
      if (owner) await lockCustomer(m, owner);
    }
    const order = await lockOrder(m, orderId, ownerFilter(caller));
    if (!order) throw new NotFoundError(`Order ${orderId}`);
    if (order.version !== expectedVersion) {
      concurrencyMetrics.versionConflicts.inc({ resource: "order", source: "client" });
      throw new VersionConflictError(order.version, toOrderView(order));
    }
    if (order.status !== "reserved" || order.overdue) {
      throw new InvalidStateError(
        order.overdue ? "The order's hold has expired; it can no longer be changed." : `A ${order.status} order cannot be changed.`,
      );
    }
    if (maxUnitsPerCustomerSku > 0) {
      const holds = await customerHolds(
        m,
        order.customer_id,
        lines.map((l) => l.sku),
        order.id,
      );
      const over = lines.filter((l) => (holds.get(l.sku) ?? 0) + l.quantity > maxUnitsPerCustomerSku);
      if (over.length > 0) {
        throw new OutOfStockError(
          over.map((l) => ({
            sku: l.sku,
            requested: l.quantity,
            available: Math.max(0, maxUnitsPerCustomerSku - (holds.get(l.sku) ?? 0)),
            perCustomerLimit: maxUnitsPerCustomerSku,
          })),
        );
      }
    }
    const prices = await moveReservation(m, order.lines, lines);
    const oldPrice = new Map(order.lines.map((l) => [l.sku, l.unit_price_cents]));
    const newLines: LineRow[] = lines.map((l) => {
      const unit = oldPrice.get(l.sku) ?? prices.get(l.sku)!;
      return { sku: l.sku, quantity: l.quantity, unit_price_cents: unit, line_total_cents: unit * l.quantity };
    });
    await replaceLines(m, order.id, newLines);
    const total = newLines.reduce((s, l) => s + l.line_total_cents, 0);
    const swapped = await compareAndSwap<OrderRow>(m, "orders", order.id, order.version, { total_cents: total });
    if (!swapped.ok) throw new InternalConflictError(`order ${order.id}`); // impossible while we hold the row lock
    return toOrderView({ ...swapped.row, lines: newLines });
  });
}
