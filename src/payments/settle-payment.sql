-- The payment verdict and its effects: one provider event about one
-- payment, applied at most once, in the caller's transaction (always
-- through orderlock_settle_payments; in a batch of several events it has
-- locked the payment, its order and the order's product rows first, and
-- the locks here are then already held; one event alone takes them here,
-- in that order). In order:
--   1. lock the payment row FOR UPDATE, then record the event id (primary
--      key, ON CONFLICT DO NOTHING): already recorded → duplicate, nothing
--      else happens;
--   2. the verdict, the only definition of it:
--        unknown payment, or amount mismatch          → ignored
--        success for a succeeded payment               → duplicate
--        success for a failed or expired payment      → processed: a full
--                 refund with reason `late_success` (the money moved at
--                 the provider, the order never gets it); no stock, counter
--                 or order moves; the caller asks the provider for the
--                 refund after COMMIT. Again for that payment → duplicate
--                 (one late-success refund per payment, a unique index).
--        failure for a failed payment                  → duplicate
--        failure for an expired payment                → ignored
--        failure for a succeeded payment               → ignored (paid is final)
--        pending payment with the exact amount         → processed
--   3. processed: lock the order row, which must be pending_payment; the
--      payment and the order each change by compare-and-swap on the version
--      read under the lock (a lost swap is raised as 40001, so the whole
--      transaction is retried).
--        success: payment succeeded, order paid, the order's held stock
--                 sold (product rows in SKU order: on_hand and reserved
--                 both drop). Returns who paid what, for counting.
--        failure: payment failed, order back to reserved with a fresh hold
--                 of p_hold_seconds; no product row is touched (the stock
--                 stays held).
--      Each returns the event it calls for (order.paid for the order,
--      payment.failed for the payment), which orderlock_settle_payments
--      writes for the whole batch, per type, in this transaction: each
--      resource changes at most once per batch (one pending payment per
--      order; a payment's second event is a duplicate), so its facts read at
--      the batch's end are its facts right after its change.
-- Lock order: payment → order → products → counters, as everywhere.
CREATE OR REPLACE FUNCTION orderlock_settle_payment(
  p_event_id text, p_type text, p_payment_id uuid, p_amount_cents bigint, p_hold_seconds int
) RETURNS TABLE (outcome text, reason text, paid_by uuid, paid_cents bigint, late_refund_id uuid, event_type text, event_resource uuid)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_pay payments%ROWTYPE;
  v_order orders%ROWTYPE;
  v_success boolean := p_type = 'payment.succeeded';
  v_outcome text;
  v_reason text;
  v_skus text[];
  v_qtys int[];
  v_sold int;
  v_late_refund uuid;
BEGIN
  IF p_type NOT IN ('payment.succeeded', 'payment.failed') THEN
    RAISE EXCEPTION 'unknown payment event type %', p_type USING ERRCODE = '22023';
  END IF;
  IF p_payment_id IS NOT NULL THEN
    SELECT * INTO v_pay FROM payments WHERE id = p_payment_id FOR UPDATE;
  END IF;
  IF NOT orderlock_receive_provider_event(p_event_id, p_payment_id, p_type) THEN
    RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, NULL::uuid, NULL::bigint, NULL::uuid, NULL::text, NULL::uuid;
    RETURN;
  END IF;

  IF v_pay.id IS NULL THEN
    v_outcome := 'ignored'; v_reason := 'unknown payment';
  ELSIF v_pay.amount_cents <> p_amount_cents THEN
    v_outcome := 'ignored'; v_reason := format('amount mismatch: event %s, payment %s', p_amount_cents, v_pay.amount_cents);
  ELSIF v_pay.status = 'succeeded' THEN
    IF v_success THEN v_outcome := 'duplicate'; v_reason := 'payment already succeeded';
    ELSE v_outcome := 'ignored'; v_reason := 'failure signal for a payment that already succeeded'; END IF;
  ELSIF v_pay.status IN ('failed', 'expired') AND v_success THEN
    IF EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = v_pay.id AND r.kind = 'late_success') THEN
      v_outcome := 'duplicate'; v_reason := 'late success already refunded';
    ELSE
      INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status)
      VALUES (v_pay.id, v_pay.order_id, v_pay.amount_cents, v_pay.currency, 'late_success', 'late_success', 'pending')
      RETURNING id INTO v_late_refund;
      UPDATE payments SET refund_claimed_cents = refund_claimed_cents + v_pay.amount_cents WHERE id = v_pay.id;
      RETURN QUERY SELECT 'processed'::text, format('success for a %s payment: refunded in full (late_success)', v_pay.status),
                          NULL::uuid, NULL::bigint, v_late_refund, NULL::text, NULL::uuid;
      RETURN;
    END IF;
  ELSIF v_pay.status = 'failed' THEN
    v_outcome := 'duplicate'; v_reason := 'payment already failed';
  ELSIF v_pay.status = 'expired' THEN
    v_outcome := 'ignored'; v_reason := 'failure signal for a payment that already expired';
  END IF;
  IF v_outcome IS NOT NULL THEN
    UPDATE payment_events SET outcome = v_outcome WHERE event_id = p_event_id;
    RETURN QUERY SELECT v_outcome, v_reason, NULL::uuid, NULL::bigint, NULL::uuid, NULL::text, NULL::uuid;
    RETURN;
  END IF;

  SELECT * INTO v_order FROM orders WHERE id = v_pay.order_id FOR UPDATE;
  IF v_order.status IS DISTINCT FROM 'pending_payment' THEN
    RAISE EXCEPTION 'invariant broken: pending payment % has order % in % status', v_pay.id, v_pay.order_id, coalesce(v_order.status, 'no');
  END IF;

  UPDATE payments
     SET status = CASE WHEN v_success THEN 'succeeded' ELSE 'failed' END,
         succeeded_at = CASE WHEN v_success THEN now() END,
         version = version + 1, updated_at = now()
   WHERE id = v_pay.id AND version = v_pay.version AND status = 'pending';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'concurrent modification of payment %', v_pay.id USING ERRCODE = '40001';
  END IF;
  UPDATE orders
     SET status = CASE WHEN v_success THEN 'paid' ELSE 'reserved' END,
         reserved_until = CASE WHEN v_success THEN NULL ELSE now() + make_interval(secs => p_hold_seconds) END,
         version = version + 1, updated_at = now()
   WHERE id = v_order.id AND version = v_order.version;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'concurrent modification of order %', v_order.id USING ERRCODE = '40001';
  END IF;
  IF NOT v_success THEN
    RETURN QUERY SELECT 'processed'::text, 'payment failed; order reserved again'::text, NULL::uuid, NULL::bigint, NULL::uuid,
                        'payment.failed'::text, v_pay.id;
    RETURN;
  END IF;

  -- Read after the order lock: this snapshot sees the order's current lines.
  SELECT array_agg(l.sku ORDER BY l.sku), array_agg(l.quantity ORDER BY l.sku) INTO v_skus, v_qtys
    FROM order_lines l WHERE l.order_id = v_order.id;
  WITH req AS (SELECT * FROM unnest(v_skus, v_qtys) AS r(sku, qty)),
  locked AS (SELECT p.sku FROM products p WHERE p.sku = ANY(v_skus) ORDER BY p.sku FOR UPDATE)
  UPDATE products p
     SET on_hand = p.on_hand - r.qty, reserved = p.reserved - r.qty, version = p.version + 1, updated_at = now()
    FROM req r, locked l
   WHERE p.sku = ANY(v_skus) AND p.sku = r.sku AND l.sku = r.sku;
  GET DIAGNOSTICS v_sold = ROW_COUNT;
  IF v_sold <> coalesce(cardinality(v_skus), 0) THEN
    RAISE EXCEPTION 'invariant broken: sold % of % products for order %', v_sold, cardinality(v_skus), v_order.id;
  END IF;
  RETURN QUERY SELECT 'processed'::text, 'payment succeeded; order paid'::text, v_pay.customer_id, v_pay.amount_cents, NULL::uuid,
                      'order.paid'::text, v_order.id;
END
$fn$;
