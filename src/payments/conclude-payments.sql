-- What a `processed` verdict on a pending payment does (the verdict itself
-- is orderlock_settle_payment's): for one payment or a whole batch,
-- set-based, in the caller's transaction, which has already locked the
-- payments, their orders and, for successes, the orders' product rows, in
-- the lock order payments → orders → products.
--   success: payment succeeded, order paid, the order's held stock sold
--            (on_hand and reserved both drop; per SKU, summed over the
--            batch). Returns who paid what, for counting.
--   failure: payment failed, order back to reserved with a fresh hold of
--            its hold seconds; no product row is touched (the stock stays
--            held).
-- Every payment must still be pending (under the caller's lock it is; a
-- payment that is not is raised as 40001, so the whole transaction is
-- retried), and its order pending_payment (one pending payment per order,
-- a unique index; anything else is a broken invariant). Returns, per
-- payment, the event its change calls for: order.paid for the order,
-- payment.failed for the payment.
CREATE OR REPLACE FUNCTION orderlock_conclude_payments(p_payment_ids uuid[], p_success boolean[], p_hold_seconds int[])
RETURNS TABLE (payment_id uuid, reason text, paid_by uuid, paid_cents bigint, event_type text, event_resource uuid)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_ids uuid[];
  v_orders uuid[];
  v_customers uuid[];
  v_amounts bigint[];
  v_success boolean[];
  v_holds int[];
  v_changed int;
  v_sold uuid[];
  v_skus text[];
BEGIN
  WITH req AS (SELECT * FROM unnest(p_payment_ids, p_success, p_hold_seconds) AS r(id, success, hold)),
  changed AS (
    UPDATE payments p
       SET status = CASE WHEN r.success THEN 'succeeded' ELSE 'failed' END,
           succeeded_at = CASE WHEN r.success THEN now() END,
           version = p.version + 1, updated_at = now()
      FROM req r
     WHERE p.id = ANY(p_payment_ids) AND p.id = r.id AND p.status = 'pending'
    RETURNING p.id, p.order_id, p.customer_id, p.amount_cents, r.success, r.hold)
  SELECT array_agg(c.id), array_agg(c.order_id), array_agg(c.customer_id), array_agg(c.amount_cents),
         array_agg(c.success), array_agg(c.hold)
    INTO v_ids, v_orders, v_customers, v_amounts, v_success, v_holds
    FROM changed c;
  IF coalesce(cardinality(v_ids), 0) <> cardinality(p_payment_ids) THEN
    RAISE EXCEPTION 'concurrent modification of payments %', p_payment_ids USING ERRCODE = '40001';
  END IF;

  UPDATE orders o
     SET status = CASE WHEN r.success THEN 'paid' ELSE 'reserved' END,
         reserved_until = CASE WHEN r.success THEN NULL ELSE now() + make_interval(secs => r.hold) END,
         version = o.version + 1, updated_at = now()
    FROM unnest(v_orders, v_success, v_holds) AS r(id, success, hold)
   WHERE o.id = ANY(v_orders) AND o.id = r.id AND o.status = 'pending_payment';
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  IF v_changed <> cardinality(v_orders) THEN
    RAISE EXCEPTION 'invariant broken: pending payments % have orders % not all in pending_payment status', v_ids, v_orders;
  END IF;

  -- Read after the order locks: this snapshot sees the orders' current lines.
  v_sold := ARRAY(SELECT r.id FROM unnest(v_orders, v_success) AS r(id, success) WHERE r.success);
  IF cardinality(v_sold) > 0 THEN
    v_skus := ARRAY(SELECT DISTINCT l.sku FROM order_lines l WHERE l.order_id = ANY(v_sold));
    WITH sold AS (SELECT l.sku, sum(l.quantity)::int AS qty FROM order_lines l WHERE l.order_id = ANY(v_sold) GROUP BY l.sku),
    locked AS (SELECT p.sku FROM products p WHERE p.sku = ANY(v_skus) ORDER BY p.sku FOR UPDATE)
    UPDATE products p
       SET on_hand = p.on_hand - s.qty, reserved = p.reserved - s.qty, version = p.version + 1, updated_at = now()
      FROM sold s, locked l
     WHERE p.sku = ANY(v_skus) AND p.sku = s.sku AND l.sku = s.sku;
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    IF v_changed <> cardinality(v_skus) THEN
      RAISE EXCEPTION 'invariant broken: sold % of % products for orders %', v_changed, cardinality(v_skus), v_sold;
    END IF;
  END IF;

  RETURN QUERY
    SELECT r.id,
           CASE WHEN r.success THEN 'payment succeeded; order paid' ELSE 'payment failed; order reserved again' END,
           CASE WHEN r.success THEN r.customer_id END,
           CASE WHEN r.success THEN r.amount_cents END,
           CASE WHEN r.success THEN 'order.paid' ELSE 'payment.failed' END,
           CASE WHEN r.success THEN r.order_id ELSE r.id END
      FROM unnest(v_ids, v_orders, v_customers, v_amounts, v_success) AS r(id, order_id, customer_id, amount_cents, success);
END
$fn$;
