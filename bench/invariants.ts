import type pg from "pg";

/**
 * What must hold after every cell and after the soak, checked in SQL against
 * the service's database, over every row (the service's and the raw-SQL
 * side's alike):
 *
 * - stock: for every product, `reserved` equals the quantities held by its
 *   lines in orders that hold stock (reserved, pending_payment), and
 *   0 <= reserved <= on_hand; and `on_hand` is what it was at seeding
 *   (recordStockBaseline), plus every audited adjustment since (restocks
 *   through the API and refunds' restocked lines), less the units of sold
 *   orders (paid or refunded). A lost update, a double release, a sale
 *   applied twice or a restock without its audit row breaks it.
 * - payments: the purchase counters (summed over days and shards) equal the
 *   number and the total of succeeded payments, which equals the number of
 *   sold orders (paid or refunded) and of counted payments. A confirmation
 *   applied twice, or half-applied, breaks it.
 * - refunds: the counters' refund entries, net of reversals, equal the
 *   number and the total of succeeded refunds of counted payments; every
 *   payment's refunded_cents is the sum of its succeeded refunds and its
 *   refund_claimed_cents that of its pending and succeeded ones; every sold
 *   order's refunded_cents is the sum of its succeeded refunds, and it is
 *   `refunded` exactly when that reaches its total. Net revenue (revenue
 *   less refunds) follows.
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

/**
 * Per SKU, the units its lines hold (orders that hold stock) and have sold
 * (paid or refunded orders). One pass: a hash join of the two tables read
 * sequentially, whose pages go through a small ring of buffers. (A
 * subquery per product was an index lookup of every line's order: 15 M of
 * them on a preloaded run, 395 s, and the cells after it ran up to 45 %
 * slower for minutes, likely the buffer pool refilling with their pages.)
 */
const LINES_BY_SKU = `lines AS (
      SELECT l.sku,
             SUM(l.quantity) FILTER (WHERE o.status IN ('reserved', 'pending_payment')) AS held,
             SUM(l.quantity) FILTER (WHERE o.status IN ('paid', 'refunded')) AS sold
        FROM order_lines l JOIN orders o ON o.id = l.order_id
       WHERE o.status IN ('reserved', 'pending_payment', 'paid', 'refunded')
       GROUP BY l.sku
    )`;

/**
 * Right after seeding, before any order: every product's on_hand and the last
 * stock-adjustment id, the baseline of the on_hand check.
 */
