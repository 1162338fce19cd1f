import type http from "node:http";
import type { AddressInfo } from "node:net";
import type { DataSource } from "typeorm";
import { createDataSource, type DbSettings, defaultDbSettings } from "../../ormconfig.js";
import { type AppDeps, buildApp } from "../../src/app.js";
import { createHttpServer } from "../../src/http/server.js";
import { ADMIN_KEY, testAppDeps } from "./test-app.js";

/**
 * The app in this process, with the service's default database settings
 * (statement 5 s, lock 2 s, connect 2 s, query_timeout 10 s: the bounds under
 * test), on a database URL the test chooses: a TCP proxy's, or a scratch
 * server's. Its pool is the only one that goes through that URL, so the
 * test's own checks (on a direct connection) never share its faults.
 */
export type FaultApp = { ds: DataSource; url: string; close(): Promise<void> };

export const adminHeaders = { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" };

export async function startFaultApp(
  databaseUrl: string,
  options: { db?: Partial<DbSettings>; deps?: Partial<Omit<AppDeps, "ds" | "logger">> } = {},
): Promise<FaultApp> {
  const ds = createDataSource(databaseUrl, { ...defaultDbSettings, ...options.db });
  await ds.initialize();
  let url = "";
  const server: http.Server = createHttpServer(buildApp(testAppDeps(ds, { selfBaseUrl: () => url, ...options.deps })));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ds,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ds.destroy().catch(() => {});
    },
  };
}

/** The same URL with another port: the way through a proxy. */
export function viaPort(databaseUrl: string, port: number): string {
  const u = new URL(databaseUrl);
  u.port = String(port);
  return u.toString();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
