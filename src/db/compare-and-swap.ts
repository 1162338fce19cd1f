import type { EntityManager } from "typeorm";
import { sql } from "./sql.js";

/** Tables with a `version` column, and the column that identifies a row. */
const VERSIONED = {
  products: "sku",
  orders: "id",
  payments: "id",
} as const;
export type VersionedTable = keyof typeof VERSIONED;

export type CasResult<T> = { ok: true; row: T } | { ok: false };

/** A timestamp `seconds` after the database's now(): deadlines come from the database clock, as do the checks against them. */
export class SecondsFromNow {
  constructor(readonly seconds: number) {}
}

/**
 * Optimistic concurrency as one statement:
 *   UPDATE t SET <changes>, version = version + 1, updated_at = now()
 *    WHERE <key> = $1 AND version = $2 RETURNING *
 * Zero affected rows means the row changed since `expectedVersion` was read
 * (or is gone); the caller decides whether that is a client's 409 or an
 * internal conflict to retry. TypeORM's save() has no such predicate.
 *
 * `set` maps column names (trusted, from code) to new values.
 */
export async function compareAndSwap<T>(
  manager: EntityManager,
  table: VersionedTable,
  id: string,
  expectedVersion: number,
  set: Record<string, unknown>,
): Promise<CasResult<T>> {
  const keyColumn = VERSIONED[table];
  const columns = Object.keys(set);
  for (const c of columns) {
    if (!/^[a-z_]+$/.test(c) || c === "version") throw new Error(`compareAndSwap: bad column ${c}`);
  }
  const assignments = columns.map((c, i) =>
    set[c] instanceof SecondsFromNow ? `${c} = now() + make_interval(secs => $${i + 3})` : `${c} = $${i + 3}`,
  );
  const text = `UPDATE ${table}
                   SET ${[...assignments, "version = version + 1", "updated_at = now()"].join(", ")}
                 WHERE ${keyColumn} = $1 AND version = $2
             RETURNING *`;
  const values = columns.map((c) => (set[c] instanceof SecondsFromNow ? (set[c] as SecondsFromNow).seconds : set[c]));
  const result = await sql<T>(manager, text, [id, expectedVersion, ...values]);
  if (result.rowCount === 0) return { ok: false };
  if (result.rowCount !== 1) throw new Error(`compareAndSwap: ${result.rowCount} rows matched one key`);
  return { ok: true, row: result.rows[0] };
}
