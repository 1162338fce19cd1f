import type { Pool } from "pg";
import type { EntityManager } from "typeorm";

export type SqlResult<T> = { rows: T[]; rowCount: number };

/**
 * Runs one parameterised statement on the manager's connection and returns
 * its rows and affected-row count. Use cases pass the EntityManager of their
 * transaction, so the statement runs inside it.
 */
export async function sql<T = Record<string, unknown>>(
  manager: EntityManager,
  text: string,
  params: unknown[] = [],
): Promise<SqlResult<T>> {
  const runner = manager.queryRunner;
  if (runner && !runner.isReleased) {
    const r = await runner.query(text, params, true);
    return { rows: (r.records ?? []) as T[], rowCount: r.affected ?? 0 };
  }
  // Outside a transaction: one statement, its own implicit transaction,
  // straight on the driver's pool (a TypeORM QueryRunner per statement costs
  // measurable CPU on the hot read and order paths, and adds nothing here).
  const pool = (manager.connection.driver as unknown as { master: Pool }).master;
  const r = await pool.query(text, params);
  return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
}

export async function sqlOne<T = Record<string, unknown>>(
  manager: EntityManager,
  text: string,
  params: unknown[] = [],
): Promise<T | undefined> {
  return (await sql<T>(manager, text, params)).rows[0];
}
