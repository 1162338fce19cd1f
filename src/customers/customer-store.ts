import type { EntityManager } from "typeorm";
import { sql, sqlOne } from "../db/sql.js";

/** All SQL about customers and their API keys. Keys are stored only as SHA-256 hashes. */
export type CustomerRow = { id: string; name: string; created_at: Date };
export type ApiKeyRow = { id: string; customer_id: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null };

const KEY_COLUMNS = "id, customer_id, created_at, last_used_at, revoked_at";

export async function insertCustomer(m: EntityManager, name: string): Promise<CustomerRow> {
  const r = await sql<CustomerRow>(m, `INSERT INTO customers (name) VALUES ($1) RETURNING id, name, created_at`, [name]);
  return r.rows[0];
}

/** Locks the customer row: every issue of a key for this customer queues here. Undefined: no such customer. */
export async function lockCustomer(m: EntityManager, customerId: string): Promise<{ id: string } | undefined> {
  return sqlOne<{ id: string }>(m, `SELECT id FROM customers WHERE id = $1 FOR UPDATE`, [customerId]);
}

/**
 * Inserts a key into the lowest free slot (1 or 2) among the customer's
 * active keys; undefined when both are taken. Run under lockCustomer, so the
 * free slot it sees stays free until COMMIT; the partial unique index
 * customer_api_keys_active_slot backs the limit should anything else insert.
 */
export async function insertKeyInFreeSlot(m: EntityManager, customerId: string, keyHash: string): Promise<ApiKeyRow | undefined> {
  return sqlOne<ApiKeyRow>(
    m,
    `INSERT INTO customer_api_keys (customer_id, key_hash, slot)
     SELECT $1, $2, s FROM generate_series(1, 2) AS s
      WHERE NOT EXISTS (SELECT 1 FROM customer_api_keys WHERE customer_id = $1 AND slot = s AND revoked_at IS NULL)
      ORDER BY s LIMIT 1
     RETURNING ${KEY_COLUMNS}`,
    [customerId, keyHash],
  );
}

export async function customerExists(m: EntityManager, customerId: string): Promise<boolean> {
  return (await sqlOne(m, `SELECT 1 FROM customers WHERE id = $1`, [customerId])) !== undefined;
}

export async function listKeys(m: EntityManager, customerId: string): Promise<ApiKeyRow[]> {
  const r = await sql<ApiKeyRow>(m, `SELECT ${KEY_COLUMNS} FROM customer_api_keys WHERE customer_id = $1 ORDER BY created_at, id`, [
    customerId,
  ]);
  return r.rows;
}

/** Revokes an active key in one conditional statement; undefined when it is unknown or already revoked. */
export async function revokeKey(m: EntityManager, customerId: string, keyId: string): Promise<ApiKeyRow | undefined> {
  return sqlOne<ApiKeyRow>(
    m,
    `UPDATE customer_api_keys SET revoked_at = now()
      WHERE id = $2 AND customer_id = $1 AND revoked_at IS NULL
      RETURNING ${KEY_COLUMNS}`,
    [customerId, keyId],
  );
}

export async function findKey(m: EntityManager, customerId: string, keyId: string): Promise<ApiKeyRow | undefined> {
  return sqlOne<ApiKeyRow>(m, `SELECT ${KEY_COLUMNS} FROM customer_api_keys WHERE id = $2 AND customer_id = $1`, [customerId, keyId]);
}

/** The active key with this hash: its id and its customer. */
export async function findActiveKeyByHash(m: EntityManager, keyHash: string): Promise<{ id: string; customer_id: string } | undefined> {
  return sqlOne<{ id: string; customer_id: string }>(
    m,
    `SELECT id, customer_id FROM customer_api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
    [keyHash],
  );
}

/**
 * Records that a key was used, at most once a minute per key across every
 * instance (the condition), and never waiting for a lock: a row locked by a
 * revocation or another instance's touch is skipped. True when it wrote.
 */
export async function touchKeyLastUsed(m: EntityManager, keyId: string, intervalSeconds: number): Promise<boolean> {
  const r = await sql(
    m,
    `UPDATE customer_api_keys SET last_used_at = now()
      WHERE id = (SELECT id FROM customer_api_keys
                   WHERE id = $1 AND revoked_at IS NULL
                     AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
                   FOR UPDATE SKIP LOCKED)`,
    [keyId, intervalSeconds],
  );
  return r.rowCount > 0;
}

export type ApiKeyView = { id: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null };

/** A key as the API shows it: never its secret, nor its hash. */
export function toApiKeyView(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
  };
}
