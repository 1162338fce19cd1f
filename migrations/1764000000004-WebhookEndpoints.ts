import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Outgoing webhooks (docs/events.md):
 * - webhook_endpoints: the API resource (versioned; soft-deleted). The signing
 *   secret is stored encrypted (AES-256-GCM, key derived from WEBHOOK_SECRET),
 *   never in plain text; it is shown once, at creation.
 * - webhook_endpoint_states: the relay's per-endpoint state, apart from the
 *   resource so the relay never contends with a PATCH: its cursor over the
 *   events feed (position, seq) and its health.
 * - webhook_deliveries: one row per (endpoint, event) to deliver: the work
 *   queue the relay claims with FOR UPDATE SKIP LOCKED. `resource_id`,
 *   `position`, `seq` order one resource's events per endpoint.
 * - webhook_delivery_attempts: the log of every attempt.
 * Deliveries and attempts go with their event when retention purges it
 * (the purge skips events a delivery still needs).
 */
export class WebhookEndpoints1764000000004 implements MigrationInterface {
  name = "WebhookEndpoints1764000000004";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_endpoints (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        url               text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
        event_types       text[] CHECK (event_types IS NULL OR cardinality(event_types) >= 1),
        description       text CHECK (description IS NULL OR length(description) <= 500),
        status            text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
        secret_encrypted  text NOT NULL,
        version           integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        deleted_at        timestamptz
      )`);
    await q.query(`CREATE INDEX webhook_endpoints_list_idx ON webhook_endpoints (created_at, id) WHERE deleted_at IS NULL`);
    await q.query(`
      CREATE TABLE webhook_endpoint_states (
        endpoint_id       uuid PRIMARY KEY REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        cursor_position   xid8 NOT NULL,
        cursor_seq        bigint NOT NULL DEFAULT 0,
        last_success_at   timestamptz,
        last_failure_at   timestamptz,
        last_error        text,
        failing_streak    integer NOT NULL DEFAULT 0 CHECK (failing_streak >= 0)
      )`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id          text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        resource_id       uuid NOT NULL,
        position          xid8 NOT NULL,
        seq               bigint NOT NULL,
        status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'abandoned')),
        attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at   timestamptz NOT NULL DEFAULT now(),
        give_up_at        timestamptz NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        finished_at       timestamptz,
        PRIMARY KEY (endpoint_id, event_id),
        CHECK ((status = 'pending') = (finished_at IS NULL))
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await q.query(
      `CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (endpoint_id, resource_id, position, seq) WHERE status = 'pending'`,
    );
    await q.query(`CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)`);
    await q.query(`
      CREATE TABLE webhook_delivery_attempts (
        id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        endpoint_id       uuid NOT NULL,
        event_id          text NOT NULL,
        attempt           integer NOT NULL CHECK (attempt >= 1),
        status            text NOT NULL CHECK (status IN ('delivered', 'failed', 'refused', 'abandoned')),
        http_status       integer,
        duration_ms       integer NOT NULL CHECK (duration_ms >= 0),
        error             text,
        at                timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX webhook_delivery_attempts_endpoint_idx ON webhook_delivery_attempts (endpoint_id, id)`);
    await q.query(`CREATE INDEX webhook_delivery_attempts_delivery_idx ON webhook_delivery_attempts (endpoint_id, event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS webhook_delivery_attempts, webhook_deliveries, webhook_endpoint_states, webhook_endpoints`);
  }
}
