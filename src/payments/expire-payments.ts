import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { appendEvents } from "../events/append-event.js";
import { releaseStock } from "../inventory/move-reservations.js";
import { lockOrders } from "../orders/order-store.js";
import { transitionOrder } from "../orders/transition-order.js";
import { lockOverduePayments, markCancelledAtProvider, markPaymentsExpired, paymentsAwaitingCancel } from "./payment-store.js";
import type { PaymentProvider } from "./providers/payment-provider.js";

/**
 * The payment expiry sweeper. A payment still `pending` at `expiresAt`
 * becomes `expired`, its order `expired` and the order's stock released, with
 * the events payment.expired and order.expired, all in ONE transaction per
 * batch: no read sees the payment expired and its stock still held, or the
 * other way round. Locks, in the one global order: the payments (FOR UPDATE
 * SKIP LOCKED: instances split the work, and a payment a webhook is settling
 * is left for the next tick), then their orders (by id), then the product
 * rows (one SKU-ordered release for the whole batch).
 *
 * Then, after COMMIT, the provider's side of each expired payment is
 * cancelled (idempotent), and the cancellation recorded. Every pass also
 * cancels whatever an earlier pass owed (a crash between COMMIT and the
 * call), so no provider payment stays payable for long. A success that
 * still arrives is refunded in full (settle-payment.sql, `late_success`).
 */
export async function expirePayments(
  ds: DataSource,
  provider: PaymentProvider,
  logger: Logger,
  batchSize = 100,
): Promise<{ expired: number; cancelled: number }> {
  let expired = 0;
  for (;;) {
    const n = await inTransaction(ds, async (m) => {
      const payments = await lockOverduePayments(m, batchSize);
      if (payments.length === 0) return 0;
      const orders = await lockOrders(
        m,
        payments.map((p) => p.orderId),
      );
      await markPaymentsExpired(
        m,
        payments.map((p) => p.id),
      );
      for (const order of orders) await transitionOrder(m, order, "expired", null);
      await releaseStock(
        m,
        orders.flatMap((o) => o.lines),
        "expire",
      );
      await appendEvents(
        m,
        "payment.expired",
        payments.map((p) => p.id),
      );
      await appendEvents(
        m,
        "order.expired",
        orders.map((o) => o.id),
      );
      return payments.length;
    });
    expired += n;
    if (n < batchSize) break;
  }
  return { expired, cancelled: await cancelOwed(ds, provider, logger, batchSize) };
}

async function cancelOwed(ds: DataSource, provider: PaymentProvider, logger: Logger, batchSize: number): Promise<number> {
  let cancelled = 0;
  for (const p of await paymentsAwaitingCancel(ds, batchSize)) {
    try {
      await provider.cancelPayment(p);
      await markCancelledAtProvider(ds, p.paymentId, p.providerPaymentId);
      cancelled += 1;
    } catch (err) {
      logger.warn({ err, paymentId: p.paymentId }, "cancelling an expired payment at the provider failed; will retry");
    }
  }
  return cancelled;
}
