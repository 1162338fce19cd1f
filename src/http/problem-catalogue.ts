import {
  type AppError,
  ForbiddenError,
  IdempotencyKeyInUseError,
  IdempotencyKeyMissingError,
  IdempotencyKeyReusedError,
  InsufficientStockError,
  InvalidSignatureError,
  InvalidStateError,
  MalformedJsonError,
  NotFoundError,
  OutOfStockError,
  PayloadTooLargeError,
  PreconditionRequiredError,
  type ProblemBody,
  RateLimitedError,
  RefundExceedsPaymentError,
  ServiceUnavailableError,
  SkuExistsError,
  toProblem,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
  VersionConflictError,
} from "../errors.js";
import { exampleProduct } from "../inventory/product-view.js";

/**
 * Every problem `code` of the API contract, with when it happens and an
 * example body. The examples are made by the very error classes the use
 * cases throw and rendered by the one toProblem, so the OpenAPI document's
 * statuses, titles and example bodies cannot drift from what is sent.
 */
const internalExample: ProblemBody = {
  type: "https://orderlock.dev/problems/internal",
  title: "Internal error",
  status: 500,
  detail: "Something went wrong on our side. Request id: 2f1d6c0e-2b1a-4c55-9d52-2b1f0a6f9e31.",
  code: "internal",
};

const fromError = (when: string, error: AppError) => ({ when, status: error.status, example: toProblem(error) });

export const problemCatalogue = {
  malformed_json: fromError("The body is not valid JSON.", new MalformedJsonError()),
  idempotency_key_missing: fromError(
    "A route that requires `Idempotency-Key` got none, or an invalid one (1-255 printable ASCII characters).",
    new IdempotencyKeyMissingError(),
  ),
  unauthorized: fromError("No key, or an unknown key.", new UnauthorizedError()),
  invalid_signature: fromError("Webhook signature missing, wrong, or outside the 300 s tolerance.", new InvalidSignatureError()),
  forbidden: fromError(
    "The key may not use this route (a customer key on an admin route, or the admin key on a customer route).",
    new ForbiddenError(),
  ),
  not_found: fromError("No such resource, or it belongs to another customer (existence is never leaked).", new NotFoundError("Order")),
  version_conflict: fromError(
    "The caller's version precondition is stale; `currentVersion` and `current` (the current representation) are in the body and the current `ETag` in the headers.",
    new VersionConflictError(4, exampleProduct),
  ),
  out_of_stock: fromError(
    "The order cannot be reserved in full; `unavailable` lists the short lines; nothing was reserved.",
    new OutOfStockError([{ sku: "WIDGET-1", requested: 5, available: 2 }]),
  ),
  insufficient_stock: fromError(
    "A stock adjustment would make `onHand` smaller than `reserved` or than 0.",
    new InsufficientStockError("Adjusting WIDGET-1 by -100 would leave onHand 0 below reserved 3."),
  ),
  invalid_state: fromError(
    "The transition is not allowed from the resource's current status.",
    new InvalidStateError("The order is pending_payment; only a reserved order can be changed."),
  ),
  sku_exists: fromError("A product with this SKU already exists.", new SkuExistsError("WIDGET-1")),
  refund_exceeds_payment: fromError(
    "A refund would take the payment's refunds past its amount; `refundableCents` says what is left.",
    new RefundExceedsPaymentError(1200),
  ),
  idempotency_key_in_use: fromError(
    "A request with this Idempotency-Key is still being processed (`Retry-After` set); retry it.",
    new IdempotencyKeyInUseError(),
  ),
  payload_too_large: fromError("The body is over 64 KiB.", new PayloadTooLargeError(65536)),
  unsupported_media_type: fromError("The body is not `application/json`.", new UnsupportedMediaTypeError()),
  validation_failed: fromError(
    "The body, query or a header fails validation; `errors` lists each `{path, message}`.",
    new ValidationError([{ path: "lines.0.quantity", message: "Too big: expected number to be <=10000" }]),
  ),
  idempotency_key_reused: fromError(
    "The Idempotency-Key was already used with a different request (method, path or body).",
    new IdempotencyKeyReusedError(),
  ),
  precondition_required: fromError("A versioned update without `If-Match` and without `version`.", new PreconditionRequiredError()),
  rate_limited: fromError("The per-key request rate is exceeded (`Retry-After` set).", new RateLimitedError(12)),
  service_unavailable: fromError("The database is unreachable or overloaded (`Retry-After` set).", new ServiceUnavailableError()),
  internal: { when: "Anything else; the body has no stack trace or SQL, only a request id.", status: 500, example: internalExample },
} satisfies Record<string, { when: string; status: number; example: ProblemBody }>;

export type ProblemCode = keyof typeof problemCatalogue;
export const problemCodes = Object.keys(problemCatalogue) as ProblemCode[];
