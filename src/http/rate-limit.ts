import type { NextFunction, Request, Response } from "express";
import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import type { DataSource } from "typeorm";
import { RateLimitedError } from "../errors.js";

/**
 * Per-customer-key rate limit (RATE_LIMIT_PER_MINUTE, fixed one-minute
 * windows) by rate-limiter-flexible with its PostgreSQL store: the counter is
 * one atomic upsert per request in the shared database, so the limit holds
 * across any number of instances. The admin key is exempt. Every limited
 * response carries the IETF RateLimit headers; a refusal is 429 rate_limited
 * with Retry-After.
 */
export function rateLimitPerCustomer(ds: DataSource, pointsPerMinute: number) {
  const limiter = new RateLimiterPostgres({
    storeClient: ds,
    storeType: "typeorm",
    tableName: "rate_limits",
    tableCreated: true, // created by a migration, never by the library
    keyPrefix: "cust",
    points: pointsPerMinute,
    duration: 60,
  });

  const setHeaders = (res: Response, r: RateLimiterRes) => {
    const resetSeconds = Math.max(0, Math.ceil(r.msBeforeNext / 1000));
    res.setHeader("RateLimit-Policy", `${pointsPerMinute};w=60`);
    res.setHeader("RateLimit-Limit", String(pointsPerMinute));
    res.setHeader("RateLimit-Remaining", String(Math.max(0, r.remainingPoints)));
    res.setHeader("RateLimit-Reset", String(resetSeconds));
  };

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.caller?.kind !== "customer") return next();
    try {
      setHeaders(res, await limiter.consume(req.caller.customerId, 1));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err; // the store failed: a database error (503)
      setHeaders(res, err);
      throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
    }
    next();
  };
}
