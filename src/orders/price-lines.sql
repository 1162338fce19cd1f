-- The one definition of an order's prices: a line's total is its unit price
-- times its quantity, and the order's total is the sum of its lines' totals.
-- Placing an order (place-order.sql, alone or in a batch) and changing its
-- lines (reprice-order.sql) write exactly what this returns; nothing else
-- computes a line total or an order total. One row per line, each carrying
-- the order's total. The CHECK order_lines_total backs the line total; why
-- the order total has no constraint of its own: docs/design.md.
-- LANGUAGE sql, IMMUTABLE, one SELECT and no SET clause: the caller's plan
-- inlines it (the hot path calls no function for it).
CREATE OR REPLACE FUNCTION orderlock_price_lines(p_skus text[], p_qtys int[], p_unit_prices int[])
RETURNS TABLE (sku text, quantity int, unit_price_cents int, line_total_cents bigint, total_cents bigint)
LANGUAGE sql IMMUTABLE
AS $fn$
  SELECT l.sku, l.quantity, l.unit_price_cents, l.line_total_cents, sum(l.line_total_cents) OVER ()
    FROM (SELECT u.sku, u.quantity, u.unit_price_cents, u.unit_price_cents::bigint * u.quantity AS line_total_cents
            FROM unnest(p_skus, p_qtys, p_unit_prices) AS u(sku, quantity, unit_price_cents)) l
$fn$;
