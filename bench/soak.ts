import { EVENT_TYPES } from "../src/events/append-event.js";
import { auditDeliveries, type DeliveryAudit, startWebhookReceiver, watchEvents } from "./deliveries.js";
import { checkInvariants } from "./invariants.js";
import { LIFECYCLE_LANES, type LifecycleTally, startLifecycles } from "./lifecycle.js";
import { runLoad } from "./load.js";
import type { LoadDriver } from "./options.js";
import { SERVICE_SPREAD_PREFIX, spreadSkus } from "./seed.js";
import type { RunningService } from "./service.js";
import { type BenchContext, WORKLOADS } from "./workloads.js";

/**
 * `--soak=<s>`: the long run behind "memory stays flat, tables stay
 * bounded". After the cells, for <s> seconds:
 *
 * - the bulk of the load: orders at 16 connections from the load generator,
 *   in chunks that alternate spread and hot-SKU orders;
 * - beside it, whole order lives over HTTP (bench/lifecycle.ts: place, pay
 *   with the provider's signed webhook, refund and the provider's
 *   confirmation, cancel), a few lanes of them;
 * - a webhook endpoint subscribed to every event type but order.placed,
 *   pointing at a receiver in the bench (bench/deliveries.ts), so the relay
 *   delivers throughout.
 *
 * Time is compressed: the service runs with an event retention
 * (EVENT_RETENTION_DAYS) and an Idempotency-Key TTL (IDEMPOTENCY_TTL_HOURS)
 * of a tenth of the soak (soakServiceEnv), and purges every tenth of those
 * (purgeEveryMs in src/background-jobs.ts), so a 15-minute soak runs through
 * ten retention periods: what a week of load is to a retention of under a
 * day. After each chunk the bench reads the service's resident memory
 * (/proc), its V8 heap in use (/metrics), and the rows of every table that a
 * purge keeps bounded.
 *
 * The verdicts compare the ends of the run, not neighbouring samples (GC,
 * the allocator and the purge's cadence make those jump):
 * - memory grew if even the lowest RSS of the last third is above the
 *   highest of the first third by more than GROWTH_ALLOWED (a leak pushes the
 *   whole later curve up; a sawtooth does not);
 * - a table grew if, over the samples taken once retention is in effect
 *   (2 × the retention after the start), the highest row count of their last
 *   third is above the highest of their first third by more than
 *   GROWTH_ALLOWED plus TABLE_SLACK_ROWS, and so are the seconds of inserts
 *   it holds (heldSeconds: rows ÷ insert rate, which a faster load does not
 *   raise). Without retention a table grows with the load: its last third
 *   would be about twice its first, in rows and in seconds held;
 * - every event of a subscribed type reached the receiver at least once,
 *   correctly signed;
 * - the invariants (bench/invariants.ts) hold, and no order life got an
 *   answer it should not have.
 */
export const SOAK_CONNECTIONS = 16;
export const GROWTH_ALLOWED = 0.25;
/** Noise allowed on top of GROWTH_ALLOWED: one purge statement's batch (purge-old-events.ts, purge-expired-keys.ts). */
export const TABLE_SLACK_ROWS = 1000;
const SOAK_WORKLOADS = ["orders-spread", "orders-hot"] as const;

/** The tables a purge keeps bounded: events (with their deliveries and attempt logs), Idempotency-Keys, rate-limit windows. */
export const RETAINED_TABLES = ["events", "webhook_deliveries", "webhook_delivery_attempts", "idempotency_keys", "rate_limits"] as const;
type RetainedTable = (typeof RETAINED_TABLES)[number];

/** Every event type but order.placed: the order load's own events stay in the feed, the endpoint gets the rest of each life. */
const SUBSCRIBED_EVENT_TYPES = EVENT_TYPES.filter((t) => t !== "order.placed");

