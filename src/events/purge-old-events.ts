import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";

/**
 * One batch of the retention purge: up to $2 events older than $1 days,
 * oldest first, from $3 on (the created_at the previous batch of this run
 * reached), each still needed by no webhook (a pending delivery, or an
 * endpoint whose cursor has not passed it yet). Returns how many it deleted
 * and the created_at it reached, exactly (text).
 *
 * Bounded work per batch on a table of any size: the candidates come from
 * events_created_idx, from where the previous batch stopped, so a run never
 * walks again over what it deleted; the rows are then deleted by their ctid
 * (a TID scan). (Deleting by `seq IN (...)` scanned the whole table for
 * every batch: `seq` has no index.)
 */
export const PURGE_OLD_EVENTS_BATCH = `
  WITH gone AS (
    DELETE FROM events WHERE ctid = ANY (ARRAY(
      SELECT e.ctid FROM events e
       WHERE e.created_at < now() - make_interval(secs => $1::float8 * 86400) AND e.created_at >= $3::timestamptz
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
         AND NOT EXISTS (SELECT 1 FROM webhook_endpoint_states s JOIN webhook_endpoints w ON w.id = s.endpoint_id
                          WHERE w.deleted_at IS NULL AND (s.cursor_position, s.cursor_seq) < (e.position, e.seq))
       ORDER BY e.created_at
       LIMIT $2
         FOR UPDATE SKIP LOCKED))
    RETURNING created_at)
  SELECT count(*)::int AS deleted, max(created_at)::text AS reached FROM gone`;

/**
 * Retention: deletes events older than `retentionDays`, at most `batchSize`
 * per statement (each its own short transaction), oldest first, until none
 * is left. An event is kept while a webhook still needs it (see above).
 * Deleting an event takes its finished deliveries and their attempts log with
 * it. SKIP LOCKED: several instances purge side by side. Returns how many it deleted.
 */
export async function purgeOldEvents(ds: DataSource, retentionDays: number, batchSize = 1000): Promise<number> {
  let total = 0;
  let from = "-infinity";
  for (;;) {
    const { rows } = await callOnce<{ deleted: number; reached: string | null }>(ds, PURGE_OLD_EVENTS_BATCH, [
      retentionDays,
      batchSize,
      from,
    ]);
    total += rows[0].deleted;
    if (rows[0].deleted < batchSize) return total;
    from = rows[0].reached ?? from;
  }
}
