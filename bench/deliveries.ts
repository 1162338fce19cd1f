import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { eventIdOf } from "../src/events/event-id.js";

/**
 * The soak's outgoing-webhook side, checked from outside the service:
 *
 * - a receiver on 127.0.0.1 (the service runs with
 *   WEBHOOK_ALLOW_INSECURE_URLS=1 and WEBHOOK_ALLOW_PRIVATE_URLS=1, the
 *   contract's switches for local endpoints), which verifies every request
 *   as a Standard Webhooks receiver would (HMAC over "<id>.<timestamp>.<body>"
 *   with the endpoint's secret, a fresh timestamp, the body's id equal to
 *   webhook-id) and answers 200 only then;
 * - a watcher of the events table that reads, with the feed's gap-free rule
 *   (`(position, seq)` order, only positions below the oldest running
 *   transaction), every event from the endpoint's starting cursor on: what
 *   the endpoint must receive. It polls every 2 s, far inside the shortest
 *   retention the soak sets, so it sees each event before the purge may
 *   delete it.
 *
 * The audit: every watched event of a subscribed type reached the receiver
 * at least once with a valid signature.
 */
export type ReceivedWebhook = { count: number; firstAtMs: number };

export function verifyStandardWebhook(secret: string, id: string, timestamp: string, body: string, signatureHeader: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatureHeader.split(" ").some((sig) => {
    const [version, value] = sig.split(",");
    if (version !== "v1" || !value) return false;
    const got = Buffer.from(value, "base64");
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

export type WebhookReceiver = {
  url: string;
  setSecret(secret: string): void;
  /** Valid deliveries by webhook-id. */
  received: Map<string, ReceivedWebhook>;
  /** Requests refused: bad signature, stale timestamp, or a body whose id is not the webhook-id. */
  invalid: number;
  stop(): Promise<void>;
};

const TIMESTAMP_TOLERANCE_SECONDS = 300;

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let secret = "";
  const receiver = { received: new Map<string, ReceivedWebhook>(), invalid: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const id = String(req.headers["webhook-id"] ?? "");
      const timestamp = String(req.headers["webhook-timestamp"] ?? "");
      let bodyId: unknown;
      try {
        bodyId = (JSON.parse(body) as { id?: unknown }).id;
      } catch {
        // not JSON: refused below
      }
      const valid =
        secret !== "" &&
        bodyId === id &&
        Math.abs(Date.now() / 1000 - Number(timestamp)) <= TIMESTAMP_TOLERANCE_SECONDS &&
        verifyStandardWebhook(secret, id, timestamp, body, String(req.headers["webhook-signature"] ?? ""));
      if (!valid) {
        receiver.invalid++;
        res.writeHead(400).end();
        return;
      }
      const seen = receiver.received.get(id);
      if (seen) seen.count++;
      else receiver.received.set(id, { count: 1, firstAtMs: Date.now() });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/orderlock-events`,
    setSecret(s) {
      secret = s;
    },
    received: receiver.received,
    get invalid() {
      return receiver.invalid;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WatchedEvent = { type: string; createdAtMs: number };

export type EventWatcher = {
  /** Every event of a watched type committed after the starting cursor, by id. */
  expected: Map<string, WatchedEvent>;
  /** Reads up to the current horizon now. */
  poll(): Promise<void>;
  stop(): Promise<void>;
};

export async function watchEvents(
  databaseUrl: string,
  types: readonly string[],
  from: { position: string; seq: string },
): Promise<EventWatcher> {
  const db = new pg.Client({ connectionString: databaseUrl, application_name: "orderlock-bench-events" });
  db.on("error", () => {});
  await db.connect();
  const wanted = new Set(types);
  const expected = new Map<string, WatchedEvent>();
  let cursor = from;
  let polling: Promise<void> = Promise.resolve();
  const readAll = async () => {
    for (;;) {
      const { rows } = await db.query<{ id: string; type: string; created_ms: string; position: string; seq: string }>(
        `SELECT id, type, (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms, position::text AS position, seq::text AS seq
           FROM events
          WHERE (position, seq) > ($1::xid8, $2::bigint) AND position < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY position, seq
          LIMIT 10000`,
        [cursor.position, cursor.seq],
      );
      for (const r of rows) if (wanted.has(r.type)) expected.set(eventIdOf(r.id), { type: r.type, createdAtMs: Number(r.created_ms) });
      const last = rows.at(-1);
      if (last) cursor = { position: last.position, seq: last.seq };
      if (rows.length < 10000) return;
    }
  };
  // One read at a time; the timer's reads and poll() share the chain.
  const poll = () => (polling = polling.then(readAll));
  const timer = setInterval(() => void poll().catch(() => {}), 2000);
  return {
    expected,
    poll,
    async stop() {
      clearInterval(timer);
      await polling.catch(() => {});
      await db.end().catch(() => {});
    },
  };
}

export type DeliveryAudit = {
  /** Events of the subscribed types committed during the soak. */
  expected: number;
  /** Of them, received at least once with a valid signature. */
  delivered: number;
  missing: number;
  missingSample: string[];
  /** Valid deliveries beyond the first per event (at least once allows them). */
  repeats: number;
  /** Requests the receiver refused (signature, timestamp or id wrong). */
  invalid: number;
  /** From the event's commit time to its first valid receipt, ms. */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  byType: Record<string, number>;
  ok: boolean;
};

export function auditDeliveries(
  expected: Map<string, WatchedEvent>,
  receiver: Pick<WebhookReceiver, "received" | "invalid">,
): DeliveryAudit {
  const lags: number[] = [];
  const missing: string[] = [];
  const byType: Record<string, number> = {};
  for (const [id, event] of expected) {
    byType[event.type] = (byType[event.type] ?? 0) + 1;
    const got = receiver.received.get(id);
    if (got) lags.push(Math.max(0, got.firstAtMs - event.createdAtMs));
    else missing.push(id);
  }
  lags.sort((a, b) => a - b);
  const at = (q: number) => (lags.length === 0 ? 0 : lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]);
  let repeats = 0;
  for (const r of receiver.received.values()) repeats += r.count - 1;
  return {
    expected: expected.size,
    delivered: lags.length,
    missing: missing.length,
    missingSample: missing.slice(0, 5),
    repeats,
    invalid: receiver.invalid,
    lagP50Ms: at(0.5),
    lagP99Ms: at(0.99),
    lagMaxMs: lags.at(-1) ?? 0,
    byType,
    ok: missing.length === 0 && receiver.invalid === 0 && expected.size > 0,
  };
}
