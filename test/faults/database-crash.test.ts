import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { migrate } from "../../src/db/migrate.js";
import { type FaultApp, sleep, startFaultApp } from "../support/fault-app.js";
import { prepareLoad, readFinalState, runLoad, send, timeToHealthy } from "../support/fault-load.js";
import { checkHistory, History, resolveAll } from "../support/history.js";
import { freePort } from "../support/service-process.js";

/**
 * PostgreSQL crashes under load: SIGKILL of its postmaster (a scratch
 * server of this test's own; the shared one is left alone), then a start
 * on the same data directory (crash recovery). The app is not restarted.
 * Three rounds, each with the standard load (300 keyed orders and 100
 * confirmations of payments created beforehand, 16 clients).
 */
const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 3);
const dataDir = path.resolve(".test-pg", `crash-${randomBytes(4).toString("hex")}`);
let pgPort: number;
let pgServer: EmbeddedPostgres;
let app: FaultApp;

const startPg = () =>
  startEmbeddedPostgres({ dataDir, port: pgPort, password: "crash", database: "orderlock", settings: { fsync: "off" } });

/** After a SIGKILL of the postmaster its backends exit as they notice; until then the shared memory is in use and a start fails. */
async function restartPg(): Promise<EmbeddedPostgres> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await startPg();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(200);
    }
  }
}

beforeAll(async () => {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  pgPort = await freePort();
  pgServer = await startPg();
  const migrator = createDataSource(pgServer.url);
  await migrator.initialize();
  await migrate(migrator);
  await migrator.destroy();
  app = await startFaultApp(pgServer.url);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await pgServer?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("PostgreSQL crashes under load", () => {
  it(`when the postmaster is SIGKILLed mid-load and PostgreSQL restarts (${ROUNDS} rounds), then no 500, normal answers within 10 s of its return, and after retrying the unknowns the history is exact`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const load = await prepareLoad(app.url);
      const h = new History();
      const loading = runLoad(h, app.url, load, 30);
      while (h.ops.length < 100) await sleep(5);

      process.kill(pgServer.pid, "SIGKILL");
      const killedAt = Date.now();
      await sleep(1000);
      pgServer = await restartPg();
      const backAt = Date.now();
      const healMs = await timeToHealthy(app.url, load);
      expect(healMs, `round ${round}: healthy again ${healMs} ms after PostgreSQL's return`).toBeLessThan(10_000);
      await loading;

      const duringLoad = h.summary();
      await resolveAll(h, (kind, key) => send(h, app.url, load, kind, key));
      const violations = checkHistory(h, load.model, await readFinalState(pgServer.url, app.url, load));
      console.info(
        `crash round ${round}: down ${backAt - killedAt} ms, healthy ${healMs} ms after; load ${duringLoad}; after resolving ${h.summary()}; ${violations.length} violations`,
      );
      expect(violations, h.summary()).toEqual([]);
      // The crash really hit the load: some requests failed or were left unknown.
      expect(h.ops.some((o) => o.completion !== "ok")).toBe(true);
    }
  }, 240_000);
});
