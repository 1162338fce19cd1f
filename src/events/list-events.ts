import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { ValidationError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import type { EventType } from "./append-event.js";
import { type EventRow, type EventView, renderEvent } from "./event-view.js";

/**
 * The events feed, gap-free (GET /v1/events?after=<cursor>). Events are
 * served in (position, seq) order, and only those whose position is below
 * the oldest transaction id still running (pg_snapshot_xmin of the current
 * snapshot): every transaction below that horizon has finished, and a
 * position is never lower than its writer's transaction id, so no event can
 * still commit behind a reader's cursor. (A plain `seq > last` misses the
 * event of a transaction that took a lower seq and committed later; a plain
 * transaction-id order puts one resource's changes out of order when the
 * later change's transaction took its id first: append-event.sql raises
 * such an event's position to its resource's previous one.)
 *
 * The cursor is the last served (position, seq); it is never null: with
 * nothing new, the same cursor comes back, to poll again. Reads only.
 */
export async function listEvents(
  ds: DataSource,
  q: { after?: string; limit: number; type?: EventType },
): Promise<{ items: EventView[]; nextCursor: string }> {
  const [position, seq] = q.after === undefined ? ["0", "0"] : decodeCursor(q.after, "query.after", 2);
  if (!/^\d{1,20}$/.test(position) || !/^\d{1,19}$/.test(seq)) {
    throw new ValidationError([{ path: "query.after", message: "not a cursor returned by this API" }]);
  }
  const { rows } = await callOnce<EventRow & { position: string; seq: string }>(
    ds,
    `SELECT e.id, e.type, e.created_at, e.facts, e.position::text AS position, e.seq::text AS seq
       FROM events e
      WHERE (e.position, e.seq) > ($1::xid8, $2::bigint)
        AND e.position < pg_snapshot_xmin(pg_current_snapshot())
        AND ($3::text IS NULL OR e.type::text = $3)
      ORDER BY e.position, e.seq
      LIMIT $4`,
    [position, seq, q.type ?? null, q.limit],
  );
  const last = rows[rows.length - 1];
  return {
    items: rows.map((r) => renderEvent(ds, r)),
    nextCursor: encodeCursor(last ? [last.position, last.seq] : [position, seq]),
  };
}
