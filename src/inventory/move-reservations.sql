-- The one definition of reserving and releasing stock, and of the
-- per-customer cap. Every path that holds or gives back stock calls it:
-- placing an order (hot path, from orderlock_place_order), changing an
-- order's lines, cancelling, and the expiry sweeper.
--
-- For each SKU the reservation moves from p_from to p_to units (a SKU may
-- appear several times; its moves add up). All or nothing, in one statement:
--   1. lock the product rows in SKU order (FOR UPDATE), the one lock order;
--   2. check every SKU exists and every line that grows fits: what is left
--      (on_hand - reserved, plus what this caller already holds, p_from) and,
--      with a cap (p_cap > 0), the cap less what the customer holds in its
--      other open orders (all but p_except_order). A line that does not grow
--      always fits: giving back is never refused;
--   3. only if every line fits, move `reserved` (the CHECK
--      0 <= reserved <= on_hand backs it) and bump each product's version.
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
LANGUAGE sql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
  WITH req AS (
    SELECT r.sku, sum(r.f)::int AS f, sum(r.t)::int AS t
      FROM unnest(p_skus, p_from, p_to) AS r(sku, f, t)
     GROUP BY r.sku),
  locked AS (
    SELECT p.sku, p.on_hand, p.reserved, p.price_cents FROM products p
     WHERE p.sku = ANY(p_skus) ORDER BY p.sku FOR UPDATE),
  held AS (
    SELECT l.sku, sum(l.quantity)::int AS qty
      FROM order_lines l JOIN orders o ON o.id = l.order_id
     WHERE p_cap > 0 AND o.customer_id = p_customer_id AND o.status IN ('reserved', 'pending_payment')
       AND o.id IS DISTINCT FROM p_except_order AND l.sku = ANY(p_skus)
     GROUP BY l.sku),
  allowance AS (
    SELECT r.sku, r.f, r.t, l.price_cents, l.sku IS NOT NULL AS known,
           l.on_hand - l.reserved + r.f AS stock_left,
           CASE WHEN p_cap > 0 THEN p_cap - coalesce(h.qty, 0) END AS cap_left
      FROM req r LEFT JOIN locked l USING (sku) LEFT JOIN held h USING (sku)),
  verdict AS (
    SELECT coalesce(bool_and(a.known AND (a.t <= a.f OR a.t <= least(a.stock_left, coalesce(a.cap_left, a.stock_left)))), true) AS ok
      FROM allowance a),
  moved AS (
    UPDATE products p
       SET reserved = p.reserved + a.t - a.f, version = p.version + 1, updated_at = now()
      FROM allowance a
     WHERE p.sku = ANY(p_skus) AND p.sku = a.sku AND a.t <> a.f AND (SELECT v.ok FROM verdict v)
    RETURNING p.sku)
  SELECT a.sku, a.known, a.t,
         greatest(least(a.stock_left, coalesce(a.cap_left, a.stock_left)), 0),
         a.price_cents,
         CASE WHEN a.cap_left < a.stock_left THEN p_cap END,
         (SELECT v.ok FROM verdict v) AND (SELECT count(*) FROM moved) >= 0
    FROM allowance a
   ORDER BY a.sku
$fn$;
