import "reflect-metadata";
import pg from "pg";
import { DataSource, type DataSourceOptions } from "typeorm";
import { entities } from "./entities/index.js";
import { migrations } from "./migrations/index.js";
import { DropOnReadTimeoutClient } from "./src/db/pool-client.js";

// bigint columns hold money and counters, all far below 2^53: read them as
// numbers. DATE columns are calendar days, not instants: keep them as
// 'YYYY-MM-DD' strings instead of local-time Date objects.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export type DbSettings = {
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  /**
   * DATABASE_URL is a transaction pooler (PgBouncer pool_mode=transaction):
   * send no session settings as startup parameters (PgBouncer rejects them,
   * and a server connection is shared anyway). The timeouts then come from
   * the role defaults applySessionDefaults() sets at migrate
   * (src/db/session-defaults.ts), which every new server connection picks up.
   */
  viaTransactionPooler?: boolean;
};

export const defaultDbSettings: DbSettings = {
  poolSize: 10,
  connectTimeoutMs: 2000,
  statementTimeoutMs: 5000,
  lockTimeoutMs: 2000,
};

/**
 * The one place DataSource options are built; the app, the migration runner,
 * the tests and the TypeORM CLI all come through here. Schema changes happen
 * only through migrations: synchronize stays off.
 */
export function dataSourceOptions(url: string, db: DbSettings = defaultDbSettings, onPoolError?: (err: Error) => void): DataSourceOptions {
  return {
    type: "postgres",
    url,
    entities,
    migrations,
    migrationsTableName: "migrations",
    migrationsTransactionMode: "each",
    synchronize: false,
    migrationsRun: false,
    logging: false,
    poolSize: db.poolSize,
    connectTimeoutMS: db.connectTimeoutMs,
    applicationName: "orderlock",
    // A pool error (a server restart drops idle connections) must never be
    // unhandled: that would kill the process.
    poolErrorHandler: onPoolError ?? (() => {}),
    extra: {
      // Bounded waits everywhere: no request hangs on a stuck lock or a lost
      // server. Direct connections also carry them as startup parameters, so
      // each process's settings win over the role defaults.
      ...(db.viaTransactionPooler ? {} : serverTimeouts(db)),
      // Client side: a call whose answer never comes (a connection dead
      // without a reset) fails after this, rather than hanging its request,
      // or a whole batch (src/db/batcher.ts), for the keep-alive's hours.
      query_timeout: db.statementTimeoutMs + 5000,
      // ...and the connection of such a call is closed, so the pool drops it
      // instead of handing it out again still busy with the lost call.
      Client: DropOnReadTimeoutClient,
      idleTimeoutMillis: 30000,
      keepAlive: true,
    },
  };
}

/** The server-side timeouts of these settings, by their PostgreSQL names. */
export function serverTimeouts(db: DbSettings): {
  statement_timeout: number;
  lock_timeout: number;
  idle_in_transaction_session_timeout: number;
} {
  return {
    statement_timeout: db.statementTimeoutMs,
    lock_timeout: db.lockTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(db.statementTimeoutMs * 2, 10000),
  };
}

export function createDataSource(url: string, db?: DbSettings, onPoolError?: (err: Error) => void): DataSource {
  return new DataSource(dataSourceOptions(url, db, onPoolError));
}

// For the TypeORM CLI (migration:create/show against DATABASE_URL). The
// service itself builds its DataSource in src/main.ts once the database is up.
export default createDataSource(process.env.DATABASE_URL ?? "postgres://localhost/orderlock");
