-- The one way events are written: in the transaction that makes the changes,
-- right after them, by the caller that holds the resources' row locks; one
-- event of type p_type per resource id, in the order given (their feed
-- order within this transaction). Each event keeps its resource's facts as
-- they are now (its row: a payment's, a refund's; an order with its lines,
-- orderlock_order_facts); the service renders `data.object` from them with
-- the resource's one renderer. Returns those facts, in the order given.
-- Each resource's row is read by a correlated subquery on its key, an index
-- lookup whatever the statistics say (a join of the ids with the table can
-- be planned as a scan of the whole table).
-- An event's id is time-ordered (orderlock_new_id, a UUID version 7;
-- src/db/new-id.ts): a new event's key entries land at the end of the
-- events' indexes. The API shows it as `evt_` and 32 hex digits
-- (src/events/event-id.ts).
--
-- An event's feed position is this transaction's id, or its resource's
-- previous event's position if that is higher: the previous event committed
-- before this transaction got the row lock, so this statement's snapshot
-- sees it, and a resource's events come in the order of its changes even
-- when this transaction took its id earlier. (A position is never lower than
-- the writer's own transaction id, which is what keeps the feed gap-free: see
-- src/events/list-events.ts.) The previous event is the one of the highest
-- version (positions never go down along a resource's versions), found on
-- the unique (resource_id, resource_version, type) index; a resource at its
-- first version has none.
CREATE OR REPLACE FUNCTION orderlock_append_events(p_type text, p_ids uuid[])
RETURNS TABLE (resource_id uuid, facts jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_facts jsonb[];
BEGIN
  IF p_type LIKE 'order.%' THEN
    v_facts := ARRAY(SELECT f.facts FROM orderlock_order_facts(p_ids) f ORDER BY f.n);
  ELSIF p_type LIKE 'payment.%' THEN
    v_facts := ARRAY(SELECT (SELECT to_jsonb(p) FROM payments p WHERE p.id = r.id) FROM unnest(p_ids) WITH ORDINALITY AS r(id, n) ORDER BY r.n);
  ELSIF p_type LIKE 'refund.%' THEN
    v_facts := ARRAY(SELECT (SELECT to_jsonb(f) FROM refunds f WHERE f.id = r.id) FROM unnest(p_ids) WITH ORDINALITY AS r(id, n) ORDER BY r.n);
  ELSE
    RAISE EXCEPTION 'no facts for event type %', p_type USING ERRCODE = '22023';
  END IF;
  IF array_position(v_facts, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'event % for a missing resource %', p_type, p_ids[array_position(v_facts, NULL)] USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    INSERT INTO events AS ev (id, type, resource_id, resource_version, position, facts)
    SELECT orderlock_new_id(), p_type::orderlock_event_type, r.id, (r.f ->> 'version')::int,
           greatest(pg_current_xact_id(),
                    CASE WHEN (r.f ->> 'version')::int > 1 THEN
                      (SELECT e.position FROM events e WHERE e.resource_id = r.id ORDER BY e.resource_version DESC LIMIT 1)
                    END),
           r.f
      FROM unnest(p_ids, v_facts) WITH ORDINALITY AS r(id, f, n)
     ORDER BY r.n
    RETURNING ev.resource_id, ev.facts;
END
$fn$;
