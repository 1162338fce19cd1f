import type { EntityManager } from "typeorm";
import { sql } from "../db/sql.js";
import { NotFoundError } from "../errors.js";
import { rowIdOfEvent } from "./event-id.js";

/**
 * Schedules an event for delivery to an endpoint again, now, with a fresh
 * retry window: one upsert of its delivery row in the caller's transaction
 * (an event the endpoint never had, e.g. from before it existed, gets one).
 * The relay sends it like any other, after any earlier pending event of the
 * same resource. 404 for an unknown event or endpoint.
 */
export async function redeliverEvent(m: EntityManager, eventId: string, endpointId: string, retryHours: number): Promise<void> {
  const { rows } = await sql<{ event: boolean; endpoint: boolean; scheduled: boolean }>(
    m,
    `WITH e AS (SELECT id, resource_id, position, seq FROM events WHERE id = $1),
          w AS (SELECT id FROM webhook_endpoints WHERE id = $2 AND deleted_at IS NULL),
          up AS (
            INSERT INTO webhook_deliveries (endpoint_id, event_id, resource_id, position, seq, give_up_at)
            SELECT w.id, e.id, e.resource_id, e.position, e.seq, now() + make_interval(secs => $3::float8 * 3600) FROM e, w
            ON CONFLICT (endpoint_id, event_id) DO UPDATE
               SET status = 'pending', finished_at = NULL, next_attempt_at = now(), give_up_at = EXCLUDED.give_up_at
            RETURNING 1
          )
     SELECT EXISTS (SELECT 1 FROM e) AS event, EXISTS (SELECT 1 FROM w) AS endpoint, EXISTS (SELECT 1 FROM up) AS scheduled`,
    [rowIdOfEvent(eventId), endpointId, retryHours],
  );
  if (!rows[0].event) throw new NotFoundError(`Event ${eventId}`);
  if (!rows[0].endpoint) throw new NotFoundError(`Webhook endpoint ${endpointId}`);
}