export type SoakSample = {
  chunk: number;
  workload: (typeof SOAK_WORKLOADS)[number];
  /** Seconds since the soak began, at the end of this chunk. */
  atSeconds: number;
  requests: number;
  requestsPerSecond: number;
  non2xx: number;
  /** Order lives begun during this chunk, and their requests. */
  lifecycles: number;
  lifecycleRequests: number;
  rssMiB?: number;
  heapUsedMiB?: number;
  rows: Record<RetainedTable, number>;
  /** Rows ever inserted (pg_stat_user_tables.n_tup_ins), cumulative. */
  inserted: Record<RetainedTable, number>;
  /** How many seconds of inserts each table holds (heldSeconds); undefined while the soak is younger than a window. */
  heldSeconds: Partial<Record<RetainedTable, number>>;
  /** Age of the oldest event and of the oldest Idempotency-Key, seconds. */
  oldestEventSeconds: number;
  oldestKeySeconds: number;
  /** Events received by the endpoint so far (distinct, correctly signed). */
  webhooksReceived: number;
};

type Thirds = { firstThirdMax: number; lastThirdMax: number; grew: boolean };
export type TableVerdict = { rows: Thirds; heldSeconds?: Thirds; bounded: boolean };

export type SoakResult = {
  seconds: number;
  chunkSeconds: number;
  connections: number;
  lifecycleLanes: number;
  /** The compressed event retention and Idempotency-Key TTL, seconds. */
  retentionSeconds: number;
  /** From here on retention is in effect: the table verdicts judge samples taken after it. */
  settledAtSeconds: number;
  samples: SoakSample[];
  totalRequests: number;
  firstThirdMaxRssMiB: number;
  lastThirdMinRssMiB: number;
  flat: boolean;
  tables: Record<RetainedTable, TableVerdict>;
  lifecycle: LifecycleTally;
  deliveries: DeliveryAudit;
  invariants: string;
  /** Empty when every verdict holds. */
  failures: string[];
};

/** Chunks of 30 s, shorter for soaks under three minutes: six samples or more from 30 s up (runSoak runs at least three). */
export function soakChunkSeconds(totalSeconds: number): number {
  return Math.max(5, Math.min(30, Math.floor(totalSeconds / 6)));
}

/** The compressed retention: a tenth of the soak, at least 10 s. */
export function soakRetentionSeconds(totalSeconds: number): number {
  return Math.max(10, Math.round(totalSeconds / 10));
}

/** What the service runs with for a soak, besides BENCH_SERVICE_ENV (recorded in results.json with it). */
export function soakServiceEnv(totalSeconds: number): Record<string, string> {
  const retention = soakRetentionSeconds(totalSeconds);
  return {
    EVENT_RETENTION_DAYS: String(retention / 86_400),
    IDEMPOTENCY_TTL_HOURS: String(retention / 3_600),
    // The contract's switches for an endpoint on this machine (the bench's receiver, plain http on 127.0.0.1).
    WEBHOOK_ALLOW_INSECURE_URLS: "1",
    WEBHOOK_ALLOW_PRIVATE_URLS: "1",
  };
}

async function heapUsedMiB(baseUrl: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10000) });
    const bytes = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(await res.text())?.[1];
    return bytes ? Math.round(Number(bytes) / 2 ** 20) : undefined;
  } catch {
    return undefined;
  }
}

/** The verdict on a series of RSS samples (see the module comment); undefined samples are skipped. */
export function judgeMemory(rss: (number | undefined)[]): { firstThirdMaxRssMiB: number; lastThirdMinRssMiB: number; flat: boolean } {
  const known = rss.filter((v): v is number => v !== undefined);
  if (known.length < 3) throw new Error(`the soak read the service's memory only ${known.length} times; it needs at least 3`);
  const third = Math.max(1, Math.floor(known.length / 3));
  const firstThirdMaxRssMiB = Math.max(...known.slice(0, third));
  const lastThirdMinRssMiB = Math.min(...known.slice(-third));
  return { firstThirdMaxRssMiB, lastThirdMinRssMiB, flat: lastThirdMinRssMiB <= firstThirdMaxRssMiB * (1 + GROWTH_ALLOWED) };
}

