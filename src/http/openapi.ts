import { z } from "zod";
import { stripeEventBody } from "../payments/providers/stripe-events.js";
import {
  customerResponse,
  eventsPage,
  orderResponse,
  pageOf,
  paymentResponse,
  problemResponse,
  productResponse,
  purchasesResponse,
  reconciliationResponse,
  sandboxAccepted,
  webhookAck,
} from "./response-schemas.js";
import { createCustomerBody } from "./routes/customers.js";
import { listEventsQuery } from "./routes/events.js";
import { cancelOrderBody, changeOrderBody, listOrdersQuery, placeOrderBody } from "./routes/orders.js";
import { createPaymentBody } from "./routes/payments.js";
import { createProductBody, listProductsQuery, stockAdjustmentBody, updateProductBody } from "./routes/products.js";
import { purchasesQuery } from "./routes/purchase-metrics.js";
import { sandboxEventBody } from "./routes/sandbox.js";
import { paymentEventBody } from "./routes/webhooks.js";
import { skuSchema, uuidSchema } from "./schemas.js";

/**
 * Every API operation, with the very zod schemas its route validates
 * requests with. The OpenAPI 3.1 document at GET /openapi.json is generated
 * from this list; a test checks it against the routes the app really mounts,
 * and the fuzz test takes its routes and shapes from the document.
 */
export type ApiOperation = {
  method: "get" | "post" | "patch";
  /** Express form, e.g. /v1/orders/:id */
  path: string;
  summary: string;
  auth: "admin" | "customer" | "any" | "webhook";
  /** The header a webhook is signed in (default Payment-Signature). */
  signatureHeader?: "Payment-Signature" | "Stripe-Signature";
  pathParams?: Record<string, z.ZodType>;
  query?: z.ZodType;
  body?: z.ZodType;
  idempotencyKey?: "required" | "optional";
  versioned?: boolean;
  success: { status: number; description: string; schema?: z.ZodType };
  errors: number[];
};

const sku = { sku: skuSchema };
const id = { id: uuidSchema };

export const apiOperations: ApiOperation[] = [
  {
    method: "post",
    path: "/v1/customers",
    summary: "Create a customer and its API key",
    auth: "admin",
    body: createCustomerBody,
    idempotencyKey: "optional",
    success: { status: 201, description: "Created", schema: customerResponse },
    errors: [400, 401, 403, 413, 415, 422],
  },
  {
    method: "post",
    path: "/v1/products",
    summary: "Create a product with its stock",
    auth: "admin",
    body: createProductBody,
    idempotencyKey: "optional",
    success: { status: 201, description: "Created", schema: productResponse },
    errors: [400, 401, 403, 409, 413, 415, 422],
  },
  {
    method: "get",
    path: "/v1/products",
    summary: "List products by SKU",
    auth: "any",
    query: listProductsQuery,
    success: { status: 200, description: "A page of products", schema: pageOf(productResponse) },
    errors: [401, 422],
  },
  {
    method: "get",
    path: "/v1/products/:sku",
    summary: "Get a product",
    auth: "any",
    pathParams: sku,
    success: { status: 200, description: "The product (ETag: its version)", schema: productResponse },
    errors: [401, 404],
  },
  {
    method: "patch",
    path: "/v1/products/:sku",
    summary: "Edit a product's name or price (versioned)",
    auth: "admin",
    pathParams: sku,
    body: updateProductBody,
    versioned: true,
    success: { status: 200, description: "Updated", schema: productResponse },
    errors: [400, 401, 403, 404, 409, 413, 415, 422, 428],
  },
  {
    method: "post",
    path: "/v1/products/:sku/stock-adjustments",
    summary: "Adjust on-hand stock atomically by a delta",
    auth: "admin",
    pathParams: sku,
    body: stockAdjustmentBody,
    idempotencyKey: "optional",
    success: { status: 200, description: "Adjusted", schema: productResponse },
    errors: [400, 401, 403, 404, 409, 413, 415, 422],
  },
  {
    method: "post",
    path: "/v1/orders",
    summary: "Place an order, reserving every line or nothing",
    auth: "customer",
    body: placeOrderBody,
    idempotencyKey: "required",
    success: { status: 201, description: "Placed (Location, ETag)", schema: orderResponse },
    errors: [400, 401, 403, 409, 413, 415, 422],
  },
  {
    method: "get",
    path: "/v1/orders",
    summary: "List the caller's orders, newest first",
    auth: "any",
    query: listOrdersQuery,
    success: { status: 200, description: "A page of orders", schema: pageOf(orderResponse) },
    errors: [401, 422],
  },
  {
    method: "get",
    path: "/v1/orders/:id",
    summary: "Get an order",
    auth: "any",
    pathParams: id,
    success: { status: 200, description: "The order (ETag: its version)", schema: orderResponse },
    errors: [401, 404],
  },
  {
    method: "patch",
    path: "/v1/orders/:id",
    summary: "Replace a reserved order's lines (versioned)",
    auth: "any",
    pathParams: id,
    body: changeOrderBody,
    versioned: true,
    success: { status: 200, description: "Changed", schema: orderResponse },
    errors: [400, 401, 404, 409, 413, 415, 422, 428],
  },
  {
    method: "post",
    path: "/v1/orders/:id/cancel",
    summary: "Cancel a reserved order and release its stock",
    auth: "any",
    pathParams: id,
    body: cancelOrderBody,
    idempotencyKey: "optional",
    success: { status: 200, description: "Cancelled", schema: orderResponse },
    errors: [400, 401, 404, 409, 413, 415, 422],
  },
  {
    method: "post",
    path: "/v1/orders/:id/payments",
    summary: "Start paying for a reserved order",
    auth: "any",
    pathParams: id,
    body: createPaymentBody,
    idempotencyKey: "required",
    success: { status: 201, description: "Payment pending", schema: paymentResponse },
    errors: [400, 401, 404, 409, 413, 415, 422],
  },
  {
    method: "get",
    path: "/v1/payments/:id",
    summary: "Get a payment",
    auth: "any",
    pathParams: id,
    success: { status: 200, description: "The payment", schema: paymentResponse },
    errors: [401, 404],
  },
  {
    method: "post",
    path: "/v1/webhooks/payments",
    summary: "Payment provider events (signed with Payment-Signature)",
    auth: "webhook",
    body: paymentEventBody,
    success: { status: 200, description: "Received", schema: webhookAck },
    errors: [400, 401, 413, 415, 422],
  },
  {
    method: "post",
    path: "/v1/webhooks/stripe",
    summary: "Stripe events (Stripe-Signature, any configured secret, 300 s tolerance); other types are 200 ignored",
    auth: "webhook",
    signatureHeader: "Stripe-Signature",
    body: stripeEventBody,
    success: { status: 200, description: "Received", schema: webhookAck },
    errors: [400, 401, 413, 415, 422],
  },
  {
    method: "post",
    path: "/v1/sandbox/payments/:id/succeed",
    summary: "Sandbox provider: deliver payment.succeeded",
    auth: "admin",
    pathParams: id,
    body: sandboxEventBody,
    idempotencyKey: "optional",
    success: { status: 202, description: "Accepted for delivery", schema: sandboxAccepted },
    errors: [400, 401, 403, 404, 409, 413, 415, 422],
  },
  {
    method: "post",
    path: "/v1/sandbox/payments/:id/fail",
    summary: "Sandbox provider: deliver payment.failed",
    auth: "admin",
    pathParams: id,
    body: sandboxEventBody,
    idempotencyKey: "optional",
    success: { status: 202, description: "Accepted for delivery", schema: sandboxAccepted },
    errors: [400, 401, 403, 404, 409, 413, 415, 422],
  },
  {
    method: "get",
    path: "/v1/metrics/purchases",
    summary: "Purchase counters per UTC day",
    auth: "admin",
    query: purchasesQuery,
    success: { status: 200, description: "Counters", schema: purchasesResponse },
    errors: [401, 403, 422],
  },
  {
    method: "get",
    path: "/v1/metrics/purchases/reconciliation",
    summary: "Counters against the raw succeeded payments",
    auth: "admin",
    success: { status: 200, description: "Reconciliation", schema: reconciliationResponse },
    errors: [401, 403],
  },
  {
    method: "get",
    path: "/v1/events",
    summary: "The events feed: follow nextCursor from the start to see every event exactly once",
    auth: "admin",
    query: listEventsQuery,
    success: { status: 200, description: "A page of events", schema: eventsPage },
    errors: [401, 403, 422],
  },
];

