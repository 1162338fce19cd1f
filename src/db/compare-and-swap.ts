import type { EntityManager } from "typeorm";
import type { Order } from "../../entities/order.entity.js";
import type { Payment } from "../../entities/payment.entity.js";
import type { Product } from "../../entities/product.entity.js";
import type { WebhookEndpoint } from "../../entities/webhook-endpoint.entity.js";
import { asEntity, sql } from "./sql.js";

/** The versioned entities. */
type Versioned = typeof Product | typeof Order | typeof Payment | typeof WebhookEndpoint;

export type CasResult<T> = { ok: true; row: T } | { ok: false };

/**
 * Optimistic concurrency as one statement:
 *   UPDATE t SET <changes>, version = version + 1, updated_at = now()
 *    WHERE <key> = $1 AND version = $2 RETURNING *
 * Zero affected rows means the row changed since `expectedVersion` was read
 * (or is gone); the caller decides whether that is a client's 409 or an
 * internal conflict to retry. TypeORM's save() has no such predicate.
 *
 * `set` maps the entity's property names (from code, never from a client)
 * to new values; the entity's metadata gives table and column names.
 */
export async function compareAndSwap<E extends Versioned>(
  m: EntityManager,
  entity: E,
  id: string,
  expectedVersion: number,
  set: Partial<Record<keyof InstanceType<E>, unknown>>,
): Promise<CasResult<InstanceType<E>>> {
  const meta = m.connection.getMetadata(entity);
  const key = meta.primaryColumns[0].databaseName;
  const entries = Object.entries(set).map(([prop, value]) => {
    const column = meta.findColumnWithPropertyName(prop);
    if (!column || prop === "version") throw new Error(`compareAndSwap: bad property ${prop}`);
    return { column: column.databaseName, value };
  });
  const assignments = entries.map(({ column }, i) => `${column} = $${i + 3}`);
  const text = `UPDATE ${meta.tableName}
                   SET ${[...assignments, "version = version + 1", "updated_at = now()"].join(", ")}
                 WHERE ${key} = $1 AND version = $2
             RETURNING *`;
  const result = await sql(m, text, [id, expectedVersion, ...entries.map((e) => e.value)]);
  if (result.rowCount === 0) return { ok: false };
  if (result.rowCount !== 1) throw new Error(`compareAndSwap: ${result.rowCount} rows matched one key`);
  return { ok: true, row: asEntity(m, entity, result.rows[0]) as InstanceType<E> };
}
