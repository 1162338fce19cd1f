-- The one definition of "a provider event is applied at most once": its
-- event id is recorded (payment_events' primary key) in the caller's
-- transaction, provisionally as `processed` (the caller sets the final
-- outcome). False: the id was already recorded, so the caller does nothing
-- else and answers `duplicate`. Concurrent deliveries of one id wait on the
-- key and then find it. Used by the payment, refund and dispute settlements.
CREATE OR REPLACE FUNCTION orderlock_receive_provider_event(p_event_id text, p_payment_id uuid, p_type text) RETURNS boolean
LANGUAGE sql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
  WITH recorded AS (
    INSERT INTO payment_events (event_id, payment_id, type, outcome)
    VALUES (p_event_id, p_payment_id, p_type, 'processed')
    ON CONFLICT (event_id) DO NOTHING
    RETURNING 1
  )
  SELECT EXISTS (SELECT 1 FROM recorded)
$fn$;