export async function recordStockBaseline(db: pg.Client): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS bench`);
  await db.query(`DROP TABLE IF EXISTS bench.stock_baseline, bench.stock_baseline_adjustment`);
  // The stock before every sale so far: a preloaded history (bench/preload.ts) sells without touching on_hand.
  await db.query(`CREATE TABLE bench.stock_baseline AS
    WITH ${LINES_BY_SKU}
    SELECT p.sku, p.on_hand + coalesce(h.sold, 0) AS on_hand FROM products p LEFT JOIN lines h ON h.sku = p.sku`);
  await db.query(`CREATE TABLE bench.stock_baseline_adjustment AS SELECT COALESCE(max(id), 0) AS id FROM stock_adjustments`);
}

async function checkStock(db: pg.Client): Promise<string> {
  const { rows } = await db.query<{ sku: string; on_hand: number; reserved: number; held: string; expected_on_hand: string | null }>(`
    WITH ${LINES_BY_SKU}, adjusted AS (
      SELECT sku, SUM(delta) AS delta FROM stock_adjustments
       WHERE id > (SELECT id FROM bench.stock_baseline_adjustment)
       GROUP BY sku
    )
    SELECT p.sku, p.on_hand, p.reserved, COALESCE(h.held, 0) AS held,
           b.on_hand + COALESCE(a.delta, 0) - COALESCE(h.sold, 0) AS expected_on_hand
      FROM products p
      LEFT JOIN lines h ON h.sku = p.sku
      LEFT JOIN adjusted a ON a.sku = p.sku
      LEFT JOIN bench.stock_baseline b ON b.sku = p.sku
     WHERE p.reserved <> COALESCE(h.held, 0) OR p.reserved < 0 OR p.reserved > p.on_hand
        OR p.on_hand IS DISTINCT FROM b.on_hand + COALESCE(a.delta, 0) - COALESCE(h.sold, 0)
     ORDER BY p.sku`);
  if (rows.length > 0) {
    const sample = rows
      .slice(0, 10)
      .map(
        (r) =>
          `  ${r.sku}: on_hand=${r.on_hand} (baseline + adjustments - sold = ${r.expected_on_hand ?? "no baseline"}) reserved=${r.reserved} held by open orders=${r.held}`,
      )
      .join("\n");
    throw new InvariantViolation(
      `stock invariant broken for ${rows.length} product(s) (reserved must equal held quantities, 0 <= reserved <= on_hand, on_hand = baseline + adjustments - sold):\n${sample}`,
    );
  }
  // Refunds restock only through their audited adjustments (reason 'refund <id>'), exactly their restock lines.
  const { rows: totals } = await db.query<{ products: string; held: string; restocked: string; restock_lines: string }>(
    `SELECT (SELECT count(*) FROM products) AS products, (SELECT COALESCE(SUM(reserved), 0) FROM products) AS held,
            (SELECT COALESCE(SUM(delta), 0) FROM stock_adjustments WHERE reason LIKE 'refund %') AS restocked,
            (SELECT COALESCE(SUM((l ->> 'quantity')::int), 0) FROM refunds r CROSS JOIN jsonb_array_elements(r.lines) l
              WHERE r.status = 'succeeded' AND (l ->> 'restock')::boolean) AS restock_lines`,
  );
  const t = totals[0];
  if (t.restocked !== t.restock_lines) {
    throw new InvariantViolation(
      `stock invariant broken: refunds restocked ${t.restocked} units, but their succeeded restock lines hold ${t.restock_lines}`,
    );
  }
  return `stock ok (${t.products} products, ${t.held} units held, ${t.restocked} restocked by refunds)`;
}

async function checkPayments(db: pg.Client): Promise<string> {
  const { rows } = await db.query<Record<string, string>>(`
    WITH counted_refunds AS (
      SELECT r.payment_id, r.order_id, r.amount_cents FROM refunds r
       WHERE r.status = 'succeeded' AND EXISTS (SELECT 1 FROM counted_payments c WHERE c.payment_id = r.payment_id)
    ), by_payment AS (
      SELECT payment_id,
             SUM(amount_cents) FILTER (WHERE status = 'succeeded') AS refunded,
             SUM(amount_cents) FILTER (WHERE status IN ('pending', 'succeeded')) AS claimed
        FROM refunds GROUP BY payment_id
    ), by_order AS (
      SELECT order_id, SUM(amount_cents) AS refunded FROM refunds
       WHERE status = 'succeeded' AND kind <> 'late_success' GROUP BY order_id
    )
    SELECT
      (SELECT COALESCE(SUM(purchases), 0) FROM purchase_counters)                      AS counter_purchases,
      (SELECT COALESCE(SUM(revenue_cents), 0) FROM purchase_counters)                  AS counter_revenue_cents,
      (SELECT COALESCE(SUM(refunds - reversed_refunds), 0) FROM purchase_counters)     AS counter_refunds,
      (SELECT COALESCE(SUM(refunded_cents - reversed_refunded_cents), 0) FROM purchase_counters) AS counter_refunded_cents,
      (SELECT count(*) FROM payments WHERE status = 'succeeded')                       AS succeeded_payments,
      (SELECT COALESCE(SUM(amount_cents), 0) FROM payments WHERE status = 'succeeded') AS succeeded_cents,
      (SELECT count(*) FROM counted_payments)                                          AS counted_payments,
      (SELECT count(*) FROM orders WHERE status IN ('paid', 'refunded'))               AS sold_orders,
      (SELECT count(*) FROM orders WHERE status = 'refunded')                          AS refunded_orders,
      (SELECT count(*) FROM counted_refunds)                                           AS succeeded_refunds,
      (SELECT COALESCE(SUM(amount_cents), 0) FROM counted_refunds)                     AS succeeded_refund_cents,
      (SELECT count(*) FROM payments p LEFT JOIN by_payment r ON r.payment_id = p.id
        WHERE p.refunded_cents <> COALESCE(r.refunded, 0) OR p.refund_claimed_cents <> COALESCE(r.claimed, 0)) AS payments_off,
      (SELECT count(*) FROM orders o LEFT JOIN by_order r ON r.order_id = o.id
        WHERE o.status IN ('paid', 'refunded')
          AND (o.refunded_cents <> COALESCE(r.refunded, 0) OR (o.status = 'refunded') <> (o.refunded_cents = o.total_cents))) AS orders_off`);
  const r = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, BigInt(v)]));
  const problems: string[] = [];
  if (r.counter_purchases !== r.succeeded_payments)
    problems.push(`purchase counters say ${r.counter_purchases} purchases, but ${r.succeeded_payments} payments succeeded`);
  if (r.counter_revenue_cents !== r.succeeded_cents)
    problems.push(`purchase counters say ${r.counter_revenue_cents} cents, but succeeded payments total ${r.succeeded_cents}`);
  if (r.succeeded_payments !== r.sold_orders)
    problems.push(`${r.succeeded_payments} payments succeeded, but ${r.sold_orders} orders are paid or refunded`);
  if (r.counted_payments !== r.succeeded_payments)
    problems.push(`${r.counted_payments} payments are counted, but ${r.succeeded_payments} succeeded`);
  if (r.counter_refunds !== r.succeeded_refunds)
    problems.push(
      `purchase counters say ${r.counter_refunds} refunds (net of reversals), but ${r.succeeded_refunds} refunds of counted payments succeeded`,
    );
  if (r.counter_refunded_cents !== r.succeeded_refund_cents)
    problems.push(
      `purchase counters say ${r.counter_refunded_cents} cents refunded, but succeeded refunds total ${r.succeeded_refund_cents}`,
    );
  if (r.payments_off !== 0n) problems.push(`${r.payments_off} payments' refunded or claimed cents differ from their refunds`);
  if (r.orders_off !== 0n) problems.push(`${r.orders_off} sold orders' refunded cents or refunded status differ from their refunds`);
  if (problems.length > 0) throw new InvariantViolation(`payment invariant broken:\n  ${problems.join("\n  ")}`);
  const net = r.succeeded_cents - r.succeeded_refund_cents;
  return `payments ok (${r.succeeded_payments} succeeded, ${r.succeeded_cents} cents; ${r.succeeded_refunds} refunds, ${r.succeeded_refund_cents} cents; net ${net} cents; ${r.sold_orders} sold orders, ${r.refunded_orders} refunded)`;
}

/**
 * Both checks, after every cell and after the soak (they take a second or two
 * over a soak's million orders, and a payment bug can break stock as well). Throws InvariantViolation naming `after`, the cell
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
