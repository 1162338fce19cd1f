/**
 * Domain errors. Each has a stable `code` from the API contract's table; the
 * one problem+json middleware (src/http/problem.ts) turns them into responses.
 * Use cases throw these and never know about HTTP beyond the status number.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = new.target.name;
  }
  get detail(): string {
    return this.message;
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super("not_found", 404, "Not found", `${what} was not found.`);
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail = "A valid API key is required: Authorization: Bearer <key>.") {
    super("unauthorized", 401, "Unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="orderlock"' });
  }
}

export class ForbiddenError extends AppError {
  constructor(detail = "This route needs the admin key.") {
    super("forbidden", 403, "Forbidden", detail);
  }
}

export type FieldError = { path: string; message: string };

export class ValidationError extends AppError {
  constructor(errors: FieldError[], detail = "The request failed validation.") {
    super("validation_failed", 422, "Validation failed", detail, { errors });
  }
}

export class MalformedJsonError extends AppError {
  constructor() {
    super("malformed_json", 400, "Malformed JSON", "The request body is not valid JSON.");
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super("payload_too_large", 413, "Payload too large", `The request body exceeds ${limitBytes} bytes.`);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super("unsupported_media_type", 415, "Unsupported media type", "Request bodies must be application/json.");
  }
}

export class PreconditionRequiredError extends AppError {
  constructor() {
    super(
      "precondition_required",
      428,
      "Precondition required",
      'This update is versioned: send If-Match: "<version>" or "version" in the body.',
    );
  }
}

/** The caller's version precondition is stale. Never retried by the service. */
export class VersionConflictError extends AppError {
  constructor(
    readonly currentVersion: number,
    current: unknown,
  ) {
    super(
      "version_conflict",
      409,
      "Version conflict",
      `The resource has changed; its current version is ${currentVersion}.`,
      { currentVersion, current },
      { ETag: `"${currentVersion}"` },
    );
  }
}

export type Shortfall = { sku: string; requested: number; available: number; perCustomerLimit?: number };

export class OutOfStockError extends AppError {
  constructor(readonly unavailable: Shortfall[]) {
    super("out_of_stock", 409, "Out of stock", "Not every line can be reserved; nothing was reserved.", { unavailable });
  }
}

export class InsufficientStockError extends AppError {
  constructor(detail: string) {
    super("insufficient_stock", 409, "Insufficient stock", detail);
  }
}

export class InvalidStateError extends AppError {
  constructor(detail: string) {
    super("invalid_state", 409, "Invalid state", detail);
  }
}

/** A refund would take the payment's non-failed refunds past its amount. */
export class RefundExceedsPaymentError extends AppError {
  constructor(refundableCents: number) {
    super(
      "refund_exceeds_payment",
      409,
      "Refund exceeds payment",
      `At most ${refundableCents} cents of this payment can still be refunded.`,
      { refundableCents },
    );
  }
}

export class SkuExistsError extends AppError {
  constructor(sku: string) {
    super("sku_exists", 409, "SKU exists", `A product with SKU ${sku} already exists.`);
  }
}

export class IdempotencyKeyMissingError extends AppError {
  constructor(detail = "This route requires an Idempotency-Key header of 1-255 printable ASCII characters.") {
    super("idempotency_key_missing", 400, "Idempotency-Key missing", detail);
  }
}

export class IdempotencyKeyInUseError extends AppError {
  constructor() {
    super(
      "idempotency_key_in_use",
      409,
      "Idempotency-Key in use",
      "A request with this Idempotency-Key is still being processed; retry shortly.",
      {},
      { "Retry-After": "1" },
    );
  }
}

export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(
      "idempotency_key_reused",
      422,
      "Idempotency-Key reused",
      "This Idempotency-Key was already used with a different request (method, path or body).",
    );
  }
}

export class InvalidSignatureError extends AppError {
  constructor(detail = "The Payment-Signature header is missing, wrong, or outside the tolerance.") {
    super("invalid_signature", 401, "Invalid signature", detail);
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number) {
    super(
      "rate_limited",
      429,
      "Rate limited",
      "Too many requests for this API key.",
      {},
      {
        "Retry-After": String(retryAfterSeconds),
      },
    );
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(detail = "The database is unavailable or overloaded; retry shortly.", retryAfterSeconds = 1) {
    super("service_unavailable", 503, "Service unavailable", detail, {}, { "Retry-After": String(retryAfterSeconds) });
  }
}

/**
 * A 503 whose effect is unknown: the call reached the database but no answer
 * came back (the connection broke, or the client-side query timeout fired),
 * so it may have committed. Same code as any 503, so a client that only
 * knows the code still retries; `outcome: "unknown"` tells a careful client
 * that the retry with the same Idempotency-Key, not this answer, is the
 * truth: it replays the stored answer if the first attempt committed, and
 * does the work if it did not.
 */
export class OutcomeUnknownError extends AppError {
  constructor(retryAfterSeconds = 1) {
    super(
      "service_unavailable",
      503,
      "Service unavailable",
      "The database stopped answering while this request was in it: it may or may not have taken effect. Retry it with the same Idempotency-Key to learn which.",
      { outcome: "unknown" },
      { "Retry-After": String(retryAfterSeconds) },
    );
  }
}

/**
 * The service's own optimistic-concurrency conflict (an internal CAS lost a
 * race). Retried by withRetry; if retries run out it surfaces as a 503.
 */
export class InternalConflictError extends Error {
  constructor(what: string) {
    super(`concurrent modification of ${what}`);
    this.name = "InternalConflictError";
  }
}

export type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
};

/** RFC 9457 body for a domain error; extensions never override the standard members. */
export function toProblem(err: AppError, instance?: string): ProblemBody {
  return {
    ...err.extensions,
    type: `https://orderlock.dev/problems/${err.code.replaceAll("_", "-")}`,
    title: err.title,
    status: err.status,
    detail: err.detail,
    code: err.code,
    ...(instance ? { instance } : {}),
  };
}

/** A domain error as the answer a client gets (and an Idempotency-Key stores): status, problem body, headers. */
export function problemAnswer(err: AppError): { status: number; body: ProblemBody; headers: Record<string, string> } {
  return { status: err.status, body: toProblem(err), headers: { ...err.headers, "Content-Type": "application/problem+json" } };
}
