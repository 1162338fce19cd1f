import type { DataSource } from "typeorm";
import { sqlOne } from "../db/sql.js";
import { withRetry } from "../db/with-retry.js";
import { crashPoint } from "../fault-injection.js";
import { counterShardOf } from "../metrics/record-purchase.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import type { EventVerdict } from "./payment-store.js";

/**
 * The success signal (`payment.succeeded`) for one event, applied at most
 * once, as ONE database call that is its own transaction:
 * orderlock_confirm_payment (migration ConfirmPaymentFunction). In order:
 *   1. lock the payment row FOR UPDATE, then record the event id (primary
 *      key): an id already received → duplicate, nothing else happens;
 *   2. only a `pending` payment with the exact amount is applied: the payment
 *      becomes `succeeded` and the order `paid` (each a compare-and-swap on
 *      the version read under its lock), the order's held stock is sold
 *      (product rows locked in SKU order; onHand and reserved both drop),
 *      and the purchase counters move once (counted_payments' primary key is
 *      the dedupe key), last;
 *   3. already `succeeded` → duplicate. `failed` → ignored: a payment that
 *      failed has already given its order back to `reserved`; since then the
 *      customer may have started a new payment, cancelled, or let the hold
 *      expire, so there is no state this late success could consistently
 *      move to, and applying it could make an order paid twice. (The caller
 *      logs it as a warning: if money really moved, it is refunded by hand.)
 *      Unknown payment or amount mismatch → ignored.
 * Lock order: payment → order → products → counters, as everywhere. The
 * rows are held only within the one statement and its COMMIT. A lost
 * compare-and-swap is raised as 40001 and, like a deadlock, retries the whole
 * call; a crash before COMMIT leaves no trace, so the provider's redelivery
 * is processed as if it were the first.
 */
export async function confirmPayment(
  ds: DataSource,
  event: { id: string; paymentId: string | null; amountCents: number },
): Promise<EventVerdict> {
  const shard = event.paymentId ? counterShardOf(event.paymentId) : 0;
  crashPoint("confirm:before-statement", event.id);
  const verdict = await withRetry(async () => {
    const end = concurrencyMetrics.lockWait.startTimer({ path: "confirm" });
    try {
      return (await sqlOne<EventVerdict>(ds.manager, `SELECT * FROM orderlock_confirm_payment($1, $2, $3, $4)`, [
        event.id,
        event.paymentId,
        event.amountCents,
        shard,
      ]))!;
    } finally {
      end();
    }
  });
  crashPoint("confirm:after-commit", event.id);
  return verdict;
}
