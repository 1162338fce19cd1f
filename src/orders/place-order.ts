import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, callBatchOrEachAlone, SHED_LOAD } from "../db/batcher.js";
import { newId } from "../db/new-id.js";
import { classifyError, sqlState } from "../db/postgres-errors.js";
import { callOnce } from "../db/sql.js";
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { IdempotencyContext } from "../idempotency/execute-command.js";
import type { StockLine } from "../inventory/move-reservations.js";
import { concurrencyMetrics, idempotencyMetrics } from "../metrics/registry.js";
import {
  type CountRow,
  consumeRateLimit,
  countRequests,
  decisionOf,
  RATE_LIMIT_WINDOW_MS,
  type RateLimitDecision,
  rateLimitKey,
} from "../rate-limits/consume-rate-limit.js";
import { orderFromFacts } from "./order-store.js";
import type { OrderFacts } from "./order-view.js";

export type OrderPolicy = { reservationTtlSeconds: number; maxUnitsPerCustomerSku: number; rateLimitPerMinute: number };

/** What placing an order decided, as facts (the route renders the answer from them, first time or replayed). */
export type PlaceOrderOutcome = { replayed: boolean } & (
  | { outcome: "placed"; order: OrderFacts }
  | { outcome: "out_of_stock"; unavailable: { sku: string; requested: number; available: number; perCustomerLimit?: number }[] }
  | { outcome: "unknown_sku"; unknownSkus: string[] }
);

/** One row of orderlock_place_counted_orders: the request's count, then its placement. */
type PlaceRow = CountRow & {
  replayed: boolean;
  outcome: "placed" | "out_of_stock" | "unknown_sku" | "in_use" | "reused" | "rate_limited";
  facts: unknown;
};

/** The arguments of one orderlock_place_order call, and the request's rate-limit count; a batch sends a JSON array of them. */
type Placement = {
  owner: string | null;
  key: string | null;
  fingerprint: string | null;
  keyTtlHours: number;
  orderId: string;
  customerId: string;
  skus: string[];
  qtys: number[];
  holdSeconds: number;
  cap: number;
  rateKey: string;
  rateLimit: number;
};

/**
 * Batching of concurrent orders (src/db/batcher.ts): at most PLACE_IN_FLIGHT
 * calls per process in the database at once, each a batch of up to
 * PLACE_BATCH_MAX orders that arrived while the others were in flight. Fewer
 * calls than the pool has connections, so the other paths always find one.
 */
const PLACE_IN_FLIGHT = 2;
const PLACE_BATCH_MAX = 32;
const placerFor = batcherPerDataSource(
  (ds) =>
    new Batcher<Placement, PlaceRow>((batch, answerEarly) => callBatchOrEachAlone(batch, (items) => callPlace(ds, items), answerEarly), {
      maxInFlight: PLACE_IN_FLIGHT,
      maxBatch: PLACE_BATCH_MAX,
      ...SHED_LOAD,
    }),
);

/**
 * The requests countThenPlace counted, with the decision each got. Keyed by
 * the batch's own items, which a retry or a split of the batch passes on
 * unchanged; it lives as long as the request, and another instance never
 * sees the item.
 */
const countedBefore = new WeakMap<Placement, CountRow>();

/**
 * Rate-limit keys this process saw refused, until their window ends: a batch
 * holding a request under one goes as countThenPlace at once, instead of
 * being placed, rolled back (OL429) and placed again. With a customer over
 * its limit, most batches hold one of its requests; the others' orders then
 * pay for one call, not three. Only a shortcut: either way every request is
 * counted exactly once, and a stale or missing entry costs a call, nothing
 * else. Per DataSource; at most OVER_LIMIT_KEYS keys.
 */
const overLimitUntil = new WeakMap<DataSource, Map<string, number>>();
const OVER_LIMIT_KEYS = 10_000;

function refusedKeys(ds: DataSource): Map<string, number> {
  let keys = overLimitUntil.get(ds);
  if (!keys) {
    keys = new Map();
    overLimitUntil.set(ds, keys);
  }
  return keys;
}

function isOverLimit(ds: DataSource, key: string, now: number): boolean {
  const keys = refusedKeys(ds);
  const until = keys.get(key);
  if (until === undefined) return false;
  if (until > now) return true;
  keys.delete(key);
  return false;
}

