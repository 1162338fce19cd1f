import type pg from "pg";

/**
 * What must hold after every cell, checked in SQL against the service's
 * database, over every row (the service's and the raw-SQL side's alike):
 *
 * - stock: for every product, `reserved` equals the quantities held by its
 *   lines in orders that hold stock (reserved, pending_payment), and
 *   0 <= reserved <= on_hand. A lost update or a double release breaks it.
 * - payments: the purchase counters (summed over days and shards) equal the
 *   number and the total of succeeded payments, which equals the number of
 *   paid orders and of counted payments. A confirmation applied twice, or
 *   half-applied, breaks it.
 *
 * A broken invariant is the one result the bench must never print as a
 * throughput figure: it throws, and the run exits non-zero.
 */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantViolation";
  }
}

async function checkStock(db: pg.Client): Promise<string> {
  const { rows } = await db.query<{ sku: string; on_hand: number; reserved: number; held: string }>(`
    SELECT p.sku, p.on_hand, p.reserved, COALESCE(h.held, 0) AS held
    FROM products p
    LEFT JOIN (
      SELECT l.sku, SUM(l.quantity) AS held
      FROM order_lines l JOIN orders o ON o.id = l.order_id
      WHERE o.status IN ('reserved', 'pending_payment')
      GROUP BY l.sku
    ) h ON h.sku = p.sku
    WHERE p.reserved <> COALESCE(h.held, 0) OR p.reserved < 0 OR p.reserved > p.on_hand
    ORDER BY p.sku`);
  if (rows.length > 0) {
    const sample = rows
      .slice(0, 10)
      .map((r) => `  ${r.sku}: on_hand=${r.on_hand} reserved=${r.reserved} held by open orders=${r.held}`)
      .join("\n");
    throw new InvariantViolation(
      `stock invariant broken for ${rows.length} product(s) (reserved must equal held quantities, 0 <= reserved <= on_hand):\n${sample}`,
    );
  }
  const { rows: totals } = await db.query<{ products: string; held: string }>(
    `SELECT count(*) AS products, COALESCE(SUM(reserved), 0) AS held FROM products`,
  );
  return `stock ok (${totals[0].products} products, ${totals[0].held} units held)`;
}

async function checkPayments(db: pg.Client): Promise<string> {
  const { rows } = await db.query<Record<string, string>>(`
    SELECT
      (SELECT COALESCE(SUM(purchases), 0) FROM purchase_counters)                  AS counter_purchases,
      (SELECT COALESCE(SUM(revenue_cents), 0) FROM purchase_counters)              AS counter_revenue_cents,
      (SELECT count(*) FROM payments WHERE status = 'succeeded')                   AS succeeded_payments,
      (SELECT COALESCE(SUM(amount_cents), 0) FROM payments WHERE status = 'succeeded') AS succeeded_cents,
      (SELECT count(*) FROM counted_payments)                                      AS counted_payments,
      (SELECT count(*) FROM orders WHERE status = 'paid')                          AS paid_orders`);
  const r = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, BigInt(v)]));
  const problems: string[] = [];
  if (r.counter_purchases !== r.succeeded_payments)
    problems.push(`purchase counters say ${r.counter_purchases} purchases, but ${r.succeeded_payments} payments succeeded`);
  if (r.counter_revenue_cents !== r.succeeded_cents)
    problems.push(`purchase counters say ${r.counter_revenue_cents} cents, but succeeded payments total ${r.succeeded_cents}`);
  if (r.succeeded_payments !== r.paid_orders)
    problems.push(`${r.succeeded_payments} payments succeeded, but ${r.paid_orders} orders are paid`);
  if (r.counted_payments !== r.succeeded_payments)
    problems.push(`${r.counted_payments} payments are counted, but ${r.succeeded_payments} succeeded`);
  if (problems.length > 0) throw new InvariantViolation(`payment invariant broken:\n  ${problems.join("\n  ")}`);
  return `payments ok (${r.succeeded_payments} succeeded, ${r.succeeded_cents} cents, ${r.paid_orders} paid orders)`;
}

/**
 * Both checks, after every cell (they take milliseconds, and a payment bug can
 * break stock as well). Throws InvariantViolation naming `after`, the cell
 * just run; returns a one-line summary.
 */
export async function checkInvariants(db: pg.Client, after: string): Promise<string> {
  try {
    return `${await checkStock(db)}; ${await checkPayments(db)}`;
  } catch (err) {
    if (err instanceof InvariantViolation) err.message = `after ${after}: ${err.message}`;
    throw err;
  }
}
