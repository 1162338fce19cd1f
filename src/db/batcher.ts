import type { DataSource } from "typeorm";
import { ServiceUnavailableError } from "../errors.js";
import { callerTraceContext, inBatchSpan, type TraceContext } from "../tracing/batch-span.js";
import { isDataError } from "./postgres-errors.js";
import { withRetry } from "./with-retry.js";

/**
 * Natural batching (group commit for requests): items submitted while
 * `maxInFlight` batches are already in the database wait, and go together as
 * the next batch the moment one of those finishes. Under light load every item
 * goes alone and at once, so batching adds no latency; under load a batch
 * grows with the queue, and one database call and one commit serve many
 * requests.
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
};

/** The service's waiting limit: beyond it a request gets 503 at once. */
export const SHED_LOAD = {
  maxWaiting: 2000,
  overflow: () => new ServiceUnavailableError("The service is overloaded; retry shortly."),
} as const;

type Waiting<I, O> = { item: I; resolve: (value: O) => void; reject: (error: unknown) => void; traceContext: TraceContext };

export class Batcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;

  constructor(
    private readonly run: (items: I[]) => Promise<ItemResult<O>[]>,
    private readonly options: BatcherOptions,
  ) {
    if (options.maxInFlight < 1 || options.maxBatch < 1) throw new Error("Batcher: maxInFlight and maxBatch must be at least 1");
  }

  submit(item: I): Promise<O> {
    if (this.queue.length >= this.options.maxWaiting) return Promise.reject(this.options.overflow());
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject, traceContext: callerTraceContext() });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      // (An exception thrown by run itself, not only a rejection, must reach every item.)
      Promise.resolve()
        .then(() => inBatchSpan(batch, () => this.run(batch.map((w) => w.item))))
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
          this.dispatch();
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
    }
    return batcher;
  };
}

/**
 * Runs a batch as ONE call (its own transaction, retried whole on deadlocks
 * and serialisation failures). If it still fails with a data error, which one
 * item may have caused, the items run again one at a time, in arrival order,
 * so that item fails alone (one at a time: a failed batch must not take more
 * pool connections than it had). Any other failure (a timeout, the database
 * unreachable) is every item's: repeating it per item would only multiply it.
 * Re-running an item whose batch did commit after all is harmless: orders
 * carry a required Idempotency-Key (replayed), events an event id (duplicate).
 */
export async function callBatchOrEachAlone<I, O>(batch: I[], call: (items: I[]) => Promise<O[]>): Promise<ItemResult<O>[]> {
  try {
    return (await withRetry(() => call(batch))).map((value) => ({ ok: true, value }));
  } catch (error) {
    if (batch.length === 1 || !isDataError(error)) return batch.map(() => ({ ok: false, error }));
  }
  const results: ItemResult<O>[] = [];
  for (const item of batch) {
    try {
      results.push({ ok: true, value: (await withRetry(() => call([item])))[0] });
    } catch (error) {
      results.push({ ok: false, error });
    }
  }
  return results;
}
