import type { DataSource } from "typeorm";
import { ServiceUnavailableError } from "../errors.js";
import { callerTraceContext, inBatchSpan, type TraceContext } from "../tracing/batch-span.js";
import { isDataError, isTimeoutError } from "./postgres-errors.js";
import { withRetry } from "./with-retry.js";

/**
 * Natural batching (group commit for requests): items submitted while
 * `maxInFlight` batches are already in the database wait, and go together as
 * the next batch the moment one of those finishes. Under light load every item
 * goes alone and at once, so batching adds no latency; under load a batch
 * grows with the queue, and one database call and one commit serve many
 * requests.
 *
 * A free slot is filled at the end of the current turn of the event loop
 * (setImmediate), not inside `submit`: requests arrive in bursts (the
 * sockets one poll read, the callers one batch of the rate limiter
 * answered), and a synchronous dispatch would send the first of a burst
 * alone and the rest as the next batch, one call more per burst, and a
 * single order costs the database twice what one in a batch does. One turn
 * adds microseconds, not a timer's wait.
 *
 * Only a transport optimisation: nothing here is needed for correctness. Each
 * item's outcome is whatever the database decided for it inside the batch's
 * transaction, and nothing is resolved before `run` returns (after COMMIT).
 * Several instances each batch their own requests; the database serialises
 * their batches with row locks as it would single calls.
 *
 * `run` answers every item, in order: a value or the error of that item alone.
 */
export type ItemResult<O> = { ok: true; value: O } | { ok: false; error: unknown };

export type BatcherOptions = {
  /** Batches in the database at once, per process. */
  maxInFlight: number;
  /** Items in one batch at most. */
  maxBatch: number;
  /**
   * Items that may wait at most; one more is refused at once with
   * `overflow()` (load shedding: a quick 503, not a queue that outlives the
   * clients' patience). Each call is bounded in time by the pool's
   * query_timeout, so a wait is bounded too.
   */
  maxWaiting: number;
  overflow: () => Error;
  /**
   * How long an item may wait in the queue before it is refused with
   * `overflow()` (nothing of it was sent). Bounds a request's wait when the
   * batches ahead of it hang on a database that stopped answering: without
   * it an item waits out their client timeout, then its own.
   */
  maxQueueWaitMs?: number;
};

/**
 * The service's waiting limits: beyond 2000 waiting items, or 2 s in the
 * queue, a request gets 503 (nothing done). 2 s in the queue plus a pool wait
 * (connectTimeoutMs, 2 s) plus one call (query_timeout, 10 s) keeps a request
 * that cannot reach the database under the 15 s of API.md's bounded waits.
 */
export const SHED_LOAD = {
  maxWaiting: 2000,
  maxQueueWaitMs: 2000,
  overflow: () => new ServiceUnavailableError("The service is overloaded; retry shortly."),
} as const;

/**
 * How a batch's `run` answers an item before the whole batch is done, passed
 * by the Batcher to each `run` (a plain argument: an AsyncLocalStorage would
 * switch on Node's promise hooks for every promise of the process). Used by
 * callBatchOrEachAlone's one-at-a-time fallback, so an item decided alone is
 * answered then, not after the items behind it (one of which may wait out a
 * lock timeout).
 */
export type AnswerEarly<O> = (index: number, result: ItemResult<O>) => void;

type Waiting<I, O> = {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
  deadline: number;
  traceContext: TraceContext;
};

