import type { EntityManager } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { releaseStock } from "../inventory/release-stock.js";
import { lockOrder, type OrderView, toOrderView } from "./order-store.js";
import { transitionOrder } from "./transition-order.js";

/**
 * Cancels a reserved order and releases its stock exactly once, however many
 * cancels race: each takes the order row lock (order row first, then its
 * product rows in SKU order); the first moves it to `cancelled` and releases,
 * the others find it cancelled and answer 200 with it unchanged. Runs in the
 * caller's transaction (the command runner's).
 */
export async function cancelOrder(m: EntityManager, caller: Caller, orderId: string): Promise<OrderView> {
  const order = await lockOrder(m, orderId, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${orderId}`);
  if (order.status === "cancelled") return toOrderView(order);
  if (order.status !== "reserved") {
    throw new InvalidStateError(`A ${order.status} order cannot be cancelled.`);
  }
  const cancelled = await transitionOrder(m, order, "cancelled");
  await releaseStock(m, order.lines, "cancel");
  return toOrderView(cancelled);
}
