/**
 * The client's one transport: a fetch that gives every mutating POST an
 * Idempotency-Key and retries only what is safe to retry.
 *
 * - The key is chosen once per call and sent unchanged on every retry of
 *   that call, so the service runs the request at most once and replays the
 *   stored answer to a retry (the server's contract, API.md).
 * - Retried: 429 rate_limited, 503 service_unavailable, 409
 *   idempotency_key_in_use (the first attempt is still running), and network
 *   errors (connection reset, refused) of a request that carries an
 *   Idempotency-Key or is a GET.
 * - Never retried: any other 4xx, including 409 out_of_stock and 409
 *   version_conflict: repeating them gives the same answer (withVersion is
 *   the way to act on a version conflict); and a network error of a request
 *   without a key (a PATCH): it may have been applied.
 * - Waits: Retry-After when the answer has one (plus a little jitter, so a
 *   crowd does not return in step), else full-jitter exponential backoff
 *   capped at maxDelayMs. A Retry-After longer than maxRetryAfterMs is not
 *   waited for: that answer is returned to the caller.
 */
export type RetryOptions = {
  /** Attempts in all, the first included. Default 5. */
  maxAttempts?: number;
  /** First backoff ceiling. Default 100 ms. */
  baseDelayMs?: number;
  /** Backoff cap. Default 5000 ms. */
  maxDelayMs?: number;
  /** The longest Retry-After the client waits for. Default 30000 ms. */
  maxRetryAfterMs?: number;
  /** For tests and callers who log: called before each wait. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; request: Request }) => void;
};

export type TransportOptions = RetryOptions & {
  fetch?: (request: Request) => Promise<Response>;
  /** Makes a fresh Idempotency-Key. Default: `olc-` + a random UUID. */
  newIdempotencyKey?: () => string;
  /** For deterministic tests; defaults to setTimeout and Math.random. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
};

const RETRYABLE_CODES_409 = new Set(["idempotency_key_in_use"]);

/** POSTs that take an Idempotency-Key: every one of the API except the provider's signed webhook. */
function takesIdempotencyKey(request: Request): boolean {
  return request.method === "POST" && !/\/v1\/webhooks\//.test(new URL(request.url).pathname); // also behind a path prefix
}

async function problemCode(response: Response): Promise<string | undefined> {
  if (!/^application\/(problem\+)?json/.test(response.headers.get("content-type") ?? "")) return undefined;
  try {
    const body = (await response.clone().json()) as { code?: unknown };
    return typeof body.code === "string" ? body.code : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date. */
function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function retryReason(response: Response): Promise<string | undefined> {
  if (response.status === 429 || response.status === 503) return String(response.status);
  if (response.status === 409) {
    const code = await problemCode(response);
    if (code && RETRYABLE_CODES_409.has(code)) return `409 ${code}`;
  }
  return undefined;
}

export function retryingFetch(options: TransportOptions = {}): (request: Request) => Promise<Response> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
  const send = options.fetch ?? ((r: Request) => globalThis.fetch(r));
  const newKey = options.newIdempotencyKey ?? (() => `olc-${globalThis.crypto.randomUUID()}`);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const backoff = (attempt: number) => Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));

  return async (original: Request): Promise<Response> => {
    const headers = new Headers(original.headers);
    if (takesIdempotencyKey(original) && !headers.has("idempotency-key")) headers.set("idempotency-key", newKey());
    const safeToResend = headers.has("idempotency-key") || original.method === "GET" || original.method === "HEAD";
    // The body is read once, so that every attempt sends the same bytes.
    const body = original.body === null ? undefined : await original.arrayBuffer();
    const attemptRequest = () =>
      new Request(original.url, { method: original.method, headers, body, signal: original.signal, redirect: original.redirect });

    for (let attempt = 1; ; attempt++) {
      const request = attemptRequest();
      let response: Response;
      try {
        response = await send(request);
      } catch (error) {
        if (!safeToResend || attempt >= maxAttempts || original.signal.aborted) throw error;
        const delayMs = backoff(attempt);
        options.onRetry?.({ attempt, delayMs, reason: `network: ${(error as Error).message}`, request });
        await sleep(delayMs);
        continue;
      }
      const reason = await retryReason(response);
      if (!reason || attempt >= maxAttempts) return response;
      const hinted = retryAfterMs(response);
      if (hinted !== undefined && hinted > maxRetryAfterMs) return response;
      const delayMs = hinted !== undefined ? hinted + Math.floor(random() * baseDelayMs) : backoff(attempt);
      await response.body?.cancel();
      options.onRetry?.({ attempt, delayMs, reason, request });
      await sleep(delayMs);
    }
  };
}
