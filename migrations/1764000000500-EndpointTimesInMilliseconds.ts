import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Webhook endpoints' `created_at` in milliseconds, as orders' and refunds'
 * are: the list's cursor carries it as the API shows it (milliseconds), and
 * with microseconds in the row `(created_at, id) > cursor` found the page's
 * last endpoint again, so following nextCursor never ended.
 */
export class EndpointTimesInMilliseconds1764000000500 implements MigrationInterface {
  name = "EndpointTimesInMilliseconds1764000000500";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_endpoints ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now())`);
    await q.query(
      `UPDATE webhook_endpoints SET created_at = date_trunc('milliseconds', created_at) WHERE created_at <> date_trunc('milliseconds', created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_endpoints ALTER COLUMN created_at SET DEFAULT now()`);
  }
}
