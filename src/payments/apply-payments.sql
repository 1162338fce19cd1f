-- What the payment verdict's `processed` does to a pending payment, its
-- order and its order's stock (settle-payment.sql judges; this applies),
-- for one payment or for several at once: one statement per table, however
-- many payments (each statement that writes a table prepares that table's
-- CHECK constraints anew, so a batch pays for it once, not per payment).
-- In the caller's transaction, which holds each payment's row lock and has
-- read its version and order under it (p_versions, p_order_ids); the
-- payments are distinct (one judged event each), and so are their orders
-- (one pending payment per order). Each array is indexed by the payment's
-- place in p_payment_ids (array_position: no join with an unnest, which
-- costs a batch of one more than the lookup).
--   success: payment succeeded, order paid, the order's held stock sold
--            (on_hand and reserved both drop, per SKU the sum over the
--            orders);
--   failure: payment failed, order back to reserved with a fresh hold of
--            p_hold_seconds; no product row is touched (the stock stays
--            held).
-- Each payment changes by compare-and-swap on the version read under its
-- lock (a lost swap is raised as 40001, so the whole transaction is
-- retried); each order must be pending_payment (anything else is a broken
-- invariant: one pending payment per order, and only it leaves that status).
-- Lock order: payments (the caller's) → orders by id → products by SKU, as
-- everywhere. Several payments: the caller (orderlock_settle_payments) has
-- locked their orders and products up front; one payment's order is one
-- row, locked by its UPDATE here; products are locked here in SKU order.
CREATE OR REPLACE FUNCTION orderlock_apply_payments(
  p_payment_ids uuid[], p_versions int[], p_order_ids uuid[], p_success boolean[], p_hold_seconds int[]
) RETURNS void
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_changed int;
  v_skus text[];
  v_qtys int[];
BEGIN
  -- An index lookup per id whatever the statistics say: the status test is
  -- written so that it cannot match the partial indexes on pending payments
  -- (a plan that scans every pending payment; see markPaymentsExpired).
  UPDATE payments p
     SET status = CASE WHEN p_success[array_position(p_payment_ids, p.id)] THEN 'succeeded' ELSE 'failed' END,
         succeeded_at = CASE WHEN p_success[array_position(p_payment_ids, p.id)] THEN now() END,
         version = p.version + 1, updated_at = now()
   WHERE p.id = ANY(p_payment_ids) AND p.version = p_versions[array_position(p_payment_ids, p.id)]
     AND p.order_id = p_order_ids[array_position(p_payment_ids, p.id)] AND (p.status = 'pending') IS TRUE;
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  IF v_changed <> cardinality(p_payment_ids) THEN
    RAISE EXCEPTION 'concurrent modification of a payment among %', p_payment_ids USING ERRCODE = '40001';
  END IF;

  UPDATE orders o
     SET status = CASE WHEN p_success[array_position(p_order_ids, o.id)] THEN 'paid' ELSE 'reserved' END,
         reserved_until = CASE WHEN p_success[array_position(p_order_ids, o.id)] THEN NULL
                               ELSE now() + make_interval(secs => p_hold_seconds[array_position(p_order_ids, o.id)]) END,
         version = o.version + 1, updated_at = now()
   WHERE o.id = ANY(p_order_ids) AND o.status = 'pending_payment';
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  IF v_changed <> cardinality(p_order_ids) THEN
    RAISE EXCEPTION 'invariant broken: pending payments among % have an order not in pending_payment status', p_payment_ids;
  END IF;

  IF NOT (true = ANY(p_success)) THEN
    RETURN;
  END IF;
  -- Read after the orders' locks: this snapshot sees their current lines.
  SELECT array_agg(x.sku ORDER BY x.sku), array_agg(x.qty ORDER BY x.sku) INTO v_skus, v_qtys
    FROM (SELECT l.sku, sum(l.quantity)::int AS qty
            FROM order_lines l
           WHERE l.order_id = ANY(p_order_ids) AND p_success[array_position(p_order_ids, l.order_id)]
           GROUP BY l.sku) x;
  WITH req AS (SELECT * FROM unnest(v_skus, v_qtys) AS r(sku, qty)),
  locked AS (SELECT p.sku FROM products p WHERE p.sku = ANY(v_skus) ORDER BY p.sku FOR UPDATE)
  UPDATE products p
     SET on_hand = p.on_hand - r.qty, reserved = p.reserved - r.qty, version = p.version + 1, updated_at = now()
    FROM req r, locked l
   WHERE p.sku = ANY(v_skus) AND p.sku = r.sku AND l.sku = r.sku;
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  IF v_changed <> coalesce(cardinality(v_skus), 0) THEN
    RAISE EXCEPTION 'invariant broken: sold % of % products for the orders %', v_changed, cardinality(v_skus), p_order_ids;
  END IF;
END
$fn$;
