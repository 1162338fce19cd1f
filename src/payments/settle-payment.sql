-- One provider event about one payment, applied at most once, in the
-- caller's transaction (always through orderlock_settle_payments, which has
-- locked the payment, its order and the order's product rows first; the
-- locks here are then already held). In order:
--   1. lock the payment row FOR UPDATE, then record the event id
--      (orderlock_receive_provider_event): already recorded → duplicate,
--      nothing else happens;
--   2. the verdict (orderlock_payment_verdict) and its effect:
--        ignored, duplicate → the event's outcome is recorded, nothing else;
--        late_success       → a full refund with reason `late_success`; the
--                             caller asks the provider for it after COMMIT;
--        conclude           → orderlock_conclude_payments (the payment and
--                             its order change; a success sells the order's
--                             held stock), which returns the event the
--                             change calls for (order.paid for the order,
--                             payment.failed for the payment).
--      orderlock_settle_payments writes those events for the whole batch,
--      per type, in this transaction: each resource changes at most once
--      per batch (one pending payment per order; a payment's second event
--      is a duplicate), so its facts read at the batch's end are its facts
--      right after its change.
-- Lock order: payment → order → products → counters, as everywhere.
CREATE OR REPLACE FUNCTION orderlock_settle_payment(
  p_event_id text, p_type text, p_payment_id uuid, p_amount_cents bigint, p_hold_seconds int
) RETURNS TABLE (outcome text, reason text, paid_by uuid, paid_cents bigint, late_refund_id uuid, event_type text, event_resource uuid)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_pay payments%ROWTYPE;
  v_verdict text;
  v_reason text;
  v_late_refund uuid;
BEGIN
  IF p_payment_id IS NOT NULL THEN
    SELECT * INTO v_pay FROM payments WHERE id = p_payment_id FOR UPDATE;
  END IF;
  SELECT v.verdict, v.reason INTO v_verdict, v_reason
    FROM orderlock_payment_verdict(p_type, p_amount_cents, v_pay.status, v_pay.amount_cents,
           v_pay.status IN ('failed', 'expired')
           AND EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = v_pay.id AND r.kind = 'late_success')) v;
  IF NOT orderlock_receive_provider_event(p_event_id, p_payment_id, p_type) THEN
    RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, NULL::uuid, NULL::bigint, NULL::uuid, NULL::text, NULL::uuid;
    RETURN;
  END IF;

  IF v_verdict IN ('ignored', 'duplicate') THEN
    UPDATE payment_events SET outcome = v_verdict WHERE event_id = p_event_id;
    RETURN QUERY SELECT v_verdict, v_reason, NULL::uuid, NULL::bigint, NULL::uuid, NULL::text, NULL::uuid;
  ELSIF v_verdict = 'late_success' THEN
    INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status)
    VALUES (v_pay.id, v_pay.order_id, v_pay.amount_cents, v_pay.currency, 'late_success', 'late_success', 'pending')
    RETURNING id INTO v_late_refund;
    UPDATE payments SET refund_claimed_cents = refund_claimed_cents + v_pay.amount_cents WHERE id = v_pay.id;
    RETURN QUERY SELECT 'processed'::text, v_reason, NULL::uuid, NULL::bigint, v_late_refund, NULL::text, NULL::uuid;
  ELSE
    RETURN QUERY
      SELECT 'processed'::text, c.reason, c.paid_by, c.paid_cents, NULL::uuid, c.event_type, c.event_resource
        FROM orderlock_conclude_payments(ARRAY[v_pay.id], ARRAY[p_type = 'payment.succeeded'], ARRAY[p_hold_seconds]) c;
  END IF;
END
$fn$;
