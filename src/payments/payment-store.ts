import type { DataSource, EntityManager } from "typeorm";
import { Payment } from "../../entities/payment.entity.js";
import { asEntity, callOnce, sql } from "../db/sql.js";

/** All SQL about payments (a provider's events: settle-payment.sql). */
export type NewPayment = {
  id: string;
  orderId: string;
  customerId: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerPaymentId: string | null;
  ttlSeconds: number;
  /** The creating request's claim on the provider call (provider_claimed_until), from the same clock. */
  claimSeconds: number;
};

/**
 * A new pending payment, expiring `ttlSeconds` after its creation (both by
 * the database clock at this statement). The partial unique index payments_one_pending_per_order
 * backs "at most one pending payment per order" whatever the caller checked.
 */
export async function insertPayment(m: EntityManager, p: NewPayment): Promise<Payment> {
  const r = await sql(
    m,
    `WITH clock AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS at)
     INSERT INTO payments (id, order_id, customer_id, amount_cents, currency, status, provider, provider_payment_id,
                           created_at, updated_at, expires_at, provider_claimed_until)
     SELECT $1, $2, $3, $4, $5, 'pending', $6, $7, at, at, at + make_interval(secs => $8),
            CASE WHEN $7::text IS NULL THEN at + make_interval(secs => $9) END FROM clock
     RETURNING *`,
    [p.id, p.orderId, p.customerId, p.amountCents, p.currency, p.provider, p.providerPaymentId, p.ttlSeconds, p.claimSeconds],
  );
  return asEntity(m, Payment, r.rows[0]);
}

/** A payment; `ownerId` set → only if that customer owns it. */
export async function findPayment(m: EntityManager, id: string, ownerId?: string): Promise<Payment | null> {
  return m.findOneBy(Payment, ownerId === undefined ? { id } : { id, customerId: ownerId });
}

/**
 * Claims the provider call of one payment still awaiting its provider
 * payment: one statement, its own transaction (the claim is committed before
 * the call). Null when it is not awaiting any more or someone else's claim
 * has not lapsed.
 */
export async function claimProviderCall(ds: DataSource, paymentId: string, leaseSeconds: number): Promise<Payment | null> {
  const r = await callOnce(
    ds,
    `UPDATE payments SET provider_claimed_until = clock_timestamp() + make_interval(secs => $2)
      WHERE id = $1 AND provider_payment_id IS NULL
        AND (provider_claimed_until IS NULL OR provider_claimed_until < clock_timestamp())
      RETURNING *`,
    [paymentId, leaseSeconds],
  );
  return r.rows[0] ? asEntity(ds, Payment, r.rows[0]) : null;
}

/** Gives up a claim after a failed call, so a retry (or the sweeper) may call again at once. */
export async function releaseProviderCall(ds: DataSource, paymentId: string): Promise<void> {
  await callOnce(ds, `UPDATE payments SET provider_claimed_until = NULL WHERE id = $1 AND provider_payment_id IS NULL`, [paymentId]);
}

/**
 * Claims up to `limit` of `provider`'s payments awaiting their provider
 * payment whose claim has lapsed (the request that created them died or
 * gave up), oldest first, over payments_awaiting_provider_idx; rows another
 * instance is claiming are skipped. One statement: the claims commit before
 * any call. Payments older than `maxAgeHours` are left alone: the provider's
 * idempotency key may be forgotten by then, and a new call could create a
 * second payment there.
 */
export async function claimAwaitingPayments(
  ds: DataSource,
  q: { provider: string; leaseSeconds: number; limit: number; maxAgeHours: number },
): Promise<Payment[]> {
  const r = await callOnce(
    ds,
    `WITH due AS (
       SELECT id FROM payments
        WHERE provider_payment_id IS NULL AND provider = $1
          AND created_at > (SELECT clock_timestamp()) - make_interval(hours => $4)
          AND (provider_claimed_until IS NULL OR provider_claimed_until < clock_timestamp())
        ORDER BY created_at LIMIT $3
        FOR UPDATE SKIP LOCKED)
     UPDATE payments p SET provider_claimed_until = clock_timestamp() + make_interval(secs => $2)
       FROM due WHERE p.id = due.id
     RETURNING p.*`,
    [q.provider, q.leaseSeconds, q.limit, q.maxAgeHours],
  );
  return r.rows.map((row) => asEntity(ds, Payment, row));
}

