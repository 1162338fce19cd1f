import type { EntityManager } from "typeorm";
import { Order, type OrderStatus } from "../../entities/order.entity.js";
import { compareAndSwap } from "../db/compare-and-swap.js";
import { violatedConstraint } from "../db/postgres-errors.js";
import { InternalConflictError, InvalidStateError } from "../errors.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import type { OrderFacts } from "./order-view.js";

/** What the database names its refusal of a status change the state machine does not allow (guard-order-status.sql). */
const STATUS_TRANSITION = "orders_status_transition";

/**
 * Every status change made in TypeScript goes through here: a
 * compare-and-swap on the version the caller read. The state machine is the
 * database's (order-may-become.sql, enforced on every UPDATE of
 * `orders.status`): a change it does not allow fails the statement, and is
 * answered as 409 invalid_state (the caller's transaction is then rolled
 * back, or its savepoint). A lost swap is an internal conflict (the whole
 * transaction is retried), never a silent overwrite.
 *
 * `holdUntil` is the order's new hold deadline: a time while it goes on
 * holding stock, null once it holds none (the caller that releases the
 * stock says so). Which statuses hold stock is the CHECK
 * orders_hold_while_open's to say: it refuses a hold in any other.
 */
export async function transitionOrder(m: EntityManager, order: OrderFacts, to: OrderStatus, holdUntil: Date | null): Promise<OrderFacts> {
  const set: Partial<Record<keyof Order, unknown>> = { status: to, reservedUntil: holdUntil };
  const result = await compareAndSwap(m, Order, order.id, order.version, set).catch((err: unknown) => {
    if (violatedConstraint(err) === STATUS_TRANSITION) throw new InvalidStateError(`A ${order.status} order cannot become ${to}.`);
    throw err;
  });
  if (!result.ok) {
    concurrencyMetrics.versionConflicts.inc({ resource: "order", source: "internal" });
    throw new InternalConflictError(`order ${order.id}`);
  }
  return { ...result.row, lines: order.lines };
}
