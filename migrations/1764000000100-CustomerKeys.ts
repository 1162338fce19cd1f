import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Customer API keys as rows of their own, so a customer can rotate and revoke
 * them. Only SHA-256 hashes are stored. The key issued with each existing
 * customer becomes its first key (slot 1), and customers.api_key_hash goes:
 * one home for a key.
 *
 * At most two active keys per customer is a constraint, not only a check in
 * code: an active key holds one of two slots, and a partial unique index
 * allows each slot once among a customer's unrevoked keys.
 */
export class CustomerKeys1764000000100 implements MigrationInterface {
  name = "CustomerKeys1764000000100";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE customer_api_keys (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id   uuid NOT NULL REFERENCES customers(id),
        key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
        slot          smallint NOT NULL CHECK (slot IN (1, 2)),
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_used_at  timestamptz,
        revoked_at    timestamptz,
        CONSTRAINT customer_api_keys_revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at)
      )`);
    await q.query(`CREATE UNIQUE INDEX customer_api_keys_active_slot ON customer_api_keys (customer_id, slot) WHERE revoked_at IS NULL`);
    await q.query(`CREATE INDEX customer_api_keys_customer_idx ON customer_api_keys (customer_id, created_at, id)`);
    await q.query(`
      INSERT INTO customer_api_keys (customer_id, key_hash, slot, created_at)
      SELECT id, api_key_hash, 1, created_at FROM customers`);
    await q.query(`ALTER TABLE customers DROP COLUMN api_key_hash`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Each customer gets back one key: an active one if it has any (every customer has at least one row).
    await q.query(`ALTER TABLE customers ADD COLUMN api_key_hash text`);
    await q.query(`
      UPDATE customers c SET api_key_hash = k.key_hash
        FROM (SELECT DISTINCT ON (customer_id) customer_id, key_hash FROM customer_api_keys
               ORDER BY customer_id, (revoked_at IS NULL) DESC, created_at, id) k
       WHERE k.customer_id = c.id`);
    await q.query(`ALTER TABLE customers ALTER COLUMN api_key_hash SET NOT NULL`);
    await q.query(`ALTER TABLE customers ADD CONSTRAINT customers_api_key_hash_key UNIQUE (api_key_hash)`);
    await q.query(`ALTER TABLE customers ADD CONSTRAINT customers_api_key_hash_check CHECK (api_key_hash ~ '^[0-9a-f]{64}$')`);
    await q.query(`DROP TABLE customer_api_keys`);
  }
}
