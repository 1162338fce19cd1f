import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Payments that expire, are created at a real provider after COMMIT, and can
 * be refunded: the columns every payment path shares.
 * - payments.expires_at: a payment still pending then becomes `expired`
 *   (with its order), its stock released; the sweeper scans the pending
 *   ones by deadline.
 * - payments.provider_payment_id is NULL until the provider has created its
 *   payment (that call happens after the COMMIT that created ours; a payment
 *   whose call was cut short is completed later, found by the partial index).
 * - payments.client_secret: what a browser needs to pay with the provider.
 * - payments.refunded_cents / orders.refunded_cents: what succeeded refunds
 *   returned, never more than was paid.
 */
export class PaymentsRound21764000000002 implements MigrationInterface {
  name = "PaymentsRound21764000000002";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_status_check`);
    await q.query(
      `ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'expired'))`,
    );
    await q.query(`ALTER TABLE payments ADD COLUMN expires_at timestamptz`);
    await q.query(`UPDATE payments SET expires_at = created_at + interval '30 minutes'`);
    await q.query(`ALTER TABLE payments ALTER COLUMN expires_at SET NOT NULL`);
    await q.query(`ALTER TABLE payments ADD COLUMN client_secret text`);
    await q.query(`ALTER TABLE payments ALTER COLUMN provider_payment_id DROP NOT NULL`);
    await q.query(`ALTER TABLE payments ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE payments ADD CONSTRAINT payments_refunded_within_amount CHECK (refunded_cents BETWEEN 0 AND amount_cents)`);
    await q.query(`CREATE INDEX payments_expiry_idx ON payments (expires_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX payments_awaiting_provider_idx ON payments (created_at) WHERE provider_payment_id IS NULL`);

    await q.query(`ALTER TABLE orders DROP CONSTRAINT orders_status_check`);
    await q.query(
      `ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('reserved', 'pending_payment', 'paid', 'cancelled', 'expired', 'refunded'))`,
    );
    await q.query(`ALTER TABLE orders ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE orders ADD CONSTRAINT orders_refunded_within_total CHECK (refunded_cents BETWEEN 0 AND total_cents)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders DROP CONSTRAINT orders_refunded_within_total`);
    await q.query(`ALTER TABLE orders DROP COLUMN refunded_cents`);
    await q.query(`ALTER TABLE orders DROP CONSTRAINT orders_status_check`);
    await q.query(
      `ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('reserved', 'pending_payment', 'paid', 'cancelled', 'expired'))`,
    );
    await q.query(`DROP INDEX payments_awaiting_provider_idx`);
    await q.query(`DROP INDEX payments_expiry_idx`);
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_refunded_within_amount`);
    await q.query(`ALTER TABLE payments DROP COLUMN refunded_cents`);
    await q.query(`ALTER TABLE payments ALTER COLUMN provider_payment_id SET NOT NULL`);
    await q.query(`ALTER TABLE payments DROP COLUMN client_secret`);
    await q.query(`ALTER TABLE payments DROP COLUMN expires_at`);
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_status_check`);
    await q.query(`ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))`);
  }
}
