import Stripe from "stripe";
import { z } from "zod";
import { InvalidSignatureError } from "../../errors.js";
import { paymentMetrics } from "../../metrics/registry.js";
import { SIGNATURE_TOLERANCE_SECONDS } from "../webhook-signature.js";
import type { PaymentEventType } from "./payment-provider.js";

/**
 * Stripe's events, read: the signature checked by the SDK, then each event
 * type we act on mapped to a plain signal. Pure (no database): what a
 * signal does is decided by receive-stripe-event.ts and the use cases it calls.
 */

/**
 * The event in `rawBody`, if `header` (Stripe-Signature) signs exactly those
 * bytes with any of `secrets` (a rotation has two) within 300 s; otherwise
 * 401 invalid_signature. The SDK verifies (stripe.webhooks.constructEvent).
 */
export function verifyStripeEvent(secrets: readonly string[], header: string | undefined, rawBody: Buffer | undefined): unknown {
  if (header && rawBody && rawBody.length > 0) {
    for (const secret of secrets) {
      try {
        return Stripe.webhooks.constructEvent(rawBody, header, secret, SIGNATURE_TOLERANCE_SECONDS);
      } catch {
        // not this secret (or not signed at all): try the next
      }
    }
  }
  paymentMetrics.webhookEvents.inc({ outcome: "invalid_signature" });
  throw new InvalidSignatureError(
    secrets.length === 0
      ? "No Stripe webhook secret is configured, so no Stripe-Signature can be valid."
      : "The Stripe-Signature header is missing, wrong, or outside the 300 s tolerance.",
  );
}

/** The envelope of every Stripe event (snapshot events); the object is read per type below. */
export const stripeEventBody = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEventBody = z.infer<typeof stripeEventBody>;

/** An id, or the expanded object carrying it. */
const idOf = z
  .union([z.string(), z.object({ id: z.string() }).transform((o) => o.id)])
  .nullish()
  .transform((v) => v ?? null);
const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {});
const cents = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

const paymentIntent = z.object({
  id: z.string(),
  amount: cents,
  amount_received: cents.nullish(),
  currency: z.string(),
  metadata,
});
const refund = z.object({
  id: z.string(),
  amount: cents,
  currency: z.string(),
  status: z.string().nullish(),
  metadata,
  payment_intent: idOf,
});
const charge = z.object({
  id: z.string(),
  payment_intent: idOf,
  refunds: z.object({ data: z.array(refund) }).nullish(),
});
const dispute = z.object({ id: z.string(), amount: cents, currency: z.string(), payment_intent: idOf });

/** A PaymentIntent's outcome, as our generic payment event. */
export type StripePaymentSignal = {
  kind: "payment";
  eventId: string;
  type: PaymentEventType;
  /** metadata.orderlock_payment_id, if the intent carries one. */
  claimedPaymentId: string | null;
  providerPaymentId: string;
  amountCents: number;
  /** Upper case, as our payments store it. */
  currency: string;
};
/** A Stripe refund reaching a final state: ours (metadata.orderlock_refund_id) or one made in Stripe's dashboard (refundId null). */
export type StripeRefundSignal = {
  kind: "refund";
  eventId: string;
  refundId: string | null;
  providerRefundId: string;
  providerPaymentId: string | null;
  amountCents: number;
  currency: string;
  outcome: "succeeded" | "failed";
};
/** Funds taken back by a chargeback, or given back after a won dispute. */
export type StripeDisputeSignal = {
  kind: "dispute_withdrawn" | "dispute_reinstated";
  eventId: string;
  disputeId: string;
  providerPaymentId: string | null;
  amountCents: number;
  currency: string;
};
export type StripeSignal =
  | StripePaymentSignal
  | StripeRefundSignal
  | StripeDisputeSignal
  | { kind: "ignored"; eventId: string; reason: string };

