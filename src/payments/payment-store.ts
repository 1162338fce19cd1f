import type { EntityManager } from "typeorm";
import { Payment } from "../../entities/payment.entity.js";
import { asEntity, sql } from "../db/sql.js";

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
                           created_at, updated_at, expires_at)
     SELECT $1, $2, $3, $4, $5, 'pending', $6, $7, at, at, at + make_interval(secs => $8) FROM clock
     RETURNING *`,
    [p.id, p.orderId, p.customerId, p.amountCents, p.currency, p.provider, p.providerPaymentId, p.ttlSeconds],
  );
  return asEntity(m, Payment, r.rows[0]);
}

/** A payment; `ownerId` set → only if that customer owns it. */
export async function findPayment(m: EntityManager, id: string, ownerId?: string): Promise<Payment | null> {
  return m.findOneBy(Payment, ownerId === undefined ? { id } : { id, customerId: ownerId });
}

export type EventOutcome = "processed" | "duplicate" | "ignored";
/** What an event did to its payment, and why (logged with the delivery). */
export type EventVerdict = { outcome: EventOutcome; reason: string; counted?: boolean };
