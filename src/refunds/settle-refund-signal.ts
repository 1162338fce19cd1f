import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { withRetry } from "../db/with-retry.js";
import { counterShardOf } from "../metrics/counter-shards.js";
import type { EventVerdict } from "../payments/payment-store.js";

export type RefundSignal = {
  /** The provider's event id: each is applied at most once. */
  eventId: string;
  /** Our refund id (the generic webhook; Stripe's metadata.orderlock_refund_id) ... */
  refundId?: string | null;
  /** ... or the provider's refund id, when ours is not known to the caller. */
  providerRefundId?: string | null;
  outcome: "succeeded" | "failed";
  amountCents: number;
};
export type RefundVerdict = EventVerdict & { refundId: string | null };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An id that is not a UUID names nothing of ours (the signal is then `ignored`), never a 500. */
export const ourId = (id: string | null | undefined): string | null => (id && UUID.test(id) ? id.toLowerCase() : null);

type SettleRow = { outcome: EventVerdict["outcome"]; reason: string; refund_id: string | null; counted: boolean };

/** One call of a refund settle function: its own transaction, retried whole on 40001/40P01 only. */
export async function callRefundSettle(ds: DataSource, text: string, params: unknown[]): Promise<RefundVerdict> {
  const { rows } = await withRetry(() => callOnce<SettleRow>(ds, text, params));
  const r = rows[0];
  return { outcome: r.outcome, reason: r.reason, counted: r.counted, refundId: r.refund_id };
}

/**
 * The provider's verdict on one of our refunds (refund.succeeded /
 * refund.failed), applied at most once per event id and once per refund,
 * as ONE database call that is its own transaction:
 * orderlock_settle_refund (settle-refund.sql, the one definition of the
 * refund verdict; its effects are apply-refund.sql's). Succeeded: payment and
 * order refundedCents grow, restock lines go back on hand, counters take
 * their compensating entry (counted payments only). Failed: the amount is
 * refundable again. A signal for a settled refund is `duplicate`; for an
 * unknown refund or another amount, `ignored`.
 */
export async function settleRefundSignal(ds: DataSource, signal: RefundSignal): Promise<RefundVerdict> {
  return callRefundSettle(ds, `SELECT * FROM orderlock_settle_refund($1, $2, $3, NULL, $4, $5, $6)`, [
    signal.eventId,
    ourId(signal.refundId),
    signal.providerRefundId ?? null,
    signal.outcome,
    signal.amountCents,
    counterShardOf(signal.refundId ?? signal.eventId),
  ]);
}
