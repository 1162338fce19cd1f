import type { EntityManager } from "typeorm";
import { Order } from "../../entities/order.entity.js";
import { compareAndSwap } from "../db/compare-and-swap.js";
import { InternalConflictError } from "../errors.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import { assertTransition, HOLDS_STOCK, type OrderStatus } from "./order-status.js";
import type { OrderFacts } from "./order-view.js";

/**
 * Every status change made in TypeScript goes through here: the state
 * machine allows it, and it is a compare-and-swap on the version the caller
 * read. A lost swap is an internal conflict (the whole transaction is
 * retried), never a silent overwrite. The hold deadline is cleared whenever
 * the order stops holding stock, and moved to `holdUntil` when given.
 */
export async function transitionOrder(m: EntityManager, order: OrderFacts, to: OrderStatus, holdUntil?: Date): Promise<OrderFacts> {
  assertTransition(order.status, to);
  const set: Partial<Record<keyof Order, unknown>> = { status: to };
  if (!HOLDS_STOCK.includes(to)) set.reservedUntil = null;
  else if (holdUntil) set.reservedUntil = holdUntil;
  const result = await compareAndSwap(m, Order, order.id, order.version, set);
  if (!result.ok) {
    concurrencyMetrics.versionConflicts.inc({ resource: "order", source: "internal" });
    throw new InternalConflictError(`order ${order.id}`);
  }
  return { ...result.row, lines: order.lines };
}
