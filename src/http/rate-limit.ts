import type { NextFunction, Request, Response } from "express";
import type { DataSource } from "typeorm";
import { RateLimitedError } from "../errors.js";
import { consumeRateLimit, RATE_LIMIT_WINDOW_MS } from "../rate-limits/consume-rate-limit.js";

/**
 * Per-customer-key rate limit (RATE_LIMIT_PER_MINUTE, fixed one-minute
 * windows), counted in the shared database (src/rate-limits), so the limit
 * holds across any number of instances. The admin key is exempt. Every
 * limited response carries the IETF RateLimit headers; a refusal is 429
 * rate_limited with Retry-After. A database failure is a 503 like any other.
 */
export function rateLimitPerCustomer(ds: DataSource, pointsPerMinute: number) {
  const policy = `${pointsPerMinute};w=${RATE_LIMIT_WINDOW_MS / 1000}`;
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.caller?.kind !== "customer") return next();
    const d = await consumeRateLimit(ds, `cust:${req.caller.customerId}`, pointsPerMinute);
    res.setHeader("RateLimit-Policy", policy);
    res.setHeader("RateLimit-Limit", String(d.limit));
    res.setHeader("RateLimit-Remaining", String(d.remaining));
    res.setHeader("RateLimit-Reset", String(Math.ceil(d.msBeforeReset / 1000)));
    if (!d.allowed) throw new RateLimitedError(Math.max(1, Math.ceil(d.msBeforeReset / 1000)));
    next();
  };
}
