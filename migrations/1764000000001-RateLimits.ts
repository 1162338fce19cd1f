import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * State of the per-customer-key rate limiter (rate-limiter-flexible's
 * PostgreSQL store), kept in the database so the limit holds across every
 * instance of the service. The library's own table layout.
 */
export class RateLimits1764000000001 implements MigrationInterface {
  name = "RateLimits1764000000001";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rate_limits (
        key     varchar(255) PRIMARY KEY,
        points  integer NOT NULL DEFAULT 0,
        expire  bigint
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS rate_limits`);
  }
}
