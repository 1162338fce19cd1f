import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import request from "supertest";
import type { DataSource } from "typeorm";
import { createDataSource, type DbSettings } from "../../ormconfig.js";
import { type AppDeps, buildApp } from "../../src/app.js";
import { createTestDatabase } from "./test-database.js";

export const ADMIN_KEY = "ol_admin_test_key_0123456789abcdef";
export const WEBHOOK_SECRET = "whsec_test_secret_0123456789abcdef";

export type TestApp = {
  ds: DataSource;
  /** The test database, for a second instance of the app on the same data. */
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
  overrides: Partial<Omit<AppDeps, "ds" | "logger">> & { db?: Partial<DbSettings> } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const ds = createDataSource(database.url, {
    poolSize: 20,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 15000,
    lockTimeoutMs: 10000,
    ...overrides.db,
  });
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
