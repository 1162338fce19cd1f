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
CREATE OR REPLACE FUNCTION orderlock_place_orders(p_orders jsonb)
RETURNS TABLE (pos int, replayed boolean, outcome text, facts jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_o record;
  v_keys text[] := '{}';
BEGIN
  -- (= ANY(ARRAY(...)), not IN (SELECT ...): the generic plan of IN is a
  -- sequential scan of the table; this one is an index scan.)
  PERFORM 1 FROM customers c
    WHERE c.id = ANY(ARRAY(SELECT (e ->> 'customerId')::uuid FROM jsonb_array_elements(p_orders) e
                            WHERE (e ->> 'cap')::int > 0))
    ORDER BY c.id FOR NO KEY UPDATE;
  PERFORM 1 FROM products p
    WHERE p.sku = ANY(ARRAY(SELECT jsonb_array_elements_text(e -> 'skus') FROM jsonb_array_elements(p_orders) e))
    ORDER BY p.sku FOR UPDATE;

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
