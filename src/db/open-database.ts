import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { createDataSource } from "../../ormconfig.js";
import type { Config } from "../config.js";
import { loadOrCreateLocalSecrets } from "../local-secrets.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded-postgres.js";
import { migrate } from "./migrate.js";

export type OpenDatabase = {
  ds: DataSource;
  embedded: EmbeddedPostgres | undefined;
  adminApiKey: string;
  webhookSecret: string;
  close(): Promise<void>;
};

/**
 * DATABASE_URL set → that server. Unset → embedded PostgreSQL in DATA_DIR,
 * with the admin key and webhook secret generated on first start and kept
 * there (printed once). Then the DataSource is initialised and migrate()
 * brings the schema and the SQL functions up to date (one transaction under
 * an advisory lock, so instances starting together apply each migration once
 * and all start).
 */
export async function openDatabase(config: Config, logger: Logger): Promise<OpenDatabase> {
  let url = config.databaseUrl;
  let embedded: EmbeddedPostgres | undefined;
  let adminApiKey = config.adminApiKey;
  let webhookSecret = config.webhookSecret;

  if (!url) {
    const { secrets, created } = loadOrCreateLocalSecrets(config.dataDir);
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      password: secrets.pgPassword,
      database: "orderlock",
      settings: {
        max_connections: String(config.embeddedPgMaxConnections),
        shared_buffers: `${config.embeddedPgSharedBuffersMb}MB`,
      },
      log: (msg) => logger.info({ component: "embedded-postgres" }, msg),
      warn: (msg) => logger.warn({ component: "embedded-postgres" }, msg),
    });
    url = embedded.url;
    if (!adminApiKey) {
      adminApiKey = secrets.adminApiKey;
      if (created) {
        // Printed once, on the first start; afterwards it is in DATA_DIR/secrets.json.
        process.stdout.write(`\n  orderlock admin API key (stored in ${config.dataDir}/secrets.json):\n  ${adminApiKey}\n\n`);
      }
    }
    webhookSecret ??= secrets.webhookSecret;
  }
  if (!adminApiKey) throw new Error("ADMIN_API_KEY must be set when DATABASE_URL is set");
  if (!webhookSecret) throw new Error("WEBHOOK_SECRET must be set when DATABASE_URL is set");

  // A pooled connection the server dropped (restart, shutdown): the pool
  // discards it. Log what happened, not the whole client object.
  // DATABASE_DIRECT_URL differing from DATABASE_URL: the latter is a
  // transaction pooler; migrations and the session defaults go direct.
  const directUrl = (config.databaseUrl ? config.databaseDirectUrl : undefined) ?? url;
  const viaTransactionPooler = directUrl !== url;
  const ds = createDataSource(url, { ...config.db, viaTransactionPooler }, (err) =>
    logger.warn({ code: (err as { code?: string }).code, message: err.message }, "database pool error"),
  );
  try {
    const migrator = viaTransactionPooler ? createDataSource(directUrl, { ...config.db, poolSize: 1 }) : ds;
    try {
      await migrator.initialize();
      // Through a pooler the pool cannot send the timeouts: migrate makes them the role's defaults.
      const applied = await migrate(migrator, { sessionDefaults: viaTransactionPooler ? config.db : undefined });
      for (const m of applied.migrations) logger.info({ migration: m }, "migration applied");
      if (applied.functions.length > 0) logger.info({ functions: applied.functions }, "SQL functions applied");
    } finally {
      if (migrator !== ds && migrator.isInitialized) await migrator.destroy();
    }
    if (!ds.isInitialized) await ds.initialize();
  } catch (err) {
    if (ds.isInitialized) await ds.destroy().catch(() => {});
    await embedded?.stop();
    throw err;
  }
  return {
    ds,
    embedded,
    adminApiKey,
    webhookSecret,
    async close() {
      if (ds.isInitialized) await ds.destroy().catch((err: unknown) => logger.warn({ err }, "closing the pool"));
      await embedded?.stop();
    },
  };
}
