import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { createDataSource } from "../ormconfig.js";
import { type EmbeddedPostgres, startEmbeddedPostgres, stopOrphan } from "../src/db/embedded-postgres.js";
import { migrate } from "../src/db/migrate.js";
import { freePort } from "./support/service-process.js";

/**
 * Once per `npm test`: a PostgreSQL server (embedded in .test-pg, or the one
 * at DATABASE_URL), and one template database with every migration applied.
 * Each test file clones the template (CREATE DATABASE ... TEMPLATE, tens of
 * milliseconds), so files run in parallel on databases of their own.
 */
declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

const ROOT = path.resolve(".test-pg");
const runDir = path.join(ROOT, `run-${process.pid}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Each `npm test` run has a server of its own (two runs at once must not
 * share one). Runs that were killed leave their directory and perhaps a
 * running postgres behind: stop those and remove them.
 */
async function removeAbandonedRuns(): Promise<void> {
  if (!fs.existsSync(ROOT)) return;
  for (const name of fs.readdirSync(ROOT)) {
    const m = /^run-(\d+)$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await stopOrphan(path.join(ROOT, name, "pg"), () => {});
    fs.rmSync(path.join(ROOT, name), { recursive: true, force: true });
  }
}

type TestServer = { adminUrl: string; template: string; embedded?: EmbeddedPostgres };

async function startTestServer(): Promise<TestServer> {
  let adminUrl: string;
  let embedded: EmbeddedPostgres | undefined;
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    await removeAbandonedRuns();
    fs.mkdirSync(ROOT, { recursive: true, mode: 0o755 });
    embedded = await startEmbeddedPostgres({
      dataDir: runDir,
      port: await freePort(),
      password: "orderlock-test",
      database: "postgres",
      // Durability is not under test on this throwaway server (the crash
      // tests start their own service with its own server); speed is.
      settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "300" },
    });
    adminUrl = embedded.adminUrl;
  }

  const template = `orderlock_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Leftovers of earlier runs (a killed run cannot clean up after itself).
    const stale = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'orderlock_t\\_%' OR datname LIKE 'orderlock_template\\_%'`,
    );
    for (const { datname } of stale.rows) {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => {});
    }
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
  } finally {
    await admin.end();
  }

  const ds = createDataSource(withDatabase(adminUrl, template));
  await ds.initialize();
  await migrate(ds);
  await ds.destroy();
  return { adminUrl, template, embedded };
}

/**
 * Vitest runs this setup once per project (vitest.config.ts has two, and
 * the root), in one process but each with a module of its own: the first
 * call starts the server, the others share it (through globalThis), and
 * the last teardown stops it.
 */
const shared = globalThis as { orderlockTestServer?: { ready: Promise<TestServer>; users: number } };

export async function setup(project: TestProject): Promise<void> {
  shared.orderlockTestServer ??= { ready: startTestServer(), users: 0 };
  shared.orderlockTestServer.users += 1;
  const { adminUrl, template } = await shared.orderlockTestServer.ready;
  project.provide("pgAdminUrl", adminUrl);
  project.provide("pgTemplate", template);
}

export async function teardown(): Promise<void> {
  const server = shared.orderlockTestServer;
  if (!server) return;
  server.users -= 1;
  if (server.users > 0) return;
  shared.orderlockTestServer = undefined;
  const { embedded } = await server.ready;
  if (!embedded) return;
  await embedded.stop();
  fs.rmSync(runDir, { recursive: true, force: true });
}
