import type { EntityManager } from "typeorm";
import { InternalConflictError } from "../errors.js";
import { convertReservedToSold } from "../inventory/stock-store.js";
import { recordPurchase } from "../metrics/record-purchase.js";
import { lockOrder } from "../orders/order-store.js";
import { transitionOrder } from "../orders/transition-order.js";
import { settlePayment, type EventVerdict, type PaymentRow } from "./payment-store.js";

/**
 * The success signal (`payment.succeeded`), applied inside the webhook's
 * transaction to a payment row the caller has locked FOR UPDATE. Further
 * locks, in the global order: the order row, then its product rows in SKU
 * order (convertReservedToSold), then the purchase counter row last.
 *
 * Only a `pending` payment with the exact amount is applied: the payment
 * becomes `succeeded` (version-guarded), the order `paid`, its held stock
 * sold (onHand and reserved both drop), and the purchase counters move once
 * (counted_payments' primary key is the dedupe key, so even a bug that got
 * here twice could not count a payment twice).
 *
 * - already `succeeded` → duplicate: nothing changes.
 * - `failed` → ignored: nothing changes. A payment that failed has already
 *   given its order back to `reserved`; since then the customer may have
 *   started a new payment, cancelled, or let the hold expire, so there is no
 *   state this late success could consistently move to, and applying it could
 *   make an order paid twice. The provider's word is still logged (warn) for
 *   an operator: if money really moved, it is refunded by hand.
 * - unknown payment or amount mismatch → ignored, logged.
 */
export async function confirmPayment(
  m: EntityManager,
  payment: PaymentRow | undefined,
  amountCents: number,
): Promise<EventVerdict> {
  if (!payment) return { outcome: "ignored", reason: "unknown payment" };
  if (payment.status === "succeeded") return { outcome: "duplicate", reason: "payment already succeeded" };
  if (payment.status === "failed") {
    return { outcome: "ignored", reason: "success signal for a payment that already failed; needs a manual refund if money moved" };
  }
  if (payment.amount_cents !== amountCents) {
    return { outcome: "ignored", reason: `amount mismatch: event ${amountCents}, payment ${payment.amount_cents}` };
  }

  const order = await lockOrder(m, payment.order_id);
  if (order?.status !== "pending_payment") {
    // A pending payment's order is pending_payment: both change only under the order row lock.
    throw new Error(`invariant broken: pending payment ${payment.id} has order ${payment.order_id} in ${order?.status ?? "no"} status`);
  }
  const settled = await settlePayment(m, payment, "succeeded");
  if (!settled) throw new InternalConflictError(`payment ${payment.id}`); // impossible while we hold its row lock
  await transitionOrder(m, order, "paid");
  await convertReservedToSold(m, order.lines);
  const counted = await recordPurchase(m, { paymentId: payment.id, customerId: payment.customer_id, amountCents: payment.amount_cents });
  return { outcome: "processed", reason: "payment succeeded; order paid", counted };
}
