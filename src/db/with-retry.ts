import pRetry from "p-retry";
import { InternalConflictError } from "../errors.js";
import { isRetryableSqlError } from "./postgres-errors.js";

/**
 * How a retried operation backs off; p-retry does the retrying (exponential
 * backoff from `baseDelayMs`, randomised ×1–2, capped at `maxDelayMs`; no
 * new attempt after `maxTotalMs`). Our code decides only what is retryable.
 */
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

/** The service's own transient conflicts: 40001, 40P01 and internal compare-and-swap losses. */
export function isRetryable(err: unknown): boolean {
  return err instanceof InternalConflictError || isRetryableSqlError(err);
}

/** Runs `work` again, per `policy`, while `shouldRetry` says its error is worth another attempt. */
export function retrying<T>(
  work: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  shouldRetry: (error: unknown) => boolean,
  onRetryDue: RetryObserver = () => {},
): Promise<T> {
  return pRetry(work, {
    retries: policy.attempts - 1,
    minTimeout: policy.baseDelayMs,
    maxTimeout: policy.maxDelayMs,
    factor: 2,
    randomize: true,
    maxRetryTime: policy.maxTotalMs,
    shouldRetry: ({ error, retriesLeft, attemptNumber }) => {
      const retry = retriesLeft > 0 && shouldRetry(error);
      if (retry) onRetryDue({ attempt: attemptNumber, error });
      return retry;
    },
  });
}

/**
 * Runs `work` (a whole transaction) again when it fails with one of the
 * service's own transient conflicts, bounded in attempts and in total time.
 * Anything else, 23505 and 23514 included, fails at once: those mean
 * "already done" or "not allowed". `work` must begin its own transaction,
 * so a retry never continues a failed one.
 */
export function withRetry<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy = defaultRetryPolicy): Promise<T> {
  return retrying(work, policy, isRetryable, (info) => observer(info));
}
