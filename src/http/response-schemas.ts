import { z } from "zod";

/**
 * Response shapes, for the OpenAPI document only (responses are built by
 * the use cases' view functions; these describe them for clients).
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

export const productResponse = z
  .object({
    sku: z.string(),
    name: z.string(),
    priceCents: z.int(),
    onHand: z.int(),
    reserved: z.int(),
    available: z.int(),
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Product" });

export const orderResponse = z
  .object({
    id: z.uuid(),
    customerId: z.uuid(),
    status: z.enum(["reserved", "pending_payment", "paid", "cancelled", "expired"]),
    lines: z.array(z.object({ sku: z.string(), quantity: z.int(), unitPriceCents: z.int(), lineTotalCents: z.int() })),
    totalCents: z.int(),
    version: z.int(),
    reservedUntil: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Order" });

export const paymentResponse = z
  .object({
    id: z.uuid(),
    orderId: z.uuid(),
    amountCents: z.int(),
    currency: z.string(),
    status: z.enum(["pending", "succeeded", "failed"]),
    provider: z.string(),
    providerPaymentId: z.string(),
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Payment" });

export const customerResponse = z
  .object({ id: z.uuid(), name: z.string(), apiKey: z.string(), createdAt: timestamp })
  .meta({ id: "CustomerWithKey", description: "The API key is shown here once and never again." });

export const issuedApiKeyResponse = z
  .object({ id: z.uuid(), customerId: z.uuid(), apiKey: z.string(), createdAt: timestamp })
  .meta({ id: "IssuedApiKey", description: "The API key is shown here once and never again (a replay answers it null)." });

export const apiKeyResponse = z
  .object({ id: z.uuid(), createdAt: timestamp, lastUsedAt: timestamp.nullable(), revokedAt: timestamp.nullable() })
  .meta({ id: "ApiKey", description: "A customer's API key, without its secret. lastUsedAt is recorded at most once a minute." });

export const apiKeyListResponse = z.object({ items: z.array(apiKeyResponse) });

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const webhookAck = z.object({ received: z.literal(true), outcome: z.enum(["processed", "duplicate", "ignored"]) });

const purchaseTotals = z.object({ purchases: z.int(), revenueCents: z.int(), uniqueCustomers: z.int() });
export const purchasesResponse = z.object({
  from: z.iso.date(),
  to: z.iso.date(),
  days: z.array(purchaseTotals.extend({ day: z.iso.date() })),
  totals: purchaseTotals,
});
const moneyCount = z.object({ purchases: z.int(), revenueCents: z.int() });
export const reconciliationResponse = z.object({
  checkedAt: timestamp,
  counters: moneyCount,
  events: moneyCount,
  drift: moneyCount,
  ok: z.boolean(),
});
export const sandboxAccepted = z.object({ paymentId: z.uuid(), type: z.string(), eventId: z.string(), deliveries: z.int() });
