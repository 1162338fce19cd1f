import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Refunds, disputes and expiring payments: schema and constraints only (the
 * rules are SQL functions in src/refunds, src/payments and src/metrics).
 * - refunds: one row per refund, ours (POST /v1/payments/:id/refunds), a
 *   late success's (`late_success`), a dispute's (`dispute`, keyed by the
 *   provider's dispute id) or one made at the provider (`provider`).
 * - payments.refund_claimed_cents: the sum of the payment's refunds that are
 *   not failed (pending or succeeded; a reversed dispute gives its amount
 *   back). The CHECK makes "refunds never add up past the payment" a
 *   constraint, whatever the code does; refunded_cents (succeeded only) is
 *   never more than what is claimed.
 * - payments.provider_cancelled_at: when the provider's side of an expired
 *   payment was cancelled (NULL while that call after COMMIT is owed).
 * - purchase_counters take compensating entries, increment-only: refunds
 *   and refunded cents on the refund's UTC day, reversals of dispute refunds
 *   on the reinstatement's UTC day. counted_refunds and
 *   counted_refund_reversals are their dedupe keys (one each per refund).
 */
export class Refunds1764000000003 implements MigrationInterface {
  name = "Refunds1764000000003";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments ADD COLUMN refund_claimed_cents bigint NOT NULL DEFAULT 0`);
    await q.query(
      `ALTER TABLE payments ADD CONSTRAINT payments_refunds_within_amount
         CHECK (refunded_cents <= refund_claimed_cents AND refund_claimed_cents <= amount_cents)`,
    );
    await q.query(`ALTER TABLE payments ADD COLUMN provider_cancelled_at timestamptz`);
    await q.query(
      `CREATE INDEX payments_cancel_owed_idx ON payments (updated_at) WHERE status = 'expired' AND provider_cancelled_at IS NULL`,
    );

    await q.query(`
      CREATE TABLE refunds (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        payment_id          uuid NOT NULL REFERENCES payments(id),
        order_id            uuid NOT NULL REFERENCES orders(id),
        amount_cents        bigint NOT NULL CHECK (amount_cents > 0),
        currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        reason              text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
        kind                text NOT NULL CHECK (kind IN ('requested', 'late_success', 'dispute', 'provider')),
        status              text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'reversed')),
        lines               jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(lines) = 'array'),
        provider_refund_id  text,
        dispute_id          text,
        version             integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        settled_at          timestamptz,
        -- Milliseconds, as the API shows them: list cursors are exact.
        created_at          timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT refunds_settled_at CHECK ((status = 'pending') = (settled_at IS NULL)),
        -- Only a dispute's refund is ever reversed, and only a dispute has a dispute id.
        CONSTRAINT refunds_reversed_dispute CHECK (status <> 'reversed' OR kind = 'dispute'),
        CONSTRAINT refunds_dispute_id CHECK ((kind = 'dispute') = (dispute_id IS NOT NULL)),
        -- Nothing is restocked by a refund the customer did not send back.
        CONSTRAINT refunds_lines_only_requested CHECK (kind = 'requested' OR lines = '[]'::jsonb)
      )`);
    await q.query(`CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at DESC, id DESC)`);
    await q.query(`CREATE UNIQUE INDEX refunds_provider_refund_id ON refunds (provider_refund_id) WHERE provider_refund_id IS NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX refunds_one_per_dispute ON refunds (dispute_id) WHERE dispute_id IS NOT NULL`);
    // A late success is refunded once per payment.
    await q.query(`CREATE UNIQUE INDEX refunds_one_late_success ON refunds (payment_id) WHERE kind = 'late_success'`);
    // The sweeper finds refunds whose provider call is still owed.
    await q.query(`CREATE INDEX refunds_request_owed_idx ON refunds (created_at) WHERE status = 'pending' AND provider_refund_id IS NULL`);

    await q.query(`ALTER TABLE purchase_counters ADD COLUMN refunds bigint NOT NULL DEFAULT 0 CHECK (refunds >= 0)`);
    await q.query(`ALTER TABLE purchase_counters ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0)`);
    await q.query(`ALTER TABLE purchase_counters ADD COLUMN reversed_refunds bigint NOT NULL DEFAULT 0 CHECK (reversed_refunds >= 0)`);
    await q.query(
      `ALTER TABLE purchase_counters ADD COLUMN reversed_refunded_cents bigint NOT NULL DEFAULT 0 CHECK (reversed_refunded_cents >= 0)`,
    );
    await q.query(`
      CREATE TABLE counted_refunds (
        refund_id     uuid PRIMARY KEY REFERENCES refunds(id),
        day           date NOT NULL,
        amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
        counted_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE counted_refund_reversals (
        refund_id     uuid PRIMARY KEY REFERENCES counted_refunds(refund_id),
        day           date NOT NULL,
        amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
        counted_at    timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS counted_refund_reversals`);
    await q.query(`DROP TABLE IF EXISTS counted_refunds`);
    for (const c of ["reversed_refunded_cents", "reversed_refunds", "refunded_cents", "refunds"]) {
      await q.query(`ALTER TABLE purchase_counters DROP COLUMN ${c}`);
    }
    await q.query(`DROP TABLE IF EXISTS refunds`);
    await q.query(`DROP INDEX payments_cancel_owed_idx`);
    await q.query(`ALTER TABLE payments DROP COLUMN provider_cancelled_at`);
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_refunds_within_amount`);
    await q.query(`ALTER TABLE payments DROP COLUMN refund_claimed_cents`);
  }
}
