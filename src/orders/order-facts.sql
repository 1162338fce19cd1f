-- An order as facts: its row and its lines as stored (column names, no
-- rendering). The service renders an order from these with its one
-- renderer (src/orders/order-view.ts); a stored Idempotency-Key answer keeps
-- them, so its replay renders exactly what the first answer showed.
CREATE OR REPLACE FUNCTION orderlock_order_facts(p_order_id uuid) RETURNS jsonb
LANGUAGE sql STABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
  SELECT to_jsonb(o) || jsonb_build_object('lines', coalesce(
           (SELECT jsonb_agg(to_jsonb(l) - 'order_id' ORDER BY l.sku) FROM order_lines l WHERE l.order_id = o.id), '[]'::jsonb))
    FROM orders o
   WHERE o.id = p_order_id
$fn$;
