import { describe, expect, it } from "vitest";
import { Batcher, callBatchOrEachAlone, type ItemResult } from "../../src/db/batcher.js";

/** A run whose batches the test releases by hand, recording what each batch held. */
function controlledRun() {
  const batches: number[][] = [];
  const release: (() => void)[] = [];
  const run = (items: number[]): Promise<ItemResult<number>[]> => {
    batches.push(items);
    return new Promise((resolve) =>
      release.push(() => resolve(items.map((n) => (n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: n * 10 })))),
    );
  };
  return { batches, release, run };
}

const LIMITS = { maxInFlight: 1, maxBatch: 10, maxWaiting: 100, overflow: () => new Error("overloaded") };
/** Two turns of the event loop: a batch's end, then the dispatch it schedules for the end of its turn. */
const settle = async () => {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
};

describe("Batcher", () => {
  it("when items arrive while the in-flight limit is reached, then they wait and go together, in arrival order, as soon as one batch finishes", async () => {
    const c = controlledRun();
    const b = new Batcher(c.run, LIMITS);
    const first = b.submit(1);
    await settle();
    expect(c.batches).toEqual([[1]]); // light load: the first goes alone, at once
    const rest = [2, 3, 4].map((n) => b.submit(n));
    await settle();
    expect(c.batches).toEqual([[1]]);
    c.release[0]();
    expect(await first).toBe(10);
    await settle();
    expect(c.batches).toEqual([[1], [2, 3, 4]]);
    c.release[1]();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it("when more items wait than a batch holds, then batches are cut at maxBatch and run up to maxInFlight at once", async () => {
    const c = controlledRun();
    const b = new Batcher(c.run, { ...LIMITS, maxInFlight: 2, maxBatch: 3 });
    const first = [b.submit(1)];
    await settle();
    const all = [...first, ...Array.from({ length: 10 }, (_, i) => b.submit(i + 2))];
    await settle();
    expect(c.batches).toEqual([[1], [2, 3, 4]]);
    c.release[0]();
    c.release[1]();
    await settle();
    expect(c.batches).toEqual([[1], [2, 3, 4], [5, 6, 7], [8, 9, 10]]);
    c.release[2]();
    await settle();
    expect(c.batches.at(-1)).toEqual([11]);
    c.release[3]();
    c.release[4]();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
  });

  it("when items arrive in one turn of the event loop (one burst), then they go as one batch, not the first alone and the rest behind it", async () => {
    const c = controlledRun();
    const b = new Batcher(c.run, { ...LIMITS, maxInFlight: 2 });
    const burst = [1, 2, 3, 4].map((n) => b.submit(n));
    expect(c.batches).toEqual([]); // nothing sent inside submit…
    await settle();
    expect(c.batches).toEqual([[1, 2, 3, 4]]); // …all four at the end of the turn, in arrival order
    c.release[0]();
    expect(await Promise.all(burst)).toEqual([10, 20, 30, 40]);
  });

  it("when one item of a batch fails, then only that item's caller sees the error; when the whole run fails, every item's caller does", async () => {
    const c = controlledRun();
    const b = new Batcher(c.run, LIMITS);
    const head = b.submit(0);
    await settle();
    const good = b.submit(5);
    const bad = b.submit(-1);
    await settle();
    c.release[0]();
    await head;
    await settle();
    c.release[1]();
    expect(await good).toBe(50);
    await expect(bad).rejects.toThrow("bad -1");

    let down = true;
    const flaky = new Batcher<number, number>(async (items) => {
      if (down) throw new Error("database down");
      return items.map((n) => ({ ok: true, value: n }));
    }, LIMITS);
    const results = await Promise.allSettled([1, 2, 3].map((n) => flaky.submit(n)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    // …and the batcher takes new work afterwards: nothing stays counted in flight.
    down = false;
    expect(await Promise.all([4, 5].map((n) => flaky.submit(n)))).toEqual([4, 5]);
  });

  it("when more items wait than maxWaiting, then the next is refused at once with the overflow error and the waiting ones still run", async () => {
    const c = controlledRun();
    const b = new Batcher(c.run, { ...LIMITS, maxWaiting: 2 });
    const first = b.submit(1); // in flight
    await settle();
    const waiting = [b.submit(2), b.submit(3)];
    await expect(b.submit(4)).rejects.toThrow("overloaded");
    c.release[0]();
    await first;
    await settle();
    c.release[1]();
    expect(await Promise.all(waiting)).toEqual([20, 30]);
  });
});

describe("Batcher: bounded queue wait", () => {
  it("when an item waits in the queue past maxQueueWaitMs, then it is refused with the overflow error and never runs", async () => {
    const c = controlledRun();
    const b = new Batcher(c.run, { ...LIMITS, maxQueueWaitMs: 100 });
    const first = b.submit(1);
    await settle();
    const waiting = b.submit(2);
    const started = Date.now();
    await expect(waiting).rejects.toThrow("overloaded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(1000);
    c.release[0]();
    expect(await first).toBe(10);
    await settle();
    expect(c.batches).toEqual([[1]]);
  });
});

describe("callBatchOrEachAlone", () => {
  const sqlError = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });

  it("when a batch fails with a data error, then its items run again one at a time, in order, and only the culprit fails", async () => {
    const calls: number[][] = [];
    const call = async (items: number[]) => {
      calls.push(items);
      if (items.includes(2)) throw sqlError("23514");
      return items.map((n) => n * 10);
    };
    const results = await callBatchOrEachAlone([1, 2, 3], call);
    expect(calls).toEqual([[1, 2, 3], [1], [2], [3]]);
    expect(results.map((r) => (r.ok ? r.value : "error"))).toEqual([10, "error", 30]);
  });

  it("when a batch fails with a lock or statement timeout, then its items run again one at a time, each answered as soon as it is decided", async () => {
    for (const code of ["55P03", "57014"]) {
      const calls: number[][] = [];
      const answered: number[] = [];
      let answeredWhileBlocked: number[] = [];
      const b = new Batcher<number, number>(
        (batch, answerEarly) =>
          callBatchOrEachAlone(
            batch,
            async (items: number[]) => {
              calls.push(items);
              if (items.includes(2)) {
                if (items.length > 1) await new Promise((r) => setTimeout(r, 40)); // the batch waits out a lock timeout
                if (items.length === 1) {
                  await new Promise((r) => setTimeout(r, 50)); // the blocked one waits alone
                  answeredWhileBlocked = [...answered];
                }
                throw sqlError(code);
              }
              return items.map((n) => n * 10);
            },
            answerEarly,
          ),
        { ...LIMITS, maxInFlight: 1 },
      );
      const gate = b.submit(0); // goes alone; the next three wait and go together
      await settle();
      const three = [1, 3, 2].map((n) => b.submit(n).finally(() => answered.push(n)));
      expect(await gate).toBe(0);
      const results = await Promise.allSettled(three);
      expect(calls).toEqual([[0], [1, 3, 2], [1], [3], [2]]);
      expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as { code: string }).code))).toEqual([10, 30, code]);
      expect(answeredWhileBlocked).toEqual([1, 3]); // not held back until the blocked one is decided
    }
  });

  it("when items behind a blocked one could not be decided within 1.5 times the batch's timeout, then they get a 503 without running", async () => {
    const calls: number[][] = [];
    const results = await callBatchOrEachAlone([2, 4, 1], async (items: number[]) => {
      calls.push(items);
      if (items.includes(2) || items.includes(4)) {
        await new Promise((r) => setTimeout(r, 100)); // each blocked call waits out the lock timeout
        throw sqlError("55P03");
      }
      return items.map((n) => n * 10);
    });
    expect(calls).toEqual([[2, 4, 1], [2]]); // 4 and 1 would start after 150 ms: not run
    expect(results.map((r) => (r.ok ? r.value : ((r.error as { code?: string }).code ?? (r.error as Error).name)))).toEqual([
      "55P03",
      "service_unavailable",
      "service_unavailable",
    ]);
  });

  it("when a batch fails for every item alike (the connection), then every item gets that error and nothing runs again", async () => {
    const calls: number[][] = [];
    const results = await callBatchOrEachAlone([1, 2, 3], async (items: number[]) => {
      calls.push(items);
      throw sqlError("08006");
    });
    expect(calls).toEqual([[1, 2, 3]]);
    expect(results.every((r) => !r.ok && (r.error as { code: string }).code === "08006")).toBe(true);
  });

  it("when a batch hits a deadlock, then the whole batch is retried before anything else", async () => {
    let attempts = 0;
    const results = await callBatchOrEachAlone([1, 2], async (items: number[]) => {
      attempts += 1;
      if (attempts === 1) throw sqlError("40P01");
      return items.map((n) => n + 1);
    });
    expect(attempts).toBe(2);
    expect(results).toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 3 },
    ]);
  });
});
