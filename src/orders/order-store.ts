import { type DataSource, type EntityManager, In, type SelectQueryBuilder } from "typeorm";
import { Order, type OrderStatus } from "../../entities/order.entity.js";
import { OrderLine } from "../../entities/order-line.entity.js";
import { asEntity, sql } from "../db/sql.js";
import type { LineFacts, OrderFacts } from "./order-view.js";

/**
 * All reads and writes of orders and their lines. Reads load the entities
 * through TypeORM's QueryBuilder; every write is an explicit statement
 * (compare-and-swap, or under the order row's lock).
 *
 * "Overdue" is judged by the database's clock at the moment of the statement
 * (clock_timestamp(), not the transaction's start: a check made after a lock
 * wait must not use the time from before the wait). The sweeper reads it once
 * per statement, `(SELECT clock_timestamp())`: compared with a volatile
 * function the hold cannot be an index condition, and each sweep would read
 * every reserved order (184 ms a second at 84,000 of them).
 */
const OVERDUE = `(o.status = 'reserved' AND o.reserved_until <= (SELECT clock_timestamp()))`;
/**
 * What reads show as expired: an order past its hold, a reserved one and one
 * awaiting a payment alike (its hold is the payment's expiresAt); only an
 * order that holds stock has a hold (the CHECK orders_hold_while_open). The
 * sweepers make it so in the database (expire-reservations, expire-payments),
 * and only they write.
 */
const SHOWN_OVERDUE = `(o.reserved_until <= clock_timestamp())`;
const EFFECTIVE_STATUS = `(CASE WHEN ${SHOWN_OVERDUE} THEN 'expired' ELSE o.status END)`;

async function withLinesAndOverdue(m: EntityManager, qb: SelectQueryBuilder<Order>): Promise<OrderFacts[]> {
  const { entities, raw } = await qb.addSelect(SHOWN_OVERDUE, "o_overdue").getRawAndEntities<{ o_id: string; o_overdue: boolean }>();
  if (entities.length === 0) return [];
  const overdue = new Map(raw.map((r) => [r.o_id, r.o_overdue]));
  const lines = await m.find(OrderLine, { where: { orderId: In(entities.map((o) => o.id)) }, order: { sku: "ASC" } });
  const linesOf = new Map<string, LineFacts[]>();
  for (const l of lines) linesOf.set(l.orderId, [...(linesOf.get(l.orderId) ?? []), l]);
  return entities.map((o) => ({ ...o, lines: linesOf.get(o.id) ?? [], overdue: overdue.get(o.id) === true }));
}

/** An order's facts as SQL keeps them (orderlock_order_facts: the row and its lines), as the entities describe them. */
export function orderFromFacts(m: EntityManager | DataSource, facts: Record<string, unknown>): OrderFacts {
  const lines = (facts.lines as Record<string, unknown>[]).map((l) => asEntity(m, OrderLine, l));
  return { ...asEntity(m, Order, facts), lines };
}

const orders = (m: EntityManager) => m.createQueryBuilder(Order, "o");

/**
 * Serialises one customer's order changes while a per-customer cap is in
 * force. FOR NO KEY UPDATE does not block the FOR KEY SHARE that inserting
 * rows referencing the customer takes. Lock order: customer → order → products.
 */
export async function lockCustomer(m: EntityManager, customerId: string): Promise<void> {
  await sql(m, `SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE`, [customerId]);
}

/** The customer an order belongs to (no lock); `ownerId` set → only if that customer owns it. */
export async function findOrderOwner(m: EntityManager, id: string, ownerId?: string): Promise<string | undefined> {
  const where = ownerId === undefined ? { id } : { id, customerId: ownerId };
  return (await m.findOne(Order, { select: { customerId: true }, where }))?.customerId;
}

/** An order with its lines; `ownerId` set → only if that customer owns it. */
export async function findOrder(m: EntityManager, id: string, ownerId?: string): Promise<OrderFacts | undefined> {
  const qb = orders(m).where("o.id = :id", { id });
  if (ownerId !== undefined) qb.andWhere("o.customer_id = :ownerId", { ownerId });
  return (await withLinesAndOverdue(m, qb))[0];
}

/**
 * Locks the order row (FOR UPDATE) and returns it with its lines. Order rows
 * are locked before product rows. Two statements on purpose: the second
 * statement's snapshot is taken after the lock is held, so it sees the lines
 * as the last holder of the lock left them (one statement would evaluate the
 * lines with the snapshot from before the wait).
 */
export async function lockOrder(m: EntityManager, id: string, ownerId?: string): Promise<OrderFacts | undefined> {
  const qb = orders(m).select("o.id").where("o.id = :id", { id });
  if (ownerId !== undefined) qb.andWhere("o.customer_id = :ownerId", { ownerId });
  if (!(await qb.setLock("pessimistic_write").getOne())) return undefined;
  return findOrder(m, id);
}

/** Newest first, keyset-paginated by (createdAt, id); `status` is the status as shown (an overdue hold is `expired`). */
export async function listOrders(
  m: EntityManager,
  q: { ownerId?: string; status?: OrderStatus; after?: { createdAt: string; id: string }; limit: number },
): Promise<OrderFacts[]> {
  const qb = orders(m).orderBy("o.created_at", "DESC").addOrderBy("o.id", "DESC").limit(q.limit);
  if (q.ownerId !== undefined) qb.andWhere("o.customer_id = :ownerId", { ownerId: q.ownerId });
  if (q.status !== undefined) qb.andWhere(`${EFFECTIVE_STATUS} = :status`, { status: q.status });
  if (q.after)
    qb.andWhere("(o.created_at, o.id) < (CAST(:createdAt AS timestamptz), CAST(:afterId AS uuid))", {
      createdAt: q.after.createdAt,
      afterId: q.after.id,
    });
  return withLinesAndOverdue(m, qb);
}

/** Locks order rows (FOR UPDATE, in id order: the one order among order rows) and returns them with their lines. */
export async function lockOrders(m: EntityManager, ids: string[]): Promise<OrderFacts[]> {
  if (ids.length === 0) return [];
  await sql(m, `SELECT 1 FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [ids]);
  return withLinesAndOverdue(m, orders(m).where("o.id IN (:...ids)", { ids }).orderBy("o.id"));
}

/** Orders whose hold has run out, oldest first, locked; rows another instance holds are skipped. */
export async function lockOverdueOrders(m: EntityManager, limit: number): Promise<OrderFacts[]> {
  const locked = await orders(m)
    .select("o.id")
    .where(OVERDUE)
    .orderBy("o.reserved_until")
    .limit(limit)
    .setLock("pessimistic_write")
    .setOnLocked("skip_locked")
    .getMany();
  if (locked.length === 0) return [];
  return withLinesAndOverdue(m, orders(m).where("o.id IN (:...ids)", { ids: locked.map((o) => o.id) }));
}

/**
 * Gives a reserved order new lines, priced (orderlock_reprice_order: the
 * prices kept or taken, the line totals and the order's total as
 * orderlock_price_lines defines them) and its version bumped from
 * `order.version`. The caller holds the order row lock and has moved the
 * hold to these lines.
 */
export async function repriceOrder(m: EntityManager, order: OrderFacts, lines: { sku: string; quantity: number }[]): Promise<OrderFacts> {
  const { rows } = await sql<{ facts: Record<string, unknown> }>(
    m,
    `SELECT orderlock_reprice_order($1::uuid, $2::int, $3::text[], $4::int[]) AS facts`,
    [order.id, order.version, lines.map((l) => l.sku), lines.map((l) => l.quantity)],
  );
  return orderFromFacts(m, rows[0].facts);
}
