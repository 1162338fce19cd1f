-- One provider event received at most once: orderlock_receive_provider_events
-- for one event. True: recorded now; false: its id was already recorded
-- (the caller answers `duplicate` and does nothing else).
CREATE OR REPLACE FUNCTION orderlock_receive_provider_event(p_event_id text, p_payment_id uuid, p_type text) RETURNS boolean
LANGUAGE sql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
  SELECT count(*) = 1 FROM orderlock_receive_provider_events(ARRAY[p_event_id], ARRAY[p_payment_id], ARRAY[p_type])
$fn$;
