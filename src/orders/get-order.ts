import type { DataSource } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { inTransaction } from "../db/in-transaction.js";
import { NotFoundError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { expireIfOverdue } from "./expire-reservations.js";
import type { OrderStatus } from "./order-status.js";
import { findOrder, type OrderView, listOrders as selectOrders, toOrderView } from "./order-store.js";

/**
 * Reads never show a hold past its deadline as still `reserved`: an overdue
 * order met by a read is expired on the spot (the same transaction the
 * sweeper would run), then read again.
 */
export async function getOrderOrThrow(ds: DataSource, caller: Caller, id: string): Promise<OrderView> {
  let order = await findOrder(ds.manager, id, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${id}`);
  if (order.overdue) {
    await inTransaction(ds, (m) => expireIfOverdue(m, id));
    order = (await findOrder(ds.manager, id, ownerFilter(caller)))!;
  }
  return toOrderView(order);
}

/** The caller's orders (all orders for the admin), newest first, keyset-paginated. */
export async function listOrders(ds: DataSource, caller: Caller, q: { limit: number; cursor?: string; status?: OrderStatus }) {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, "query.cursor", 2);
  const query = {
    ownerId: ownerFilter(caller),
    status: q.status,
    after: after ? { createdAt: after[0], id: after[1] } : undefined,
    limit: q.limit + 1,
  };
  let rows = await selectOrders(ds.manager, query);
  const overdue = rows.filter((o) => o.overdue);
  if (overdue.length > 0) {
    for (const o of overdue) await inTransaction(ds, (m) => expireIfOverdue(m, o.id));
    rows = await selectOrders(ds.manager, query);
  }
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toOrderView),
    nextCursor: rows.length > q.limit ? encodeCursor([last.created_at.toISOString(), last.id]) : null,
  };
}
