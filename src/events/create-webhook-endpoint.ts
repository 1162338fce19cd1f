import type { EntityManager } from "typeorm";
import { WebhookEndpoint } from "../../entities/webhook-endpoint.entity.js";
import { asEntity, sql } from "../db/sql.js";
import type { EventType } from "./append-event.js";
import { encryptEndpointSecret, newEndpointSecret } from "./endpoint-secret.js";
import { renderWebhookEndpoint, type WebhookEndpointView } from "./webhook-endpoint-view.js";

/**
 * Registers a webhook endpoint, in the caller's transaction. The URL has
 * already passed the SSRF policy (resolved outside any transaction, by the
 * route). The signing secret is generated here and returned once; only its
 * encryption is stored. The endpoint receives the events that reach the feed
 * from now on: its cursor starts at the feed's current horizon.
 */
export async function createWebhookEndpoint(
  m: EntityManager,
  serviceSecret: string,
  input: { url: string; eventTypes?: EventType[]; description?: string },
): Promise<WebhookEndpointView & { secret: string }> {
  const secret = newEndpointSecret();
  const { rows } = await sql(
    m,
    `WITH w AS (
       INSERT INTO webhook_endpoints (url, event_types, description, secret_encrypted)
       VALUES ($1, $2, $3, $4) RETURNING *
     ), s AS (
       INSERT INTO webhook_endpoint_states (endpoint_id, cursor_position)
       SELECT w.id, pg_snapshot_xmin(pg_current_snapshot()) FROM w
     )
     SELECT * FROM w`,
    [input.url, input.eventTypes ?? null, input.description ?? null, encryptEndpointSecret(serviceSecret, secret)],
  );
  const endpoint = asEntity(m, WebhookEndpoint, rows[0]);
  const view = renderWebhookEndpoint(endpoint, {
    lastSuccessAt: null,
    lastFailureAt: null,
    lastError: null,
    failingStreak: 0,
    pendingDeliveries: 0,
  });
  return { ...view, secret };
}
