import type { EntityManager } from "typeorm";
import type { RefundLine } from "../../entities/refund.entity.js";
import { InvalidStateError, NotFoundError, RefundExceedsPaymentError, ValidationError } from "../errors.js";
import { insertRefund, lockPayment, restockableLines } from "./refund-store.js";
import { type RefundView, renderRefund } from "./refund-view.js";

export type RefundRequest = { amountCents?: number; reason: string; lines?: RefundLine[] };

/**
 * Asks for (part of) a succeeded payment back (admin): a `pending` refund,
 * requested from the provider after COMMIT (the route does that; a sweeper
 * re-requests any whose call a crash cut short). Its amount defaults to what
 * is still refundable.
 *
 * Runs in the caller's transaction (the command runner's, which also stores
 * the Idempotency-Key answer). Locks: the payment row only (FOR UPDATE), the
 * lock every change to a payment's refunds holds, so concurrent requests are
 * serialised and each sees the amounts and restocked units the previous one
 * left; the CHECK payments_refunds_within_amount backs the cap whatever the
 * code does. Nothing else moves until the provider confirms.
 */
export async function requestRefund(m: EntityManager, paymentId: string, input: RefundRequest): Promise<RefundView> {
  const payment = await lockPayment(m, paymentId);
  if (!payment) throw new NotFoundError(`Payment ${paymentId}`);
  if (payment.status !== "succeeded") throw new InvalidStateError(`A ${payment.status} payment cannot be refunded.`);
  const refundableCents = payment.amountCents - payment.refundClaimedCents;
  const amountCents = input.amountCents ?? refundableCents;
  if (amountCents === 0 || amountCents > refundableCents) throw new RefundExceedsPaymentError(refundableCents);

  const lines = input.lines ?? [];
  if (lines.length > 0) {
    const left = new Map((await restockableLines(m, paymentId)).map((l) => [l.sku, l.bought - l.restocked]));
    const errors = lines.flatMap((l, i) => {
      const remaining = left.get(l.sku);
      if (remaining === undefined) return [{ path: `lines.${i}.sku`, message: `SKU ${l.sku} is not in the order` }];
      if (l.quantity > remaining) return [{ path: `lines.${i}.quantity`, message: `at most ${remaining} units remain restockable` }];
      return [];
    });
    if (errors.length > 0) throw new ValidationError(errors, "The refund's lines do not match what the order can give back.");
  }

  const refund = await insertRefund(m, {
    paymentId,
    orderId: payment.orderId,
    amountCents,
    currency: payment.currency,
    reason: input.reason,
    lines,
  });
  return renderRefund(refund);
}
