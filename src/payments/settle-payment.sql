-- The payment verdict: one provider event about one payment, judged at most
-- once, in the caller's transaction (always through
-- orderlock_settle_payments; in a batch of several events it has locked
-- the payment, its order and the order's product rows first, and the lock
-- here is then already held). In order:
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
--        failure for a pending payment past expires_at → ignored (its order
--                 already reads as expired; the sweeper expires both)
--        success for a failed or expired payment of 0  → ignored (nothing
--                 to refund)
--        failure for a succeeded payment               → ignored (paid is final)
--        pending payment with the exact amount         → processed
--   3. processed, for a pending payment: returns the payment's version read
--      under the lock (apply_version), its order (apply_order_id) and
--      whether it succeeded (apply_success), and the caller applies the verdict
--      with orderlock_apply_payments (apply-payments.sql: payment, order,
--      stock) before it judges another event of the same payment; a batch
--      applies the verdicts of all its payments at once. A success returns
--      who paid what, for counting.
--      Each returns the event it calls for (order.paid for the order,
--      payment.failed for the payment), which orderlock_settle_payments
--      writes for the whole batch, per type, in this transaction: each
--      resource changes at most once per batch (one pending payment per
--      order; a payment's second event is a duplicate), so its facts read at
--      the batch's end are its facts right after its change.
-- Lock order: payment → order → products → counters, as everywhere.
CREATE OR REPLACE FUNCTION orderlock_settle_payment(
  p_event_id text, p_type text, p_payment_id uuid, p_amount_cents bigint
) RETURNS TABLE (outcome text, reason text, paid_by uuid, paid_cents bigint, late_refund_id uuid, event_type text, event_resource uuid,
                 apply_version int, apply_order_id uuid, apply_success boolean)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_pay payments%ROWTYPE;
  v_success boolean := p_type = 'payment.succeeded';
  v_outcome text;
  v_reason text;
  v_late_refund uuid;
BEGIN
  IF p_type NOT IN ('payment.succeeded', 'payment.failed') THEN
    RAISE EXCEPTION 'unknown payment event type %', p_type USING ERRCODE = '22023';
  END IF;
  IF p_payment_id IS NOT NULL THEN
    SELECT * INTO v_pay FROM payments WHERE id = p_payment_id FOR UPDATE;
  END IF;
  IF NOT orderlock_receive_provider_event(p_event_id, p_payment_id, p_type) THEN
    RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, NULL::uuid, NULL::bigint, NULL::uuid, NULL::text, NULL::uuid, NULL::int, NULL::uuid, NULL::boolean;
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
    ELSIF v_pay.amount_cents = 0 THEN
      v_outcome := 'ignored'; v_reason := format('success for a %s payment of 0: nothing to refund', v_pay.status);
    ELSE
      INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status)
      VALUES (v_pay.id, v_pay.order_id, v_pay.amount_cents, v_pay.currency, 'late_success', 'late_success', 'pending')
      RETURNING id INTO v_late_refund;
      UPDATE payments SET refund_claimed_cents = refund_claimed_cents + v_pay.amount_cents WHERE id = v_pay.id;
      RETURN QUERY SELECT 'processed'::text, format('success for a %s payment: refunded in full (late_success)', v_pay.status),
                          NULL::uuid, NULL::bigint, v_late_refund, NULL::text, NULL::uuid, NULL::int, NULL::uuid, NULL::boolean;
      RETURN;
    END IF;
  ELSIF v_pay.status = 'failed' THEN
    v_outcome := 'duplicate'; v_reason := 'payment already failed';
  ELSIF v_pay.status = 'expired' THEN
    v_outcome := 'ignored'; v_reason := 'failure signal for a payment that already expired';
  ELSIF NOT v_success AND v_pay.expires_at <= clock_timestamp() THEN
    -- Past its expiry, not yet swept: its order already reads as expired,
    -- and the sweeper expires both; a failure must not hold the order again.
    v_outcome := 'ignored'; v_reason := 'failure signal for a payment past its expiry';
  END IF;
  IF v_outcome IS NOT NULL THEN
    UPDATE payment_events SET outcome = v_outcome WHERE event_id = p_event_id;
    RETURN QUERY SELECT v_outcome, v_reason, NULL::uuid, NULL::bigint, NULL::uuid, NULL::text, NULL::uuid, NULL::int, NULL::uuid, NULL::boolean;
    RETURN;
  END IF;

  -- processed: the caller applies it (orderlock_apply_payments) before it
  -- judges another event of this payment.
  IF v_success THEN
    RETURN QUERY SELECT 'processed'::text, 'payment succeeded; order paid'::text, v_pay.customer_id, v_pay.amount_cents, NULL::uuid,
                        'order.paid'::text, v_pay.order_id, v_pay.version, v_pay.order_id, true;
  ELSE
    RETURN QUERY SELECT 'processed'::text, 'payment failed; order reserved again'::text, NULL::uuid, NULL::bigint, NULL::uuid,
                        'payment.failed'::text, v_pay.id, v_pay.version, v_pay.order_id, false;
  END IF;
END
$fn$;
