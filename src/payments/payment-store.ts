import type { EntityManager } from "typeorm";
import type { PaymentStatus } from "../../entities/payment.entity.js";
import { sql, sqlOne } from "../db/sql.js";

/** All SQL about payments and provider events. */
export type { PaymentStatus };

export type PaymentRow = {
  id: string;
  order_id: string;
  customer_id: string;
  amount_cents: number;
  currency: string;
  status: PaymentStatus;
  provider: string;
  provider_payment_id: string;
  version: number;
  succeeded_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

export type PaymentView = {
  id: string;
  orderId: string;
  amountCents: number;
  currency: string;
  status: PaymentStatus;
  provider: string;
  providerPaymentId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
};

export function toPaymentView(p: PaymentRow): PaymentView {
  return {
    id: p.id,
    orderId: p.order_id,
    amountCents: p.amount_cents,
    currency: p.currency,
    status: p.status,
    provider: p.provider,
    providerPaymentId: p.provider_payment_id,
    version: p.version,
    createdAt: p.created_at.toISOString(),
    updatedAt: p.updated_at.toISOString(),
  };
}

export type NewPayment = {
  orderId: string;
  customerId: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerPaymentId: string;
};

/**
 * A new pending payment. The partial unique index payments_one_pending_per_order
 * backs "at most one pending payment per order" whatever the caller checked.
 */
export async function insertPayment(m: EntityManager, p: NewPayment & { id: string }): Promise<PaymentRow> {
  const r = await sql<PaymentRow>(
    m,
    `INSERT INTO payments (id, order_id, customer_id, amount_cents, currency, status, provider, provider_payment_id)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
     RETURNING *`,
    [p.id, p.orderId, p.customerId, p.amountCents, p.currency, p.provider, p.providerPaymentId],
  );
  return r.rows[0];
}

/** A payment; `ownerId` set → only if that customer owns it. */
export async function findPayment(m: EntityManager, id: string, ownerId?: string): Promise<PaymentRow | undefined> {
  return sqlOne<PaymentRow>(m, `SELECT * FROM payments WHERE id = $1 AND ($2::uuid IS NULL OR customer_id = $2)`, [id, ownerId ?? null]);
}

/**
 * Locks the payment row (FOR UPDATE). In the webhook path the payment row is
 * the first lock taken: payment → order → products, always in that order.
 */
export async function lockPayment(m: EntityManager, id: string): Promise<PaymentRow | undefined> {
  return sqlOne<PaymentRow>(m, `SELECT * FROM payments WHERE id = $1 FOR UPDATE`, [id]);
}

/**
 * Settles a pending payment whose row the caller has locked: status and
 * succeeded_at (the database clock, the same now() the purchase counters use
 * for the confirmation day) in one statement guarded by version and status.
 * Returns undefined if the guard failed: impossible under the row lock, so
 * callers treat it as an internal conflict.
 */
export async function settlePayment(m: EntityManager, payment: PaymentRow, to: "succeeded" | "failed"): Promise<PaymentRow | undefined> {
  const r = await sql<PaymentRow>(
    m,
    `UPDATE payments
        SET status = $3::text,
            succeeded_at = CASE WHEN $3::text = 'succeeded' THEN now() END,
            version = version + 1,
            updated_at = now()
      WHERE id = $1 AND version = $2 AND status = 'pending'
  RETURNING *`,
    [payment.id, payment.version, to],
  );
  return r.rowCount === 1 ? r.rows[0] : undefined;
}

export type EventOutcome = "processed" | "duplicate" | "ignored";
/** What an event did to its payment, and why (logged with the delivery). */
export type EventVerdict = { outcome: EventOutcome; reason: string; counted?: boolean };

/**
 * Records a provider event id. The event id is the primary key, so of any
 * number of concurrent deliveries of one event exactly one inserts (the
 * others wait for it to commit, then find the row): false means "already
 * received". The outcome is provisional until setEventOutcome.
 */
export async function recordEvent(
  m: EntityManager,
  e: { eventId: string; paymentId: string | null; type: string; outcome: EventOutcome },
): Promise<boolean> {
  const r = await sql(
    m,
    `INSERT INTO payment_events (event_id, payment_id, type, outcome) VALUES ($1, $2, $3, $4)
     ON CONFLICT (event_id) DO NOTHING`,
    [e.eventId, e.paymentId, e.type, e.outcome],
  );
  return r.rowCount === 1;
}

export async function setEventOutcome(m: EntityManager, eventId: string, outcome: EventOutcome): Promise<void> {
  await sql(m, `UPDATE payment_events SET outcome = $2 WHERE event_id = $1`, [eventId, outcome]);
}