function rememberRefused(ds: DataSource, key: string, msLeft: number): void {
  const keys = refusedKeys(ds);
  if (keys.size >= OVER_LIMIT_KEYS) {
    const now = Date.now();
    for (const [k, until] of keys) if (until <= now) keys.delete(k);
    if (keys.size >= OVER_LIMIT_KEYS) keys.clear();
  }
  keys.set(key, Date.now() + msLeft);
}

/**
 * One database call, its own transaction: orderlock_place_counted_orders
 * (place-counted-orders.sql) places the batch and counts its requests last.
 * When a request of the batch is over its limit that call keeps nothing
 * (OL429), and the batch goes as countThenPlace.
 */
async function callPlace(ds: DataSource, batch: Placement[]): Promise<PlaceRow[]> {
  const end = concurrencyMetrics.lockWait.startTimer({ path: "place" });
  try {
    const now = Date.now();
    if (batch.some((p) => countedBefore.has(p) || isOverLimit(ds, p.rateKey, now))) return await countThenPlace(ds, batch);
    try {
      const { rows } = await callOnce<PlaceRow>(ds, `SELECT * FROM orderlock_place_counted_orders($1, $2)`, [
        JSON.stringify(batch),
        RATE_LIMIT_WINDOW_MS,
      ]);
      return byPosition(rows);
    } catch (error) {
      if (sqlState(error) !== OVER_RATE_LIMIT) throw error;
    }
    return await countThenPlace(ds, batch);
  } finally {
    end();
  }
}

const OVER_RATE_LIMIT = "OL429";

/**
 * A batch with a request over its rate limit: every request counted first,
 * on its own (one committed statement, as the middleware counts), then the
 * allowed orders placed by orderlock_place_orders; a refused one is
 * rate_limited, not placed, its key not claimed.
 *
 * A request counts once: when placing fails after the count committed and
 * the batch is retried or split (src/db/batcher.ts), its requests keep the
 * decisions they got (countedBefore) and are only placed.
 */
async function countThenPlace(ds: DataSource, batch: Placement[]): Promise<PlaceRow[]> {
  const uncounted = batch.filter((p) => !countedBefore.has(p));
  if (uncounted.length > 0) {
    const rows = await countRequests(
      ds,
      uncounted.map((p) => ({ key: p.rateKey, limit: p.rateLimit })),
    );
    for (const r of rows) {
      countedBefore.set(uncounted[r.pos - 1], r);
      if (!r.allowed) rememberRefused(ds, uncounted[r.pos - 1].rateKey, Number(r.ms_left));
    }
  }
  const counts = batch.map((p) => countedBefore.get(p)!);
  const admitted = batch.filter((_, i) => counts[i].allowed);
  const placed =
    admitted.length === 0
      ? []
      : byPosition((await callOnce<PlaceRow>(ds, `SELECT * FROM orderlock_place_orders($1)`, [JSON.stringify(admitted)])).rows);
  let next = 0;
  return counts.map(({ allowed, remaining, ms_left }, i) => {
    const decision = { pos: i + 1, allowed, remaining, ms_left };
    return allowed ? { ...placed[next++], ...decision } : { ...decision, replayed: false, outcome: "rate_limited", facts: null };
  });
}

function byPosition(rows: PlaceRow[]): PlaceRow[] {
  const ordered: PlaceRow[] = [];
  for (const r of rows) ordered[r.pos - 1] = r;
  return ordered;
}

/** The facts orderlock_place_order stored and returned, as the entities describe them. */
function outcomeOf(ds: DataSource, row: PlaceRow): PlaceOrderOutcome {
  const facts = row.facts as Record<string, unknown>;
  switch (row.outcome) {
    case "placed":
      return { replayed: row.replayed, outcome: "placed", order: orderFromFacts(ds, facts) };
    case "out_of_stock": {
      const short = facts.unavailable as { sku: string; requested: number; available: number; per_customer_limit: number | null }[];
      const unavailable = short.map(({ per_customer_limit, ...l }) =>
        per_customer_limit === null ? l : { ...l, perCustomerLimit: per_customer_limit },
      );
      return { replayed: row.replayed, outcome: "out_of_stock", unavailable };
    }
    case "unknown_sku":
      return { replayed: row.replayed, outcome: "unknown_sku", unknownSkus: facts.unknown_skus as string[] };
    default:
      throw new Error(`orderlock_place_order: unexpected outcome ${row.outcome}`);
  }
}

