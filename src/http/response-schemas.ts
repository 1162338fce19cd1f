import { z } from "zod";
import { eventView } from "../events/event-view.js";
import { createdWebhookEndpointView, webhookDeliveryAttemptView, webhookEndpointView } from "../events/webhook-endpoint-view.js";
import { productView } from "../inventory/product-view.js";
import { orderView } from "../orders/order-view.js";
import { paymentView } from "../payments/payment-view.js";
import { refundView } from "../refunds/refund-view.js";
import { type ProblemCode, problemCatalogue, problemCodes } from "./problem-catalogue.js";

/**
 * Response shapes for the OpenAPI document. A resource's schema lives
 * beside its one renderer (src/orders/order-view.ts and the like), and its
 * TypeScript type is inferred from that schema, so the document, the type
 * and the renderer cannot drift apart.
 */
const timestamp = z.iso.datetime();

const problemBase = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
  })
  .catchall(z.unknown());

export const problemResponse = problemBase.meta({
  id: "Problem",
  description: "RFC 9457 problem details; `code` is the stable machine-readable member.",
});

const shortfall = z.object({ sku: z.string(), requested: z.int(), available: z.int(), perCustomerLimit: z.int().optional() });
const problemExtensions: Partial<Record<ProblemCode, z.ZodRawShape>> = {
  version_conflict: { currentVersion: z.int(), current: z.record(z.string(), z.unknown()) },
  out_of_stock: { unavailable: z.array(shortfall) },
  refund_exceeds_payment: { refundableCents: z.int() },
  validation_failed: { errors: z.array(z.object({ path: z.string(), message: z.string() })) },
};

export {
  createdWebhookEndpointView as webhookEndpointCreatedResponse,
  refundView as refundResponse,
  webhookDeliveryAttemptView as webhookDeliveryAttemptResponse,
  webhookEndpointView as webhookEndpointResponse,
};

const pascal = (code: string) => code.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());

/** One schema per problem code (e.g. OutOfStockProblem): `code` and `status` are constants, extensions typed. */
export const problemSchemas = Object.fromEntries<z.ZodType>(
  problemCodes.map((code) => {
    const { status, when, example } = problemCatalogue[code];
    const schema = problemBase
      .extend({ status: z.literal(status), code: z.literal(code), ...problemExtensions[code] })
      .meta({ id: `${pascal(code)}Problem`, description: when, examples: [example] });
    return [code, schema];
  }),
) as Record<ProblemCode, z.ZodType>;

const exampleTime = "2026-12-01T10:02:11.000Z";

export { orderView as orderResponse, paymentView as paymentResponse, productView as productResponse };

export const customerResponse = z.object({ id: z.uuid(), name: z.string(), apiKey: z.string(), createdAt: timestamp }).meta({
  id: "CustomerWithKey",
  description: "The API key is shown here once and never again.",
  examples: [
    {
      id: "5c2e9f0a-8b7d-4e61-a3c4-7d1f0e2b9a68",
      name: "Alice",
      apiKey: "ol_live_4f1c0b9e8d7a6c5b4a3f2e1d0c9b8a7f",
      createdAt: exampleTime,
    },
  ],
});

export const issuedApiKeyResponse = z
  .object({ id: z.uuid(), customerId: z.uuid(), apiKey: z.string(), createdAt: timestamp })
  .meta({ id: "IssuedApiKey", description: "The API key is shown here once and never again (a replay answers it null)." });

export const apiKeyResponse = z
  .object({ id: z.uuid(), createdAt: timestamp, lastUsedAt: timestamp.nullable(), revokedAt: timestamp.nullable() })
  .meta({ id: "ApiKey", description: "A customer's API key, without its secret. lastUsedAt is recorded at most once a minute." });

export const apiKeyListResponse = z.object({ items: z.array(apiKeyResponse) }).meta({ id: "ApiKeyList" });

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
export const productPage = pageOf(productView).meta({ id: "ProductPage", description: "`nextCursor` is null on the last page." });
export const orderPage = pageOf(orderView).meta({ id: "OrderPage", description: "`nextCursor` is null on the last page." });

export const webhookAck = z
  .object({ received: z.literal(true), outcome: z.enum(["processed", "duplicate", "ignored"]) })
  .meta({ id: "WebhookAck", examples: [{ received: true, outcome: "processed" }] });

const purchaseTotals = z.object({
  purchases: z.int(),
  revenueCents: z.int(),
  uniqueCustomers: z.int(),
  refunds: z.int(),
  refundedCents: z.int(),
  netRevenueCents: z.int(),
});
export const purchasesResponse = z
  .object({
    from: z.iso.date(),
    to: z.iso.date(),
    days: z.array(purchaseTotals.extend({ day: z.iso.date() })),
    totals: purchaseTotals,
  })
  .meta({ id: "Purchases" });
const moneyCount = z.object({ purchases: z.int(), revenueCents: z.int(), refunds: z.int(), refundedCents: z.int() });
export const reconciliationResponse = z
  .object({
    checkedAt: timestamp,
    counters: moneyCount,
    events: moneyCount,
    drift: moneyCount,
    ok: z.boolean(),
  })
  .meta({ id: "Reconciliation" });
export const sandboxAccepted = z
  .object({ paymentId: z.uuid(), type: z.string(), eventId: z.string(), deliveries: z.int() })
  .meta({ id: "SandboxAccepted" });
export const sandboxRefundAccepted = z
  .object({ refundId: z.uuid(), type: z.string(), eventId: z.string(), deliveries: z.int() })
  .meta({ id: "SandboxRefundAccepted" });
export const sandboxDisputeAccepted = sandboxAccepted.extend({ disputeId: z.string() }).meta({ id: "SandboxDisputeAccepted" });

export const eventsPage = z.object({ items: z.array(eventView), nextCursor: z.string() }).meta({ id: "EventPage" });

export const redeliverAccepted = z
  .object({ eventId: z.string(), endpointId: z.uuid(), scheduled: z.literal(true) })
  .meta({ id: "RedeliverAccepted" });

export const webhookEndpointPage = pageOf(webhookEndpointView).meta({ id: "WebhookEndpointPage" });
export const webhookDeliveryPage = pageOf(webhookDeliveryAttemptView).meta({ id: "WebhookDeliveryPage" });
export const refundPage = pageOf(refundView).meta({ id: "RefundPage" });
