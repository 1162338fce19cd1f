import { Router } from "express";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { isPaymentEvent, type PaymentProvider, type ProviderEvent } from "../../payments/providers/payment-provider.js";
import { stripeEventBody, verifyStripeEvent } from "../../payments/providers/stripe-events.js";
import { receivePaymentEvent } from "../../payments/receive-payment-event.js";
import { receiveStripeEvent, type StripeRefundSink } from "../../payments/receive-stripe-event.js";
import { verifyWebhookSignature } from "../../payments/webhook-signature.js";
import { receiveRefundEvent } from "../../refunds/receive-refund-event.js";
import { body, parseWith } from "../validate.js";

const eventId = z.string().min(1).max(255);
const ref = z.string().min(1).max(255);
const amountCents = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Extra members a provider adds are tolerated (and dropped); the ones we act
 * on are checked. `dispute.*` is our extension of the contract's generic
 * webhook (docs/payments.md).
 */
export const paymentEventBody = z.discriminatedUnion("type", [
  z.object({ id: eventId, type: z.enum(["payment.succeeded", "payment.failed"]), data: z.object({ paymentId: ref, amountCents }) }),
  z.object({ id: eventId, type: z.enum(["refund.succeeded", "refund.failed"]), data: z.object({ refundId: ref, amountCents }) }),
  z.object({
    id: eventId,
    type: z.enum(["dispute.funds_withdrawn", "dispute.funds_reinstated"]),
    data: z.object({ paymentId: ref, disputeId: ref, amountCents }),
  }),
]);

export type WebhooksDeps = {
  webhookSecret: string;
  reservationTtlSeconds: number;
  logger: Logger;
  currency: string;
  /** The payment provider: a late success's automatic refund is requested from it after the commit. */
  provider: PaymentProvider;
  /** STRIPE_WEBHOOK_SECRET, split: any of them signs a valid Stripe event; none configured → every Stripe event is 401. */
  stripeWebhookSecrets?: string[];
  stripeRefundSink?: StripeRefundSink;
};

/**
 * The providers' webhooks. Mounted before the Bearer-key middleware: the
 * signature over the raw body is their authentication, checked before the
 * body is looked at (a bad one → 401, and nothing changes).
 */
export function webhooksRouter(ds: DataSource, deps: WebhooksDeps): Router {
  const r = Router();
  r.post("/v1/webhooks/payments", async (req, res) => {
    verifyWebhookSignature(deps.webhookSecret, req.get("Payment-Signature"), req.rawBody);
    const event: ProviderEvent = body(req, paymentEventBody);
    const logger = req.log ?? deps.logger;
    const outcome = isPaymentEvent(event)
      ? await receivePaymentEvent(ds, event, { reservationTtlSeconds: deps.reservationTtlSeconds, logger, provider: deps.provider })
      : await receiveRefundEvent(ds, event, logger);
    res.json({ received: true, outcome });
  });
  // Stripe's own scheme (Stripe-Signature), verified by its SDK. Any type we do not act on is
  // 200 `ignored`: Stripe retries anything but a 2xx for days.
  r.post("/v1/webhooks/stripe", async (req, res) => {
    const verified = verifyStripeEvent(deps.stripeWebhookSecrets ?? [], req.get("Stripe-Signature"), req.rawBody);
    const event = parseWith(stripeEventBody, verified);
    const outcome = await receiveStripeEvent(ds, event, {
      currency: deps.currency,
      reservationTtlSeconds: deps.reservationTtlSeconds,
      logger: req.log ?? deps.logger,
      provider: deps.provider,
      refundSink: deps.stripeRefundSink,
    });
    res.json({ received: true, outcome });
  });
  return r;
}
