import { z } from "zod";
import { eventIdSchema } from "../events/event-id.js";
import { stripeEventBody } from "../payments/providers/stripe-events.js";
import { type ProblemCode, problemCatalogue, problemCodes } from "./problem-catalogue.js";
import {
  apiKeyListResponse,
  apiKeyResponse,
  customerResponse,
  eventsPage,
  issuedApiKeyResponse,
  orderPage,
  orderResponse,
  paymentResponse,
  problemResponse,
  problemSchemas,
  productPage,
  productResponse,
  purchasesResponse,
  reconciliationResponse,
  redeliverAccepted,
  refundPage,
  refundResponse,
  sandboxAccepted,
  sandboxDisputeAccepted,
  sandboxRefundAccepted,
  webhookAck,
  webhookDeliveryPage,
  webhookEndpointCreatedResponse,
  webhookEndpointPage,
  webhookEndpointResponse,
} from "./response-schemas.js";
import { createCustomerBody, issueApiKeyBody } from "./routes/customers.js";
import { listEventsQuery } from "./routes/events.js";
import { cancelOrderBody, changeOrderBody, listOrdersQuery, placeOrderBody } from "./routes/orders.js";
import { createPaymentBody } from "./routes/payments.js";
import { createProductBody, listProductsQuery, stockAdjustmentBody, updateProductBody } from "./routes/products.js";
import { purchasesQuery } from "./routes/purchase-metrics.js";
import { createRefundBody, listRefundsQuery } from "./routes/refunds.js";
import { sandboxDisputeBody, sandboxEventBody } from "./routes/sandbox.js";
import {
  createWebhookEndpointBody,
  listWebhookEndpointsQuery,
  redeliverEventBody,
  updateWebhookEndpointBody,
} from "./routes/webhook-endpoints.js";
import { paymentEventBody } from "./routes/webhooks.js";
import { skuSchema, uuidSchema } from "./schemas.js";

/**
 * Every API operation, with the very zod schemas its route validates
 * requests with. The OpenAPI 3.1 document at GET /openapi.json is generated
 * from this list; a test checks it against the routes the app really mounts,
 * and the fuzz test takes its routes and shapes from the document.
 */
