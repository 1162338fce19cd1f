import { z } from "zod";
import type { Refund } from "../../entities/refund.entity.js";

const timestamp = z.iso.datetime();

/** A refund as the API shows it; the OpenAPI document describes it with this schema. */
export const refundView = z
  .object({
    id: z.uuid(),
    paymentId: z.uuid(),
    orderId: z.uuid(),
    amountCents: z.int(),
    currency: z.string(),
    reason: z.string(),
    status: z.enum(["pending", "succeeded", "failed", "reversed"]),
    lines: z.array(z.object({ sku: z.string(), quantity: z.int(), restock: z.boolean() })),
    providerRefundId: z.string().nullable(),
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Refund" });
export type RefundView = z.infer<typeof refundView>;

/** The one rendering of a refund. */
export function renderRefund(r: Refund): RefundView {
  return {
    id: r.id,
    paymentId: r.paymentId,
    orderId: r.orderId,
    amountCents: r.amountCents,
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    lines: r.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, restock: l.restock })),
    providerRefundId: r.providerRefundId,
    version: r.version,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
