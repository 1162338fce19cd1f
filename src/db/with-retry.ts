import pRetry, { AbortError } from "p-retry";
import { InternalConflictError } from "../errors.js";
import { isRetryableSqlError } from "./postgres-errors.js";

export type RetryPolicy = {
  /** Total attempts, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No new attempt starts after this much time since the first. */
  maxTotalMs: number;
};

export const defaultRetryPolicy: RetryPolicy = { attempts: 6, baseDelayMs: 5, maxDelayMs: 200, maxTotalMs: 3000 };

export type RetryObserver = (info: { attempt: number; error: unknown }) => void;

let observer: RetryObserver = () => {};
/** Metrics hook: called once for every retry that is about to happen. */
export function onRetry(fn: RetryObserver): void {
  observer = fn;
}

/** Retries only the service's own transient conflicts: 40001, 40P01 and internal CAS losses. */
export function isRetryable(err: unknown): boolean {
  return err instanceof InternalConflictError || isRetryableSqlError(err);
}

/** Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n)]. */
export function fullJitterDelayMs(retryNumber: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryNumber);
  return Math.random() * ceiling;
}

/**
 * Runs `work` (a whole transaction) again when it fails with a retryable
 * error, bounded in attempts and in total time. Anything else, 23505 and
 * 23514 included, fails at once: those mean "already done" or "not allowed".
 * `work` must be safe to run again from the start: it has to begin its own
 * transaction, so a retry never continues a failed one.
 */
export async function withRetry<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy = defaultRetryPolicy): Promise<T> {
  const startedAt = Date.now();
  return pRetry(
    async (attempt) => {
      if (attempt > 1) {
        await new Promise((r) => setTimeout(r, fullJitterDelayMs(attempt - 1, policy)));
      }
      try {
        return await work(attempt);
      } catch (err) {
        const outOfTime = Date.now() - startedAt >= policy.maxTotalMs;
        if (!isRetryable(err) || outOfTime || attempt >= policy.attempts) {
          // AbortError stops p-retry and rethrows the original error untouched.
          throw new AbortError(err instanceof Error ? err : new Error(String(err)));
        }
        observer({ attempt, error: err });
        throw err;
      }
    },
    // Delays are ours (full jitter above); p-retry only counts.
    { retries: policy.attempts - 1, minTimeout: 0, maxTimeout: 0, factor: 1 },
  );
}