/**
 * A request whose placing failed still counts, as every other request does
 * (the middleware counts before the work, src/http/rate-limit.ts): its count
 * rolled back with the failed call, so it is counted now, on its own, and
 * over the limit its answer is 429 instead of the failure's. A request
 * countThenPlace counted already keeps that decision. Not counted: when the
 * database is unreachable or read-only (the count would fail the same way,
 * as the middleware's does, after one more wait), and when the call's
 * outcome is unknown (it may have committed its count).
 */
async function countFailedRequest(
  ds: DataSource,
  placement: Placement,
  error: unknown,
  counted: (rate: RateLimitDecision) => void,
): Promise<void> {
  const before = countedBefore.get(placement);
  if (before) return counted(decisionOf(placement.rateLimit, before));
  const kind = classifyError(error);
  if (kind === "connection" || kind === "read_only") return;
  let decision: RateLimitDecision;
  try {
    decision = await consumeRateLimit(ds, placement.rateKey, placement.rateLimit);
  } catch {
    return; // not counted after all: the placing's own failure is the answer
  }
  counted(decision);
}

/**
 * Places an order, all or nothing, honouring its Idempotency-Key, as ONE
 * database call that is its own transaction. Orders that arrive while others
 * are in the database go together as one call
 * (orderlock_place_counted_orders, place-counted-orders.sql): the orders are
 * placed by orderlock_place_orders, each exactly as orderlock_place_order
 * would place it alone, in arrival order, and then every request is counted
 * against its customer's rate limit (orderlock_count_requests, the same
 * count the middleware makes for every other request). Locks, in order: the
 * customers (only with a per-customer cap), every product of the batch in
 * SKU order, and last the rate-limit counters by key, all held until the
 * COMMIT of that one call. An Idempotency-Key's advisory lock is only tried,
 * never waited for (held elsewhere: in_use).
 *
 * `counted` gets the request's rate-limit decision before anything else is
 * answered and answers a refused request (the route's answerRateLimit
 * throws 429 rate_limited); a refused order is not placed and its key not
 * claimed, but its request counts. A request whose placing fails counts
 * too (countFailedRequest), and over the limit is 429 instead.
 *
 * Returns what was decided, first time or replayed from the key: placed (the
 * order), out_of_stock (every short line) or unknown_sku. A key in flight →
 * 409 idempotency_key_in_use; another request under the same key → 422
 * idempotency_key_reused. Deadlocks and serialization failures retry the
 * whole call.
 */
export async function placeOrder(
  ds: DataSource,
  request: { customerId: string; lines: StockLine[]; idempotency?: IdempotencyContext; counted: (rate: RateLimitDecision) => void },
  policy: OrderPolicy & { idempotencyTtlHours: number },
): Promise<PlaceOrderOutcome> {
  const key = request.idempotency?.key;
  crashPoint("order:before-statement", key);
  const placement: Placement = {
    owner: request.idempotency?.scope ?? null,
    key: key ?? null,
    fingerprint: request.idempotency?.fingerprint ?? null,
    keyTtlHours: policy.idempotencyTtlHours,
    orderId: newId(),
    customerId: request.customerId,
    skus: request.lines.map((l) => l.sku),
    qtys: request.lines.map((l) => l.quantity),
    holdSeconds: policy.reservationTtlSeconds,
    cap: policy.maxUnitsPerCustomerSku,
    rateKey: rateLimitKey(request.customerId),
    rateLimit: policy.rateLimitPerMinute,
  };
  let row: PlaceRow;
  try {
    row = await placerFor(ds).submit(placement);
  } catch (error) {
    await countFailedRequest(ds, placement, error, request.counted);
    throw error;
  }
  request.counted(decisionOf(policy.rateLimitPerMinute, row));
  if (row.outcome === "rate_limited") throw new Error("placeOrder: counted() must answer a refused request");
  if (row.outcome === "in_use") {
    idempotencyMetrics.inUse.inc();
    throw new IdempotencyKeyInUseError();
  }
  if (row.outcome === "reused") throw new IdempotencyKeyReusedError();
  if (row.replayed) idempotencyMetrics.replays.inc();
  else crashPoint("order:after-commit", key);
  return outcomeOf(ds, row);
}
