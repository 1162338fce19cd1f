import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { paymentMetrics } from "../metrics/registry.js";
import type { EventOutcome } from "../payments/payment-store.js";
import { type DisputeEvent, isRefundEvent, type RefundEvent } from "../payments/providers/payment-provider.js";
import { settleDisputeSignal } from "./settle-dispute-signal.js";
import { settleRefundSignal } from "./settle-refund-signal.js";

/**
 * A provider event about a refund or a dispute from the generic webhook (its
 * signature checked, its body validated), applied at most once by
 * settleRefundSignal / settleDisputeSignal (one database call each, its own
 * transaction). Logged with its outcome; Prometheus counts after COMMIT.
 */
export async function receiveRefundEvent(ds: DataSource, event: RefundEvent | DisputeEvent, logger: Logger): Promise<EventOutcome> {
  const verdict = isRefundEvent(event)
    ? await settleRefundSignal(ds, {
        eventId: event.id,
        refundId: event.data.refundId,
        outcome: event.type === "refund.succeeded" ? "succeeded" : "failed",
        amountCents: event.data.amountCents,
      })
    : await settleDisputeSignal(ds, {
        eventId: event.id,
        paymentId: event.data.paymentId,
        disputeId: event.data.disputeId,
        kind: event.type === "dispute.funds_withdrawn" ? "funds_withdrawn" : "funds_reinstated",
        amountCents: event.data.amountCents,
      });
  paymentMetrics.webhookEvents.inc({ outcome: verdict.outcome });
  const entry = { eventId: event.id, type: event.type, refundId: verdict.refundId, outcome: verdict.outcome, reason: verdict.reason };
  if (verdict.outcome === "ignored") logger.warn(entry, "refund webhook ignored");
  else logger.info(entry, "refund webhook");
  return verdict.outcome;
}
