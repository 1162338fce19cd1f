import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { callOnce } from "../db/sql.js";
import { webhookMetrics } from "../metrics/registry.js";
import { decryptEndpointSecret, signStandardWebhook } from "./endpoint-secret.js";
import { eventIdOf } from "./event-id.js";
import { type EventRow, renderEvent } from "./event-view.js";
import { postWebhook } from "./post-webhook.js";
import { resolveAllowedUrl, type UrlPolicy, UrlRefusedError } from "./url-policy.js";

/**
 * The outgoing-webhook relay: one tick = fan out + deliver. Safe on any
 * number of instances at once: the database is the only serialization point.
 *
 * 1. Fan out (one statement, its own transaction): each endpoint's cursor
 *    (webhook_endpoint_states, row taken FOR UPDATE SKIP LOCKED, so one
 *    instance at a time moves it) follows the events feed with the feed's own
 *    gap-free rule (only positions below pg_snapshot_xmin: an event whose
 *    transaction has not committed is never skipped), inserting one
 *    webhook_deliveries row per wanted event and advancing the cursor.
 * 2. Claim (one statement): due pending deliveries of enabled endpoints, FOR
 *    UPDATE SKIP LOCKED, whose resource has no earlier pending delivery to the
 *    same endpoint (one order's events in the order of its changes); the claim
 *    commits attempts + 1 and a lease (next_attempt_at = now + timeout + margin).
 *    A crash after the claim leaves the delivery pending: when the lease runs
 *    out, any instance sends it again, with the same webhook-id.
 * 3. POST, outside any transaction and holding no lock.
 * 4. Record (one statement): a compare-and-swap on the attempt number (a
 *    result that lost its lease to another instance changes nothing but the
 *    log): delivered, or pending again after the jittered back-off, or
 *    abandoned once the next try would fall after give_up_at.
 */
export type RelaySettings = {
  /** WEBHOOK_SECRET: the key the endpoints' secrets are encrypted under. */
  serviceSecret: string;
  policy: UrlPolicy;
  /** Back-off after the 1st, 2nd... failed attempt; the last one repeats. */
  retryDelaysMs: number[];
  retryHours: number;
  timeoutMs: number;
  /** Most deliveries in flight per tick per instance. */
  concurrency: number;
  logger: Logger;
};

const FAN_OUT_BATCH = 500;

/** Moves every endpoint's cursor over the committed feed; returns how many events were scanned. */
export async function fanOutEvents(ds: DataSource, retryHours: number): Promise<number> {
  const { rows } = await callOnce<{ scanned: string }>(
    ds,
    `WITH ep AS (
       SELECT s.endpoint_id, s.cursor_position, s.cursor_seq, w.event_types
         FROM webhook_endpoint_states s JOIN webhook_endpoints w ON w.id = s.endpoint_id
        WHERE w.deleted_at IS NULL
          FOR UPDATE OF s SKIP LOCKED
     ), batch AS (
       SELECT ep.endpoint_id, ep.event_types, e.id, e.type, e.resource_id, e.position, e.seq
         FROM ep CROSS JOIN LATERAL (
           SELECT e.id, e.type, e.resource_id, e.position, e.seq
             FROM events e
            WHERE (e.position, e.seq) > (ep.cursor_position, ep.cursor_seq)
              AND e.position < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY e.position, e.seq
            LIMIT $1) e
     ), ins AS (
       INSERT INTO webhook_deliveries (endpoint_id, event_id, resource_id, position, seq, give_up_at)
       SELECT b.endpoint_id, b.id, b.resource_id, b.position, b.seq, now() + make_interval(secs => $2::float8 * 3600)
         FROM batch b
        WHERE b.event_types IS NULL OR b.type::text = ANY (b.event_types)
       ON CONFLICT (endpoint_id, event_id) DO NOTHING
     ), last AS (
       SELECT DISTINCT ON (endpoint_id) endpoint_id, position, seq FROM batch ORDER BY endpoint_id, position DESC, seq DESC
     ), moved AS (
       UPDATE webhook_endpoint_states s SET cursor_position = last.position, cursor_seq = last.seq
         FROM last WHERE s.endpoint_id = last.endpoint_id
     )
     SELECT count(*)::text AS scanned FROM batch`,
    [FAN_OUT_BATCH, retryHours],
  );
  return Number(rows[0].scanned);
}

