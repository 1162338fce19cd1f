import type { DataSource } from "typeorm";
import { counterShardOf } from "../metrics/counter-shards.js";
import { callRefundSettle, ourId, type RefundVerdict } from "./settle-refund-signal.js";

export type ProviderRefund = {
  /** The provider's event id: each is applied at most once. */
  eventId: string;
  /** Our payment id the provider refunded (Stripe: metadata.orderlock_payment_id). */
  paymentId: string;
  /** The provider's refund id: a refund we already know by it is settled, not created again. */
  providerRefundId: string;
  amountCents: number;
};

/**
 * A refund that succeeded at the provider and that we may never have asked
 * for (made in the provider's dashboard): ONE database call, its own
 * transaction (settle-refund.sql). Known by its provider id → settled like
 * any of ours (duplicate once settled); unknown → it becomes a refund here
 * (reason "made at the provider", no restock) and succeeds at once, within
 * what is still refundable (beyond that: `ignored`, logged for review).
 */
export async function recordProviderRefund(ds: DataSource, refund: ProviderRefund): Promise<RefundVerdict> {
  return callRefundSettle(ds, `SELECT * FROM orderlock_settle_refund($1, NULL, $2, $3, 'succeeded', $4, $5)`, [
    refund.eventId,
    refund.providerRefundId,
    ourId(refund.paymentId),
    refund.amountCents,
    counterShardOf(refund.providerRefundId),
  ]);
}
