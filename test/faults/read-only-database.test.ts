import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, type FaultApp, sleep, startFaultApp } from "../support/fault-app.js";
import { prepareLoad, readFinalState, runLoad, send } from "../support/fault-load.js";
import { checkHistory, History, resolveAll } from "../support/history.js";
import { createTestDatabase } from "../support/test-database.js";

/**
 * The database turns read-only under load (as a primary demoted to a
 * standby, or an operator's emergency switch): default_transaction_read_only
 * on for the database, and its sessions terminated so they all see it. Then
 * it is switched back, WITHOUT terminating anything: the pool must drop the
 * read-only sessions it holds by itself. Three rounds, each of 16 clients
 * sending 150 keyed orders and 50 confirmations.
 */
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 3);
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let app: FaultApp;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  app = await startFaultApp(database.url);
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await app?.close();
  await database?.drop();
});

const ident = () => admin.escapeIdentifier(database.name);

/** Time from now until writes succeed 10 times in a row (the first of them). */
async function timeToWritable(limitMs = 20_000): Promise<number> {
  const started = Date.now();
  let streakFrom = 0;
  let streak = 0;
  while (Date.now() - started < limitMs) {
    const at = Date.now();
    const res = await fetch(`${app.url}/v1/customers`, { method: "POST", headers: adminHeaders, body: JSON.stringify({ name: "probe" }) });
    if (res.status === 201) {
      if (streak === 0) streakFrom = at;
      streak += 1;
      if (streak === 10) return streakFrom - started;
    } else {
      expect(res.status).toBe(503);
      streak = 0;
    }
    await sleep(50);
  }
  return Number.POSITIVE_INFINITY;
}

describe("the database turns read-only under load", () => {
  it(`when writes are refused by a read-only database and then allowed again (${ROUNDS} rounds), then answers are 503 (never 500, never a hang) and writes work again within 10 s without a restart`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const load = await prepareLoad(app.url, 150, 50);
      const h = new History();
      const loading = runLoad(h, app.url, load, 30);
      while (h.ops.length < 50) await sleep(5);

      await admin.query(`ALTER DATABASE ${ident()} SET default_transaction_read_only = on`);
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      const flippedAt = Date.now();
      await sleep(2500);
      await admin.query(`ALTER DATABASE ${ident()} RESET default_transaction_read_only`);
      const backAt = Date.now();
      const healMs = await timeToWritable();
      expect(healMs, `round ${round}: writable again ${healMs} ms after the switch back`).toBeLessThan(10_000);
      await loading;

      const readOnly = h.ops.filter((o) => o.invokedAt > flippedAt + 200 && o.completedAt < backAt);
      const duringLoad = h.summary();
      await resolveAll(h, (kind, key) => send(h, app.url, load, kind, key));
      const violations = checkHistory(h, { ...load.model, boundMs: 5000 }, await readFinalState(database.url, app.url, load));
      console.info(
        `read-only round ${round}: writable ${healMs} ms after; load ${duringLoad}; after resolving ${h.summary()}; ${violations.length} violations`,
      );
      expect(violations, h.summary()).toEqual([]);
      expect(readOnly.length, "requests answered while read-only").toBeGreaterThan(0);
      expect(readOnly.filter((o) => o.status !== 503 || o.outcome === "unknown").map((o) => `${o.key} ${o.status} ${o.outcome}`)).toEqual(
        [],
      );
    }
  }, 180_000);
});