const PAYMENT_TYPES: Record<string, PaymentEventType> = {
  "payment_intent.succeeded": "payment.succeeded",
  "payment_intent.payment_failed": "payment.failed",
  // A cancelled intent can no longer be paid: for a payment still pending that is its failure
  // (the order goes back to `reserved`); for one that expired here (we cancelled it) it changes nothing.
  "payment_intent.canceled": "payment.failed",
};

/** Refund statuses that are final: succeeded, or failed/canceled (the money stays with the merchant... or returns to it). */
function refundOutcome(status: string | null | undefined): "succeeded" | "failed" | null {
  if (status === "succeeded") return "succeeded";
  if (status === "failed" || status === "canceled") return "failed";
  return null; // pending, requires_action: a later refund.updated settles it
}

/**
 * What a verified event asks of us: zero or more signals (charge.refunded
 * may carry several refunds). Every other type, an object that does not
 * read as its type says, or a refund not yet final → one `ignored` signal.
 */
export function mapStripeEvent(event: StripeEventBody): StripeSignal[] {
  const ignored = (reason: string): StripeSignal[] => [{ kind: "ignored", eventId: event.id, reason }];
  const object = event.data.object;
  const paymentType = PAYMENT_TYPES[event.type];
  if (paymentType) {
    const pi = paymentIntent.safeParse(object);
    if (!pi.success) return ignored(`${event.type}: not a PaymentIntent`);
    const amountCents = event.type === "payment_intent.succeeded" ? (pi.data.amount_received ?? 0) : pi.data.amount;
    return [
      {
        kind: "payment",
        eventId: event.id,
        type: paymentType,
        claimedPaymentId: pi.data.metadata.orderlock_payment_id ?? null,
        providerPaymentId: pi.data.id,
        amountCents,
        currency: pi.data.currency.toUpperCase(),
      },
    ];
  }
  if (event.type === "refund.updated") {
    const re = refund.safeParse(object);
    if (!re.success) return ignored("refund.updated: not a Refund");
    const signal = refundSignal(event.id, re.data);
    return signal ? [signal] : ignored(`refund ${re.data.id} is ${re.data.status ?? "in no state"}, not final`);
  }
  if (event.type === "charge.refunded") {
    const ch = charge.safeParse(object);
    if (!ch.success) return ignored("charge.refunded: not a Charge");
    // Since API version 2022-11-15 a Charge's refunds are not included unless expanded: then
    // refund.updated carries each refund. Several refunds in one event get one id each.
    const refunds = ch.data.refunds?.data ?? [];
    const signals = refunds
      .map((r) =>
        refundSignal(refunds.length === 1 ? event.id : `${event.id}/${r.id}`, {
          ...r,
          payment_intent: r.payment_intent ?? ch.data.payment_intent,
        }),
      )
      .filter((s): s is StripeRefundSignal => s !== null);
    return signals.length > 0 ? signals : ignored(`charge.refunded: charge ${ch.data.id} lists no final refund`);
  }
  if (event.type === "charge.dispute.funds_withdrawn" || event.type === "charge.dispute.funds_reinstated") {
    const dp = dispute.safeParse(object);
    if (!dp.success) return ignored(`${event.type}: not a Dispute`);
    return [
      {
        kind: event.type === "charge.dispute.funds_withdrawn" ? "dispute_withdrawn" : "dispute_reinstated",
        eventId: event.id,
        disputeId: dp.data.id,
        providerPaymentId: dp.data.payment_intent,
        amountCents: dp.data.amount,
        currency: dp.data.currency.toUpperCase(),
      },
    ];
  }
  return ignored(`event type ${event.type} is not one we act on`);
}

function refundSignal(eventId: string, re: z.infer<typeof refund>): StripeRefundSignal | null {
  const outcome = refundOutcome(re.status);
  if (!outcome) return null;
  return {
    kind: "refund",
    eventId,
    refundId: re.metadata.orderlock_refund_id ?? null,
    providerRefundId: re.id,
    providerPaymentId: re.payment_intent,
    amountCents: re.amount,
    currency: re.currency.toUpperCase(),
    outcome,
  };
}
