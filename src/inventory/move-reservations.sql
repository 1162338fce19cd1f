-- The one definition of reserving and releasing stock, and of the
-- per-customer cap. Every path that holds or gives back stock calls it:
-- placing an order (hot path, from orderlock_place_order), changing an
-- order's lines, cancelling, and the expiry sweeper.
--
-- For each SKU the reservation moves from p_from to p_to units (a SKU may
-- appear several times; its moves add up). All or nothing:
--   1. lock the product rows in SKU order (FOR UPDATE), the one lock order,
--      reading each row as the locking returns it: its latest committed
--      version (READ COMMITTED re-reads a row it had to wait for);
--   2. check, from those locked rows only, that every SKU exists and every
--      line that grows fits: what is left
--      (on_hand - reserved, plus what this caller already holds, p_from) and,
--      with a cap (p_cap > 0), the cap less what the customer holds in its
--      other open orders (all but p_except_order; an order holds stock while
--      it has a hold deadline: the CHECK orders_hold_while_open is the one
--      list of the statuses that do). A line that does not grow
--      always fits: giving back is never refused;
--   3. only if every line fits, move `reserved` (the CHECK
--      0 <= reserved <= on_hand backs it) and bump each product's version.
-- (The check must read the rows the locking returned, never `products`
-- again in the same statement: that other read would see the statement's
-- snapshot, taken before the lock wait, so a row as it was before a
-- concurrent release, while the UPDATE applies to the row as it is; the
-- CHECK caught exactly that under concurrent cancels.)
-- Returns one row per SKU: requested (p_to), available to this caller, the
-- price, the cap when it is what limits the line, and the verdict (the same
-- on every row). No row for an unknown SKU means `known` is false on it.
--
-- With a cap the caller must hold the customer row (FOR NO KEY UPDATE)
-- before any order or product row, so that this statement's snapshot sees
-- every earlier order of the customer.
CREATE OR REPLACE FUNCTION orderlock_move_reservations(
  p_skus text[], p_from int[], p_to int[], p_customer_id uuid, p_cap int, p_except_order uuid
) RETURNS TABLE (sku text, known boolean, requested int, available int, price_cents int, per_customer_limit int, ok boolean)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_skus text[];
  v_known boolean[];
  v_requested int[];
  v_available int[];
  v_prices int[];
  v_limits int[];
  v_deltas int[];
  v_ok boolean;
BEGIN
  WITH locked AS MATERIALIZED (
    SELECT p.sku, p.on_hand, p.reserved, p.price_cents
      FROM products p WHERE p.sku = ANY(p_skus) ORDER BY p.sku FOR UPDATE),
  req AS (
    SELECT r.sku, sum(r.f)::int AS f, sum(r.t)::int AS t
      FROM unnest(p_skus, p_from, p_to) AS r(sku, f, t)
     GROUP BY r.sku),
  held AS (
    SELECT l.sku, sum(l.quantity)::int AS qty
      FROM order_lines l JOIN orders o ON o.id = l.order_id
     WHERE p_cap > 0 AND o.customer_id = p_customer_id AND o.reserved_until IS NOT NULL
       AND o.id IS DISTINCT FROM p_except_order AND l.sku = ANY(p_skus)
     GROUP BY l.sku),
  allowance AS (
    SELECT r.sku, r.f, r.t, p.price_cents, p.sku IS NOT NULL AS known,
           p.on_hand - p.reserved + r.f AS stock_left,
           CASE WHEN p_cap > 0 THEN p_cap - coalesce(h.qty, 0) END AS cap_left
      FROM req r LEFT JOIN locked p ON p.sku = r.sku LEFT JOIN held h ON h.sku = r.sku)
  SELECT array_agg(a.sku ORDER BY a.sku), array_agg(a.known ORDER BY a.sku), array_agg(a.t ORDER BY a.sku),
         array_agg(greatest(least(a.stock_left, coalesce(a.cap_left, a.stock_left)), 0) ORDER BY a.sku),
         array_agg(a.price_cents ORDER BY a.sku),
         array_agg(CASE WHEN a.cap_left < a.stock_left THEN p_cap END ORDER BY a.sku),
         array_agg(a.t - a.f ORDER BY a.sku),
         coalesce(bool_and(a.known AND (a.t <= a.f OR a.t <= least(a.stock_left, coalesce(a.cap_left, a.stock_left)))), true)
    INTO v_skus, v_known, v_requested, v_available, v_prices, v_limits, v_deltas, v_ok
    FROM allowance a;

  IF v_ok THEN
    UPDATE products p
       SET reserved = p.reserved + d.delta, version = p.version + 1, updated_at = now()
      FROM unnest(v_skus, v_deltas) AS d(sku, delta)
     WHERE p.sku = ANY(v_skus) AND p.sku = d.sku AND d.delta <> 0;
  END IF;

  RETURN QUERY
    SELECT x.sku, x.known, x.requested, x.available, x.price_cents, x.per_customer_limit, v_ok
      FROM unnest(v_skus, v_known, v_requested, v_available, v_prices, v_limits)
             AS x(sku, known, requested, available, price_cents, per_customer_limit)
     ORDER BY x.sku;
END
$fn$;
