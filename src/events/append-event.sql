-- One event (orderlock_append_events, the one definition, for one
-- resource): returns the resource's facts it keeps.
CREATE OR REPLACE FUNCTION orderlock_append_event(p_type text, p_resource_id uuid) RETURNS jsonb
LANGUAGE sql VOLATILE
AS $fn$
  SELECT a.facts FROM orderlock_append_events(p_type, ARRAY[p_resource_id]) a
$fn$;
