import type { DataSource } from "typeorm";
import { counterShardOf } from "../metrics/counter-shards.js";
import { callRefundSettle, ourId, type RefundVerdict } from "./settle-refund-signal.js";

export type DisputeSignal = {
  /** The provider's event id: each is applied at most once. */
  eventId: string;
  /** Our payment id (the generic webhook; Stripe: the PaymentIntent's metadata.orderlock_payment_id). */
  paymentId: string;
  /** The provider's dispute id: one dispute refund per dispute. */
  disputeId: string;
  kind: "funds_withdrawn" | "funds_reinstated";
  amountCents: number;
};

/**
 * A chargeback, applied at most once per event id and once per dispute, as
 * ONE database call that is its own transaction (settle-dispute.sql).
 * funds_withdrawn: a succeeded refund with reason `dispute`, no restock
 * (payment and order refundedCents grow, counters take their compensating
 * entry). funds_reinstated: that refund becomes `reversed`, the amounts go
 * back, and its counter entry is reversed on the reinstatement's UTC day.
 */
export async function settleDisputeSignal(ds: DataSource, signal: DisputeSignal): Promise<RefundVerdict> {
  return callRefundSettle(ds, `SELECT * FROM orderlock_settle_dispute($1, $2, $3, $4, $5, $6)`, [
    signal.eventId,
    ourId(signal.paymentId),
    signal.disputeId,
    signal.kind,
    signal.amountCents,
    counterShardOf(signal.disputeId),
  ]);
}
