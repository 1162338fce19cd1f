-- The refund verdict, its one definition: one provider signal about one
-- refund, applied at most once, as its caller's whole transaction. The
-- refund is named by our id (p_refund_id) or by the provider's
-- (p_provider_refund_id). With p_payment_id set, a succeeded refund the
-- provider reports and we do not know (made in the provider's dashboard)
-- becomes a refund here, kind `provider`, without restock.
--   1. lock the payment row FOR UPDATE (every refund change holds it, so
--      refunds of one payment are serialised), then record the event id
--      (payment_events primary key): already recorded → duplicate;
--   2. verdict:
--        unknown refund (and not a provider refund we can record) → ignored
--        amount differs from the refund's                          → ignored
--        refund already settled (any status but pending)           → duplicate
--        pending refund                                            → processed:
--          orderlock_apply_refund (the effects' one definition).
-- Lock order: payment → refund → order → products → counters.
CREATE OR REPLACE FUNCTION orderlock_settle_refund(
  p_event_id text, p_refund_id uuid, p_provider_refund_id text, p_payment_id uuid, p_outcome text, p_amount_cents bigint, p_shard int
) RETURNS TABLE (outcome text, reason text, refund_id uuid, counted boolean)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_payment_id uuid;
  v_pay payments%ROWTYPE;
  v_ref refunds%ROWTYPE;
  v_outcome text;
  v_reason text;
  v_counted boolean := false;
BEGIN
  IF p_outcome NOT IN ('succeeded', 'failed') THEN
    RAISE EXCEPTION 'unknown refund outcome %', p_outcome USING ERRCODE = '22023';
  END IF;
  -- A refund's payment never changes: found without a lock, then locked first.
  SELECT r.payment_id INTO v_payment_id FROM refunds r
   WHERE (p_refund_id IS NOT NULL AND r.id = p_refund_id)
      OR (p_refund_id IS NULL AND p_provider_refund_id IS NOT NULL AND r.provider_refund_id = p_provider_refund_id);
  v_payment_id := coalesce(v_payment_id, p_payment_id);
  IF v_payment_id IS NOT NULL THEN
    SELECT * INTO v_pay FROM payments WHERE id = v_payment_id FOR UPDATE;
  END IF;
  IF NOT orderlock_receive_provider_event(p_event_id, v_pay.id, 'refund.' || p_outcome) THEN
    RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, NULL::uuid, false;
    RETURN;
  END IF;

  SELECT * INTO v_ref FROM refunds r
   WHERE r.payment_id = v_pay.id
     AND ((p_refund_id IS NOT NULL AND r.id = p_refund_id)
          OR (p_refund_id IS NULL AND p_provider_refund_id IS NOT NULL AND r.provider_refund_id = p_provider_refund_id))
   FOR UPDATE;

  IF v_ref.id IS NULL AND p_payment_id IS NOT NULL AND p_provider_refund_id IS NOT NULL AND v_pay.id IS NOT NULL THEN
    IF p_outcome <> 'succeeded' THEN
      v_outcome := 'ignored'; v_reason := 'a failed refund we never asked for changes nothing';
    ELSIF v_pay.status <> 'succeeded' THEN
      v_outcome := 'ignored'; v_reason := format('provider refund for a %s payment', v_pay.status);
    ELSIF p_amount_cents <= 0 OR p_amount_cents > v_pay.amount_cents - v_pay.refund_claimed_cents THEN
      v_outcome := 'ignored';
      v_reason := format('provider refund of %s exceeds the refundable %s; needs review', p_amount_cents,
                         v_pay.amount_cents - v_pay.refund_claimed_cents);
    ELSE
      INSERT INTO refunds (payment_id, order_id, amount_cents, currency, reason, kind, status, provider_refund_id)
      VALUES (v_pay.id, v_pay.order_id, p_amount_cents, v_pay.currency, 'made at the provider', 'provider', 'pending',
              p_provider_refund_id)
      RETURNING * INTO v_ref;
      UPDATE payments SET refund_claimed_cents = refund_claimed_cents + p_amount_cents WHERE id = v_pay.id;
    END IF;
  ELSIF v_ref.id IS NULL THEN
    v_outcome := 'ignored'; v_reason := 'unknown refund';
  ELSIF v_ref.amount_cents <> p_amount_cents THEN
    v_outcome := 'ignored'; v_reason := format('amount mismatch: event %s, refund %s', p_amount_cents, v_ref.amount_cents);
  ELSIF v_ref.status <> 'pending' THEN
    v_outcome := 'duplicate'; v_reason := format('refund already %s', v_ref.status);
  END IF;
  IF v_outcome IS NOT NULL THEN
    UPDATE payment_events SET outcome = v_outcome WHERE event_id = p_event_id;
    RETURN QUERY SELECT v_outcome, v_reason, v_ref.id, false;
    RETURN;
  END IF;

  IF p_provider_refund_id IS NOT NULL AND v_ref.provider_refund_id IS NULL THEN
    UPDATE refunds SET provider_refund_id = p_provider_refund_id WHERE id = v_ref.id;
  END IF;
  v_counted := orderlock_apply_refund(v_ref.id, p_outcome, p_shard);
  RETURN QUERY SELECT 'processed'::text, format('refund %s', p_outcome), v_ref.id, v_counted;
END
$fn$;
