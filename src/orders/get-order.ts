import type { EntityManager } from "typeorm";
import type { OrderStatus } from "../../entities/order.entity.js";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { NotFoundError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { findOrder, listOrders as selectOrders } from "./order-store.js";
import { type OrderView, renderOrder } from "./order-view.js";

/** One order, as its customer (or the admin) sees it. Reads only. */
export async function getOrderOrThrow(m: EntityManager, caller: Caller, id: string): Promise<OrderView> {
  const order = await findOrder(m, id, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${id}`);
  return renderOrder(order);
}

/** The caller's orders (all orders for the admin), newest first, keyset-paginated. Reads only. */
export async function listOrders(m: EntityManager, caller: Caller, q: { limit: number; cursor?: string; status?: OrderStatus }) {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, "query.cursor", 2);
  const rows = await selectOrders(m, {
    ownerId: ownerFilter(caller),
    status: q.status,
    after: after ? { createdAt: after[0], id: after[1] } : undefined,
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(renderOrder),
    nextCursor: rows.length > q.limit ? encodeCursor([last.createdAt.toISOString(), last.id]) : null,
  };
}
