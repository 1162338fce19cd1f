-- The one definition of what a refund's verdict does, in the caller's
-- transaction. The caller holds the payment row's lock (FOR UPDATE) and
-- has decided the verdict is due (orderlock_settle_refund,
-- orderlock_settle_dispute); this applies it once, taking the rest of the
-- locks in the one order: payment (held) → refund → order → products →
-- counters (last statement).
--   succeeded (refund pending): refund succeeded; the payment's
--       refunded_cents grows; unless it is a late success (its order was
--       never paid), the order's refunded_cents grows and a paid order whose
--       refunds reach its total becomes `refunded`; restock lines add to
--       on_hand (product versions move, each audited in stock_adjustments);
--       compensating counter entries (orderlock_record_refunds, only for a
--       counted payment). Events refund.succeeded (+ order.refunded).
--   failed (refund pending): refund failed; its amount is claimable again
--       (payments.refund_claimed_cents drops). Event refund.failed.
--   reversed (a succeeded dispute refund, funds reinstated): refund
--       reversed; payment and order give the amount back (a `refunded`
--       order is `paid` again); the counter entry is reversed on today's
--       UTC day. No event type exists for it in the contract.
-- Every version moves by one with every change (the row locks make the
-- increments safe). Returns whether counters moved.
CREATE OR REPLACE FUNCTION orderlock_apply_refund(p_refund_id uuid, p_outcome text, p_shard int)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_ref refunds%ROWTYPE;
  v_order orders%ROWTYPE;
  v_sign int;
  v_skus text[];
  v_qtys int[];
  v_n int;
BEGIN
  SELECT * INTO v_ref FROM refunds WHERE id = p_refund_id FOR UPDATE;
  IF v_ref.id IS NULL THEN
    RAISE EXCEPTION 'apply_refund: no refund %', p_refund_id USING ERRCODE = '22023';
  END IF;
  IF NOT ((p_outcome IN ('succeeded', 'failed') AND v_ref.status = 'pending')
          OR (p_outcome = 'reversed' AND v_ref.status = 'succeeded' AND v_ref.kind = 'dispute')) THEN
    RAISE EXCEPTION 'apply_refund: refund % is %, cannot become %', v_ref.id, v_ref.status, p_outcome USING ERRCODE = '22023';
  END IF;

  UPDATE refunds SET status = p_outcome, settled_at = coalesce(settled_at, now()), version = version + 1, updated_at = now()
   WHERE id = v_ref.id;

  IF p_outcome = 'failed' THEN
    UPDATE payments SET refund_claimed_cents = refund_claimed_cents - v_ref.amount_cents WHERE id = v_ref.payment_id;
    PERFORM orderlock_append_event('refund.failed', v_ref.id);
    RETURN false;
  END IF;

  v_sign := CASE WHEN p_outcome = 'succeeded' THEN 1 ELSE -1 END;
  UPDATE payments
     SET refunded_cents = refunded_cents + v_sign * v_ref.amount_cents,
         refund_claimed_cents = refund_claimed_cents - CASE WHEN v_sign < 0 THEN v_ref.amount_cents ELSE 0 END,
         version = version + 1, updated_at = now()
   WHERE id = v_ref.payment_id;

  IF v_ref.kind <> 'late_success' THEN
    SELECT * INTO v_order FROM orders WHERE id = v_ref.order_id FOR UPDATE;
    UPDATE orders
       SET refunded_cents = refunded_cents + v_sign * v_ref.amount_cents,
           status = CASE
                      WHEN v_sign > 0 AND status = 'paid' AND refunded_cents + v_ref.amount_cents = total_cents THEN 'refunded'
                      WHEN v_sign < 0 AND status = 'refunded' THEN 'paid'
                      ELSE status END,
           version = version + 1, updated_at = now()
     WHERE id = v_order.id;
  END IF;

  IF v_sign > 0 THEN
    SELECT array_agg(l.sku ORDER BY l.sku), array_agg(l.quantity ORDER BY l.sku) INTO v_skus, v_qtys
      FROM jsonb_to_recordset(v_ref.lines) AS l(sku text, quantity int, restock boolean)
     WHERE l.restock;
    IF v_skus IS NOT NULL THEN
      PERFORM 1 FROM products p WHERE p.sku = ANY(v_skus) ORDER BY p.sku FOR UPDATE;
      WITH moved AS (
        UPDATE products p
           SET on_hand = p.on_hand + r.qty, version = p.version + 1, updated_at = now()
          FROM unnest(v_skus, v_qtys) AS r(sku, qty)
         WHERE p.sku = ANY(v_skus) AND p.sku = r.sku
        RETURNING p.sku, r.qty, p.on_hand
      )
      INSERT INTO stock_adjustments (sku, delta, reason, on_hand_after)
      SELECT m.sku, m.qty, 'refund ' || v_ref.id, m.on_hand FROM moved m ORDER BY m.sku;
      GET DIAGNOSTICS v_n = ROW_COUNT;
      IF v_n <> cardinality(v_skus) THEN
        RAISE EXCEPTION 'invariant broken: restocked % of % products for refund %', v_n, cardinality(v_skus), v_ref.id;
      END IF;
    END IF;
    PERFORM orderlock_append_event('refund.succeeded', v_ref.id);
    IF v_ref.kind <> 'late_success' AND v_order.status = 'paid'
       AND v_order.refunded_cents + v_ref.amount_cents = v_order.total_cents THEN
      PERFORM orderlock_append_event('order.refunded', v_order.id);
    END IF;
    RETURN EXISTS (SELECT 1 FROM orderlock_record_refunds(ARRAY[v_ref.id], 'refund', p_shard));
  END IF;

  RETURN EXISTS (SELECT 1 FROM orderlock_record_refunds(ARRAY[v_ref.id], 'reversal', p_shard));
END
$fn$;
