-- The one definition of "a provider event is applied at most once": its
-- event id is recorded (payment_events' primary key) in the caller's
-- transaction, provisionally as `processed` (the caller sets the final
-- outcome otherwise). An id already recorded inserts nothing, and the
-- caller does nothing else with that event but answer `duplicate`.
-- Concurrent deliveries of one id wait on the key and then find it.
-- orderlock_receive_provider_events takes several events (distinct ids, in
-- id order) and returns the ids it recorded; orderlock_receive_provider_event
-- takes one and says whether it recorded it. Used by the payment, refund
-- and dispute settlements.
CREATE OR REPLACE FUNCTION orderlock_receive_provider_events(p_event_ids text[], p_payment_ids uuid[], p_types text[])
RETURNS SETOF text
LANGUAGE sql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
  INSERT INTO payment_events (event_id, payment_id, type, outcome)
  SELECT r.event_id, r.payment_id, r.type, 'processed'
    FROM unnest(p_event_ids, p_payment_ids, p_types) AS r(event_id, payment_id, type)
   ORDER BY r.event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
$fn$;
