import { type DataSource, MigrationExecutor } from "typeorm";
import type { DbSettings } from "../../ormconfig.js";
import { applySessionDefaults } from "./session-defaults.js";
import { installSqlFunctions } from "./sql-functions.js";

/** Any constant: one advisory lock serialises every migrate against one database. */
const MIGRATION_LOCK = 0x6f726465726c6f63n; // "orderloc"

export type MigrateResult = { migrations: string[]; functions: string[] };

/**
 * Brings the schema and the SQL functions up to date, in ONE transaction:
 * an advisory lock first (transaction-scoped, so it is released by COMMIT or
 * by a crash, and it works on any connection, a transaction pooler's too),
 * then the pending schema migrations, then every SQL function whose source
 * changed (src/db/sql-functions.ts), then, behind a transaction pooler, the
 * bounded waits as the role's defaults (src/db/session-defaults.ts).
 * Instances that start together queue on
 * the lock; the first applies everything and the others then find nothing
 * to do, so each migration is applied once and every instance starts.
 * Either all of it commits or none of it does.
 */
export async function migrate(ds: DataSource, options: { sessionDefaults?: DbSettings } = {}): Promise<MigrateResult> {
  const q = ds.createQueryRunner("master");
  await q.connect();
  try {
    await q.startTransaction();
    // A migrate may wait for another instance's (the lock) and may run long
    // (an index on a big table): the request-path bounds do not apply here.
    await q.query(`SET LOCAL lock_timeout = 0`);
    await q.query(`SET LOCAL statement_timeout = 0`);
    await q.query(`SELECT pg_advisory_xact_lock($1)`, [MIGRATION_LOCK.toString()]);
    const executor = new MigrationExecutor(ds, q);
    executor.transaction = "all"; // the transaction is ours: the executor starts none
    const applied = await executor.executePendingMigrations();
    const functions = await installSqlFunctions(q);
    if (options.sessionDefaults) await applySessionDefaults(q, options.sessionDefaults);
    await q.commitTransaction();
    return { migrations: applied.map((m) => m.name), functions };
  } catch (err) {
    if (q.isTransactionActive) await q.rollbackTransaction().catch(() => {});
    throw err;
  } finally {
    await q.release();
  }
}