function thirds(values: number[], slack: number): Thirds {
  const third = Math.max(1, Math.floor(values.length / 3));
  const firstThirdMax = Math.max(...values.slice(0, third));
  const lastThirdMax = Math.max(...values.slice(-third));
  return { firstThirdMax, lastThirdMax, grew: lastThirdMax > firstThirdMax * (1 + GROWTH_ALLOWED) + slack };
}

/**
 * The verdict on one table, over the samples taken once retention is in
 * effect (see the module comment): its row counts and the seconds of inserts
 * it holds. It grew only if both rose: the count alone reads a load that
 * speeds up as growth (on a shared machine it can double between chunks), the
 * held seconds alone are noisy for a table with few inserts per window
 * (rate_limits: one burst a minute).
 */
export function judgeTable(rows: number[], held: (number | undefined)[]): TableVerdict {
  if (rows.length < 3) {
    throw new Error(`the soak counted rows only ${rows.length} times once retention was in effect; it needs at least 3 (a longer --soak)`);
  }
  const byRows = thirds(rows, TABLE_SLACK_ROWS);
  const known = held.filter((v): v is number => v !== undefined);
  const byHeld = known.length >= 3 ? thirds(known, 0) : undefined;
  return { rows: byRows, ...(byHeld ? { heldSeconds: byHeld } : {}), bounded: !byRows.grew || (byHeld !== undefined && !byHeld.grew) };
}

type Census = Pick<SoakSample, "atSeconds" | "rows" | "inserted">;

/**
 * How many seconds of inserts `table` holds at census k: its rows ÷ its
 * insert rate since the latest earlier census at least `windowSeconds` before
 * (the retention plus one purge interval). A purged table holds about its
 * retention whatever the rate; one that nothing purges holds everything since
 * the start. Undefined without such a census or without inserts since.
 */
export function heldSeconds(censuses: Census[], k: number, table: RetainedTable, windowSeconds: number): number | undefined {
  const now = censuses[k];
  const before = censuses
    .slice(0, k)
    .reverse()
    .find((c) => c.atSeconds <= now.atSeconds - windowSeconds);
  if (!before) return undefined;
  const inserted = now.inserted[table] - before.inserted[table];
  if (inserted <= 0) return undefined;
  return Math.round((now.rows[table] * (now.atSeconds - before.atSeconds)) / inserted);
}

