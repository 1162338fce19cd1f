-- Placing one order, all or nothing, with its Idempotency-Key, in the
-- caller's transaction (alone: `SELECT * FROM orderlock_place_order(...)` is
-- its own transaction; in a batch: orderlock_place_orders). In order:
--   1. key given: pg_try_advisory_xact_lock(owner, key); not granted →
--      in_use. A stored key within its TTL: same fingerprint → replayed (its
--      stored outcome and facts), else reused. An expired one is deleted.
--      (Each statement of a VOLATILE plpgsql function takes a fresh
--      snapshot, so the lookup sees every key committed before the lock.)
--   2. cap > 0: the customer row FOR NO KEY UPDATE (customer → products).
--   3. orderlock_move_reservations: product rows locked in SKU order, every
--      line checked, and only then reserved (a refusal that a plain read
--      already proves, such as a sold-out SKU, takes no lock at all).
--   4. all reserved: the order, its lines and its `order.placed` event
--      (orderlock_create_orders).
--   5. the outcome and its facts (the order; the short lines; the unknown
--      SKUs), stored with the key and returned. No HTTP here: the service
--      renders the answer from these facts.
CREATE OR REPLACE FUNCTION orderlock_place_order(
  p_owner text, p_key text, p_fingerprint text, p_key_ttl_hours float8,
  p_order_id uuid, p_customer_id uuid, p_skus text[], p_qtys int[],
  p_hold_seconds int, p_cap int
) RETURNS TABLE (replayed boolean, outcome text, facts jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  -- (plpgsql variables are prefixed: a bare name would capture SQL column names)
  v_key record;
  v_m record;
  v_outcome text;
  v_facts jsonb;
BEGIN
  IF p_key IS NOT NULL THEN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_owner || E'\n' || p_key, 0)) THEN
      RETURN QUERY SELECT false, 'in_use'::text, NULL::jsonb;
      RETURN;
    END IF;
    SELECT i.fingerprint, i.outcome, i.facts, i.created_at < now() - make_interval(secs => p_key_ttl_hours * 3600) AS expired
      INTO v_key
      FROM idempotency_keys i WHERE i.owner = p_owner AND i.key = p_key;
    IF FOUND THEN
      IF NOT v_key.expired THEN
        IF v_key.fingerprint <> p_fingerprint THEN
          RETURN QUERY SELECT false, 'reused'::text, NULL::jsonb;
        ELSE
          RETURN QUERY SELECT true, v_key.outcome, v_key.facts;
        END IF;
        RETURN;
      END IF;
      DELETE FROM idempotency_keys i WHERE i.owner = p_owner AND i.key = p_key;
    END IF;
  END IF;

  IF p_cap > 0 THEN
    PERFORM 1 FROM customers c WHERE c.id = p_customer_id FOR NO KEY UPDATE;
  END IF;

  SELECT bool_and(m.ok) AS ok, bool_and(m.known) AS all_known,
         jsonb_agg(jsonb_build_object('sku', m.sku, 'requested', m.requested, 'available', m.available,
                                      'per_customer_limit', m.per_customer_limit) ORDER BY m.sku)
           FILTER (WHERE m.known AND m.requested > m.available) AS short,
         jsonb_agg(m.sku ORDER BY m.sku) FILTER (WHERE NOT m.known) AS unknown
    INTO v_m
    FROM orderlock_move_reservations(p_skus, array_fill(0, ARRAY[cardinality(p_skus)]), p_qtys, p_customer_id, p_cap, NULL) m;

  IF v_m.ok THEN
    SELECT c.facts INTO v_facts
      FROM orderlock_create_orders(jsonb_build_array(jsonb_build_object(
             'orderId', p_order_id, 'customerId', p_customer_id, 'holdSeconds', p_hold_seconds,
             'skus', to_jsonb(p_skus), 'qtys', to_jsonb(p_qtys)))) c;
    v_outcome := 'placed';
  ELSIF NOT v_m.all_known THEN
    v_outcome := 'unknown_sku';
    v_facts := jsonb_build_object('unknown_skus', v_m.unknown);
  ELSE
    v_outcome := 'out_of_stock';
    v_facts := jsonb_build_object('unavailable', v_m.short);
  END IF;

  IF p_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts)
    VALUES (p_owner, p_key, p_fingerprint, v_outcome, v_facts);
  END IF;
  RETURN QUERY SELECT false, v_outcome, v_facts;
END
$fn$;
