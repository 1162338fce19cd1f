import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Which statuses hold stock is said once, by the CHECK orders_hold_while_open
 * (InitialSchema): an order has a hold deadline (reserved_until) exactly
 * while its status holds stock. Everything else that asks "does this order
 * hold stock?" asks `reserved_until IS NOT NULL`, this index of a customer's
 * open orders (the per-customer cap reads it) included, so no second list of
 * statuses exists. The same rows as before, under that CHECK.
 */
export class OpenOrdersByHold1764000000013 implements MigrationInterface {
  name = "OpenOrdersByHold1764000000013";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX orders_open_by_customer_idx`);
    await q.query(`CREATE INDEX orders_open_by_customer_idx ON orders (customer_id) WHERE reserved_until IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX orders_open_by_customer_idx`);
    await q.query(`CREATE INDEX orders_open_by_customer_idx ON orders (customer_id) WHERE status IN ('reserved', 'pending_payment')`);
  }
}
