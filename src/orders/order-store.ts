import type { EntityManager } from "typeorm";
import { sql, sqlOne } from "../db/sql.js";
import { concurrencyMetrics } from "../metrics/registry.js";
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

export type PlaceResult =
  | { ok: true; order: OrderWithLines }
  | { ok: false; lines: { sku: string; requested: number; available: number | null; capped: boolean }[] };

/**
 * Places an order in ONE statement, so the hot product rows are locked for
 * the shortest time we can manage from outside the database: lock every
 * product row of the order in SKU order (FOR UPDATE), check that every SKU
 * exists and has enough available stock, and only if all do, add to
 * `reserved` and insert the order and its lines with prices read from the
 * locked rows. After this statement only COMMIT remains under the locks.
 * (Data-modifying CTEs always run; each is guarded by the verdict.)
 *
 * With a per-customer cap (> 0), a line may also not take the customer's
 * open holds of that SKU past the cap. The caller must hold the customer
 * lock (lockCustomer) before this statement, so its snapshot already sees
 * every earlier order of the customer.
 */
export async function insertOrderReservingStock(
  m: EntityManager,
  input: { orderId: string; customerId: string; skus: string[]; quantities: number[]; ttlSeconds: number; maxUnitsPerCustomerSku: number },
): Promise<PlaceResult> {
  const end = concurrencyMetrics.lockWait.startTimer({ path: "place" });
  const r = await sql<{
    sku: string;
    requested: number;
    available: number | null;
    capped: boolean | null;
    unit_price_cents: number | null;
    ok: boolean;
    reserved_until: Date | null;
    created_at: Date | null;
    total_cents: number | null;
  }>(
    m,
    `WITH req AS (SELECT * FROM unnest($1::text[], $2::int[]) AS r(sku, qty)),
     locked AS (
       SELECT p.sku, p.on_hand, p.reserved, p.price_cents FROM products p
        WHERE p.sku = ANY($1::text[]) ORDER BY p.sku FOR UPDATE),
     held AS (
       SELECT l.sku, sum(l.quantity)::int AS qty
         FROM order_lines l JOIN orders o ON o.id = l.order_id
        WHERE $6::int > 0 AND o.customer_id = $4 AND o.status IN ('reserved', 'pending_payment')
          AND l.sku = ANY($1::text[])
        GROUP BY l.sku),
     allowance AS (
       SELECT l.sku, l.price_cents, r.qty,
              CASE WHEN $6::int > 0 THEN least(l.on_hand - l.reserved, $6::int - coalesce(h.qty, 0))
                   ELSE l.on_hand - l.reserved END AS available,
              $6::int > 0 AND $6::int - coalesce(h.qty, 0) < l.on_hand - l.reserved AS capped
         FROM locked l JOIN req r USING (sku) LEFT JOIN held h USING (sku)),
     verdict AS (
       SELECT count(*) = cardinality($1::text[]) AND coalesce(bool_and(a.available >= a.qty), false) AS ok,
              sum(a.price_cents::bigint * a.qty) AS total
         FROM allowance a),
     reserve AS (
       UPDATE products p
          SET reserved = p.reserved + r.qty, version = p.version + 1, updated_at = now()
         FROM req r
        WHERE p.sku = r.sku AND (SELECT ok FROM verdict)
       RETURNING p.sku),
     ord AS (
       INSERT INTO orders (id, customer_id, status, total_cents, reserved_until)
       SELECT $3, $4, 'reserved', v.total, now() + make_interval(secs => $5)
         FROM verdict v WHERE v.ok
       RETURNING reserved_until, created_at, total_cents),
     lines AS (
       INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
       SELECT $3, l.sku, r.qty, l.price_cents, l.price_cents::bigint * r.qty
         FROM locked l JOIN req r USING (sku)
        WHERE (SELECT ok FROM verdict)
       RETURNING sku)
     SELECT r.sku, r.qty AS requested, a.available, a.capped, a.price_cents AS unit_price_cents,
            (SELECT ok FROM verdict) AS ok, o.reserved_until, o.created_at, o.total_cents
       FROM req r LEFT JOIN allowance a USING (sku) LEFT JOIN ord o ON true
      ORDER BY r.sku`,
    [input.skus, input.quantities, input.orderId, input.customerId, input.ttlSeconds, input.maxUnitsPerCustomerSku],
  );
  end();
  const rows = r.rows;
  if (!rows[0]?.ok) {
    return {
      ok: false,
      lines: rows.map((x) => ({ sku: x.sku, requested: x.requested, available: x.available, capped: x.capped === true })),
    };
  }
  const first = rows[0];
  return {
    ok: true,
    order: {
      id: input.orderId,
      customer_id: input.customerId,
      status: "reserved",
      total_cents: first.total_cents!,
      version: 1,
      reserved_until: first.reserved_until,
      created_at: first.created_at!,
      updated_at: first.created_at!,
      lines: rows.map((x) => ({
        sku: x.sku,
        quantity: x.requested,
        unit_price_cents: x.unit_price_cents!,
        line_total_cents: x.unit_price_cents! * x.requested,
      })),
    },
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
export async function customerHolds(m: EntityManager, customerId: string, skus: string[], exceptOrderId: string): Promise<Map<string, number>> {
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

/** Locks the order row (FOR UPDATE) and returns it with its lines. Order rows are locked before product rows. */
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
    [orderId, lines.map((l) => l.sku), lines.map((l) => l.quantity), lines.map((l) => l.unit_price_cents), lines.map((l) => l.line_total_cents)],
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
