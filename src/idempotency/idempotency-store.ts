import type { EntityManager } from "typeorm";
import { sql, sqlOne } from "../db/sql.js";

/**
 * All SQL about idempotency keys. An answer rendered by the service is
 * stored as it was rendered (outcome `response`); the place-order function
 * stores its own facts (place-order.sql), from which the service renders.
 */
export type StoredResponse = { status: number; body: unknown; headers: Record<string, string> };

type KeyRow = { fingerprint: string; outcome: string; facts: unknown; expired: boolean };

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
    `SELECT fingerprint, outcome, facts,
            created_at < now() - make_interval(secs => $3::float8 * 3600) AS expired
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
  await sql(m, `INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts) VALUES ($1, $2, $3, 'response', $4::jsonb)`, [
    scope,
    key,
    fingerprint,
    JSON.stringify(response),
  ]);
}

/**
 * A command that calls the outside world commits its first phase with a
 * recovery point instead of an answer (outcome `recovery_point`, its facts):
 * a retry of the key resumes from there; the answer replaces it when the
 * last phase commits.
 */
export const RECOVERY_POINT = "recovery_point";

export async function insertRecoveryPoint(
  m: EntityManager,
  scope: string,
  key: string,
  fingerprint: string,
  facts: unknown,
): Promise<void> {
  await sql(m, `INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts) VALUES ($1, $2, $3, $4, $5::jsonb)`, [
    scope,
    key,
    fingerprint,
    RECOVERY_POINT,
    JSON.stringify(facts),
  ]);
}

/** The answer of a command that had stopped at a recovery point (or whose key was purged meanwhile: stored afresh). */
export async function storeFinalResponse(
  m: EntityManager,
  scope: string,
  key: string,
  fingerprint: string,
  response: StoredResponse,
): Promise<void> {
  await sql(
    m,
    `INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts) VALUES ($1, $2, $3, 'response', $4::jsonb)
     ON CONFLICT (owner, key) DO UPDATE SET outcome = 'response', facts = EXCLUDED.facts`,
    [scope, key, fingerprint, JSON.stringify(response)],
  );
}

/**
 * One batch of the key purge: up to $2 keys older than $1 hours, oldest
 * first, from $3 on (the created_at an earlier batch of the same purge
 * reached); returns how many it deleted and the created_at it reached,
 * exactly (text). Batches keep locks and WAL small; starting where the last
 * one stopped (idempotency_keys_created_idx) keeps each one's work bounded
 * however many keys a purge has to catch up on, instead of walking again over
 * the rows the batches before it deleted.
 */
export const DELETE_EXPIRED_KEYS_BATCH = `
  WITH gone AS (
    DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM idempotency_keys
       WHERE created_at < now() - make_interval(secs => $1::float8 * 3600) AND created_at >= $3::timestamptz
       ORDER BY created_at
       LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING created_at)
  SELECT count(*)::int AS deleted, max(created_at)::text AS reached FROM gone`;

export async function deleteExpiredKeys(
  m: EntityManager,
  ttlHours: number,
  batch: number,
  from: string,
): Promise<{ deleted: number; reached: string | null }> {
  const r = await sqlOne<{ deleted: number; reached: string | null }>(m, DELETE_EXPIRED_KEYS_BATCH, [ttlHours, batch, from]);
  return r ?? { deleted: 0, reached: null };
}
