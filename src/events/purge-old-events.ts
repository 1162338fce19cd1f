import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";

/**
 * Retention: deletes events older than `retentionDays`, at most `batchSize`
 * per statement (each its own short transaction), oldest first, until none
 * is left. An event is kept while a webhook still needs it: a pending
 * delivery, or an endpoint whose cursor has not passed it yet. Deleting an
 * event takes its finished deliveries and their attempts log with it.
 * SKIP LOCKED: several instances purge side by side. The batch is deleted
 * by its rows' ctids (a TID scan, as the Idempotency-Key purge does): with
 * `seq IN (...)` (seq has no index) every batch scanned the whole table, 210
 * ms per 1000 rows of a 500,000-row table against 6 ms.
 * Returns how many it deleted.
 */
export async function purgeOldEvents(ds: DataSource, retentionDays: number, batchSize = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await callOnce(
      ds,
      `DELETE FROM events WHERE ctid = ANY (ARRAY(
         SELECT e.ctid FROM events e
          WHERE e.created_at < now() - make_interval(secs => $1::float8 * 86400)
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
            AND NOT EXISTS (SELECT 1 FROM webhook_endpoint_states s JOIN webhook_endpoints w ON w.id = s.endpoint_id
                             WHERE w.deleted_at IS NULL AND (s.cursor_position, s.cursor_seq) < (e.position, e.seq))
          ORDER BY e.created_at
          LIMIT $2
            FOR UPDATE SKIP LOCKED))`,
      [retentionDays, batchSize],
    );
    total += rowCount;
    if (rowCount < batchSize) return total;
  }
}
