import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { pino } from "pino";
import request from "supertest";
import type { DataSource } from "typeorm";
import { createDataSource, type DbSettings } from "../../ormconfig.js";
import { type AppDeps, buildApp } from "../../src/app.js";
import { applySessionDefaults } from "../../src/db/session-defaults.js";
import { createTestDatabase } from "./test-database.js";

export const ADMIN_KEY = "ol_admin_test_key_0123456789abcdef";
export const WEBHOOK_SECRET = "whsec_test_secret_0123456789abcdef";

export type TestApp = {
  ds: DataSource;
  /** The test database (direct, never through a pooler), for a second instance of the app on the same data. */
  databaseUrl: string;
  url: string;
  server: http.Server;
  /** supertest bound to the listening server: parallel requests are real parallel HTTP requests. */
  http: () => request.Agent;
  admin: Record<string, string>;
  close(): Promise<void>;
};

/** The app's dependencies as the tests use them; a test overrides what it is about. */
export function testAppDeps(ds: DataSource, overrides: Partial<Omit<AppDeps, "ds">> = {}): AppDeps {
  return {
    ds,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    adminApiKey: ADMIN_KEY,
    webhookSecret: WEBHOOK_SECRET,
    currency: "USD",
    reservationTtlSeconds: 900,
    paymentTtlSeconds: 1800,
    idempotencyTtlHours: 24,
    rateLimitPerMinute: 1_000_000, // the rate-limit test sets its own
    maxUnitsPerCustomerSku: 0,
    ...overrides,
  };
}

/**
 * The real app on a real, freshly cloned database, listening on an ephemeral
 * port. One per test file (beforeAll); tests create their own data in it.
 */
export async function startTestApp(
  overrides: Partial<Omit<AppDeps, "ds" | "logger">> & {
    db?: Partial<DbSettings>;
    /**
     * The app's pool goes through a transaction pooler at the URL this
     * returns for the test database's direct URL; the timeouts are then set
     * as role defaults over the direct URL first, as at migrate.
     */
    throughPooler?: (directUrl: string) => string;
  } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const settings: DbSettings = {
    poolSize: 20,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 15000,
    lockTimeoutMs: 10000,
    ...overrides.db,
    viaTransactionPooler: Boolean(overrides.throughPooler),
  };
  if (overrides.throughPooler) {
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    try {
      await applySessionDefaults(direct, settings);
    } finally {
      await direct.end();
    }
  }
  const ds = createDataSource(overrides.throughPooler ? overrides.throughPooler(database.url) : database.url, settings);
  await ds.initialize();
  let url = "";
  const app = buildApp(
    testAppDeps(ds, {
      selfBaseUrl: () => url, // the sandbox payment provider delivers its webhooks here
      ...overrides,
    }),
  );
  const server = http.createServer(app);
  server.keepAliveTimeout = 60000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;
  return {
    ds,
    databaseUrl: database.url,
    url,
    server,
    http: () => request.agent(server),
    admin: { Authorization: `Bearer ${ADMIN_KEY}` },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ds.destroy();
      await database.drop();
    },
  };
}
