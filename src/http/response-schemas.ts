import { z } from "zod";
import { type ProblemCode, problemCatalogue, problemCodes } from "./problem-catalogue.js";

/**
 * Response shapes, for the OpenAPI document only (responses are built by
 * the use cases' view functions; these describe them for clients).
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
  validation_failed: { errors: z.array(z.object({ path: z.string(), message: z.string() })) },
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

export const productResponse = z
  .object({
    sku: z.string(),
    name: z.string(),
    priceCents: z.int(),
    onHand: z.int(),
    reserved: z.int(),
    available: z.int().describe("onHand - reserved"),
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({
    id: "Product",
    examples: [
      {
        sku: "WIDGET-1",
        name: "Blue widget",
        priceCents: 1250,
        onHand: 100,
        reserved: 3,
        available: 97,
        version: 4,
        createdAt: "2026-12-01T09:30:00.000Z",
        updatedAt: exampleTime,
      },
    ],
  });

const exampleOrder = {
  id: "0b8f6a52-4d1e-4f7a-9a37-3f0c2d9a1e55",
  customerId: "5c2e9f0a-8b7d-4e61-a3c4-7d1f0e2b9a68",
  status: "reserved",
  lines: [{ sku: "WIDGET-1", quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 }],
  totalCents: 2500,
  version: 1,
  reservedUntil: "2026-12-01T10:17:11.000Z",
  createdAt: exampleTime,
  updatedAt: exampleTime,
};

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
  .meta({ id: "Order", examples: [exampleOrder] });

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
  .meta({
    id: "Payment",
    examples: [
      {
        id: "9d4c1b7e-2f3a-4e8d-b6c5-1a0f9e8d7c6b",
        orderId: exampleOrder.id,
        amountCents: 2500,
        currency: "USD",
        status: "pending",
        provider: "sandbox",
        providerPaymentId: "sbx_9d4c1b7e2f3a4e8d",
        version: 1,
        createdAt: exampleTime,
        updatedAt: exampleTime,
      },
    ],
  });

export const customerResponse = z.object({ id: z.uuid(), name: z.string(), apiKey: z.string(), createdAt: timestamp }).meta({
  id: "CustomerWithKey",
  description: "The API key is shown here once and never again.",
  examples: [{ id: exampleOrder.customerId, name: "Alice", apiKey: "ol_live_4f1c0b9e8d7a6c5b4a3f2e1d0c9b8a7f", createdAt: exampleTime }],
});

const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
export const productPage = pageOf(productResponse).meta({ id: "ProductPage", description: "`nextCursor` is null on the last page." });
export const orderPage = pageOf(orderResponse).meta({ id: "OrderPage", description: "`nextCursor` is null on the last page." });

export const webhookAck = z
  .object({ received: z.literal(true), outcome: z.enum(["processed", "duplicate", "ignored"]) })
  .meta({ id: "WebhookAck", examples: [{ received: true, outcome: "processed" }] });

const purchaseTotals = z.object({ purchases: z.int(), revenueCents: z.int(), uniqueCustomers: z.int() });
export const purchasesResponse = z
  .object({
    from: z.iso.date(),
    to: z.iso.date(),
    days: z.array(purchaseTotals.extend({ day: z.iso.date() })),
    totals: purchaseTotals,
  })
  .meta({ id: "Purchases" });
const moneyCount = z.object({ purchases: z.int(), revenueCents: z.int() });
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
