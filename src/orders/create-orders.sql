-- Orders whose stock the caller has just reserved (orderlock_move_reservations,
-- under its product row locks), created as placed: each order's row (a hold
-- until now + its holdSeconds), its lines at the locked rows' prices and
-- its total (orderlock_price_lines), and its `order.placed` event. The one
-- definition of what a placed order is, for one order (orderlock_place_order)
-- and for a whole batch at once (orderlock_place_orders).
--
-- p_orders: a JSON array of {orderId, customerId, holdSeconds, skus, qtys}.
-- Returns each order's facts (orderlock_order_facts), in the order given.
-- Timestamps are truncated to milliseconds, the precision of the service's
-- clock values, so the facts and every later read of the row agree.
CREATE OR REPLACE FUNCTION orderlock_create_orders(p_orders jsonb)
RETURNS TABLE (order_id uuid, facts jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_now timestamptz := date_trunc('milliseconds', now());
BEGIN
  WITH o AS (
    SELECT x.n, (x.e ->> 'orderId')::uuid AS id, (x.e ->> 'customerId')::uuid AS customer_id,
           (x.e ->> 'holdSeconds')::int AS hold_seconds, x.e
      FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n)),
  -- Each order's lines priced by orderlock_price_lines (line totals and the
  -- order's total), at the locked rows' prices: an index lookup per line,
  -- not a join or a grouping, whose generic plans size hash tables for a
  -- hundred rows per JSON array and cost more to start than the insert. (A
  -- function scan gives its rows in the function's order, and ARRAY() keeps
  -- that order. A SKU named twice in one order never gets here: the API
  -- refuses it, and the lines' primary key backs that.)
  priced AS (
    SELECT o.id AS order_id, pr.sku, pr.quantity, pr.unit_price_cents, pr.line_total_cents, pr.total_cents
      FROM o CROSS JOIN LATERAL orderlock_price_lines(
             ARRAY(SELECT jsonb_array_elements_text(o.e -> 'skus')),
             ARRAY(SELECT jsonb_array_elements_text(o.e -> 'qtys')::int),
             ARRAY(SELECT (SELECT p.price_cents FROM products p WHERE p.sku = s.sku)
                     FROM jsonb_array_elements_text(o.e -> 'skus') AS s(sku))) pr),
  placed AS (
    INSERT INTO orders (id, customer_id, status, total_cents, reserved_until, created_at, updated_at)
    SELECT o.id, o.customer_id, 'reserved', (SELECT pr.total_cents FROM priced pr WHERE pr.order_id = o.id LIMIT 1),
           v_now + make_interval(secs => o.hold_seconds), v_now, v_now
      FROM o ORDER BY o.n
    RETURNING 1)
  INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
  SELECT pr.order_id, pr.sku, pr.quantity, pr.unit_price_cents, pr.line_total_cents FROM priced pr;

  RETURN QUERY
    SELECT a.resource_id, a.facts
      FROM orderlock_append_events('order.placed',
             ARRAY(SELECT (x.e ->> 'orderId')::uuid FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n) ORDER BY x.n)) a;
END
$fn$;
