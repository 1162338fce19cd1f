import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Drops `order_lines_sku_idx`, an index nothing reads: every query of order
 * lines finds them by order (the primary key, `(order_id, sku)`), and the
 * foreign key to `products(sku)` would only consult it when a product is
 * deleted or its SKU changed, which the API has no way to do.
 *
 * It was paid for on every order line written, at a random place: lines of
 * the same SKU share a leaf, so each new line lands on one of thousands of
 * leaves, which on a large table is rarely in the CPU's caches or in shared
 * buffers (docs/performance.md, "Ten million orders: a cold buffer pool").
 * The other indexes an order writes into grow at their right edge
 * (time-ordered ids) or per customer, except the Idempotency-Key's primary
 * key, where the client's key decides the place and which that key's
 * uniqueness needs.
 */
export class LinesWithoutSkuIndex1764000000400 implements MigrationInterface {
  name = "LinesWithoutSkuIndex1764000000400";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX order_lines_sku_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX order_lines_sku_idx ON order_lines (sku)`);
  }
}
