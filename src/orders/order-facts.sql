-- Orders as facts: each one's row and its lines as stored (column names, no
-- rendering), one row per id given, numbered n in the order given (facts
-- NULL for an id with no order). The service renders an order from these
-- with its one renderer (src/orders/order-view.ts); a stored
-- Idempotency-Key answer keeps them, so its replay renders exactly what the
-- first answer showed.
-- LANGUAGE sql, STABLE, one SELECT and no SET clause: a caller that reads it
-- in FROM gets it inlined into its own plan, so a batch's facts cost no
-- function call per order (a call cost about half of what building an
-- order's facts costs). Each order is a correlated subquery, an index lookup
-- on its key whatever the table's statistics (a join could be planned as a
-- scan of all orders).
-- Inlined, each reference to `facts` can be the subquery again: read it
-- once per row (a trial that read it three times in one INSERT cost more
-- than the calls it saved).
CREATE OR REPLACE FUNCTION orderlock_order_facts(p_order_ids uuid[])
RETURNS TABLE (n bigint, facts jsonb)
LANGUAGE sql STABLE
AS $fn$
  SELECT r.n,
         (SELECT to_jsonb(o) || jsonb_build_object('lines', coalesce(
                   (SELECT jsonb_agg(to_jsonb(l) - 'order_id' ORDER BY l.sku) FROM order_lines l WHERE l.order_id = o.id), '[]'::jsonb))
            FROM orders o
           WHERE o.id = r.id)
    FROM unnest(p_order_ids) WITH ORDINALITY AS r(id, n)
$fn$;
