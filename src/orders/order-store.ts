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
 * wait must not use the time from before the wait).
 */
const OVERDUE = `(o.status = 'reserved' AND o.reserved_until <= clock_timestamp())`;
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

/** Replaces an order's lines (the caller holds the order row lock). */
export async function replaceLines(m: EntityManager, orderId: string, lines: LineFacts[]): Promise<void> {
  await sql(m, `DELETE FROM order_lines WHERE order_id = $1`, [orderId]);
  await sql(
    m,
    `INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
     SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::bigint[])`,
    [
      orderId,
      lines.map((l) => l.sku),
      lines.map((l) => l.quantity),
      lines.map((l) => l.unitPriceCents),
      lines.map((l) => l.lineTotalCents),
    ],
  );
}