export type ApiOperation = {
  method: "get" | "post" | "patch" | "delete";
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
  /** A request body the route accepts (a test parses it with `body`). */
  example?: unknown;
  /** No schema: an empty answer (204). */
  success: { status: number; description: string; schema?: z.ZodType };
  /**
   * The problem codes of this operation's own rules. The codes every route
   * of its kind can answer (auth, body, idempotency, versioning, 503...) are
   * added by problemCodesOf.
   */
  problems?: ProblemCode[];
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
    example: { name: "Alice" },
    success: { status: 201, description: "Created", schema: customerResponse },
  },
  {
    method: "post",
    path: "/v1/customers/:id/keys",
    summary: "Issue another API key for a customer (at most 2 active)",
    auth: "admin",
    pathParams: id,
    body: issueApiKeyBody,
    idempotencyKey: "optional",
    success: { status: 201, description: "Issued (the key is shown once)", schema: issuedApiKeyResponse },
    problems: ["invalid_state"],
  },
  {
    method: "get",
    path: "/v1/customers/:id/keys",
    summary: "List a customer's API keys, active and revoked (never a secret)",
    auth: "admin",
    pathParams: id,
    success: { status: 200, description: "The keys, oldest first", schema: apiKeyListResponse },
  },
  {
    method: "delete",
    path: "/v1/customers/:id/keys/:keyId",
    summary: "Revoke an API key (every instance refuses it within 5 s)",
    auth: "admin",
    pathParams: { id: uuidSchema, keyId: uuidSchema },
    success: { status: 200, description: "The revoked key", schema: apiKeyResponse },
  },
  {
    method: "post",
    path: "/v1/products",
    summary: "Create a product with its stock",
    auth: "admin",
    body: createProductBody,
    idempotencyKey: "optional",
    example: { sku: "WIDGET-1", name: "Blue widget", priceCents: 1250, onHand: 100 },
    success: { status: 201, description: "Created", schema: productResponse },
    problems: ["sku_exists"],
  },
  {
    method: "get",
    path: "/v1/products",
    summary: "List products by SKU",
    auth: "any",
    query: listProductsQuery,
    success: { status: 200, description: "A page of products", schema: productPage },
  },
  {
    method: "get",
    path: "/v1/products/:sku",
    summary: "Get a product",
    auth: "any",
    pathParams: sku,
    success: { status: 200, description: "The product (ETag: its version)", schema: productResponse },
  },
  {
    method: "patch",
    path: "/v1/products/:sku",
    summary: "Edit a product's name or price (versioned)",
    auth: "admin",
    pathParams: sku,
    body: updateProductBody,
    versioned: true,
    example: { priceCents: 1199 },
    success: { status: 200, description: "Updated", schema: productResponse },
  },
  {
    method: "post",
    path: "/v1/products/:sku/stock-adjustments",
    summary: "Adjust on-hand stock atomically by a delta",
    auth: "admin",
    pathParams: sku,
    body: stockAdjustmentBody,
    idempotencyKey: "optional",
    example: { delta: 25, reason: "Delivery from supplier" },
    success: { status: 200, description: "Adjusted", schema: productResponse },
    problems: ["insufficient_stock"],
  },
  {
    method: "post",
    path: "/v1/orders",
    summary: "Place an order, reserving every line or nothing",
    auth: "customer",
    body: placeOrderBody,
    idempotencyKey: "required",
    example: { lines: [{ sku: "WIDGET-1", quantity: 2 }] },
    success: { status: 201, description: "Placed (Location, ETag)", schema: orderResponse },
    problems: ["out_of_stock"],
  },
  {
    method: "get",
    path: "/v1/orders",
    summary: "List the caller's orders, newest first",
    auth: "any",
    query: listOrdersQuery,
    success: { status: 200, description: "A page of orders", schema: orderPage },
  },
  {
    method: "get",
    path: "/v1/orders/:id",
    summary: "Get an order",
    auth: "any",
    pathParams: id,
    success: { status: 200, description: "The order (ETag: its version)", schema: orderResponse },
  },
  {
    method: "patch",
    path: "/v1/orders/:id",
    summary: "Replace a reserved order's lines (versioned)",
    auth: "any",
    pathParams: id,
    body: changeOrderBody,
    versioned: true,
    example: { lines: [{ sku: "WIDGET-1", quantity: 3 }] },
    success: { status: 200, description: "Changed", schema: orderResponse },
    problems: ["out_of_stock", "invalid_state"],
  },
  {
    method: "post",
    path: "/v1/orders/:id/cancel",
    summary: "Cancel a reserved order and release its stock",
    auth: "any",
    pathParams: id,
    body: cancelOrderBody,
    idempotencyKey: "optional",
    example: {},
    success: { status: 200, description: "Cancelled", schema: orderResponse },
    problems: ["invalid_state"],
  },
  {
    method: "post",
    path: "/v1/orders/:id/payments",
    summary: "Start paying for a reserved order",
    auth: "any",
    pathParams: id,
    body: createPaymentBody,
    idempotencyKey: "required",
    example: {},
    success: { status: 201, description: "Payment pending", schema: paymentResponse },
    problems: ["invalid_state"],
  },
  {
    method: "get",
    path: "/v1/payments/:id",
    summary: "Get a payment",
    auth: "any",
    pathParams: id,
    success: { status: 200, description: "The payment", schema: paymentResponse },
  },
  {
    method: "post",
    path: "/v1/webhooks/payments",
    summary: "Payment provider events: payments, refunds, disputes (signed with Payment-Signature)",
    auth: "webhook",
    body: paymentEventBody,
    example: { id: "evt_1", type: "payment.succeeded", data: { paymentId: "9d4c1b7e-2f3a-4e8d-b6c5-1a0f9e8d7c6b", amountCents: 2500 } },
    success: { status: 200, description: "Received", schema: webhookAck },
  },
  {
    method: "post",
    path: "/v1/webhooks/stripe",
    summary: "Stripe events (Stripe-Signature, any configured secret, 300 s tolerance); other types are 200 ignored",
    auth: "webhook",
    signatureHeader: "Stripe-Signature",
    body: stripeEventBody,
    example: {
      id: "evt_1QdL2mA1b2C3d4E5",
      object: "event",
      type: "payment_intent.succeeded",
      created: 1764583331,
      data: {
        object: {
          id: "pi_3QdL2mA1b2C3d4E5",
          object: "payment_intent",
          amount: 2500,
          amount_received: 2500,
          currency: "usd",
          status: "succeeded",
          metadata: {
            orderlock_payment_id: "9d4c1b7e-2f3a-4e8d-b6c5-1a0f9e8d7c6b",
            orderlock_order_id: "0b8f6a52-4d1e-4f7a-9a37-3f0c2d9a1e55",
          },
        },
      },
    },
    success: { status: 200, description: "Received", schema: webhookAck },
  },
  {
    method: "post",
    path: "/v1/sandbox/payments/:id/succeed",
    summary: "Sandbox provider: deliver payment.succeeded",
    auth: "admin",
    pathParams: id,
    body: sandboxEventBody,
    idempotencyKey: "optional",
    example: { duplicates: 0 },
    success: { status: 202, description: "Accepted for delivery", schema: sandboxAccepted },
    problems: ["invalid_state"],
  },
  {
    method: "post",
    path: "/v1/sandbox/payments/:id/fail",
    summary: "Sandbox provider: deliver payment.failed",
    auth: "admin",
    pathParams: id,
    body: sandboxEventBody,
    idempotencyKey: "optional",
    example: { duplicates: 0 },
    success: { status: 202, description: "Accepted for delivery", schema: sandboxAccepted },
    problems: ["invalid_state"],
  },
  {
    method: "post",
    path: "/v1/payments/:id/refunds",
    summary: "Refund (part of) a succeeded payment; requested from the provider after commit",
    auth: "admin",
    pathParams: id,
    body: createRefundBody,
    example: { amountCents: 1250, reason: "Damaged in transit", lines: [{ sku: "WIDGET-1", quantity: 1, restock: false }] },
    idempotencyKey: "required",
    success: { status: 201, description: "Refund pending (Location, ETag)", schema: refundResponse },
    problems: ["invalid_state", "refund_exceeds_payment"],
  },
  {
    method: "get",
    path: "/v1/payments/:id/refunds",
    summary: "A payment's refunds, newest first",
    auth: "admin",
    pathParams: id,
    query: listRefundsQuery,
    success: { status: 200, description: "A page of refunds", schema: refundPage },
  },
  {
    method: "get",
    path: "/v1/refunds/:id",
    summary: "Get a refund",
    auth: "admin",
    pathParams: id,
    success: { status: 200, description: "The refund (ETag: its version)", schema: refundResponse },
  },
  {
    method: "post",
    path: "/v1/sandbox/refunds/:id/succeed",
    summary: "Sandbox provider: deliver refund.succeeded",
    auth: "admin",
    pathParams: id,
    body: sandboxEventBody,
    idempotencyKey: "optional",
    success: { status: 202, description: "Accepted for delivery", schema: sandboxRefundAccepted },
    problems: ["invalid_state"],
  },
  {
    method: "post",
    path: "/v1/sandbox/refunds/:id/fail",
    summary: "Sandbox provider: deliver refund.failed",
    auth: "admin",
    pathParams: id,
    body: sandboxEventBody,
    idempotencyKey: "optional",
    success: { status: 202, description: "Accepted for delivery", schema: sandboxRefundAccepted },
    problems: ["invalid_state"],
  },
  {
    method: "post",
    path: "/v1/sandbox/payments/:id/funds-withdrawn",
    summary: "Sandbox provider: deliver dispute.funds_withdrawn (a chargeback)",
    auth: "admin",
    pathParams: id,
    body: sandboxDisputeBody,
    idempotencyKey: "optional",
    success: { status: 202, description: "Accepted for delivery", schema: sandboxDisputeAccepted },
    problems: ["invalid_state"],
  },
  {
    method: "post",
    path: "/v1/sandbox/payments/:id/funds-reinstated",
    summary: "Sandbox provider: deliver dispute.funds_reinstated (a dispute won)",
    auth: "admin",
    pathParams: id,
    body: sandboxDisputeBody,
    idempotencyKey: "optional",
    success: { status: 202, description: "Accepted for delivery", schema: sandboxDisputeAccepted },
    problems: ["invalid_state"],
  },
  {
    method: "get",
    path: "/v1/metrics/purchases",
    summary: "Purchase counters per UTC day",
    auth: "admin",
    query: purchasesQuery,
    success: { status: 200, description: "Counters", schema: purchasesResponse },
  },
  {
    method: "get",
    path: "/v1/metrics/purchases/reconciliation",
    summary: "Counters against the raw succeeded payments and refunds",
    auth: "admin",
    success: { status: 200, description: "Reconciliation", schema: reconciliationResponse },
  },
  {
    method: "get",
    path: "/v1/events",
    summary: "The events feed: follow nextCursor from the start to see every event exactly once",
    auth: "admin",
    query: listEventsQuery,
    success: { status: 200, description: "A page of events", schema: eventsPage },
  },
  {
    method: "post",
    path: "/v1/webhook-endpoints",
    summary: "Register a webhook endpoint; its signing secret is shown once",
    auth: "admin",
    body: createWebhookEndpointBody,
    idempotencyKey: "optional",
    example: { url: "https://hooks.example.com/orderlock", eventTypes: ["order.placed", "order.paid"], description: "Fulfilment" },
    success: { status: 201, description: "Created (the secret, once; a replay shows null)", schema: webhookEndpointCreatedResponse },
  },
  {
    method: "get",
    path: "/v1/webhook-endpoints",
    summary: "List webhook endpoints with their delivery health",
    auth: "admin",
    query: listWebhookEndpointsQuery,
    success: { status: 200, description: "A page of endpoints", schema: webhookEndpointPage },
  },
  {
    method: "get",
    path: "/v1/webhook-endpoints/:id",
    summary: "Get a webhook endpoint",
    auth: "admin",
    pathParams: id,
    success: { status: 200, description: "The endpoint (ETag: its version)", schema: webhookEndpointResponse },
  },
  {
    method: "patch",
    path: "/v1/webhook-endpoints/:id",
    summary: "Change a webhook endpoint's url, event types, description or status (versioned)",
    auth: "admin",
    pathParams: id,
    body: updateWebhookEndpointBody,
    example: { status: "disabled", version: 2 },
    versioned: true,
    success: { status: 200, description: "Updated", schema: webhookEndpointResponse },
  },
  {
    method: "delete",
    path: "/v1/webhook-endpoints/:id",
    summary: "Delete a webhook endpoint (its pending deliveries are abandoned)",
    auth: "admin",
    pathParams: id,
    success: { status: 204, description: "Deleted" },
  },
  {
    method: "get",
    path: "/v1/webhook-endpoints/:id/deliveries",
    summary: "An endpoint's delivery attempts, newest first",
    auth: "admin",
    pathParams: id,
    query: listWebhookEndpointsQuery,
    success: { status: 200, description: "A page of attempts", schema: webhookDeliveryPage },
  },
  {
    method: "post",
    path: "/v1/events/:id/redeliver",
    summary: "Deliver an event to an endpoint again, now",
    auth: "admin",
    pathParams: { id: eventIdSchema },
    body: redeliverEventBody,
    idempotencyKey: "optional",
    example: { endpointId: "7a1c2e3f-4b5d-4c6e-8f90-1a2b3c4d5e6f" },
    success: { status: 202, description: "Scheduled", schema: redeliverAccepted },
  },
];

