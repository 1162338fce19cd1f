import type { DataSource } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { appendEvents } from "../events/append-event.js";
import { releaseStock } from "../inventory/move-reservations.js";
import { lockOverdueOrders } from "./order-store.js";
import { transitionOrder } from "./transition-order.js";

/**
 * The expiry sweeper. A `reserved` order past `reservedUntil` becomes
 * `expired` and its stock is released in the same transaction, so no read
 * ever sees the hold both gone and still counted, or counted twice. (Reads
 * already show such an order as expired; this makes it so in the database.)
 *
 * It may run on every instance at once: it takes overdue order rows with
 * FOR UPDATE SKIP LOCKED (order rows before product rows, as everywhere), so
 * instances split the work and never wait on each other. Orders awaiting
 * payment (`pending_payment`) are never expired here.
 */
export async function expireReservations(ds: DataSource, batchSize = 100): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await inTransaction(ds, async (m) => {
      const overdue = await lockOverdueOrders(m, batchSize);
      for (const order of overdue) await transitionOrder(m, order, "expired", null);
      // One release for the whole batch: its product rows are then locked in
      // one SKU-ordered statement, like everyone else's, not order by order
      // (which could take SKU "B" before "A" and deadlock with a new order).
      await releaseStock(
        m,
        overdue.flatMap((o) => o.lines),
        "expire",
      );
      await appendEvents(
        m,
        "order.expired",
        overdue.map((o) => o.id),
      );
      return overdue.length;
    });
    total += n;
    if (n < batchSize) return total;
  }
}
