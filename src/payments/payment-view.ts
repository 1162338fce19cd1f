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
  .meta({
    id: "Payment",
    examples: [
      {
        id: "9d4c1b7e-2f3a-4e8d-b6c5-1a0f9e8d7c6b",
        orderId: "0b8f6a52-4d1e-4f7a-9a37-3f0c2d9a1e55",
        amountCents: 2500,
        currency: "USD",
        status: "pending",
        provider: "sandbox",
        providerPaymentId: "sbx_9d4c1b7e2f3a4e8d",
        clientSecret: null,
        refundedCents: 0,
        expiresAt: "2026-12-01T10:32:11.000Z",
        version: 1,
        createdAt: "2026-12-01T10:02:11.000Z",
        updatedAt: "2026-12-01T10:02:11.000Z",
      },
    ],
  });
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
