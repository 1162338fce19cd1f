import type { DataSource, EntityManager } from "typeorm";
import { inTransaction } from "../../src/db/in-transaction.js";

/**
 * How many rows `work` fetched from `table` through an index, as a big table
 * would be read: in its own transaction with sequential scans off (a test
 * database is small enough for PostgreSQL to prefer one), counted by this
 * backend's not yet published statistics (pg_stat_xact_user_tables) before
 * and after.
 */
export function indexFetches(ds: DataSource, table: string, work: (m: EntityManager) => Promise<unknown>): Promise<number> {
  return inTransaction(ds, async (m) => {
    await m.query(`SET LOCAL enable_seqscan = off`);
    const count = async () =>
      Number((await m.query(`SELECT idx_tup_fetch AS n FROM pg_stat_xact_user_tables WHERE relname = $1`, [table]))[0].n);
    const before = await count();
    await work(m);
    return (await count()) - before;
  });
}
