import type { EntityManager } from "typeorm";
import { compareAndSwap, SecondsFromNow } from "../db/compare-and-swap.js";
import { InternalConflictError } from "../errors.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import { assertTransition, HOLDS_STOCK, type OrderStatus } from "./order-status.js";
import type { OrderRow, OrderWithLines } from "./order-store.js";

/**
 * Every internal status change goes through here: the state machine allows
 * it, and it is a compare-and-swap on the version the caller read. A lost
 * swap is an internal conflict (withRetry runs the whole transaction again),
 * never a silent overwrite. `reservedUntil`: a new hold deadline, or
 * undefined to keep it (measured on the database clock, like every check
 * against it); it is cleared whenever the order stops holding stock.
 */
export async function transitionOrder(
  m: EntityManager,
  order: OrderWithLines,
  to: OrderStatus,
  reservedUntilSql?: { ttlSeconds: number },
): Promise<OrderWithLines> {
  assertTransition(order.status, to);
  const set: Record<string, unknown> = { status: to };
  if (!HOLDS_STOCK.includes(to)) set.reserved_until = null;
  else if (reservedUntilSql) set.reserved_until = new SecondsFromNow(reservedUntilSql.ttlSeconds);
  const result = await compareAndSwap<OrderRow>(m, "orders", order.id, order.version, set);
  if (!result.ok) {
    concurrencyMetrics.versionConflicts.inc({ resource: "order", source: "internal" });
    throw new InternalConflictError(`order ${order.id}`);
  }
  return { ...result.row, lines: order.lines };
}
