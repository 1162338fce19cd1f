import { Router } from "express";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { receivePaymentEvent } from "../../payments/receive-payment-event.js";
import { verifyWebhookSignature } from "../../payments/webhook-signature.js";
import { body } from "../validate.js";

/** Extra members a provider adds are tolerated (and dropped); the ones we act on are checked. */
export const paymentEventBody = z.object({
  id: z.string().min(1).max(255),
  type: z.enum(["payment.succeeded", "payment.failed"]),
  data: z.object({
    paymentId: z.string().min(1).max(255),
    amountCents: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  }),
});

/**
 * The provider's webhook. Mounted before the Bearer-key middleware: the
 * signature over the raw body is its authentication, checked before the body
 * is looked at (a bad one → 401, and nothing changes).
 */
export function webhooksRouter(ds: DataSource, deps: { webhookSecret: string; reservationTtlSeconds: number; logger: Logger }): Router {
  const r = Router();
  r.post("/v1/webhooks/payments", async (req, res) => {
    verifyWebhookSignature(deps.webhookSecret, req.get("Payment-Signature"), req.rawBody);
    const event = body(req, paymentEventBody);
    const outcome = await receivePaymentEvent(ds, event, {
      reservationTtlSeconds: deps.reservationTtlSeconds,
      logger: req.log ?? deps.logger,
    });
    res.json({ received: true, outcome });
  });
  return r;
}
