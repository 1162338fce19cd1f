-- The payment verdict, the only definition of it: what one new provider
-- event (its event id not seen before) about one payment calls for, from
-- the payment as it is under the caller's lock (status and amount; NULL:
-- no such payment) and whether a late-success refund of it exists.
--   unknown payment, or amount mismatch          → ignored
--   success for a succeeded payment               → duplicate
--   success for a failed or expired payment      → late_success: processed
--            as a full refund with reason `late_success` (the money moved
--            at the provider, the order never gets it); no stock, counter
--            or order moves. Again for that payment → duplicate (one
--            late-success refund per payment, a unique index).
--   failure for a failed payment                  → duplicate
--   failure for an expired payment                → ignored
--   failure for a succeeded payment               → ignored (paid is final)
--   pending payment with the exact amount         → conclude: processed by
--            orderlock_conclude_payments
-- An event type other than payment.succeeded and payment.failed is refused
-- (22023). Used one event at a time (orderlock_settle_payment) and for a
-- whole batch at once (orderlock_settle_payments).
CREATE OR REPLACE FUNCTION orderlock_payment_verdict(
  p_type text, p_event_cents bigint, p_status text, p_cents bigint, p_late_refunded boolean,
  OUT verdict text, OUT reason text
)
LANGUAGE plpgsql IMMUTABLE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_success boolean := p_type = 'payment.succeeded';
BEGIN
  IF p_type IS NULL OR p_type NOT IN ('payment.succeeded', 'payment.failed') THEN
    RAISE EXCEPTION 'unknown payment event type %', p_type USING ERRCODE = '22023';
  END IF;
  IF p_status IS NULL THEN
    verdict := 'ignored'; reason := 'unknown payment';
  ELSIF p_cents <> p_event_cents THEN
    verdict := 'ignored'; reason := format('amount mismatch: event %s, payment %s', p_event_cents, p_cents);
  ELSIF p_status = 'succeeded' THEN
    IF v_success THEN verdict := 'duplicate'; reason := 'payment already succeeded';
    ELSE verdict := 'ignored'; reason := 'failure signal for a payment that already succeeded'; END IF;
  ELSIF p_status IN ('failed', 'expired') AND v_success THEN
    IF p_late_refunded THEN verdict := 'duplicate'; reason := 'late success already refunded';
    ELSE verdict := 'late_success'; reason := format('success for a %s payment: refunded in full (late_success)', p_status); END IF;
  ELSIF p_status = 'failed' THEN
    verdict := 'duplicate'; reason := 'payment already failed';
  ELSIF p_status = 'expired' THEN
    verdict := 'ignored'; reason := 'failure signal for a payment that already expired';
  ELSE
    verdict := 'conclude'; reason := NULL;
  END IF;
END
$fn$;
