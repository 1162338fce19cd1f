-- The one definition of reserving and releasing stock, and of the
-- per-customer cap. Every path that holds or gives back stock calls it:
-- placing an order (hot path, from orderlock_place_order), changing an
-- order's lines, cancelling, and the expiry sweeper.
--
-- For each SKU the reservation moves from p_from to p_to units (a SKU may
-- appear several times; its moves add up). All or nothing:
--   0. the sold-out fast path: if a plain read (no lock) shows a line that
--      grows beyond the stock left, the check of step 2 runs first without
--      locks, and if it refuses, that is the answer: no row was locked;
--   1. lock the product rows in SKU order (FOR UPDATE), the one lock order;
--   2. check, in a statement whose snapshot is taken once the locks are
--      held (so it reads the rows as the last holder left them), that every
--      SKU exists and every line that grows fits: what is left
--      (on_hand - reserved, plus what this caller already holds, p_from) and,
--      with a cap (p_cap > 0), the cap less what the customer holds in its
--      other open orders (all but p_except_order; an order holds stock while
--      it has a hold deadline: the CHECK orders_hold_while_open is the one
--      list of the statuses that do). A line that does not grow
--      always fits: giving back is never refused;
--   3. only if every line fits, move `reserved` (the CHECK
--      0 <= reserved <= on_hand backs it) and bump each product's version.
-- The sold-out fast path (step 0) is linearizable: its snapshot is taken
-- after the request arrived and sees every move committed before then
-- (every answer a client could have seen). The order cannot be reserved in
-- full at that instant, so refusing it there is a legal point in the serial
-- order, after every committed move and before every one in flight; a
-- release committed after the snapshot is ordered after the refusal, as if
-- it had arrived a moment later. Only a refusal is taken from the plain
-- read: if the check finds every line fits after all (stock given back
-- between the two reads), it runs again under the locks, where someone may
-- be taking the last unit. A refusal is the locked path's: the same check
-- makes the same rows (every short line, the cap where it binds). The first
-- read is per line, stock only, a hint: a SKU named twice, a cap or an
-- unknown SKU are left to the check under the locks; a release never shows
-- short; an order that fits pays one index read more. A caller holding the
-- rows already (a batch, place-orders.sql) reads the same state both times.
-- (Not one statement with data-modifying CTEs: there the check could read a
-- row as it was before a concurrent release while the UPDATE applied to the
-- row as it is, which the CHECK caught under concurrent cancels.)
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
  v_locked boolean;
BEGIN
  -- Step 0: a line that grows beyond the stock left, on a plain read? Then check without locks first.
  v_locked := NOT EXISTS (SELECT 1 FROM unnest(p_skus, p_from, p_to) AS r(sku, f, t) JOIN products p ON p.sku = r.sku
                           WHERE r.t > r.f AND p.on_hand - p.reserved + r.f < r.t);
  LOOP
    IF v_locked THEN
      PERFORM 1 FROM products p WHERE p.sku = ANY(p_skus) ORDER BY p.sku FOR UPDATE;
    END IF;

    WITH req AS (
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
        FROM req r LEFT JOIN products p ON p.sku = r.sku LEFT JOIN held h ON h.sku = r.sku)
    SELECT array_agg(a.sku ORDER BY a.sku), array_agg(a.known ORDER BY a.sku), array_agg(a.t ORDER BY a.sku),
           array_agg(greatest(least(a.stock_left, coalesce(a.cap_left, a.stock_left)), 0) ORDER BY a.sku),
           array_agg(a.price_cents ORDER BY a.sku),
           array_agg(CASE WHEN a.cap_left < a.stock_left THEN p_cap END ORDER BY a.sku),
           array_agg(a.t - a.f ORDER BY a.sku),
           coalesce(bool_and(a.known AND (a.t <= a.f OR a.t <= least(a.stock_left, coalesce(a.cap_left, a.stock_left)))), true)
      INTO v_skus, v_known, v_requested, v_available, v_prices, v_limits, v_deltas, v_ok
      FROM allowance a;

    -- Decided under the locks, or refused on the plain read (step 0).
    EXIT WHEN v_locked OR NOT v_ok;
    v_locked := true;
  END LOOP;

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