const SCHEMA_OPTIONS = { unrepresentable: "any", target: "draft-2020-12" } as const;

/** A request schema, inline (io: input: defaults make members optional). */
function requestSchema(s: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(s, { ...SCHEMA_OPTIONS, io: "input" }) as Record<string, unknown>;
  return rest;
}

const idOf = (s: z.ZodType): string => {
  const id = z.globalRegistry.get(s)?.id;
  if (!id) throw new Error("every response schema needs .meta({ id }) (it becomes a component)");
  return id;
};
const ref = (s: z.ZodType) => ({ $ref: `#/components/schemas/${idOf(s)}` });

/**
 * Every response schema as a component, cross-references as $refs
 * (e.g. OrderPage's items → Order), so a generated client gets one named type per shape.
 */
function responseComponents(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const s of [
    problemResponse,
    ...Object.values(problemSchemas),
    ...apiOperations.flatMap((op) => (op.success.schema ? [op.success.schema] : [])),
  ]) {
    if (!registry.has(s)) registry.add(s, { id: idOf(s) });
  }
  const { schemas } = z.toJSONSchema(registry, { ...SCHEMA_OPTIONS, io: "output", uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema as Record<string, unknown>;
      return [id, rest];
    }),
  );
}

/**
 * The problem codes an operation can answer: its own rules' codes plus
 * those of its kind (how it authenticates, whether it takes a body, a query,
 * a path id, an Idempotency-Key or a version precondition), in the
 * catalogue's order. The fuzz test checks every answer's code is listed.
 */
