import type { EntityManager } from "typeorm";
import { sql, sqlOne } from "../db/sql.js";

/** All SQL about idempotency keys. */
export type StoredResponse = { status: number; body: unknown; headers: Record<string, string> };

type KeyRow = {
  fingerprint: string;
  response_status: number;
  response_body: unknown;
  response_headers: Record<string, string>;
  expired: boolean;
};

/**
 * Transaction-scoped advisory lock on (scope, key), without waiting: false
 * means another transaction is processing this key right now. Released by
 * COMMIT or ROLLBACK, so a crash never leaves a key stuck.
 */
export async function tryLockKey(m: EntityManager, scope: string, key: string): Promise<boolean> {
  const row = await sqlOne<{ locked: boolean }>(m, `SELECT pg_try_advisory_xact_lock(hashtextextended($1 || E'\\n' || $2, 0)) AS locked`, [
    scope,
    key,
  ]);
  return row?.locked === true;
}

export async function findKey(m: EntityManager, scope: string, key: string, ttlHours: number): Promise<KeyRow | undefined> {
  return sqlOne<KeyRow>(
    m,
    `SELECT fingerprint, response_status, response_body, response_headers,
            created_at < now() - make_interval(hours => $3) AS expired
       FROM idempotency_keys WHERE owner = $1 AND key = $2`,
    [scope, key, ttlHours],
  );
}

export async function deleteKey(m: EntityManager, scope: string, key: string): Promise<void> {
  await sql(m, `DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2`, [scope, key]);
}

export async function insertKey(
  m: EntityManager,
  scope: string,
  key: string,
  fingerprint: string,
  response: StoredResponse,
): Promise<void> {
  await sql(
    m,
    `INSERT INTO idempotency_keys (owner, key, fingerprint, response_status, response_body, response_headers)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`,
    [scope, key, fingerprint, response.status, JSON.stringify(response.body ?? null), JSON.stringify(response.headers)],
  );
}

/** Deletes up to `batch` expired keys; returns how many. Batches keep locks and WAL small. */
export async function deleteExpiredKeys(m: EntityManager, ttlHours: number, batch: number): Promise<number> {
  const r = await sql(
    m,
    `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM idempotency_keys
        WHERE created_at < now() - make_interval(hours => $1)
        LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    [ttlHours, batch],
  );
  return r.rowCount;
}
