import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { lockOrder } from "../orders/order-store.js";
import { transitionOrder } from "../orders/transition-order.js";
import { insertPayment } from "./payment-store.js";
import { type PaymentView, renderPayment } from "./payment-view.js";
import type { PaymentProvider } from "./providers/payment-provider.js";

/**
 * Starts paying for an order: a `pending` payment for the order's total,
 * expiring `paymentTtlSeconds` from now, and the order moves `reserved` →
 * `pending_payment` with its hold moved to the payment's expiry (its stock
 * stays held; cancel cannot touch it; the payment's expiry releases it).
 *
 * Runs in the caller's transaction (the command runner's, which also stores
 * the Idempotency-Key response). Locks: the order row only (FOR UPDATE). Under
 * that lock the order must be `reserved` and within its hold; so of any number
 * of racing requests exactly one creates a payment and the rest get 409
 * invalid_state, and a cancel racing this one either wins (we see `cancelled`)
 * or loses (it sees `pending_payment`). The partial unique index
 * payments_one_pending_per_order backs the same rule in the schema.
 */
export async function createPayment(
  m: EntityManager,
  caller: Caller,
  orderId: string,
  deps: { currency: string; provider: PaymentProvider; paymentTtlSeconds: number },
): Promise<PaymentView> {
  const order = await lockOrder(m, orderId, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${orderId}`);
  if (order.status !== "reserved" || order.overdue) {
    throw new InvalidStateError(
      order.overdue ? "The order's hold has expired; it can no longer be paid." : `A ${order.status} order cannot be paid.`,
    );
  }
  const id = randomUUID();
  const payment = await insertPayment(m, {
    id,
    orderId: order.id,
    customerId: order.customerId,
    amountCents: order.totalCents,
    currency: deps.currency,
    provider: deps.provider.name,
    providerPaymentId: deps.provider.newProviderPaymentId(id),
    ttlSeconds: deps.paymentTtlSeconds,
  });
  await transitionOrder(m, order, "pending_payment", payment.expiresAt);
  return renderPayment(payment);
}
