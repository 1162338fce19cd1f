import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { sqlOne } from "../db/sql.js";
import { withRetry } from "../db/with-retry.js";
import {
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  OutOfStockError,
  toProblem,
  ValidationError,
} from "../errors.js";
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

type PlaceRow = { outcome: "placed" | "refused" | "replayed" | "in_use" | "reused"; status: number; body: unknown; headers: Record<string, string> };

/**
 * Places an order, all or nothing, honouring its Idempotency-Key, as ONE
 * database call: orderlock_place_order (migration PlaceOrderFunction) is its
 * own transaction, and takes, in order, the key's advisory lock, the customer
 * row (only with a per-customer cap), then every product row of the order
 * in SKU order, held only until the COMMIT of that same statement. The
 * answer, first or stored, comes back from the database:
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
  const row = await withRetry(async () => {
    const end = concurrencyMetrics.lockWait.startTimer({ path: "place" });
    try {
      return (await sqlOne<PlaceRow>(ds.manager, `SELECT * FROM orderlock_place_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
        request.idempotency?.scope ?? null,
        key ?? null,
        request.idempotency?.fingerprint ?? null,
        policy.idempotencyTtlHours,
        randomUUID(),
        request.customerId,
        request.lines.map((l) => l.sku),
        request.lines.map((l) => l.quantity),
        policy.reservationTtlSeconds,
        policy.maxUnitsPerCustomerSku,
        PROBLEM_TEMPLATES,
      ]))!;
    } finally {
      end();
    }
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