function problemCodesOf(op: ApiOperation): ProblemCode[] {
  const codes = new Set<ProblemCode>(op.problems);
  codes.add(op.auth === "webhook" ? "invalid_signature" : "unauthorized");
  if (op.auth === "admin" || op.auth === "customer") codes.add("forbidden");
  if (op.auth === "customer" || op.auth === "any") codes.add("rate_limited"); // the admin key is exempt
  if (op.body)
    for (const c of ["malformed_json", "payload_too_large", "unsupported_media_type", "validation_failed"] as const) codes.add(c);
  if (op.query) codes.add("validation_failed");
  if (op.pathParams) codes.add("not_found");
  if (op.idempotencyKey)
    for (const c of ["idempotency_key_missing", "idempotency_key_in_use", "idempotency_key_reused"] as const) codes.add(c);
  if (op.versioned) for (const c of ["precondition_required", "version_conflict", "validation_failed"] as const) codes.add(c);
  codes.add("service_unavailable");
  codes.add("internal");
  return problemCodes.filter((c) => codes.has(c));
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad request",
  401: "Not authenticated",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable",
  428: "Precondition required",
  429: "Rate limited",
  500: "Internal error",
  503: "Service unavailable",
};

const header = (description: string, schema: Record<string, unknown> = { type: "string" }) => ({ description, schema });
const RETRY_AFTER = header("Seconds to wait before retrying.", { type: "integer", minimum: 1 });

