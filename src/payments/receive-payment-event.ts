import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { paymentMetrics } from "../metrics/registry.js";
import { submitRefund } from "../refunds/submit-refund.js";
import type { EventOutcome } from "./payment-store.js";
import type { PaymentEvent, PaymentProvider } from "./providers/payment-provider.js";
import { settlePaymentEvent } from "./settle-payment-event.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A provider event (its signature checked, its body validated), applied at
 * most once by settlePaymentEvent (one database call, its own transaction).
 * A success for an expired or failed payment creates a full refund
 * (`late_success`), requested from the provider after that COMMIT.
 * Every delivery is logged with event id, payment id and outcome; Prometheus
 * counts are taken after COMMIT, so a retried transaction is counted once.
 */
export async function receivePaymentEvent(
  ds: DataSource,
  event: PaymentEvent,
  deps: { reservationTtlSeconds: number; logger: Logger; provider: PaymentProvider },
): Promise<EventOutcome> {
  const claimedId = UUID.test(event.data.paymentId) ? event.data.paymentId.toLowerCase() : null;
  const verdict = await settlePaymentEvent(
    ds,
    { id: event.id, type: event.type, paymentId: claimedId, amountCents: event.data.amountCents },
    deps.reservationTtlSeconds,
  );
  paymentMetrics.webhookEvents.inc({ outcome: verdict.outcome });
  if (verdict.counted) paymentMetrics.purchaseCounterIncrements.inc();
  const entry = { eventId: event.id, paymentId: event.data.paymentId, type: event.type, outcome: verdict.outcome, reason: verdict.reason };
  if (verdict.outcome === "ignored") deps.logger.warn(entry, "payment webhook ignored");
  else deps.logger.info(entry, "payment webhook");
  // A late success's refund: asked for after COMMIT, in the background (the
  // webhook answers now; submitOwedRefunds recovers the call if it fails).
  const refundId = verdict.lateRefundId;
  if (refundId) {
    submitRefund(ds, deps.provider, refundId).catch((err: unknown) =>
      deps.logger.warn({ err, refundId }, "late-success refund request failed; the sweeper retries it"),
    );
  }
  return verdict.outcome;
}
