import type { DataSource, EntityManager } from "typeorm";
import { Payment } from "../../entities/payment.entity.js";
import { Refund, type RefundLine } from "../../entities/refund.entity.js";
import { asEntity, callOnce, sql } from "../db/sql.js";

/**
 * All SQL about refunds that is not a settle function (settle-refund.sql,
 * settle-dispute.sql, apply-refund.sql). Every change to a payment's refunds
 * happens under its payment row's lock: payment → refund → order → products.
 */

/** Locks a payment row (FOR UPDATE): the lock that serialises its refunds. */
export async function lockPayment(m: EntityManager, id: string): Promise<Payment | undefined> {
  const r = await sql(m, `SELECT * FROM payments WHERE id = $1 FOR UPDATE`, [id]);
  return r.rows[0] ? asEntity(m, Payment, r.rows[0]) : undefined;
}

/**
 * Per SKU of the payment's order: units bought, and units that earlier
 * refunds which did not fail restock (read under the payment's lock, so no
 * concurrent refund of this payment can change them).
 */
export async function restockableLines(m: EntityManager, paymentId: string): Promise<{ sku: string; bought: number; restocked: number }[]> {
  const r = await sql<{ sku: string; bought: number; restocked: number }>(
    m,
    `SELECT l.sku, l.quantity AS bought,
            coalesce((SELECT sum((x ->> 'quantity')::int) FROM refunds r, jsonb_array_elements(r.lines) x
                       WHERE r.payment_id = p.id AND r.status IN ('pending', 'succeeded')
                         AND (x ->> 'restock')::boolean AND x ->> 'sku' = l.sku), 0)::int AS restocked
       FROM payments p JOIN order_lines l ON l.order_id = p.order_id
      WHERE p.id = $1
      ORDER BY l.sku`,
    [paymentId],
  );
  return r.rows;
}

/**
 * A pending refund, and its amount claimed on the payment in the same
 * transaction (the caller holds the payment's lock). The CHECK
 * payments_refunds_within_amount backs "never past the payment".
 */
export async function insertRefund(
  m: EntityManager,
  p: { paymentId: string; orderId: string; amountCents: number; currency: string; reason: string; lines: RefundLine[] },
): Promise<Refund> {
  const r = await sql(
    m,
    `INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status, lines)
     VALUES ($1, $2, $3, $4, $5, 'requested', 'pending', $6::jsonb)
     RETURNING *`,
    [p.paymentId, p.orderId, p.amountCents, p.currency, p.reason, JSON.stringify(p.lines)],
  );
  await sql(m, `UPDATE payments SET refund_claimed_cents = refund_claimed_cents + $2 WHERE id = $1`, [p.paymentId, p.amountCents]);
  return asEntity(m, Refund, r.rows[0]);
}

export async function findRefund(m: EntityManager, id: string): Promise<Refund | null> {
  return m.findOneBy(Refund, { id });
}

/** A payment's refunds, newest first, keyset-paginated by (createdAt, id). */
export async function listRefunds(
  m: EntityManager,
  q: { paymentId: string; after?: { createdAt: string; id: string }; limit: number },
): Promise<Refund[]> {
  const qb = m
    .createQueryBuilder(Refund, "r")
    .where("r.payment_id = :paymentId", { paymentId: q.paymentId })
    .orderBy("r.created_at", "DESC")
    .addOrderBy("r.id", "DESC")
    .limit(q.limit);
  if (q.after)
    qb.andWhere("(r.created_at, r.id) < (CAST(:createdAt AS timestamptz), CAST(:afterId AS uuid))", {
      createdAt: q.after.createdAt,
      afterId: q.after.id,
    });
  return qb.getMany();
}

/** A refund and its payment's provider reference, for the provider call after COMMIT (no lock: one read). */
export async function refundForProvider(
  ds: DataSource,
  id: string,
): Promise<
  | {
      id: string;
      paymentId: string;
      providerPaymentId: string | null;
      amountCents: number;
      currency: string;
      reason: string;
      status: string;
      providerRefundId: string | null;
    }
  | undefined
> {
  const r = await callOnce<{
    id: string;
    paymentId: string;
    providerPaymentId: string | null;
    amountCents: number;
    currency: string;
    reason: string;
    status: string;
    providerRefundId: string | null;
  }>(
    ds,
    `SELECT r.id, r.payment_id AS "paymentId", p.provider_payment_id AS "providerPaymentId", r.amount_cents AS "amountCents",
            r.currency, r.reason, r.status, r.provider_refund_id AS "providerRefundId"
       FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = $1`,
    [id],
  );
  return r.rows[0];
}

/** Records the provider's id for our refund, once (one conditional statement). */
export async function recordProviderRefundId(ds: DataSource, id: string, providerRefundId: string): Promise<void> {
  await callOnce(
    ds,
    `UPDATE refunds SET provider_refund_id = $2, version = version + 1, updated_at = now()
      WHERE id = $1 AND provider_refund_id IS NULL`,
    [id, providerRefundId],
  );
}

/**
 * Refunds whose provider call is owed (pending, no provider id), older than
 * `graceSeconds` and younger than `maxAgeHours` (past the provider's
 * idempotency-key lifetime a repeated call could refund twice).
 */
export async function refundsAwaitingProvider(ds: DataSource, graceSeconds: number, maxAgeHours: number, limit: number): Promise<string[]> {
  const r = await callOnce<{ id: string }>(
    ds,
    `SELECT id FROM refunds
      WHERE status = 'pending' AND provider_refund_id IS NULL AND created_at < now() - make_interval(secs => $1)
        AND created_at > now() - make_interval(hours => $3)
      ORDER BY created_at LIMIT $2`,
    [graceSeconds, limit, maxAgeHours],
  );
  return r.rows.map((x) => x.id);
}