function problemResponses(codes: ProblemCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) {
    const status = problemCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const refs = group.map((code) => ref(problemSchemas[code]));
    const retryAfter = group.some((c) => ["idempotency_key_in_use", "rate_limited", "service_unavailable"].includes(c));
    out[status] = {
      description: `${STATUS_TEXT[status] ?? "Error"}. Problem codes: ${group.map((c) => `\`${c}\``).join(", ")}.\n\n${group
        .map((c) => `- \`${c}\`: ${problemCatalogue[c].when}`)
        .join("\n")}`,
      "x-problem-codes": group,
      ...(retryAfter
        ? {
            headers: {
              "Retry-After": {
                ...RETRY_AFTER,
                description: `${RETRY_AFTER.description} Sent with ${group
                  .filter((c) => ["idempotency_key_in_use", "rate_limited", "service_unavailable"].includes(c))
                  .map((c) => `\`${c}\``)
                  .join(", ")}.`,
              },
            },
          }
        : {}),
      content: {
        "application/problem+json": {
          schema: refs.length === 1 ? refs[0] : { oneOf: refs },
          examples: Object.fromEntries(group.map((c) => [c, { summary: c, value: problemCatalogue[c].example }])),
        },
      },
    };
  }
  return out;
}

const AUTH_TEXT: Record<ApiOperation["auth"], string> = {
  admin: "Admin key (`Authorization: Bearer <ADMIN_API_KEY>`).",
  customer: "A customer key (`Authorization: Bearer <apiKey>`); the admin key is refused with `forbidden`.",
  any: "The admin key or a customer key; a customer reaches only its own orders and payments (another customer's are `not_found`).",
  webhook:
    'No Bearer key: the body is signed, `Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<raw body>")>`.',
};

