import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A claim on the call that creates a payment at its provider (after the
 * COMMIT that created ours). Whoever makes that call (the request that
 * created the payment, a retry of its Idempotency-Key, the sweeper) first
 * commits provider_claimed_until = now() + lease; nobody else calls until
 * the claim is released or has lapsed, so calls for one payment never
 * overlap, while a crash mid-call leaves a claim that simply runs out.
 */
export class ProviderCallClaims1764000000006 implements MigrationInterface {
  name = "ProviderCallClaims1764000000006";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments ADD COLUMN provider_claimed_until timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments DROP COLUMN provider_claimed_until`);
  }
}
