import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The events outbox: one row per committed change of an order, a payment or
 * a refund, written in the transaction that makes the change
 * (src/events/append-event.sql), read by the feed (GET /v1/events) and the
 * webhook deliveries.
 *
 * `position` is the feed order: the writer's transaction id, raised to the
 * resource's previous event's position if that is higher (so one resource's
 * events come in the order of its changes). The feed serves only positions
 * below the oldest running transaction id, so nothing can still appear
 * behind a reader's cursor. `seq` breaks ties within one position.
 */
export class Events1764000000001 implements MigrationInterface {
  name = "Events1764000000001";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        seq               bigint GENERATED ALWAYS AS IDENTITY,
        id                text PRIMARY KEY CHECK (id ~ '^evt_[0-9a-f]{32}$'),
        type              text NOT NULL CHECK (type IN ('order.placed', 'order.changed', 'order.cancelled', 'order.expired',
                                                        'order.paid', 'order.refunded', 'payment.failed', 'payment.expired',
                                                        'refund.succeeded', 'refund.failed')),
        resource_id       uuid NOT NULL,
        resource_version  integer NOT NULL CHECK (resource_version >= 1),
        position          xid8 NOT NULL,
        facts             jsonb NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        -- One event per committed change of a resource.
        CONSTRAINT events_one_per_change UNIQUE (resource_id, resource_version, type)
      )`);
    await q.query(`CREATE INDEX events_feed_idx ON events (position, seq)`);
    await q.query(`CREATE INDEX events_resource_idx ON events (resource_id, position)`);
    await q.query(`CREATE INDEX events_created_idx ON events (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS events`);
  }
}
