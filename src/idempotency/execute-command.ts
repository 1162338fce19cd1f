import type { DataSource, EntityManager } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { sql } from "../db/sql.js";
import { AppError, IdempotencyKeyInUseError, IdempotencyKeyReusedError, problemAnswer } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { idempotencyMetrics } from "../metrics/registry.js";
import { deleteKey, findKey, insertKey, type StoredResponse, tryLockKey } from "./idempotency-store.js";

export type { StoredResponse };
export type IdempotencyContext = { scope: string; key: string; fingerprint: string };
export type CommandOutcome = { response: StoredResponse; replayed: boolean };

/**
 * Runs a mutating command in one transaction, honouring an Idempotency-Key
 * (Stripe's design, the IETF draft's status codes):
 *
 * 1. pg_try_advisory_xact_lock(scope, key): not granted → 409
 *    idempotency_key_in_use at once (another request is processing the key).
 * 2. A stored key: same fingerprint → replay the stored response; different
 *    fingerprint → 422 idempotency_key_reused. An expired one is dropped.
 * 3. The work runs inside a savepoint. A domain 4xx rolls back to it and is
 *    stored as the answer; the key row is inserted with the response before
 *    COMMIT, in the same transaction as the effects.
 * 4. A 5xx or a crash commits nothing: neither effects nor key, so the key
 *    can be used again.
 *
 * Without a key the work simply runs in its own transaction.
 *
 * `redact` names top-level members of the response body that hold a secret
 * shown once (an endpoint's signing secret): the stored answer has them
 * `null`, so a replay never shows the secret again.
 */
export async function executeCommand(
  ds: DataSource,
  idempotency: IdempotencyContext | undefined,
  ttlHours: number,
  work: (m: EntityManager) => Promise<StoredResponse>,
  redact: readonly string[] = [],
): Promise<CommandOutcome> {
  if (!idempotency) return { response: await inTransaction(ds, work), replayed: false };
  const { scope, key, fingerprint } = idempotency;
  const outcome = await inTransaction(ds, async (m) => {
    if (!(await tryLockKey(m, scope, key))) {
      idempotencyMetrics.inUse.inc();
      throw new IdempotencyKeyInUseError();
    }
    const stored = await findKey(m, scope, key, ttlHours);
    if (stored && !stored.expired) {
      if (stored.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
      if (stored.outcome !== "response") throw new Error(`idempotency key ${key}: stored ${stored.outcome}, not a rendered answer`);
      idempotencyMetrics.replays.inc();
      return { response: stored.facts as StoredResponse, replayed: true };
    }
    if (stored) await deleteKey(m, scope, key);

    await sql(m, "SAVEPOINT idempotent_work");
    let response: StoredResponse;
    try {
      response = await work(m);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      await sql(m, "ROLLBACK TO SAVEPOINT idempotent_work");
      response = problemAnswer(err);
    }
    await insertKey(m, scope, key, fingerprint, withoutSecrets(response, redact));
    crashPoint("command:before-commit", key);
    return { response, replayed: false };
  });
  if (!outcome.replayed) crashPoint("command:after-commit", key);
  return outcome;
}

function withoutSecrets(response: StoredResponse, redact: readonly string[]): StoredResponse {
  const body = response.body;
  if (redact.length === 0 || body === null || typeof body !== "object" || Array.isArray(body)) return response;
  const stored: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const member of redact) if (member in stored) stored[member] = null;
  return { ...response, body: stored };
}