export class Batcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private dispatchScheduled = false;

  constructor(
    private readonly run: (items: I[], answerEarly: AnswerEarly<O>) => Promise<ItemResult<O>[]>,
    private readonly options: BatcherOptions,
  ) {
    if (options.maxInFlight < 1 || options.maxBatch < 1) throw new Error("Batcher: maxInFlight and maxBatch must be at least 1");
  }

  /** Nothing queued, nothing scheduled, no batch running. */
  isIdle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0 && !this.dispatchScheduled;
  }

  submit(item: I): Promise<O> {
    if (this.queue.length >= this.options.maxWaiting) return Promise.reject(this.options.overflow());
    return new Promise<O>((resolve, reject) => {
      this.queue.push({
        item,
        resolve,
        reject,
        deadline: Date.now() + (this.options.maxQueueWaitMs ?? Number.POSITIVE_INFINITY),
        traceContext: callerTraceContext(),
      });
      this.scheduleDispatch();
      this.armExpiry();
    });
  }

  /** The queue is in arrival order, so the head expires first: one timer, set for the head's deadline. */
  private armExpiry(): void {
    if (this.expiryTimer || this.queue.length === 0 || this.options.maxQueueWaitMs === undefined) return;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined;
        const now = Date.now();
        while (this.queue.length > 0 && this.queue[0].deadline <= now) this.queue.shift()!.reject(this.options.overflow());
        this.armExpiry();
      },
      Math.max(0, this.queue[0].deadline - Date.now()),
    );
    this.expiryTimer.unref();
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled || this.inFlight >= this.options.maxInFlight) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      const answer = (i: number, r: ItemResult<O>) => {
        if (r.ok) batch[i].resolve(r.value);
        else batch[i].reject(r.error);
      };
      // (An exception thrown by run itself, not only a rejection, must reach every item.
      // An item answered early is answered again below: a promise settles once.)
      Promise.resolve()
        .then(() =>
          inBatchSpan(batch, () =>
            this.run(
              batch.map((w) => w.item),
              answer,
            ),
          ),
        )
        .then(
          (results) => {
            batch.forEach((w, i) => {
              const r = Array.isArray(results) ? results[i] : undefined;
              if (!r) w.reject(new Error(`Batcher: no result for item ${i} of ${batch.length}`));
              else if (r.ok) w.resolve(r.value);
              else w.reject(r.error);
            });
          },
          (error: unknown) => {
            for (const w of batch) w.reject(error);
          },
        )
        .finally(() => {
          this.inFlight -= 1;
          this.scheduleDispatch();
        });
    }
  }
}

/**
 * One batcher per DataSource (per database), made on first use, so that each
 * DataSource of a process (tests run several) batches only its own requests.
 */
export function batcherPerDataSource<I, O>(make: (ds: DataSource) => Batcher<I, O>): (ds: DataSource) => Batcher<I, O> {
  const made = new WeakMap<DataSource, Batcher<I, O>>();
  return (ds) => {
    let batcher = made.get(ds);
    if (!batcher) {
      batcher = make(ds);
      made.set(ds, batcher);
      const all = batchersOf.get(ds) ?? [];
      all.push(batcher as Batcher<unknown, unknown>);
      batchersOf.set(ds, all);
    }
    return batcher;
  };
}

const batchersOf = new WeakMap<DataSource, Batcher<unknown, unknown>[]>();

/** Whether every batcher of this DataSource is idle (see settleInFlightWork). */
export function batchersIdle(ds: DataSource): boolean {
  return (batchersOf.get(ds) ?? []).every((b) => b.isIdle());
}

/**
 * Runs a batch as ONE call (its own transaction, retried whole on deadlocks
 * and serialisation failures). If it still fails with an error that one item
 * may have caused, the items run again one at a time, in arrival order, so
 * that item fails alone (one at a time: a failed batch must not take more
 * pool connections than it had). Those errors: a data error (class 22, 23,
 * P0), and a lock or statement timeout (the batch locks every row of every
 * item up front, so one item's row locked elsewhere would otherwise fail
 * them all; alone, only that item waits, and an item behind it in the same
 * batch pays that wait once more, within the bounded-waits budget below). Any
 * other failure (the database unreachable or read-only, no answer) is every
 * item's: repeating it per item would only multiply it.
 * Re-running an item whose batch did commit after all is harmless: orders
 * carry a required Idempotency-Key (replayed), events an event id (duplicate).
 */
export async function callBatchOrEachAlone<I, O>(
  batch: I[],
  call: (items: I[]) => Promise<O[]>,
  answerEarly?: AnswerEarly<O>,
): Promise<ItemResult<O>[]> {
  const startedAt = Date.now();
  let startBy = Number.POSITIVE_INFINITY;
  try {
    return (await withRetry(() => call(batch))).map((value) => ({ ok: true, value }));
  } catch (error) {
    if (batch.length === 1 || !(isDataError(error) || isTimeoutError(error))) return batch.map(() => ({ ok: false, error }));
    // After a timeout (the batch took about one lock or statement timeout, T),
    // an item starts alone only within 1.5 T of the batch's start, so even a
    // blocked one answers within 2.5 T (5 s for the default 2 s lock_timeout:
    // API.md's bound). Items behind two blocked ones get a 503 without running.
    if (isTimeoutError(error)) startBy = startedAt + 1.5 * (Date.now() - startedAt);
  }
  const results: ItemResult<O>[] = [];
  for (const item of batch) {
    let result: ItemResult<O>;
    try {
      if (Date.now() > startBy) throw new ServiceUnavailableError("The database is contended; retry shortly.");
      result = { ok: true, value: (await withRetry(() => call([item])))[0] };
    } catch (error) {
      result = { ok: false, error };
    }
    results.push(result);
    answerEarly?.(results.length - 1, result);
  }
  return results;
}