/** Pending deliveries of disabled endpoints whose time is up: abandoned (enabled ones are decided at their attempt). */
export async function abandonExpiredDeliveries(ds: DataSource): Promise<number> {
  const { rowCount } = await callOnce(
    ds,
    `UPDATE webhook_deliveries d SET status = 'abandoned', finished_at = now()
      WHERE d.status = 'pending' AND d.give_up_at < now()
        AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.status = 'disabled')`,
  );
  if (rowCount > 0) webhookMetrics.deliveries.inc({ outcome: "abandoned" }, rowCount);
  return rowCount;
}

/** lease_until: the claim's next_attempt_at, exactly (text): with attempts, what makes the lease this claim's. */
type Claimed = EventRow & { endpoint_id: string; attempts: number; lease_until: string; url: string; secret_encrypted: string };

async function claimDeliveries(ds: DataSource, limit: number, leaseMs: number): Promise<Claimed[]> {
  const { rows } = await callOnce<Claimed>(
    ds,
    `WITH due AS (
       SELECT d.endpoint_id, d.event_id
         FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
          AND w.status = 'enabled' AND w.deleted_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                           WHERE p.endpoint_id = d.endpoint_id AND p.resource_id = d.resource_id
                             AND p.status = 'pending' AND (p.position, p.seq) < (d.position, d.seq))
        ORDER BY d.next_attempt_at, d.position, d.seq
        LIMIT $1
          FOR UPDATE OF d SKIP LOCKED
     )
     UPDATE webhook_deliveries d
        SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
       FROM due, webhook_endpoints w, events e
      WHERE d.endpoint_id = due.endpoint_id AND d.event_id = due.event_id AND w.id = d.endpoint_id AND e.id = d.event_id
  RETURNING d.endpoint_id, d.attempts, d.next_attempt_at::text AS lease_until, w.url, w.secret_encrypted, e.id, e.type, e.created_at, e.facts`,
    [limit, leaseMs],
  );
  return rows;
}

type Outcome = { ok: boolean; refused: boolean; httpStatus: number | null; error: string | null; durationMs: number };

/**
 * Records one attempt; returns the delivery's status after it (null: the
 * lease was lost, only the log changed). The lease is lost when another
 * claim took the delivery (attempts moved on) or a redeliver made it due
 * again meanwhile (next_attempt_at moved): that redeliver's send follows.
 */
async function recordAttempt(ds: DataSource, c: Claimed, o: Outcome, retryDelayMs: number): Promise<string | null> {
  const { rows } = await callOnce<{ status: string | null }>(
    ds,
    `WITH cur AS (
       SELECT endpoint_id, event_id, give_up_at FROM webhook_deliveries
        WHERE endpoint_id = $1 AND event_id = $2 AND attempts = $3 AND next_attempt_at = $10::timestamptz AND status = 'pending'
          FOR UPDATE
     ), verdict AS (
       SELECT CASE WHEN $4 THEN 'delivered'
                   WHEN now() + make_interval(secs => $5::float8 / 1000) > cur.give_up_at THEN 'abandoned'
                   ELSE 'pending' END AS status
         FROM cur
     ), d AS (
       UPDATE webhook_deliveries x
          SET status = v.status,
              finished_at = CASE WHEN v.status = 'pending' THEN NULL ELSE now() END,
              next_attempt_at = CASE WHEN v.status = 'pending' THEN now() + make_interval(secs => $5::float8 / 1000) ELSE x.next_attempt_at END
         FROM cur, verdict v
        WHERE x.endpoint_id = cur.endpoint_id AND x.event_id = cur.event_id
    RETURNING v.status
     ), a AS (
       INSERT INTO webhook_delivery_attempts (endpoint_id, event_id, attempt, status, http_status, duration_ms, error)
       VALUES ($1, $2, $3,
               CASE WHEN $4 THEN 'delivered' WHEN (SELECT status FROM verdict) = 'abandoned' THEN 'abandoned' ELSE $6 END,
               $7, $8, $9)
     ), s AS (
       UPDATE webhook_endpoint_states
          SET last_success_at = CASE WHEN $4 THEN now() ELSE last_success_at END,
              last_failure_at = CASE WHEN $4 THEN last_failure_at ELSE now() END,
              last_error = CASE WHEN $4 THEN last_error ELSE $9 END,
              failing_streak = CASE WHEN $4 THEN 0 ELSE failing_streak + 1 END
        WHERE endpoint_id = $1
     )
     SELECT (SELECT status FROM d) AS status`,
    [
      c.endpoint_id,
      c.id,
      c.attempts,
      o.ok,
      retryDelayMs,
      o.refused ? "refused" : "failed",
      o.httpStatus,
      o.durationMs,
      o.error,
      c.lease_until,
    ],
  );
  return rows[0].status;
}

