import type { DataSource, EntityManager } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { sql } from "../db/sql.js";
import { AppError, IdempotencyKeyInUseError, IdempotencyKeyReusedError, problemAnswer } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { idempotencyMetrics } from "../metrics/registry.js";
import {
  deleteKey,
  findKey,
  insertKey,
  insertRecoveryPoint,
  RECOVERY_POINT,
  type StoredResponse,
  storeFinalResponse,
  tryLockKey,
} from "./idempotency-store.js";

export type { StoredResponse };
export type IdempotencyContext = { scope: string; key: string; fingerprint: string };
export type CommandOutcome = { response: StoredResponse; replayed: boolean };

/**
 * The stored copy of a response: every top-level body member named in
 * `secretMembers` (an issued API key, an endpoint's signing secret) that is
 * present is set to null. The caller gets the secret once, in the first
 * answer; a replay has the same status and body with those members null, so
 * no plaintext secret ever reaches the idempotency_keys table.
 */
function withoutSecrets(response: StoredResponse, secretMembers: readonly string[]): StoredResponse {
  const body = response.body;
  if (secretMembers.length === 0 || body === null || typeof body !== "object" || Array.isArray(body)) return response;
  const redacted: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const member of secretMembers) if (Object.hasOwn(redacted, member)) redacted[member] = null;
  return { ...response, body: redacted };
}

/**
 * What the first phase of a command that calls the outside world commits
 * instead of an answer (rocket-rides-atomic): the facts its later phases
 * need, e.g. the id of the payment it created.
 */
export type RecoveryPoint = { recoveryPoint: string; facts: Record<string, unknown> };
/** Runs the last phase: `work` in a transaction that also stores its answer under the key. */
export type FinishCommand = (work: (m: EntityManager) => Promise<StoredResponse>) => Promise<CommandOutcome>;
/**
 * Continues a command from its recovery point, after COMMIT and outside any
 * transaction: calls the outside world, then `finish`. `fresh`: this request
 * committed the point just now; false: a retry of the key found it stored
 * (the first request may still be running, or may have died).
 */
export type ResumeCommand = (point: RecoveryPoint, context: ResumeContext, finish: FinishCommand) => Promise<CommandOutcome>;
/** `key`: the request's Idempotency-Key, if any (for logs and crash points). */
export type ResumeContext = { fresh: boolean; key: string | undefined };

const isRecoveryPoint = (x: StoredResponse | RecoveryPoint): x is RecoveryPoint => "recoveryPoint" in x;

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
 * A command that calls the outside world (with `resume`) may instead end its
 * first phase with a RecoveryPoint: the key row then holds that point, and
 * after COMMIT `resume` makes the call and finishes; the answer is stored
 * only when that last phase commits. A retry of the key that finds a
 * recovery point resumes from it (never redoing the first phase); a 5xx in
 * a later phase leaves the point in place for such a retry.
 *
 * Without a key the work simply runs in its own transaction (and a
 * recovery point is resumed at once, nothing stored).
 */
export async function executeCommand(
  ds: DataSource,
  idempotency: IdempotencyContext | undefined,
  ttlHours: number,
  work: (m: EntityManager) => Promise<StoredResponse | RecoveryPoint>,
  options: { resume?: ResumeCommand; secretMembers?: readonly string[] } = {},
): Promise<CommandOutcome> {
  const { resume, secretMembers = [] } = options;
  const resumeFrom = (point: RecoveryPoint, fresh: boolean, finish: FinishCommand) => {
    if (!resume) throw new Error(`command stopped at recovery point ${point.recoveryPoint} but has no resume`);
    return resume(point, { fresh, key: idempotency?.key }, finish);
  };
  if (!idempotency) {
    const first = await inTransaction(ds, work);
    if (!isRecoveryPoint(first)) return { response: first, replayed: false };
    return resumeFrom(first, true, async (last) => ({ response: await inTransaction(ds, last), replayed: false }));
  }
  const { scope, key, fingerprint } = idempotency;
  const outcome = await inTransaction(ds, async (m): Promise<CommandOutcome | { resumeAt: RecoveryPoint; fresh: boolean }> => {
    if (!(await tryLockKey(m, scope, key))) {
      idempotencyMetrics.inUse.inc();
      throw new IdempotencyKeyInUseError();
    }
    const stored = await findKey(m, scope, key, ttlHours);
    if (stored && !stored.expired) {
      if (stored.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
      if (stored.outcome === RECOVERY_POINT && resume) return { resumeAt: stored.facts as RecoveryPoint, fresh: false };
      if (stored.outcome !== "response") throw new Error(`idempotency key ${key}: stored ${stored.outcome}, not a rendered answer`);
      idempotencyMetrics.replays.inc();
      return { response: stored.facts as StoredResponse, replayed: true };
    }
    if (stored) await deleteKey(m, scope, key);

    const result = await inSavepoint(m, work);
    if (isRecoveryPoint(result)) {
      await insertRecoveryPoint(m, scope, key, fingerprint, result);
      crashPoint("command:before-commit", key);
      return { resumeAt: result, fresh: true };
    }
    await insertKey(m, scope, key, fingerprint, withoutSecrets(result, secretMembers));
    crashPoint("command:before-commit", key);
    return { response: result, replayed: false };
  });
  if ("resumeAt" in outcome) {
    if (outcome.fresh) crashPoint("command:after-commit", key);
    return resumeFrom(outcome.resumeAt, outcome.fresh, (last) => finishCommand(ds, idempotency, ttlHours, last, secretMembers));
  }
  if (!outcome.replayed) crashPoint("command:after-commit", key);
  return outcome;
}

/** The work inside a savepoint: a domain 4xx rolls back to it and becomes the answer; anything else propagates. */
async function inSavepoint<T>(m: EntityManager, work: (m: EntityManager) => Promise<T>): Promise<T | StoredResponse> {
  await sql(m, "SAVEPOINT idempotent_work");
  try {
    return await work(m);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    await sql(m, "ROLLBACK TO SAVEPOINT idempotent_work");
    return problemAnswer(err);
  }
}

/**
 * The last phase of a resumed command, under the key's advisory lock: if
 * another request with the key has finished meanwhile, its answer is
 * replayed; otherwise `work` runs and its answer replaces the recovery point,
 * in the same transaction.
 */
async function finishCommand(
  ds: DataSource,
  { scope, key, fingerprint }: IdempotencyContext,
  ttlHours: number,
  work: (m: EntityManager) => Promise<StoredResponse>,
  secretMembers: readonly string[],
): Promise<CommandOutcome> {
  const outcome = await inTransaction(ds, async (m): Promise<CommandOutcome> => {
    if (!(await tryLockKey(m, scope, key))) {
      idempotencyMetrics.inUse.inc();
      throw new IdempotencyKeyInUseError();
    }
    const stored = await findKey(m, scope, key, ttlHours);
    if (stored?.outcome === "response" && stored.fingerprint === fingerprint) {
      idempotencyMetrics.replays.inc();
      return { response: stored.facts as StoredResponse, replayed: true };
    }
    const response = await inSavepoint(m, work);
    await storeFinalResponse(m, scope, key, fingerprint, withoutSecrets(response, secretMembers));
    crashPoint("command:before-commit", key);
    return { response, replayed: false };
  });
  if (!outcome.replayed) crashPoint("command:after-commit", key);
  return outcome;
}
