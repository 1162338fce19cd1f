import type { DataSource } from "typeorm";
import { recordProviderRefund } from "../refunds/record-provider-refund.js";
import { settleDisputeSignal } from "../refunds/settle-dispute-signal.js";
import { settleRefundSignal } from "../refunds/settle-refund-signal.js";
import type { StripeRefundSink } from "./receive-stripe-event.js";

/**
 * Stripe's refund and dispute events, mapped to plain inputs by
 * receive-stripe-event.ts, applied by the refund use cases (each one database
 * call, deduplicated by event id). An event about a payment that is not ours
 * changes nothing: `ignored`.
 */
export function stripeRefundSinkFor(ds: DataSource): StripeRefundSink {
  return {
    settleRefund: async (i) =>
      (
        await settleRefundSignal(ds, {
          eventId: i.eventId,
          refundId: i.refundId,
          providerRefundId: i.providerRefundId,
          outcome: i.outcome,
          amountCents: i.amountCents,
        })
      ).outcome,
    recordProviderRefund: async (i) =>
      i.paymentId === null
        ? "ignored"
        : (
            await recordProviderRefund(ds, {
              eventId: i.eventId,
              paymentId: i.paymentId,
              providerRefundId: i.providerRefundId,
              amountCents: i.amountCents,
            })
          ).outcome,
    disputeWithdrawn: async (i) =>
      i.paymentId === null ? "ignored" : (await settleDisputeSignal(ds, { ...i, paymentId: i.paymentId, kind: "funds_withdrawn" })).outcome,
    disputeReinstated: async (i) =>
      i.paymentId === null
        ? "ignored"
        : (await settleDisputeSignal(ds, { ...i, paymentId: i.paymentId, kind: "funds_reinstated" })).outcome,
  };
}
