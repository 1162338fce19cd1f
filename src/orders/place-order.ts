import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, callBatchOrEachAlone, SHED_LOAD } from "../db/batcher.js";
import { newId } from "../db/new-id.js";
import { callOnce } from "../db/sql.js";
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { IdempotencyContext } from "../idempotency/execute-command.js";
import type { StockLine } from "../inventory/move-reservations.js";
import { concurrencyMetrics, idempotencyMetrics } from "../metrics/registry.js";
import { orderFromFacts } from "./order-store.js";
import type { OrderFacts } from "./order-view.js";

export type OrderPolicy = { reservationTtlSeconds: number; maxUnitsPerCustomerSku: number };

/** What placing an order decided, as facts (the route renders the answer from them, first time or replayed). */
export type PlaceOrderOutcome = { replayed: boolean } & (
  | { outcome: "placed"; order: OrderFacts }
  | { outcome: "out_of_stock"; unavailable: { sku: string; requested: number; available: number; perCustomerLimit?: number }[] }
  | { outcome: "unknown_sku"; unknownSkus: string[] }
);

type PlaceRow = { replayed: boolean; outcome: "placed" | "out_of_stock" | "unknown_sku" | "in_use" | "reused"; facts: unknown };

/** The arguments of one orderlock_place_order call; a batch sends a JSON array of them. */
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

/** One database call, its own transaction: the single-order function (place-order.sql), or the batch one (place-orders.sql). */
async function callPlace(ds: DataSource, batch: Placement[]): Promise<PlaceRow[]> {
  const end = concurrencyMetrics.lockWait.startTimer({ path: "place" });
  try {
    if (batch.length === 1) {
      const p = batch[0];
      const { rows } = await callOnce<PlaceRow>(ds, `SELECT * FROM orderlock_place_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
        p.owner,
        p.key,
        p.fingerprint,
        p.keyTtlHours,
        p.orderId,
        p.customerId,
        p.skus,
        p.qtys,
        p.holdSeconds,
        p.cap,
      ]);
      return rows;
    }
    const { rows } = await callOnce<PlaceRow & { pos: number }>(ds, `SELECT * FROM orderlock_place_orders($1)`, [JSON.stringify(batch)]);
    const byPosition: PlaceRow[] = [];
    for (const r of rows) byPosition[r.pos - 1] = r;
    return byPosition;
  } finally {
    end();
  }
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
 * Places an order, all or nothing, honouring its Idempotency-Key, as ONE
 * database call: orderlock_place_order (place-order.sql) is its own
 * transaction, and takes, in order, the key's advisory lock, the customer
 * row (only with a per-customer cap), then every product row of the order
 * in SKU order (orderlock_move_reservations), held only until the COMMIT of
 * that same statement. Orders that arrive while others are in the database
 * go together as one call of orderlock_place_orders (place-orders.sql): the
 * same function per order, in arrival order, in one transaction that locks
 * every row of the batch up front in that same order.
 *
 * Returns what was decided, first time or replayed from the key: placed (the
 * order), out_of_stock (every short line) or unknown_sku. A key in flight →
 * 409 idempotency_key_in_use; another request under the same key → 422
 * idempotency_key_reused. Deadlocks and serialization failures retry the
 * whole call (it is the whole transaction).
 */
export async function placeOrder(
  ds: DataSource,
  request: { customerId: string; lines: StockLine[]; idempotency?: IdempotencyContext },
  policy: OrderPolicy & { idempotencyTtlHours: number },
): Promise<PlaceOrderOutcome> {
  const key = request.idempotency?.key;
  crashPoint("order:before-statement", key);
  const row = await placerFor(ds).submit({
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
  });
  if (row.outcome === "in_use") {
    idempotencyMetrics.inUse.inc();
    throw new IdempotencyKeyInUseError();
  }
  if (row.outcome === "reused") throw new IdempotencyKeyReusedError();
  if (row.replayed) idempotencyMetrics.replays.inc();
  else crashPoint("order:after-commit", key);
  return outcomeOf(ds, row);
}
