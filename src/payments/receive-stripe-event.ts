import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { paymentMetrics } from "../metrics/registry.js";
import type { EventOutcome } from "./payment-store.js";
import type { PaymentProvider } from "./providers/payment-provider.js";
import { mapStripeEvent, type StripeEventBody, type StripeSignal } from "./providers/stripe-events.js";
import { receivePaymentEvent } from "./receive-payment-event.js";

/** A refund Stripe settled that we asked for (metadata.orderlock_refund_id). */
export type StripeRefundSettlement = {
  eventId: string;
  refundId: string;
  providerRefundId: string;
  /** Our payment, found by the refund's PaymentIntent; null if none of ours. */
  paymentId: string | null;
  amountCents: number;
  outcome: "succeeded" | "failed";
};
/** A refund made in Stripe's dashboard (no metadata of ours), succeeded: it becomes a refund here, without restock. */
export type StripeProviderRefund = {
  eventId: string;
  refundId: null;
  providerRefundId: string;
  paymentId: string | null;
  amountCents: number;
  outcome: "succeeded";
};
/** Funds withdrawn by a chargeback, or reinstated after a won dispute. */
export type StripeDisputeFunds = {
  eventId: string;
  disputeId: string;
  paymentId: string | null;
  providerPaymentId: string | null;
  amountCents: number;
};

/**
 * Where Stripe's refund and dispute events go: the refund use cases. Each
 * method applies its input at most once (deduplicated by event id, and by
 * refund / dispute id) in its own transaction and says what it did, as the
 * generic webhook would. Wired in app.ts; unset, those events are answered
 * `ignored` and logged as errors.
 */
export interface StripeRefundSink {
  settleRefund(input: StripeRefundSettlement): Promise<EventOutcome>;
  recordProviderRefund(input: StripeProviderRefund): Promise<EventOutcome>;
  disputeWithdrawn(input: StripeDisputeFunds): Promise<EventOutcome>;
  disputeReinstated(input: StripeDisputeFunds): Promise<EventOutcome>;
}

export type ReceiveStripeEventDeps = {
  currency: string;
  reservationTtlSeconds: number;
  logger: Logger;
  /** A late success's automatic refund is requested from it. */
  provider: PaymentProvider;
  refundSink?: StripeRefundSink;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A verified Stripe event, applied with the same effects and outcomes as
 * the generic webhook: payment_intent.* through receivePaymentEvent (the one
 * payment verdict, deduplicated by the Stripe event id in payment_events),
 * refunds and disputes through the sink. Reads to find our payment are
 * single statements outside any transaction; every decision is taken again
 * under the use case's own locks.
 */
export async function receiveStripeEvent(ds: DataSource, event: StripeEventBody, deps: ReceiveStripeEventDeps): Promise<EventOutcome> {
  const outcomes: EventOutcome[] = [];
  for (const signal of mapStripeEvent(event)) outcomes.push(await applySignal(ds, signal, deps));
  return outcomes.includes("processed") ? "processed" : outcomes.includes("duplicate") ? "duplicate" : "ignored";
}

async function applySignal(ds: DataSource, signal: StripeSignal, deps: ReceiveStripeEventDeps): Promise<EventOutcome> {
  const log = deps.logger;
  const ignore = (reason: string, extra: Record<string, unknown> = {}): EventOutcome => {
    paymentMetrics.webhookEvents.inc({ outcome: "ignored" });
    log.warn({ eventId: signal.eventId, ...extra, reason }, "stripe webhook ignored");
    return "ignored";
  };
  if (signal.kind === "ignored") return ignore(signal.reason);
  if (signal.currency !== deps.currency) return ignore(`currency ${signal.currency}, not ${deps.currency}`, { kind: signal.kind });

  if (signal.kind === "payment") {
    const paymentId = await ourPayment(ds, signal.claimedPaymentId, signal.providerPaymentId);
    return receivePaymentEvent(
      ds,
      { id: signal.eventId, type: signal.type, data: { paymentId: paymentId ?? "", amountCents: signal.amountCents } },
      { reservationTtlSeconds: deps.reservationTtlSeconds, logger: log, provider: deps.provider },
    );
  }

  const sink = deps.refundSink;
  if (!sink) {
    log.error({ eventId: signal.eventId, kind: signal.kind }, "stripe refund/dispute event received but no refund sink is wired");
    return ignore("no refund sink");
  }
  const paymentId = signal.providerPaymentId ? await ourPayment(ds, null, signal.providerPaymentId) : null;
  if (signal.kind === "refund") {
    const { eventId, refundId, providerRefundId, amountCents, outcome } = signal;
    if (refundId !== null) return sink.settleRefund({ eventId, refundId, providerRefundId, paymentId, amountCents, outcome });
    if (outcome !== "succeeded") return ignore("a dashboard refund that did not succeed moves nothing", { refund: providerRefundId });
    return sink.recordProviderRefund({ eventId, refundId: null, providerRefundId, paymentId, amountCents, outcome });
  }
  const funds = {
    eventId: signal.eventId,
    disputeId: signal.disputeId,
    paymentId,
    providerPaymentId: signal.providerPaymentId,
    amountCents: signal.amountCents,
  };
  return signal.kind === "dispute_withdrawn" ? sink.disputeWithdrawn(funds) : sink.disputeReinstated(funds);
}

/**
 * Our payment for a PaymentIntent: the one its metadata names, unless that
 * payment already has another intent (then none); else the payment that
 * has this intent. Null: none of ours.
 */
async function ourPayment(ds: DataSource, claimedId: string | null, providerPaymentId: string): Promise<string | null> {
  if (claimedId !== null && UUID.test(claimedId)) {
    const { rows } = await callOnce<{ id: string; provider: string; provider_payment_id: string | null }>(
      ds,
      `SELECT id, provider, provider_payment_id FROM payments WHERE id = $1`,
      [claimedId.toLowerCase()],
    );
    const p = rows[0];
    if (p && p.provider === "stripe" && (p.provider_payment_id === null || p.provider_payment_id === providerPaymentId)) return p.id;
    if (p) return null;
  }
  const { rows } = await callOnce<{ id: string }>(ds, `SELECT id FROM payments WHERE provider = 'stripe' AND provider_payment_id = $1`, [
    providerPaymentId,
  ]);
  return rows[0]?.id ?? null;
}