/**
 * Stores the provider's payment of ours, once: a compare-and-swap on
 * provider_payment_id IS NULL (under the row lock the UPDATE takes). If it
 * was stored already (by another caller with the same idempotency key, so
 * the same provider payment), that row is returned as it is. A payment
 * that expired meanwhile owes this provider payment a cancel again (its
 * earlier "cancel" had nothing at the provider to cancel): the sweeper
 * cancels it, after a failed best-effort cancel or a crash too. Completing the
 * creation is not a change of the payment: its version stays.
 */
export async function recordProviderPayment(
  m: EntityManager,
  paymentId: string,
  made: { providerPaymentId: string; clientSecret: string | null },
): Promise<Payment> {
  const r = await sql(
    m,
    `UPDATE payments SET provider_payment_id = $2, client_secret = $3, provider_claimed_until = NULL, provider_cancelled_at = NULL
      WHERE id = $1 AND provider_payment_id IS NULL
      RETURNING *`,
    [paymentId, made.providerPaymentId, made.clientSecret],
  );
  if (r.rows[0]) return asEntity(m, Payment, r.rows[0]);
  const existing = await findPayment(m, paymentId);
  if (!existing) throw new Error(`payment ${paymentId} vanished while its provider payment was created`);
  if (existing.providerPaymentId !== made.providerPaymentId) {
    throw new Error(
      `payment ${paymentId} has provider payment ${existing.providerPaymentId}, the provider answered ${made.providerPaymentId}`,
    );
  }
  return existing;
}

export type EventOutcome = "processed" | "duplicate" | "ignored";
/** What an event did to its payment, and why (logged with the delivery). */
export type EventVerdict = {
  outcome: EventOutcome;
  reason: string;
  counted?: boolean;
  /** A success for an expired or failed payment: the full refund it created, to request from the provider after COMMIT. */
  lateRefundId?: string | null;
};

/**
 * Pending payments past their expiry by the database clock, oldest deadline
 * first, locked (FOR UPDATE SKIP LOCKED: instances split the work and never
 * wait on each other, nor on a payment a webhook is settling). The clock is
 * read once per statement, `(SELECT clock_timestamp())`, so the expiry is an
 * index condition: compared with the volatile function itself, every sweep
 * would read every pending payment.
 */
export async function lockOverduePayments(m: EntityManager, limit: number): Promise<Payment[]> {
  const r = await sql(
    m,
    `SELECT * FROM payments WHERE status = 'pending' AND expires_at <= (SELECT clock_timestamp())
      ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return r.rows.map((row) => asEntity(m, Payment, row));
}

/**
 * Pending payments (whose rows the caller holds) become expired. The status
 * test is written `(...) IS TRUE`, which the planner cannot match to the
 * partial index on pending payments: as a plain `status = 'pending'` beside
 * the ids, stale statistics (few pending payments counted) made the plan a
 * scan of every pending payment, filtered by id.
 */
export async function markPaymentsExpired(m: EntityManager, ids: string[]): Promise<void> {
  const r = await sql(
    m,
    `UPDATE payments SET status = 'expired', version = version + 1, updated_at = now()
      WHERE id = ANY($1::uuid[]) AND (status = 'pending') IS TRUE`,
    [ids],
  );
  if (r.rowCount !== ids.length) throw new Error(`invariant broken: expired ${r.rowCount} of ${ids.length} locked pending payments`);
}

/** Expired payments whose cancellation at the provider is still owed (one read, no lock). */
export async function paymentsAwaitingCancel(
  ds: DataSource,
  limit: number,
): Promise<{ paymentId: string; providerPaymentId: string | null }[]> {
  const r = await callOnce<{ paymentId: string; providerPaymentId: string | null }>(
    ds,
    `SELECT id AS "paymentId", provider_payment_id AS "providerPaymentId" FROM payments
      WHERE status = 'expired' AND provider_cancelled_at IS NULL ORDER BY updated_at LIMIT $1`,
    [limit],
  );
  return r.rows;
}

/**
 * Records that the provider's payment is cancelled (one conditional statement; not a visible change, so no version):
 * only if the payment's provider payment is still the one cancelled (one recorded meanwhile stays owed).
 */
export async function markCancelledAtProvider(ds: DataSource, paymentId: string, providerPaymentId: string | null): Promise<void> {
  await callOnce(
    ds,
    `UPDATE payments SET provider_cancelled_at = now()
      WHERE id = $1 AND provider_cancelled_at IS NULL AND provider_payment_id IS NOT DISTINCT FROM $2`,
    [paymentId, providerPaymentId],
  );
}
