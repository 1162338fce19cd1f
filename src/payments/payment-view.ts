import { z } from "zod";
import type { Payment } from "../../entities/payment.entity.js";

const timestamp = z.iso.datetime();

/** A payment as the API shows it; the OpenAPI document describes it with this schema. */
export const paymentView = z
  .object({
    id: z.uuid(),
    orderId: z.uuid(),
    amountCents: z.int(),
    currency: z.string(),
    status: z.enum(["pending", "succeeded", "failed", "expired"]),
    provider: z.string(),
    providerPaymentId: z.string().nullable(),
    clientSecret: z.string().nullable(),
    refundedCents: z.int(),
    expiresAt: timestamp,
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Payment" });
export type PaymentView = z.infer<typeof paymentView>;

/** The one rendering of a payment. */
export function renderPayment(p: Payment): PaymentView {
  return {
    id: p.id,
    orderId: p.orderId,
    amountCents: p.amountCents,
    currency: p.currency,
    status: p.status,
    provider: p.provider,
    providerPaymentId: p.providerPaymentId,
    clientSecret: p.clientSecret,
    refundedCents: p.refundedCents,
    expiresAt: p.expiresAt.toISOString(),
    version: p.version,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
