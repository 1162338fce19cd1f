-- Several orders in ONE transaction: the service batches the orders that
-- arrive while earlier ones are in the database (src/db/batcher.ts), so
-- under load one call, one lock per product row and one commit serve a whole
-- batch; on a hot SKU the row is locked once per batch, not once per order.
--
-- What must stay true:
-- - Each element of p_orders carries the arguments of one
--   orderlock_place_order call (owner, key, fingerprint, keyTtlHours,
--   orderId, customerId, skus, qtys, holdSeconds, cap).
-- - Lock order is the one every path uses: customers by id (only with a
--   per-customer cap), then products by SKU; all of them up front, for the
--   whole batch, so a batch cannot deadlock with another batch or with any
--   single-row path.
-- - Each order is exactly orderlock_place_order, in arrival order, so the
--   last unit goes to the first of them. Two orders with one key in a batch:
--   the first is still in flight (uncommitted) when the second is looked at,
--   so the second gets in_use, exactly as it would alone.
-- - Nothing is acknowledged before the COMMIT of the whole batch; a failed
--   batch writes nothing (the service then places its orders one by one).
-- - All at once, when that decides exactly what one by one would: every
--   order is new (its key granted, not stored, not twice in the batch), no
--   per-customer cap is in force, and orderlock_move_reservations can
--   reserve the batch's whole demand per SKU in one move. Then each order,
--   placed in turn, would have found its stock, so every one is placed:
--   one reservation, one orderlock_create_orders and one key insert for the
--   batch instead of a function call per order. Otherwise (a move that does
--   not fit changes nothing), one by one.
CREATE OR REPLACE FUNCTION orderlock_place_orders(p_orders jsonb)
RETURNS TABLE (pos int, replayed boolean, outcome text, facts jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_o record;
  v_keys text[] := '{}';
  v_fresh boolean;
  v_fits boolean;
BEGIN
  -- One order alone is simply orderlock_place_order (it takes its own locks).
  IF jsonb_array_length(p_orders) > 1 THEN
    -- (= ANY(ARRAY(...)), not IN (SELECT ...): the generic plan of IN is a
    -- sequential scan of the table; this one is an index scan.)
    PERFORM 1 FROM customers c
      WHERE c.id = ANY(ARRAY(SELECT (e ->> 'customerId')::uuid FROM jsonb_array_elements(p_orders) e
                              WHERE (e ->> 'cap')::int > 0))
      ORDER BY c.id FOR NO KEY UPDATE;
    PERFORM 1 FROM products p
      WHERE p.sku = ANY(ARRAY(SELECT jsonb_array_elements_text(e -> 'skus') FROM jsonb_array_elements(p_orders) e))
      ORDER BY p.sku FOR UPDATE;

    -- Every key's lock first (a later statement's snapshot then sees every key
    -- stored before it was granted), then whether the batch is all new orders.
    SELECT coalesce(bool_and(e ->> 'key' IS NOT NULL AND (e ->> 'cap')::int = 0
                             AND pg_try_advisory_xact_lock(hashtextextended((e ->> 'owner') || E'\n' || (e ->> 'key'), 0))), false)
      INTO v_fresh FROM jsonb_array_elements(p_orders) e;
    IF v_fresh THEN
      SELECT count(DISTINCT (e ->> 'owner', e ->> 'key')) = count(*)
             AND NOT bool_or(EXISTS (SELECT 1 FROM idempotency_keys i WHERE i.owner = e ->> 'owner' AND i.key = e ->> 'key'))
        INTO v_fresh FROM jsonb_array_elements(p_orders) e;
    END IF;
    IF v_fresh THEN
      SELECT bool_and(m.ok) INTO v_fits
        FROM (SELECT array_agg(d.sku ORDER BY d.sku) AS skus, array_agg(d.qty ORDER BY d.sku) AS qtys
                FROM (SELECT l.sku, sum(l.qty::int)::int AS qty
                        FROM jsonb_array_elements(p_orders) e
                        CROSS JOIN LATERAL ROWS FROM (jsonb_array_elements_text(e -> 'skus'),
                                                     jsonb_array_elements_text(e -> 'qtys')) AS l(sku, qty)
                       GROUP BY l.sku) d) demand
        CROSS JOIN LATERAL orderlock_move_reservations(demand.skus, array_fill(0, ARRAY[cardinality(demand.skus)]), demand.qtys,
                                                       NULL, 0, NULL) m;
      IF v_fits THEN
        RETURN QUERY
          WITH c AS (SELECT * FROM orderlock_create_orders(p_orders)),
          o AS (SELECT x.n, x.e, (x.e ->> 'orderId')::uuid AS id FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n)),
          stored AS (
            INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts)
            SELECT o.e ->> 'owner', o.e ->> 'key', o.e ->> 'fingerprint', 'placed', c.facts FROM o JOIN c ON c.order_id = o.id)
          SELECT o.n::int, false, 'placed'::text, c.facts FROM o JOIN c ON c.order_id = o.id ORDER BY o.n;
        RETURN;
      END IF;
    END IF;
  END IF;

  FOR v_o IN SELECT x.e, x.n FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n) LOOP
    IF v_o.e ->> 'key' IS NOT NULL THEN
      IF (v_o.e ->> 'owner') || E'\n' || (v_o.e ->> 'key') = ANY(v_keys) THEN
        RETURN QUERY SELECT v_o.n::int, false, 'in_use'::text, NULL::jsonb;
        CONTINUE;
      END IF;
      v_keys := v_keys || ((v_o.e ->> 'owner') || E'\n' || (v_o.e ->> 'key'));
    END IF;
    RETURN QUERY
      SELECT v_o.n::int, f.replayed, f.outcome, f.facts
        FROM orderlock_place_order(
          v_o.e ->> 'owner', v_o.e ->> 'key', v_o.e ->> 'fingerprint', (v_o.e ->> 'keyTtlHours')::float8,
          (v_o.e ->> 'orderId')::uuid, (v_o.e ->> 'customerId')::uuid,
          ARRAY(SELECT a.t FROM jsonb_array_elements_text(v_o.e -> 'skus') WITH ORDINALITY a(t, i) ORDER BY a.i),
          ARRAY(SELECT a.t::int FROM jsonb_array_elements_text(v_o.e -> 'qtys') WITH ORDINALITY a(t, i) ORDER BY a.i),
          (v_o.e ->> 'holdSeconds')::int, (v_o.e ->> 'cap')::int) f;
  END LOOP;
END
$fn$;
