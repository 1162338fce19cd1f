import { Router } from "express";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { isPaymentEvent, type PaymentProvider, type ProviderEvent } from "../../payments/providers/payment-provider.js";
import { receivePaymentEvent } from "../../payments/receive-payment-event.js";
import { verifyWebhookSignature } from "../../payments/webhook-signature.js";
import { receiveRefundEvent } from "../../refunds/receive-refund-event.js";
import { body } from "../validate.js";

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

/**
 * The provider's webhook. Mounted before the Bearer-key middleware: the
 * signature over the raw body is its authentication, checked before the body
 * is looked at (a bad one → 401, and nothing changes).
 */
export function webhooksRouter(
  ds: DataSource,
  deps: { webhookSecret: string; reservationTtlSeconds: number; logger: Logger; provider: PaymentProvider },
): Router {
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
  return r;
}
