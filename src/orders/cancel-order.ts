import type { EntityManager } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { appendEvents } from "../events/append-event.js";
import { releaseStock } from "../inventory/move-reservations.js";
import { lockOrder } from "./order-store.js";
import { type OrderView, renderOrder } from "./order-view.js";
import { transitionOrder } from "./transition-order.js";

/**
 * Cancels a reserved order and releases its stock exactly once, however many
 * cancels race: each takes the order row lock (order row first, then its
 * product rows in SKU order); the first moves it to `cancelled` and releases,
 * the others find it cancelled and answer 200 with it unchanged (and write no
 * event: nothing changed). The first writes `order.cancelled`. Runs in the
 * caller's transaction (the command runner's). An order whose hold has run
 * out is `expired` (as every read shows it), so it cannot be cancelled; nor
 * can any order the state machine does not let become `cancelled`.
 */
export async function cancelOrder(m: EntityManager, caller: Caller, orderId: string): Promise<OrderView> {
  const order = await lockOrder(m, orderId, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${orderId}`);
  if (order.status === "cancelled") return renderOrder(order);
  if (order.overdue) throw new InvalidStateError("An expired order cannot be cancelled.");
  // Which statuses may become cancelled is the state machine's to say: a refusal is 409 here.
  const cancelled = await transitionOrder(m, order, "cancelled", null);
  await releaseStock(m, order.lines, "cancel");
  await appendEvents(m, "order.cancelled", [order.id]);
  return renderOrder(cancelled);
}
