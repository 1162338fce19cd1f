import { type DbSettings, serverTimeouts } from "../../ormconfig.js";

/** Anything that runs one SQL statement: a TypeORM QueryRunner or EntityManager, a pg Client or Pool. */
export type Queryable = { query(text: string): Promise<unknown> };

/**
 * Makes the bounded waits (statement_timeout, lock_timeout,
 * idle_in_transaction_session_timeout) the server-side defaults of the
 * current role in the current database:
 *
 *   ALTER ROLE CURRENT_USER IN DATABASE <current_database()> SET ... = ...
 *
 * Why: through a transaction pooler (PgBouncer pool_mode=transaction) the
 * service cannot send them as startup parameters (PgBouncer refuses unknown
 * ones) nor SET them per session (the server connection is shared). A role
 * default is applied by PostgreSQL itself when a server connection starts,
 * whoever opens it, so PgBouncer's connections carry them too.
 *
 * What must stay true:
 * - Call it at migrate when DATABASE_URL is a transaction pooler (open-database.ts
 *   does), over the direct connection (DATABASE_DIRECT_URL), before the pool
 *   connects through the pooler: a server connection takes
 *   role defaults when it is opened, and keeps them for its life (PgBouncer's
 *   server_lifetime, default 3600 s; `RECONNECT` in its console forces it).
 * - Only the current role, only this database: other roles (a DBA's psql, a
 *   replication user) and other databases are untouched. Ordinary roles may
 *   set their own defaults; no superuser needed.
 * - Instances starting together: concurrent ALTER ROLE on the same catalog
 *   row can fail with "tuple concurrently updated", so the statement first
 *   takes a transaction-scoped advisory lock; it is one statement (a DO
 *   block) and its own transaction.
 * - Direct connections still send the timeouts as startup parameters
 *   (ormconfig.ts), which take precedence, so each process's own settings hold there.
 */
export async function applySessionDefaults(q: Queryable, settings: DbSettings): Promise<void> {
  const assignments = Object.entries(serverTimeouts(settings)).map(([name, ms]) => {
    if (!Number.isInteger(ms) || ms < 0) throw new Error(`${name} must be a non-negative integer of milliseconds`);
    return `EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET ${name} = %L', current_database(), '${ms}ms');`;
  });
  await q.query(
    `DO $session_defaults$
     BEGIN
       PERFORM pg_advisory_xact_lock(hashtextextended('orderlock:session-defaults', 0));
       ${assignments.join("\n       ")}
     END
     $session_defaults$`,
  );
}
