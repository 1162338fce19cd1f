import type { NextFunction, Request, Response } from "express";
import type { DataSource } from "typeorm";
import { RateLimitedError } from "../errors.js";
import { consumeRateLimit, RATE_LIMIT_WINDOW_MS, type RateLimitDecision, rateLimitKey } from "../rate-limits/consume-rate-limit.js";

/**
 * Per-customer rate limit (RATE_LIMIT_PER_MINUTE, fixed one-minute windows),
 * counted in the shared database (src/rate-limits), so the limit holds
 * across any number of instances. The admin key is exempt. Every limited
 * response carries the IETF RateLimit headers; a refusal is 429
 * rate_limited with Retry-After. A database failure is a 503 like any other.
 *
 * A request is counted once, before its work: by this middleware, or, for
 * a route that counts in its own database call (placing an order), by that
 * call; such a route is mounted before the middleware and answers with
 * answerRateLimit too.
 */
export function rateLimitPerCustomer(ds: DataSource, pointsPerMinute: number) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    await countRequest(ds, req, res, pointsPerMinute);
    next();
  };
}

/** The RateLimit headers of a counted request; a refused one is 429 rate_limited with Retry-After. */
export function answerRateLimit(res: Response, d: RateLimitDecision): void {
  res.setHeader("RateLimit-Policy", `${d.limit};w=${RATE_LIMIT_WINDOW_MS / 1000}`);
  res.setHeader("RateLimit-Limit", String(d.limit));
  res.setHeader("RateLimit-Remaining", String(d.remaining));
  res.setHeader("RateLimit-Reset", String(Math.ceil(d.msBeforeReset / 1000)));
  if (!d.allowed) throw new RateLimitedError(Math.max(1, Math.ceil(d.msBeforeReset / 1000)));
}

/**
 * Counts a customer's request on its own (the middleware; and a route that
 * counts in its own call, for a request it refuses before that call, so it
 * is counted and answered 429 over the limit as the middleware would).
 */
export async function countRequest(ds: DataSource, req: Request, res: Response, pointsPerMinute: number): Promise<void> {
  if (req.caller?.kind !== "customer") return;
  answerRateLimit(res, await consumeRateLimit(ds, rateLimitKey(req.caller.customerId), pointsPerMinute));
}
