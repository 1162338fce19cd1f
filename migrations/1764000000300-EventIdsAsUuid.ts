import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * An event's id is stored as what it is, a UUID version 7 (16 bytes), not as
 * the text the API shows (`evt_` and 32 hex digits, src/events/event-id.ts).
 * Every change writes an event, and the text id's CHECK (a regular
 * expression, prepared again by every statement that inserts events) cost
 * about a third of writing one (docs/performance.md, "What the events cost").
 * The uuid type is the constraint now. The webhook deliveries and their
 * attempts log, which name events, follow.
 */
export class EventIdsAsUuid1764000000300 implements MigrationInterface {
  name = "EventIdsAsUuid1764000000300";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_delivery_attempts DROP CONSTRAINT webhook_delivery_attempts_endpoint_id_event_id_fkey`);
    await q.query(`ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey`);
    await q.query(`ALTER TABLE events DROP CONSTRAINT events_id_check`);
    await q.query(`ALTER TABLE events ALTER COLUMN id TYPE uuid USING substr(id, 5)::uuid`);
    await q.query(`ALTER TABLE webhook_deliveries ALTER COLUMN event_id TYPE uuid USING substr(event_id, 5)::uuid`);
    await q.query(`ALTER TABLE webhook_delivery_attempts ALTER COLUMN event_id TYPE uuid USING substr(event_id, 5)::uuid`);
    await q.query(
      `ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE`,
    );
    await q.query(
      `ALTER TABLE webhook_delivery_attempts ADD CONSTRAINT webhook_delivery_attempts_endpoint_id_event_id_fkey
         FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_delivery_attempts DROP CONSTRAINT webhook_delivery_attempts_endpoint_id_event_id_fkey`);
    await q.query(`ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey`);
    for (const [table, column] of [
      ["events", "id"],
      ["webhook_deliveries", "event_id"],
      ["webhook_delivery_attempts", "event_id"],
    ]) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE text USING 'evt_' || replace(${column}::text, '-', '')`);
    }
    await q.query(`ALTER TABLE events ADD CONSTRAINT events_id_check CHECK (id ~ '^evt_[0-9a-f]{32}$')`);
    await q.query(
      `ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE`,
    );
    await q.query(
      `ALTER TABLE webhook_delivery_attempts ADD CONSTRAINT webhook_delivery_attempts_endpoint_id_event_id_fkey
         FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE`,
    );
  }
}
