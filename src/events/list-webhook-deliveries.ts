import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { NotFoundError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { eventIdOf } from "./event-id.js";
import { readEndpoint } from "./webhook-endpoint-store.js";

type AttemptRow = {
  id: string;
  event_id: string;
  attempt: number;
  status: "delivered" | "failed" | "refused" | "abandoned";
  http_status: number | null;
  duration_ms: number;
  error: string | null;
  at: Date;
};

/** An endpoint's delivery attempts, newest first, keyset-paginated. Reads only. */
export async function listWebhookDeliveries(ds: DataSource, endpointId: string, q: { limit: number; cursor?: string }) {
  const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor, "query.cursor", 1)[0];
  if (before !== undefined && !/^\d{1,19}$/.test(before)) decodeCursor("", "query.cursor");
  if (!(await readEndpoint(ds, endpointId))) throw new NotFoundError(`Webhook endpoint ${endpointId}`);
  const { rows } = await callOnce<AttemptRow>(
    ds,
    `SELECT id::text, event_id, attempt, status, http_status, duration_ms, error, at
       FROM webhook_delivery_attempts
      WHERE endpoint_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY id DESC LIMIT $3`,
    [endpointId, before ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  return {
    items: page.map((r) => ({
      eventId: eventIdOf(r.event_id),
      attempt: r.attempt,
      status: r.status,
      httpStatus: r.http_status,
      durationMs: r.duration_ms,
      error: r.error,
      at: r.at.toISOString(),
    })),
    nextCursor: rows.length > q.limit ? encodeCursor([page[page.length - 1].id]) : null,
  };
}
