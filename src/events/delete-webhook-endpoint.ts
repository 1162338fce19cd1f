import type { EntityManager } from "typeorm";
import { sql } from "../db/sql.js";
import { NotFoundError } from "../errors.js";

/**
 * Deletes an endpoint: marked deleted (its deliveries log stays readable to
 * nobody, and the relay stops: pending deliveries are abandoned), in one
 * statement of the caller's transaction. Deleting twice → 404.
 */
export async function deleteWebhookEndpoint(m: EntityManager, id: string): Promise<void> {
  const { rowCount } = await sql(
    m,
    `WITH w AS (
       UPDATE webhook_endpoints SET deleted_at = now(), status = 'disabled', version = version + 1, updated_at = now()
        WHERE id = $1 AND deleted_at IS NULL RETURNING id
     ), d AS (
       UPDATE webhook_deliveries SET status = 'abandoned', finished_at = now()
        WHERE endpoint_id IN (SELECT id FROM w) AND status = 'pending'
     )
     SELECT id FROM w`,
    [id],
  );
  if (rowCount === 0) throw new NotFoundError(`Webhook endpoint ${id}`);
}
