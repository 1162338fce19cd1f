import type { EntityManager } from "typeorm";
import { sql, sqlOne } from "../db/sql.js";
import type { OrderStatus } from "./order-status.js";

/** All SQL about orders and their lines. */
export type OrderRow = {
  id: string;
  customer_id: string;
  status: OrderStatus;
  total_cents: number;
  version: number;
  reserved_until: Date | null;
  created_at: Date;
  updated_at: Date;
};
export type LineRow = { sku: string; quantity: number; unit_price_cents: number; line_total_cents: number };
/** `overdue`: still `reserved` but past its deadline by the database clock (the sweeper has not run yet). */
export type OrderWithLines = OrderRow & { lines: LineRow[]; overdue?: boolean };

export type OrderView = {
  id: string;
  customerId: string;
  status: OrderStatus;
  lines: { sku: string; quantity: number; unitPriceCents: number; lineTotalCents: number }[];
  totalCents: number;
  version: number;
  reservedUntil: string | null;
  createdAt: string;
  updatedAt: string;
};

export function toOrderView(o: OrderWithLines): OrderView {
  return {
    id: o.id,
    customerId: o.customer_id,
    status: o.status,
    lines: [...o.lines]
      .sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
      .map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unit_price_cents, lineTotalCents: l.line_total_cents })),
    totalCents: o.total_cents,
    version: o.version,
    reservedUntil: o.reserved_until ? o.reserved_until.toISOString() : null,
    createdAt: o.created_at.toISOString(),
    updatedAt: o.updated_at.toISOString(),
  };
}

const ORDER_WITH_LINES = `
  SELECT o.*, (o.status = 'reserved' AND o.reserved_until <= now()) AS overdue, coalesce(
           (SELECT json_agg(json_build_object('sku', l.sku, 'quantity', l.quantity,
                     'unit_price_cents', l.unit_price_cents, 'line_total_cents', l.line_total_cents) ORDER BY l.sku)
              FROM order_lines l WHERE l.order_id = o.id), '[]'::json) AS lines
    FROM orders o`;

/**
 * Serialises one customer's order changes while a per-customer cap is in
 * force. FOR NO KEY UPDATE does not block the FOR KEY SHARE that inserting
 * rows referencing the customer takes. Lock order: customer → order → products.
 */
export async function lockCustomer(m: EntityManager, customerId: string): Promise<void> {
  await sql(m, `SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE`, [customerId]);
}

/** The customer an order belongs to (no lock). */
export async function findOrderOwner(m: EntityManager, id: string, ownerId?: string): Promise<string | undefined> {
  const row = await sqlOne<{ customer_id: string }>(
    m,
    `SELECT customer_id FROM orders WHERE id = $1 AND ($2::uuid IS NULL OR customer_id = $2)`,
    [id, ownerId ?? null],
  );
  return row?.customer_id;
}

/** Units of each SKU the customer holds in open orders, leaving one order out. */
export async function customerHolds(
  m: EntityManager,
  customerId: string,
  skus: string[],
  exceptOrderId: string,
): Promise<Map<string, number>> {
  const r = await sql<{ sku: string; qty: number }>(
    m,
    `SELECT l.sku, sum(l.quantity)::int AS qty
       FROM order_lines l JOIN orders o ON o.id = l.order_id
      WHERE o.customer_id = $1 AND o.status IN ('reserved', 'pending_payment') AND l.sku = ANY($2::text[]) AND o.id <> $3
      GROUP BY l.sku`,
    [customerId, skus, exceptOrderId],
  );
  return new Map(r.rows.map((x) => [x.sku, x.qty]));
}

/** An order with its lines; `ownerId` set → only if that customer owns it. */
export async function findOrder(m: EntityManager, id: string, ownerId?: string): Promise<OrderWithLines | undefined> {
  const row = await sqlOne<OrderWithLines & { reserved_until: string | Date | null }>(
    m,
    `${ORDER_WITH_LINES} WHERE o.id = $1 AND ($2::uuid IS NULL OR o.customer_id = $2)`,
    [id, ownerId ?? null],
  );
  return row;
}

/**
 * Locks the order row (FOR UPDATE) and returns it with its lines. Order rows
 * are locked before product rows. Two statements on purpose: a single
 * `SELECT ..., (lines subquery) ... FOR UPDATE` would re-read the order row
 * after waiting for its lock but evaluate the lines with the snapshot from
 * before the wait, so it could return lines a concurrent change had already
 * replaced. The second statement's snapshot is taken after the lock is held.
 */
export async function lockOrder(m: EntityManager, id: string, ownerId?: string): Promise<OrderWithLines | undefined> {
  const locked = await sqlOne<{ id: string }>(
    m,
    `SELECT id FROM orders WHERE id = $1 AND ($2::uuid IS NULL OR customer_id = $2) FOR UPDATE`,
    [id, ownerId ?? null],
  );
  if (!locked) return undefined;
  return findOrder(m, id);
}

export async function listOrders(
  m: EntityManager,
  q: { ownerId?: string; status?: OrderStatus; after?: { createdAt: string; id: string }; limit: number },
): Promise<OrderWithLines[]> {
  const r = await sql<OrderWithLines>(
    m,
    `${ORDER_WITH_LINES}
      WHERE ($1::uuid IS NULL OR o.customer_id = $1)
        AND ($2::text IS NULL OR o.status = $2)
        AND ($3::timestamptz IS NULL OR (o.created_at, o.id) < ($3::timestamptz, $4::uuid))
      ORDER BY o.created_at DESC, o.id DESC
      LIMIT $5`,
    [q.ownerId ?? null, q.status ?? null, q.after?.createdAt ?? null, q.after?.id ?? null, q.limit],
  );
  return r.rows;
}

/** Replaces an order's lines (the caller holds the order row lock). */
export async function replaceLines(m: EntityManager, orderId: string, lines: LineRow[]): Promise<void> {
  await sql(m, `DELETE FROM order_lines WHERE order_id = $1`, [orderId]);
  await sql(
    m,
    `INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
     SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::bigint[])`,
    [
      orderId,
      lines.map((l) => l.sku),
      lines.map((l) => l.quantity),
      lines.map((l) => l.unit_price_cents),
      lines.map((l) => l.line_total_cents),
    ],
  );
}

/** Orders whose hold has run out, oldest first, locked; rows another instance holds are skipped. */
export async function lockOverdueOrders(m: EntityManager, limit: number): Promise<OrderWithLines[]> {
  const ids = await sql<{ id: string }>(
    m,
    `SELECT id FROM orders WHERE status = 'reserved' AND reserved_until <= now()
      ORDER BY reserved_until LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  if (ids.rowCount === 0) return [];
  const r = await sql<OrderWithLines>(m, `${ORDER_WITH_LINES} WHERE o.id = ANY($1::uuid[])`, [ids.rows.map((x) => x.id)]);
  return r.rows;
}
