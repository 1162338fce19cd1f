import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, callBatchOrEachAlone, SHED_LOAD } from "../db/batcher.js";
import { sql, sqlOne } from "../db/sql.js";
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError, OutOfStockError, toProblem, ValidationError } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { CommandOutcome, IdempotencyContext, StoredResponse } from "../idempotency/execute-command.js";
import { concurrencyMetrics, idempotencyMetrics } from "../metrics/registry.js";

export type OrderLineInput = { sku: string; quantity: number };
export type OrderPolicy = { reservationTtlSeconds: number; maxUnitsPerCustomerSku: number };

/** Problem bodies the database completes with the short lines or unknown SKUs (see the migration). */
const PROBLEM_TEMPLATES = (() => {
  const { unavailable: _u, ...outOfStock } = toProblem(new OutOfStockError([]));
  const { errors: _e, ...invalid } = toProblem(new ValidationError([], "The order names SKUs that do not exist."));
  return JSON.stringify({ out_of_stock: outOfStock, validation_failed: invalid });
})();

type PlaceRow = {
  outcome: "placed" | "refused" | "replayed" | "in_use" | "reused";
  status: number;
  body: unknown;
  headers: Record<string, string>;
};

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
    new Batcher<Placement, PlaceRow>((batch) => callBatchOrEachAlone(batch, (items) => callPlace(ds, items)), {
      maxInFlight: PLACE_IN_FLIGHT,
      maxBatch: PLACE_BATCH_MAX,
      ...SHED_LOAD,
    }),
);

/** One database call, its own transaction: the single-order function, or the batch one (migration 6). */
async function callPlace(ds: DataSource, batch: Placement[]): Promise<PlaceRow[]> {
  const end = concurrencyMetrics.lockWait.startTimer({ path: "place" });
  try {
    if (batch.length === 1) {
      const p = batch[0];
      const row = await sqlOne<PlaceRow>(ds.manager, `SELECT * FROM orderlock_place_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
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
        PROBLEM_TEMPLATES,
      ]);
      return [row!];
    }
    const { rows } = await sql<PlaceRow & { pos: number }>(ds.manager, `SELECT * FROM orderlock_place_orders($1, $2)`, [
      JSON.stringify(batch),
      PROBLEM_TEMPLATES,
    ]);
    const byPosition: PlaceRow[] = [];
    for (const r of rows) byPosition[r.pos - 1] = r;
    return byPosition;
  } finally {
    end();
  }
}

/**
 * Places an order, all or nothing, honouring its Idempotency-Key, as ONE
 * database call: orderlock_place_order (migration PlaceOrderFunction) is its
 * own transaction, and takes, in order, the key's advisory lock, the customer
 * row (only with a per-customer cap), then every product row of the order
 * in SKU order, held only until the COMMIT of that same statement. Orders
 * that arrive while others are in the database go together as one call of
 * orderlock_place_orders (migration PlaceOrdersBatch): the same function per
 * order, in arrival order, in one transaction that locks every row of the
 * batch up front in that same order. The answer, first or stored, comes back
 * from the database:
 *   201 the order (Location, ETag) · 409 out_of_stock listing every short
 *   line · 422 unknown SKUs · replayed: the stored answer.
 * A key in flight → 409 idempotency_key_in_use; another request under the
 * same key → 422 idempotency_key_reused. Deadlocks and serialization failures
 * retry the whole call (it is the whole transaction).
 */
export async function placeOrder(
  ds: DataSource,
  request: { customerId: string; lines: OrderLineInput[]; idempotency?: IdempotencyContext },
  policy: OrderPolicy & { idempotencyTtlHours: number },
): Promise<CommandOutcome> {
  const key = request.idempotency?.key;
  crashPoint("order:before-statement", key);
  const row = await placerFor(ds).submit({
    owner: request.idempotency?.scope ?? null,
    key: key ?? null,
    fingerprint: request.idempotency?.fingerprint ?? null,
    keyTtlHours: policy.idempotencyTtlHours,
    orderId: randomUUID(),
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
  if (row.outcome === "replayed") idempotencyMetrics.replays.inc();
  else crashPoint("order:after-commit", key);
  const response: StoredResponse = { status: row.status, body: row.body, headers: row.headers };
  return { response, replayed: row.outcome === "replayed" };
}