const toSchema = (s: z.ZodType) =>
  z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;

function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Malformed JSON or a missing/invalid Idempotency-Key",
  401: "No key, unknown key, or a bad webhook signature",
  403: "The key may not use this route",
  404: "No such resource (or another customer's)",
  409: "Conflict: version, stock, state, duplicate SKU or an Idempotency-Key in use",
  413: "Body over 64 KiB",
  415: "Body is not application/json",
  422: "Validation failed, or an Idempotency-Key reused with another request",
  428: "Versioned update without If-Match or version",
  429: "Rate limited (Retry-After)",
  503: "Database unavailable or overloaded (Retry-After)",
};

/** The OpenAPI 3.1 document, generated from apiOperations. */
export function buildOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of apiOperations) {
    const oasPath = op.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const parameters: Record<string, unknown>[] = [];
    for (const [name, schema] of Object.entries(op.pathParams ?? {})) {
      parameters.push({ name, in: "path", required: true, schema: withoutDialect(toSchema(schema)) });
    }
    if (op.query) {
      const q = toSchema(op.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
      }
    }
    if (op.idempotencyKey) {
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: op.idempotencyKey === "required",
        schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7e]+$" },
      });
    }
    if (op.versioned) parameters.push({ name: "If-Match", in: "header", required: false, schema: { type: "string" } });
    if (op.auth === "webhook") {
      parameters.push({ name: op.signatureHeader ?? "Payment-Signature", in: "header", required: true, schema: { type: "string" } });
    }

    const responses: Record<string, unknown> = {
      [op.success.status]: {
        description: op.success.description,
        ...(op.success.schema ? { content: { "application/json": { schema: withoutDialect(toSchema(op.success.schema)) } } } : {}),
      },
    };
    for (const status of [...op.errors, ...(op.auth === "customer" || op.auth === "any" ? [429] : []), 503]) {
      responses[status] = {
        description: STATUS_TEXT[status] ?? "Error",
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      };
    }
    paths[oasPath] ??= {};
    paths[oasPath][op.method] = {
      operationId: `${op.method}${op.path.replace(/[/:-]+([a-z])/g, (_m, c: string) => c.toUpperCase())}`,
      summary: op.summary,
      "x-orderlock-auth": op.auth,
      security: op.auth === "webhook" ? [] : [{ bearer: [] }],
      parameters,
      // A body that accepts {} may be left out altogether (it reads as {}).
      ...(op.body
        ? {
            requestBody: {
              required: !op.body.safeParse({}).success,
              content: { "application/json": { schema: withoutDialect(toSchema(op.body)) } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "orderlock", version: "1", description: "Order processing that stays correct when requests collide." },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Problem: withoutDialect(toSchema(problemResponse)) },
    },
    paths,
  };
}
