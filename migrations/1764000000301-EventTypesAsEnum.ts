import type { MigrationInterface, QueryRunner } from "typeorm";

const TYPES = [
  "order.placed",
  "order.changed",
  "order.cancelled",
  "order.expired",
  "order.paid",
  "order.refunded",
  "payment.failed",
  "payment.expired",
  "refund.succeeded",
  "refund.failed",
];

/**
 * An event's type is a value of an enum, orderlock_event_type, instead of
 * text with a CHECK against the list: the type is the constraint, and a
 * statement that writes events no longer prepares that CHECK again (about
 * 14 % of what writing events cost the order batch; docs/performance.md,
 * "What the events cost"). The list below is this migration's snapshot, not
 * imported from EVENT_TYPES (src/events/append-event.ts), which may grow: a
 * new event type is `ALTER TYPE orderlock_event_type ADD VALUE` in a new
 * migration and an entry in EVENT_TYPES; test/events/event-types.test.ts
 * compares the database's enum with EVENT_TYPES.
 */
export class EventTypesAsEnum1764000000301 implements MigrationInterface {
  name = "EventTypesAsEnum1764000000301";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TYPE orderlock_event_type AS ENUM (${TYPES.map((t) => `'${t}'`).join(", ")})`);
    await q.query(`ALTER TABLE events DROP CONSTRAINT events_type_check`);
    await q.query(`ALTER TABLE events ALTER COLUMN type TYPE orderlock_event_type USING type::orderlock_event_type`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ALTER COLUMN type TYPE text USING type::text`);
    await q.query(`ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type IN (${TYPES.map((t) => `'${t}'`).join(", ")}))`);
    await q.query(`DROP TYPE orderlock_event_type`);
  }
}