async function countRetained(
  ctx: BenchContext,
): Promise<Pick<SoakSample, "rows" | "inserted" | "oldestEventSeconds" | "oldestKeySeconds">> {
  const { rows } = await ctx.db.query<Record<string, string | null>>(
    `SELECT ${RETAINED_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(", ")},
            (SELECT extract(epoch FROM now() - min(created_at)) FROM events) AS oldest_event,
            (SELECT extract(epoch FROM now() - min(created_at)) FROM idempotency_keys) AS oldest_key`,
  );
  // Backends report their inserts at most a second or so late: far inside a window.
  const { rows: stats } = await ctx.db.query<{ relname: RetainedTable; n_tup_ins: string }>(
    `SELECT relname, n_tup_ins FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = ANY($1)`,
    [RETAINED_TABLES],
  );
  const r = rows[0];
  return {
    rows: Object.fromEntries(RETAINED_TABLES.map((t) => [t, Number(r[t])])) as Record<RetainedTable, number>,
    inserted: Object.fromEntries(RETAINED_TABLES.map((t) => [t, Number(stats.find((x) => x.relname === t)?.n_tup_ins ?? 0)])) as Record<
      RetainedTable,
      number
    >,
    oldestEventSeconds: Math.round(Number(r.oldest_event ?? 0)),
    oldestKeySeconds: Math.round(Number(r.oldest_key ?? 0)),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(
  ctx: BenchContext,
  svc: RunningService,
  totalSeconds: number,
  loadDriver: LoadDriver,
  scriptDir: string,
): Promise<SoakResult> {
  const chunkSeconds = soakChunkSeconds(totalSeconds);
  const chunks = Math.max(3, Math.round(totalSeconds / chunkSeconds));
  const retentionSeconds = soakRetentionSeconds(totalSeconds);
  const settledAtSeconds = 2 * retentionSeconds;
  ctx.log(
    `soak: ${chunks} × ${chunkSeconds} s of orders at ${SOAK_CONNECTIONS} connections, alternating spread and hot SKU, ` +
      `beside ${LIFECYCLE_LANES} lanes of whole order lives and an outgoing-webhook endpoint; ` +
      `event retention and Idempotency-Key TTL ${retentionSeconds} s; memory and retained rows after each chunk`,
  );

  const receiver = await startWebhookReceiver();
  const endpoint = await ctx.api.expect(201, "POST", "/v1/webhook-endpoints", {
    key: ctx.adminKey,
    body: { url: receiver.url, eventTypes: SUBSCRIBED_EVENT_TYPES, description: "bench soak receiver" },
  });
  receiver.setSecret(endpoint.secret as string);
  // The endpoint's deliveries start at its cursor: so does the watch of what it must receive.
  const { rows: state } = await ctx.db.query<{ position: string; seq: string }>(
    `SELECT cursor_position::text AS position, cursor_seq::text AS seq FROM webhook_endpoint_states WHERE endpoint_id = $1`,
    [endpoint.id],
  );
  const watcher = await watchEvents(svc.databaseUrl(), SUBSCRIBED_EVENT_TYPES, state[0]);
  const lives = startLifecycles({
    api: ctx.api,
    adminKey: ctx.adminKey,
    webhookSecret: ctx.webhookSecret,
    customers: ctx.customers,
    skus: spreadSkus(SERVICE_SPREAD_PREFIX),
  });

  try {
    // prepareService sizes the hot SKU's stock for one chunk.
    const chunkCtx: BenchContext = { ...ctx, durationSeconds: chunkSeconds };
    const samples: SoakSample[] = [];
    const started = Date.now();
    const windowSeconds = retentionSeconds * 1.1;
    const censuses: Census[] = [{ atSeconds: 0, ...(await countRetained(ctx)) }];
    let livesBefore = 0;
    let livesRequestsBefore = 0;
    for (let chunk = 1; chunk <= chunks; chunk++) {
      const workload = SOAK_WORKLOADS[(chunk - 1) % SOAK_WORKLOADS.length];
      const target = await WORKLOADS[workload].prepareService(chunkCtx, SOAK_CONNECTIONS);
      const result = await runLoad(
        { url: svc.baseUrl, connections: SOAK_CONNECTIONS, durationSeconds: chunkSeconds, target },
        loadDriver,
        scriptDir,
        `soak-${workload}`,
      );
      const { lifecycles, requests } = lives.tally;
      const sample: SoakSample = {
        chunk,
        workload,
        atSeconds: Math.round((Date.now() - started) / 1000),
        requests: result.responses,
        requestsPerSecond: Math.round(result.requestsPerSecond),
        non2xx: result.non2xx,
        lifecycles: lifecycles - livesBefore,
        lifecycleRequests: requests - livesRequestsBefore,
        rssMiB: svc.rssMiB(),
        heapUsedMiB: await heapUsedMiB(svc.baseUrl),
        ...(await countRetained(ctx)),
        heldSeconds: {},
        webhooksReceived: receiver.received.size,
      };
      censuses.push(sample);
      for (const t of RETAINED_TABLES) sample.heldSeconds[t] = heldSeconds(censuses, censuses.length - 1, t, windowSeconds);
      livesBefore = lifecycles;
      livesRequestsBefore = requests;
      samples.push(sample);
      ctx.log(
        `  ${sample.atSeconds} s  ${workload.padEnd(13)} ${sample.requestsPerSecond} req/s, ${sample.non2xx} non-2xx; ` +
          `${sample.lifecycles} lives; RSS ${sample.rssMiB ?? "?"} MiB, heap used ${sample.heapUsedMiB ?? "?"} MiB; ` +
          `rows (seconds of inserts held): ${RETAINED_TABLES.map((t) => `${t} ${sample.rows[t]} (${sample.heldSeconds[t] ?? "-"})`).join(", ")}; oldest event ${sample.oldestEventSeconds} s, key ${sample.oldestKeySeconds} s; ` +
          `webhooks received ${sample.webhooksReceived}`,
      );
    }

    const lifecycle = await lives.stop();
    // The last lives' events: the relay delivers them within a tick or two; give it a minute.
    let deliveries = auditDeliveries(watcher.expected, receiver);
    for (let waited = 0; waited <= 60; waited++) {
      await watcher.poll();
      deliveries = auditDeliveries(watcher.expected, receiver);
      if (deliveries.missing === 0) break;
      await sleep(1000);
    }
    ctx.log(
      `  webhooks: ${deliveries.delivered} of ${deliveries.expected} events delivered (${deliveries.repeats} repeats, ${deliveries.invalid} refused), lag p50 ${deliveries.lagP50Ms} ms, p99 ${deliveries.lagP99Ms} ms, max ${deliveries.lagMaxMs} ms`,
    );
    const invariants = await checkInvariants(ctx.db, "soak");
    ctx.log(`  ${invariants}`);

    const failures: string[] = [];
    const memory = judgeMemory(samples.map((s) => s.rssMiB));
    if (!memory.flat) {
      failures.push(
        `MEMORY GREW during the soak: the lowest RSS of its last third (${memory.lastThirdMinRssMiB} MiB) is more than ${GROWTH_ALLOWED * 100} % above the highest of its first third (${memory.firstThirdMaxRssMiB} MiB)`,
      );
    }
    const settled = samples.filter((s) => s.atSeconds >= settledAtSeconds);
    const tables = Object.fromEntries(
      RETAINED_TABLES.map((t) => [
        t,
        judgeTable(
          settled.map((s) => s.rows[t]),
          settled.map((s) => s.heldSeconds[t]),
        ),
      ]),
    ) as Record<RetainedTable, TableVerdict>;
    for (const [t, v] of Object.entries(tables)) {
      if (!v.bounded) {
        failures.push(
          `TABLE GREW during the soak: ${t} peaked at ${v.rows.lastThirdMax} rows in the last third (once retention was in effect), above ${v.rows.firstThirdMax} in the first by more than ${GROWTH_ALLOWED * 100} % + ${TABLE_SLACK_ROWS}, ` +
            (v.heldSeconds
              ? `and held ${v.heldSeconds.lastThirdMax} s of its inserts against ${v.heldSeconds.firstThirdMax} s`
              : "and its inserts were too few to tell by rate"),
        );
      }
    }
    if (!deliveries.ok) {
      failures.push(
        `WEBHOOKS NOT DELIVERED: ${deliveries.missing} of ${deliveries.expected} events never reached the receiver (e.g. ${deliveries.missingSample.join(", ") || "-"}); ${deliveries.invalid} requests refused`,
      );
    }
    const wrong = Object.entries(lifecycle.wrong);
    if (wrong.length > 0) {
      failures.push(`WRONG ANSWERS to order lives: ${wrong.map(([k, v]) => `${k} ×${v}`).join(", ")}`);
    }

    const totalRequests = samples.reduce((n, s) => n + s.requests, 0) + lifecycle.requests;
    ctx.log(
      `  ${totalRequests} requests (${lifecycle.requests} of them in ${lifecycle.lifecycles} order lives); RSS: highest in the first third ${memory.firstThirdMaxRssMiB} MiB, lowest in the last third ${memory.lastThirdMinRssMiB} MiB: ${memory.flat ? "flat" : "GREW"}`,
    );
    return {
      seconds: totalSeconds,
      chunkSeconds,
      connections: SOAK_CONNECTIONS,
      lifecycleLanes: LIFECYCLE_LANES,
      retentionSeconds,
      settledAtSeconds,
      samples,
      totalRequests,
      ...memory,
      tables,
      lifecycle,
      deliveries,
      invariants,
      failures,
    };
  } finally {
    await lives.stop().catch(() => {});
    await watcher.stop();
    await receiver.stop();
  }
}
