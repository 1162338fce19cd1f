import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * One index fewer on the events outbox, which every change writes to: a
 * resource's latest event (whose position the next one must not go below,
 * src/events/append-event.sql) is found through the unique index on
 * (resource_id, resource_version, type), as the event of its highest
 * version, so the separate (resource_id, position) index goes.
 */
export class EventsResourceOrder1764000000101 implements MigrationInterface {
  name = "EventsResourceOrder1764000000101";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_resource_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_resource_idx ON events (resource_id, position)`);
  }
}
