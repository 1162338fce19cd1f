-- A reserved order's new lines, priced and written, in the caller's
-- transaction (change-order.ts). The caller holds the order's row lock, has
-- checked its version and status, and has moved its hold to the new lines
-- (orderlock_move_reservations, which holds the product rows' locks, so the
-- prices read here are the ones it reserved at). Then, here:
--   1. each line's unit price: a SKU already in the order keeps the price it
--      was reserved at; a new one takes the product's price now;
--   2. the lines replaced and the order's total written, both as
--      orderlock_price_lines prices them;
--   3. the order's version bumped by compare-and-swap on p_version (a lost
--      swap, impossible under the caller's lock, is raised as 40001: the
--      whole transaction is retried).
-- Returns the order's facts (orderlock_order_facts). The hold deadline is
-- not extended.
CREATE OR REPLACE FUNCTION orderlock_reprice_order(p_order_id uuid, p_version int, p_skus text[], p_qtys int[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_prices int[];
BEGIN
  v_prices := ARRAY(
    SELECT coalesce(l.unit_price_cents, p.price_cents)
      FROM unnest(p_skus) WITH ORDINALITY AS s(sku, n)
      LEFT JOIN order_lines l ON l.order_id = p_order_id AND l.sku = s.sku
      LEFT JOIN products p ON p.sku = s.sku
     ORDER BY s.n);
  DELETE FROM order_lines l WHERE l.order_id = p_order_id;
  WITH priced AS (SELECT * FROM orderlock_price_lines(p_skus, p_qtys, v_prices)),
  lines AS (
    INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents, line_total_cents)
    SELECT p_order_id, pr.sku, pr.quantity, pr.unit_price_cents, pr.line_total_cents FROM priced pr)
  UPDATE orders o
     SET total_cents = (SELECT pr.total_cents FROM priced pr LIMIT 1), version = o.version + 1, updated_at = now()
   WHERE o.id = p_order_id AND o.version = p_version;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'concurrent modification of order %', p_order_id USING ERRCODE = '40001';
  END IF;
  RETURN (SELECT f.facts FROM orderlock_order_facts(ARRAY[p_order_id]) f);
END
$fn$;
