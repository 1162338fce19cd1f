import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { Config } from "./config.js";
import { purgeOldEvents } from "./events/purge-old-events.js";
import { purgeExpiredKeys } from "./idempotency/purge-expired-keys.js";
import { reconcilePurchases } from "./metrics/reconcile-purchases.js";
import { expireReservations } from "./orders/expire-reservations.js";
import { completeProviderPayments } from "./payments/complete-provider-payments.js";
import { expirePayments } from "./payments/expire-payments.js";
import type { PaymentProvider } from "./payments/providers/payment-provider.js";
import { purgeExpiredRateLimits } from "./rate-limits/purge-expired-rate-limits.js";
import { submitOwedRefunds } from "./refunds/submit-owed-refunds.js";

type Job = { name: string; everyMs: number; run: () => Promise<unknown> };

/**
 * A purge's cadence: its production one (`atMostMs`), or a tenth of the
 * window it enforces when that is shorter (a short retention, as the bench's
 * soak sets, is then enforced as closely as a long one is), never below 1 s.
 */
export function purgeEveryMs(windowMs: number, atMostMs: number): number {
  return Math.max(1000, Math.min(atMostMs, Math.round(windowMs / 10)));
}

/**
 * Periodic maintenance. Every job is safe to run on several instances at
 * once (SKIP LOCKED or conditional statements), so nothing here needs a
 * leader. A failing run is logged and tried again on the next tick.
 */
export function startBackgroundJobs(
  ds: DataSource,
  config: Pick<Config, "sweepIntervalMs" | "idempotencyTtlHours" | "eventRetentionDays" | "providerCallLeaseSeconds">,
  logger: Logger,
  provider: PaymentProvider,
) {
  const jobs: Job[] = [
    { name: "expire-reservations", everyMs: config.sweepIntervalMs, run: () => expireReservations(ds) },
    // Pending payments past expiresAt → expired with their orders; then the provider's side is cancelled.
    { name: "expire-payments", everyMs: config.sweepIntervalMs, run: () => expirePayments(ds, provider, logger) },
    // Refunds whose provider call after COMMIT was cut short are requested again (same key: the refund id).
    { name: "submit-owed-refunds", everyMs: 10_000, run: () => submitOwedRefunds(ds, provider, logger) },
    // Payments whose provider call a crash or a timeout cut short (payments_awaiting_provider_idx).
    {
      name: "complete-provider-payments",
      everyMs: config.sweepIntervalMs,
      run: () => completeProviderPayments(ds, provider, { leaseSeconds: config.providerCallLeaseSeconds, logger }),
    },
    {
      name: "purge-idempotency-keys",
      everyMs: purgeEveryMs(config.idempotencyTtlHours * 3_600_000, 60_000),
      run: () => purgeExpiredKeys(ds, config.idempotencyTtlHours),
    },
    { name: "purge-rate-limits", everyMs: 60_000, run: () => purgeExpiredRateLimits(ds) },
    {
      name: "purge-old-events",
      everyMs: purgeEveryMs(config.eventRetentionDays * 86_400_000, 600_000),
      run: () => purgeOldEvents(ds, config.eventRetentionDays),
    },
    // Keeps the drift gauge current for alerting, not only when someone asks.
    { name: "reconcile-purchases", everyMs: 60_000, run: () => reconcilePurchases(ds) },
  ];
  let stopped = false;
  const running = new Map<string, Promise<unknown>>();
  const timers = jobs.map((job) =>
    setInterval(() => {
      // One run of a job at a time per instance; a slow run delays the next.
      if (stopped || running.has(job.name)) return;
      const p = job
        .run()
        .catch((err: unknown) => logger.warn({ err, job: job.name }, "background job failed"))
        .finally(() => running.delete(job.name));
      running.set(job.name, p);
    }, job.everyMs),
  );
  return {
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running.values()]);
    },
  };
}
