import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { Config } from "./config.js";
import { purgeExpiredKeys } from "./idempotency/purge-expired-keys.js";
import { reconcilePurchases } from "./metrics/reconcile-purchases.js";
import { expireReservations } from "./orders/expire-reservations.js";
import { completeProviderPayments } from "./payments/complete-provider-payments.js";
import type { PaymentProvider } from "./payments/providers/payment-provider.js";
import { purgeExpiredRateLimits } from "./rate-limits/purge-expired-rate-limits.js";

type Job = { name: string; everyMs: number; run: () => Promise<unknown> };

/**
 * Periodic maintenance. Every job is safe to run on several instances at
 * once (SKIP LOCKED or conditional statements), so nothing here needs a
 * leader. A failing run is logged and tried again on the next tick.
 */
export function startBackgroundJobs(ds: DataSource, config: Config, logger: Logger, paymentProvider: PaymentProvider) {
  const jobs: Job[] = [
    { name: "expire-reservations", everyMs: config.sweepIntervalMs, run: () => expireReservations(ds) },
    // Payments whose provider call a crash or a timeout cut short (payments_awaiting_provider_idx).
    {
      name: "complete-provider-payments",
      everyMs: config.sweepIntervalMs,
      run: () => completeProviderPayments(ds, paymentProvider, { leaseSeconds: config.providerCallLeaseSeconds, logger }),
    },
    { name: "purge-idempotency-keys", everyMs: 60_000, run: () => purgeExpiredKeys(ds, config.idempotencyTtlHours) },
    { name: "purge-rate-limits", everyMs: 60_000, run: () => purgeExpiredRateLimits(ds) },
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
