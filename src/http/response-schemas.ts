import { z } from "zod";

/**
 * Response shapes for the OpenAPI document. A resource's schema lives
 * beside its one renderer (src/orders/order-view.ts and the like), and its
 * TypeScript type is inferred from that schema, so the document, the type
 * and the renderer cannot drift apart.
 */
const timestamp = z.iso.datetime();

export const problemResponse = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string(),
  })
  .catchall(z.unknown())
  .meta({ id: "Problem", description: "RFC 9457 problem details; `code` is the stable machine-readable member." });

import { eventView } from "../events/event-view.js";

export { productView as productResponse } from "../inventory/product-view.js";
export { orderView as orderResponse } from "../orders/order-view.js";
export { paymentView as paymentResponse } from "../payments/payment-view.js";
export { refundView as refundResponse } from "../refunds/refund-view.js";

export const customerResponse = z
  .object({ id: z.uuid(), name: z.string(), apiKey: z.string(), createdAt: timestamp })
  .meta({ id: "CustomerWithKey", description: "The API key is shown here once and never again." });

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const webhookAck = z.object({ received: z.literal(true), outcome: z.enum(["processed", "duplicate", "ignored"]) });

const purchaseTotals = z.object({
  purchases: z.int(),
  revenueCents: z.int(),
  uniqueCustomers: z.int(),
  refunds: z.int(),
  refundedCents: z.int(),
  netRevenueCents: z.int(),
});
export const purchasesResponse = z.object({
  from: z.iso.date(),
  to: z.iso.date(),
  days: z.array(purchaseTotals.extend({ day: z.iso.date() })),
  totals: purchaseTotals,
});
const moneyCount = z.object({ purchases: z.int(), revenueCents: z.int(), refunds: z.int(), refundedCents: z.int() });
export const reconciliationResponse = z.object({
  checkedAt: timestamp,
  counters: moneyCount,
  events: moneyCount,
  drift: moneyCount,
  ok: z.boolean(),
});
export const sandboxAccepted = z.object({ paymentId: z.uuid(), type: z.string(), eventId: z.string(), deliveries: z.int() });
export const sandboxRefundAccepted = z.object({ refundId: z.uuid(), type: z.string(), eventId: z.string(), deliveries: z.int() });
export const sandboxDisputeAccepted = sandboxAccepted.extend({ disputeId: z.string() });

export const eventsPage = z.object({ items: z.array(eventView), nextCursor: z.string() });
