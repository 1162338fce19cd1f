import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Room on each page for the new versions of product rows, so that the
 * updates every order makes to them (reserved, version, updated_at; none of
 * them indexed) stay HOT: the new version goes into the same page and no
 * index entry is added. At the default fillfactor of 100 a page is full when
 * the catalogue is loaded, so the first update of most products after that
 * cannot stay on its page: it writes a new primary-key entry and moves the
 * row to another page (docs/performance.md, "Growth").
 *
 * Applies to pages written from now on; `VACUUM FULL products` (or
 * pg_repack) rewrites an existing catalogue with it.
 */
export class HotUpdateRoom1764000000200 implements MigrationInterface {
  name = "HotUpdateRoom1764000000200";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE products SET (fillfactor = 70)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE products RESET (fillfactor)`);
  }
}
