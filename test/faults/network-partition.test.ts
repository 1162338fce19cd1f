import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultApp, sleep, startFaultApp, viaPort } from "../support/fault-app.js";
import { prepareLoad, readFinalState, runLoad, send, timeToHealthy } from "../support/fault-load.js";
import { checkHistory, History, resolveAll } from "../support/history.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { createTestDatabase } from "../support/test-database.js";

/**
 * The network between the service and PostgreSQL fails: a TCP proxy in the
 * path (test/support/tcp-proxy.ts) blackholes it, slows it, or resets every
 * connection, under a load of 16 clients (test/support/fault-load.ts: here
 * 150 keyed orders and 50 confirmations a round), three rounds each. The service keeps the default timeouts (statement 5 s, lock
 * 2 s, connect 2 s, query_timeout 10 s, 2 s in a batch queue).
 *
 * The blackhole lasts PARTITION_MS, 17 s by default: longer than the 15 s
 * bound under test, so a request that waited longer than the bound would be
 * seen waiting while the partition still holds (a 12 s one could not show
 * the 20 s waits of a queued request), and longer than every timer of the
 * service (query_timeout 10 s, connect 2 s, queue 2 s), so each of them
 * fires during it. A longer partition only repeats the connect-timeout
 * case; FAULT_PARTITION_MS=30000 runs a 30 s one.
 */
const PARTITION_MS = Number(process.env.FAULT_PARTITION_MS ?? 17_000);
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 3);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TcpProxy;
let app: FaultApp;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy(Number(new URL(database.url).port));
  app = await startFaultApp(viaPort(database.url, proxy.port));
});

afterAll(async () => {
  await app?.close();
  await proxy?.close();
  await database?.drop();
});

async function untilCompleted(h: History, n: number, limitMs = 10_000) {
  const started = Date.now();
  while (h.ops.length < n && Date.now() - started < limitMs) await sleep(10);
}

async function resolveAndCheck(h: History, load: Awaited<ReturnType<typeof prepareLoad>>, label: string) {
  const duringLoad = h.summary();
  await resolveAll(h, (kind, key) => send(h, app.url, load, kind, key));
  const violations = checkHistory(h, load.model, await readFinalState(database.url, app.url, load));
  console.info(`${label}: load ${duringLoad}; after resolving ${h.summary()}; ${violations.length} violations`);
  expect(violations, h.summary()).toEqual([]);
}

describe("network faults between the service and PostgreSQL", () => {
  it(`when the network blackholes for ${PARTITION_MS / 1000} s under load (${ROUNDS} rounds), then no request takes over 15 s, answers are 503 with Retry-After, /readyz says 503 at once, and within 10 s of the heal everything acknowledged is there and exact`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const load = await prepareLoad(app.url, 150, 50);
      const h = new History();
      const loading = runLoad(h, app.url, load, 40);
      await untilCompleted(h, 60);

      proxy.blackhole();
      const holedAt = Date.now();
      await sleep(3000);
      const probeStarted = Date.now();
      const ready = await fetch(`${app.url}/readyz`);
      expect(ready.status, `round ${round}: /readyz during the partition`).toBe(503);
      expect(Date.now() - probeStarted, "the readiness probe is bounded").toBeLessThan(3000);
      await sleep(Math.max(0, holedAt + PARTITION_MS - Date.now()));
      proxy.heal();
      const healedAt = Date.now();

      const healMs = await timeToHealthy(app.url, load);
      expect(healMs, `round ${round}: healthy again ${healMs} ms after the heal`).toBeLessThan(10_000);
      await loading;

      // Every request answered during the partition (and not already on its way out before it) was a 503.
      const during = h.ops.filter((o) => o.invokedAt > holedAt + 100 && o.completedAt < healedAt);
      await resolveAndCheck(h, load, `blackhole round ${round}`);
      expect(during.length, `round ${round}: requests answered during the partition`).toBeGreaterThan(0);
      expect(during.filter((o) => o.status !== 503)).toEqual([]);
    }
  }, 180_000);

  it(`when every connection is reset mid-transaction under load (${ROUNDS} rounds), then no 500, and after retrying the unknowns the history is exact`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const load = await prepareLoad(app.url, 150, 50);
      const h = new History();
      const loading = runLoad(h, app.url, load, 5);
      await untilCompleted(h, 50);
      proxy.resetAll();
      await untilCompleted(h, 130);
      proxy.resetAll();
      await loading;
      expect(await timeToHealthy(app.url, load)).toBeLessThan(10_000);
      await resolveAndCheck(h, load, `reset round ${round}`);
    }
  }, 120_000);

  it(`when the network adds 100 ms each way under load (${ROUNDS} rounds), then every request succeeds and the history is exact`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const load = await prepareLoad(app.url, 60, 20);
      const h = new History();
      proxy.latency(100);
      try {
        await runLoad(h, app.url, load, 0);
      } finally {
        proxy.latency(0);
      }
      expect(h.ops.filter((o) => o.completion !== "ok").map((o) => `${o.key} ${o.status}`)).toEqual([]);
      await resolveAndCheck(h, load, `latency round ${round}`);
    }
  }, 120_000);
});
