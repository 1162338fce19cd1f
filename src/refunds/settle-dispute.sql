-- A dispute (chargeback) signal, applied at most once, as its caller's
-- whole transaction. Disputes are refunds too (kind `dispute`, reason
-- `dispute`, no restock), one per provider dispute id (a unique index).
--   1. lock the payment row FOR UPDATE, then record the event id
--      (payment_events primary key): already recorded → duplicate;
--   2. funds_withdrawn: the dispute's refund exists → duplicate; the payment
--      is unknown, not succeeded, or the amount is not refundable → ignored
--      (logged, for review); else a refund is created and succeeds at once
--      (orderlock_apply_refund: payment and order refundedCents, counters).
--      funds_reinstated: the dispute's refund is succeeded → reversed
--      (orderlock_apply_refund: amounts given back, counter entry reversed
--      on today's UTC day); already reversed → duplicate; no refund yet (the
--      reinstatement overtook the withdrawal) → the dispute's refund is
--      recorded as already reversed, so the late withdrawal is a duplicate
--      and nothing ever moves for a dispute that netted to nothing.
-- Lock order: payment → refund → order → products → counters.
CREATE OR REPLACE FUNCTION orderlock_settle_dispute(
  p_event_id text, p_payment_id uuid, p_dispute_id text, p_kind text, p_amount_cents bigint, p_shard int
) RETURNS TABLE (outcome text, reason text, refund_id uuid, counted boolean)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_pay payments%ROWTYPE;
  v_ref refunds%ROWTYPE;
  v_outcome text;
  v_reason text;
  v_counted boolean := false;
BEGIN
  IF p_kind NOT IN ('funds_withdrawn', 'funds_reinstated') THEN
    RAISE EXCEPTION 'unknown dispute signal %', p_kind USING ERRCODE = '22023';
  END IF;
  IF p_payment_id IS NOT NULL THEN
    SELECT * INTO v_pay FROM payments WHERE id = p_payment_id FOR UPDATE;
  END IF;
  IF NOT orderlock_receive_provider_event(p_event_id, v_pay.id, 'dispute.' || p_kind) THEN
    RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, NULL::uuid, false;
    RETURN;
  END IF;
  SELECT * INTO v_ref FROM refunds r WHERE r.dispute_id = p_dispute_id FOR UPDATE;

  IF v_pay.id IS NULL THEN
    v_outcome := 'ignored'; v_reason := 'unknown payment';
  ELSIF v_ref.id IS NOT NULL AND v_ref.payment_id <> v_pay.id THEN
    v_outcome := 'ignored'; v_reason := 'dispute belongs to another payment';
  ELSIF v_ref.id IS NOT NULL AND v_ref.amount_cents <> p_amount_cents THEN
    v_outcome := 'ignored'; v_reason := format('amount mismatch: event %s, dispute %s', p_amount_cents, v_ref.amount_cents);
  ELSIF p_kind = 'funds_withdrawn' THEN
    IF v_ref.id IS NOT NULL THEN
      v_outcome := 'duplicate'; v_reason := format('dispute refund already %s', v_ref.status);
    ELSIF v_pay.status <> 'succeeded' THEN
      v_outcome := 'ignored'; v_reason := format('dispute on a %s payment; needs review', v_pay.status);
    ELSIF p_amount_cents <= 0 OR p_amount_cents > v_pay.amount_cents - v_pay.refund_claimed_cents THEN
      v_outcome := 'ignored';
      v_reason := format('dispute of %s exceeds the refundable %s; needs review', p_amount_cents,
                         v_pay.amount_cents - v_pay.refund_claimed_cents);
    ELSE
      INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status, dispute_id)
      VALUES (v_pay.id, v_pay.order_id, p_amount_cents, v_pay.currency, 'dispute', 'dispute', 'pending', p_dispute_id)
      RETURNING * INTO v_ref;
      UPDATE payments SET refund_claimed_cents = refund_claimed_cents + p_amount_cents WHERE id = v_pay.id;
      v_counted := orderlock_apply_refund(v_ref.id, 'succeeded', p_shard);
      v_outcome := 'processed'; v_reason := 'funds withdrawn: dispute refund succeeded';
    END IF;
  ELSE
    IF v_ref.id IS NULL THEN
      IF p_amount_cents <= 0 THEN
        v_outcome := 'ignored'; v_reason := 'reinstatement of nothing';
      ELSE
        INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status, dispute_id, settled_at)
        VALUES (v_pay.id, v_pay.order_id, p_amount_cents, v_pay.currency, 'dispute', 'dispute', 'reversed', p_dispute_id, now())
        RETURNING * INTO v_ref;
        v_outcome := 'processed'; v_reason := 'funds reinstated before their withdrawal was seen: recorded as reversed';
      END IF;
    ELSIF v_ref.status = 'reversed' THEN
      v_outcome := 'duplicate'; v_reason := 'dispute refund already reversed';
    ELSE
      v_counted := orderlock_apply_refund(v_ref.id, 'reversed', p_shard);
      v_outcome := 'processed'; v_reason := 'funds reinstated: dispute refund reversed';
    END IF;
  END IF;
  IF v_outcome <> 'processed' THEN
    UPDATE payment_events SET outcome = v_outcome WHERE event_id = p_event_id;
  END IF;
  RETURN QUERY SELECT v_outcome, v_reason, v_ref.id, v_counted;
END
$fn$;