function describeOperation(op: ApiOperation, codes: ProblemCode[]): string {
  const lines = [`**Auth:** ${AUTH_TEXT[op.auth]}`];
  if (op.idempotencyKey === "required")
    lines.push("**Idempotency-Key required:** a retry with the same key replays the first answer (`Idempotent-Replayed: true`).");
  if (op.idempotencyKey === "optional") lines.push("**Idempotency-Key optional:** with one, a retry replays the first answer.");
  if (op.versioned)
    lines.push(
      '**Versioned:** send `If-Match: "<version>"` (or `version` in the body); a stale one is `409 version_conflict`, never an overwrite.',
    );
  lines.push(`**Problem codes:** ${codes.map((c) => `\`${c}\``).join(", ")}.`);
  return lines.join("\n\n");
}

/** The OpenAPI 3.1 document, generated from apiOperations. */
export function buildOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of apiOperations) {
    const oasPath = op.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const parameters: Record<string, unknown>[] = [];
    for (const [name, schema] of Object.entries(op.pathParams ?? {})) {
      parameters.push({ name, in: "path", required: true, schema: requestSchema(schema) });
    }
    if (op.query) {
      const q = requestSchema(op.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
      }
    }
    if (op.idempotencyKey) {
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: op.idempotencyKey === "required",
        description: "Unique per request you mean; reuse it only to retry that same request.",
        schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7e]+$" },
        example: "order-2026-12-01-0001",
      });
    }
    if (op.versioned) {
      parameters.push({
        name: "If-Match",
        in: "header",
        required: false,
        description: 'The version you read, as its ETag: `"4"`.',
        schema: { type: "string" },
        example: '"4"',
      });
    }

    const codes = problemCodesOf(op);
    const successId = op.success.schema ? idOf(op.success.schema) : "";
    const successHeaders: Record<string, unknown> = {};
    if (["Product", "Order", "Payment"].includes(successId)) successHeaders.ETag = header('The resource\'s version, quoted: `"4"`.');
    if (op.success.status === 201) successHeaders.Location = header("The new resource's URL path.");
    if (op.idempotencyKey)
      successHeaders["Idempotent-Replayed"] = header("`true` when this is the stored answer to an earlier request with this key.");
    const responses: Record<string, unknown> = {
      [op.success.status]: {
        description: op.success.description,
        ...(Object.keys(successHeaders).length ? { headers: successHeaders } : {}),
        ...(op.success.schema ? { content: { "application/json": { schema: ref(op.success.schema) } } } : {}),
      },
      ...problemResponses(codes),
    };
    paths[oasPath] ??= {};
    paths[oasPath][op.method] = {
      operationId: `${op.method}${op.path.replace(/[/:-]+([a-z])/g, (_m, c: string) => c.toUpperCase())}`,
      summary: op.summary,
      description: describeOperation(op, codes),
      tags: [op.path.split("/")[2]],
      "x-orderlock-auth": op.auth,
      "x-problem-codes": codes,
      security:
        op.auth !== "webhook"
          ? [{ bearer: [] }]
          : op.signatureHeader === "Stripe-Signature"
            ? [{ stripeSignature: [] }]
            : [{ paymentSignature: [] }],
      parameters,
      // A body that accepts {} may be left out altogether (it reads as {}).
      ...(op.body
        ? {
            requestBody: {
              required: !op.body.safeParse({}).success,
              content: {
                "application/json": { schema: requestSchema(op.body), ...(op.example !== undefined ? { example: op.example } : {}) },
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "orderlock",
      version: "1",
      description:
        "Order processing that stays correct when requests collide. Every error is RFC 9457 `application/problem+json` with a stable `code`; each operation lists its codes in `x-problem-codes` and per response.",
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "The admin key (`ADMIN_API_KEY`) or a customer key (`POST /v1/customers`). Each operation's `x-orderlock-auth` says which.",
        },
        paymentSignature: {
          type: "apiKey",
          in: "header",
          name: "Payment-Signature",
          description:
            'The payment provider\'s signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<raw body>")>`, 300 s tolerance.',
        },
        stripeSignature: {
          type: "apiKey",
          in: "header",
          name: "Stripe-Signature",
          description: "Stripe's own webhook signature, checked with its SDK against every STRIPE_WEBHOOK_SECRET, 300 s tolerance.",
        },
      },
      schemas: responseComponents(),
    },
    paths,
  };
}