/** The back-off before the next try after failed attempt `attempt` (1-based), ±20 % jitter. */
export function retryDelayMs(delaysMs: number[], attempt: number, random = Math.random): number {
  const base = delaysMs[Math.min(attempt, delaysMs.length) - 1];
  return Math.round(base * (0.8 + 0.4 * random()));
}

const withDeadline = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new UrlRefusedError("url", `${what} took over ${ms} ms`)), ms).unref()),
  ]);

async function attempt(s: RelaySettings, c: Claimed, body: string): Promise<Outcome> {
  const started = performance.now();
  let target: Awaited<ReturnType<typeof resolveAllowedUrl>>;
  try {
    target = await withDeadline(resolveAllowedUrl(s.policy, c.url), s.timeoutMs, "resolving the host");
  } catch (err) {
    const error = err instanceof UrlRefusedError ? `refused: ${err.message}` : `refused: ${String(err)}`;
    s.logger.warn({ endpointId: c.endpoint_id, eventId: eventIdOf(c.id), error }, "webhook delivery refused by the URL policy");
    return { ok: false, refused: true, httpStatus: null, error, durationMs: Math.round(performance.now() - started) };
  }
  const secret = decryptEndpointSecret(s.serviceSecret, c.secret_encrypted);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    "webhook-id": eventIdOf(c.id),
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signStandardWebhook(secret, eventIdOf(c.id), timestamp, body),
    "user-agent": "orderlock-webhooks/1",
  };
  const r = await postWebhook(target.url, target.addresses[0], headers, body, s.timeoutMs);
  const ok = r.httpStatus !== null && r.httpStatus >= 200 && r.httpStatus < 300;
  return { ok, refused: false, ...r };
}

/** One delivery, claimed: POST outside any transaction, then record the result. Never throws. */
async function deliverClaimed(ds: DataSource, s: RelaySettings, c: Claimed): Promise<void> {
  try {
    const body = JSON.stringify(renderEvent(ds, c));
    const outcome = await attempt(s, c, body);
    const status = await recordAttempt(ds, c, outcome, retryDelayMs(s.retryDelaysMs, c.attempts));
    if (status === "delivered") webhookMetrics.deliveries.inc({ outcome: "delivered" });
    else if (status === "abandoned") webhookMetrics.deliveries.inc({ outcome: "abandoned" });
    else if (!outcome.ok) webhookMetrics.deliveries.inc({ outcome: "failed" });
    if (status === "abandoned") s.logger.warn({ endpointId: c.endpoint_id, eventId: eventIdOf(c.id) }, "webhook delivery abandoned");
  } catch (err) {
    // Not recorded: the lease runs out and the delivery is attempted again.
    s.logger.warn({ err, endpointId: c.endpoint_id, eventId: eventIdOf(c.id) }, "webhook delivery could not be recorded");
  }
}

/**
 * One relay tick on this instance: fan out, then claim as many due
 * deliveries as there are free slots (`concurrency` minus those in flight)
 * and start them without waiting, so one slow endpoint does not hold up the
 * next tick. `inFlight` holds the running deliveries. Returns how many it started.
 */
export async function relayWebhooks(ds: DataSource, s: RelaySettings, inFlight: Set<Promise<void>>): Promise<number> {
  await abandonExpiredDeliveries(ds);
  while ((await fanOutEvents(ds, s.retryHours)) === FAN_OUT_BATCH) {
    // a long backlog: keep fanning out before delivering
  }
  const free = s.concurrency - inFlight.size;
  if (free <= 0) return 0;
  // The lease outlasts the slowest attempt (DNS and POST are each bounded by timeoutMs).
  const claimed = await claimDeliveries(ds, free, 2 * s.timeoutMs + 5000);
  for (const c of claimed) {
    const p: Promise<void> = deliverClaimed(ds, s, c).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  return claimed.length;
}
