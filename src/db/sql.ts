import type { EntityManager } from "typeorm";

export type SqlResult<T> = { rows: T[]; rowCount: number };

/**
 * Runs one parameterised statement on the manager's connection and returns
 * its rows and affected-row count. Use cases pass the EntityManager of their
 * transaction, so the statement runs inside it.
 */
export async function sql<T = Record<string, unknown>>(manager: EntityManager, text: string, params: unknown[] = []): Promise<SqlResult<T>> {
  const runner = manager.queryRunner;
  if (runner && !runner.isReleased) {
    const r = await runner.query(text, params, true);
    return { rows: (r.records ?? []) as T[], rowCount: r.affected ?? 0 };
  }
  const own = manager.connection.createQueryRunner();
  try {
    const r = await own.query(text, params, true);
    return { rows: (r.records ?? []) as T[], rowCount: r.affected ?? 0 };
  } finally {
    await own.release();
  }
}

export async function sqlOne<T = Record<string, unknown>>(manager: EntityManager, text: string, params: unknown[] = []): Promise<T | undefined> {
  return (await sql<T>(manager, text, params)).rows[0];
}
