import type { EntityManager } from "typeorm";
import { InternalConflictError } from "../errors.js";
import { lockOrder } from "../orders/order-store.js";
import { transitionOrder } from "../orders/transition-order.js";
import { type EventVerdict, type PaymentRow, settlePayment } from "./payment-store.js";

/**
 * `payment.failed`, applied inside the webhook's transaction to a payment row
 * the caller has locked FOR UPDATE; then the order row is locked (payment →
 * order, the global order). A `pending` payment with the exact amount becomes
 * `failed` and its order goes back to `reserved` with a fresh hold of
 * `reservationTtlSeconds`: the stock stays held (no product row is touched),
 * and the customer can pay again or cancel.
 *
 * - already `failed` → duplicate. Already `succeeded` → ignored (a paid order
 *   is final; a late failure cannot unpay it), logged.
 * - unknown payment or amount mismatch → ignored, logged.
 */
export async function failPayment(
  m: EntityManager,
  payment: PaymentRow | undefined,
  amountCents: number,
  reservationTtlSeconds: number,
): Promise<EventVerdict> {
  if (!payment) return { outcome: "ignored", reason: "unknown payment" };
  if (payment.status === "failed") return { outcome: "duplicate", reason: "payment already failed" };
  if (payment.status === "succeeded") return { outcome: "ignored", reason: "failure signal for a payment that already succeeded" };
  if (payment.amount_cents !== amountCents) {
    return { outcome: "ignored", reason: `amount mismatch: event ${amountCents}, payment ${payment.amount_cents}` };
  }

  const order = await lockOrder(m, payment.order_id);
  if (order?.status !== "pending_payment") {
    throw new Error(`invariant broken: pending payment ${payment.id} has order ${payment.order_id} in ${order?.status ?? "no"} status`);
  }
  const settled = await settlePayment(m, payment, "failed");
  if (!settled) throw new InternalConflictError(`payment ${payment.id}`); // impossible while we hold its row lock
  await transitionOrder(m, order, "reserved", { ttlSeconds: reservationTtlSeconds });
  return { outcome: "processed", reason: "payment failed; order reserved again" };
}
