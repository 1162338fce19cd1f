import type { DataSource, EntityManager } from "typeorm";
import { Customer } from "../../entities/customer.entity.js";
import { CustomerApiKey } from "../../entities/customer-api-key.entity.js";
import { asEntity, callOnce, sql, sqlOne } from "../db/sql.js";

/** All SQL about customers and their API keys. Keys are stored only as SHA-256 hashes. */
export async function insertCustomer(m: EntityManager, name: string): Promise<Customer> {
  const r = await sql(m, `INSERT INTO customers (name) VALUES ($1) RETURNING *`, [name]);
  return asEntity(m, Customer, r.rows[0]);
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
export async function insertKeyInFreeSlot(m: EntityManager, customerId: string, keyHash: string): Promise<CustomerApiKey | undefined> {
  const row = await sqlOne(
    m,
    `INSERT INTO customer_api_keys (customer_id, key_hash, slot)
     SELECT $1, $2, s FROM generate_series(1, 2) AS s
      WHERE NOT EXISTS (SELECT 1 FROM customer_api_keys WHERE customer_id = $1 AND slot = s AND revoked_at IS NULL)
      ORDER BY s LIMIT 1
     RETURNING *`,
    [customerId, keyHash],
  );
  return row && asEntity(m, CustomerApiKey, row);
}

export async function customerExists(m: EntityManager, customerId: string): Promise<boolean> {
  return m.existsBy(Customer, { id: customerId });
}

export async function listKeys(m: EntityManager, customerId: string): Promise<CustomerApiKey[]> {
  return m.find(CustomerApiKey, { where: { customerId }, order: { createdAt: "ASC", id: "ASC" } });
}

/** Revokes an active key in one conditional statement; undefined when it is unknown or already revoked. */
export async function revokeKey(m: EntityManager, customerId: string, keyId: string): Promise<CustomerApiKey | undefined> {
  const row = await sqlOne(
    m,
    `UPDATE customer_api_keys SET revoked_at = now()
      WHERE id = $2 AND customer_id = $1 AND revoked_at IS NULL
      RETURNING *`,
    [customerId, keyId],
  );
  return row && asEntity(m, CustomerApiKey, row);
}

export async function findKey(m: EntityManager, customerId: string, keyId: string): Promise<CustomerApiKey | null> {
  return m.findOneBy(CustomerApiKey, { id: keyId, customerId });
}

/** The active key with this hash: its id and its customer. One statement, its own transaction. */
export async function findActiveKeyByHash(ds: DataSource, keyHash: string): Promise<{ id: string; customer_id: string } | undefined> {
  const { rows } = await callOnce<{ id: string; customer_id: string }>(
    ds,
    `SELECT id, customer_id FROM customer_api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
    [keyHash],
  );
  return rows[0];
}

/**
 * Records that a key was used, at most once a minute per key across every
 * instance (the condition), and never waiting for a lock: a row locked by a
 * revocation or another instance's touch is skipped. True when it wrote.
 * One statement, its own transaction.
 */
export async function touchKeyLastUsed(ds: DataSource, keyId: string, intervalSeconds: number): Promise<boolean> {
  const r = await callOnce(
    ds,
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
export function toApiKeyView(k: CustomerApiKey): ApiKeyView {
  return {
    id: k.id,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}
