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
};

type Waiting<I, O> = { item: I; resolve: (value: O) => void; reject: (error: unknown) => void };

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
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      this.run(batch.map((w) => w.item))
        .then(
          (results) => {
            batch.forEach((w, i) => {
              const r = results[i];
              if (!r) w.reject(new Error(`Batcher: no result for item ${i} of ${batch.length}`));
              else if (r.ok) w.resolve(r.value);
              else w.reject(r.error);
            });
          },
          (error: unknown) => batch.forEach((w) => w.reject(error)),
        )
        .finally(() => {
          this.inFlight -= 1;
          this.dispatch();
        });
    }
  }
}
