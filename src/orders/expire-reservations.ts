import type { DataSource, EntityManager } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { releaseStock } from "../inventory/release-stock.js";
import { lockOrder, lockOverdueOrders, type OrderWithLines } from "./order-store.js";
import { transitionOrder } from "./transition-order.js";

/**
 * Reservation expiry. A `reserved` order past `reservedUntil` becomes
 * `expired` and its stock is released in the same transaction, so no read
 * ever sees the hold both gone and still counted, or counted twice.
 *
 * The sweeper may run on every instance at once: it takes overdue order rows
 * with FOR UPDATE SKIP LOCKED (order rows before product rows, as everywhere),
 * so instances split the work and never wait on each other. Orders awaiting
 * payment (`pending_payment`) are never expired.
 */
export async function expireReservations(ds: DataSource, batchSize = 100): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await inTransaction(ds, async (m) => {
      const overdue = await lockOverdueOrders(m, batchSize);
      for (const order of overdue) await transitionOrder(m, order, "expired");
      // One release for the whole batch: its product rows are then locked in
      // one SKU-ordered statement, like everyone else's, not order by order
      // (which could take SKU "B" before "A" and deadlock with a new order).
      await releaseStock(
        m,
        overdue.flatMap((o) => o.lines),
        "expire",
      );
      return overdue.length;
    });
    total += n;
    if (n < batchSize) return total;
  }
}

async function expireLocked(m: EntityManager, order: OrderWithLines): Promise<void> {
  await transitionOrder(m, order, "expired");
  await releaseStock(m, order.lines, "expire");
}

/**
 * Expires one order now if its hold has run out (used when a request touches
 * an overdue order before the sweeper has). Returns true if it expired it.
 */
export async function expireIfOverdue(m: EntityManager, orderId: string): Promise<boolean> {
  const order = await lockOrder(m, orderId);
  if (!order?.overdue) return false;
  await expireLocked(m, order);
  return true;
}
