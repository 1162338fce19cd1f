-- The one way an event is written: in the transaction that makes the change,
-- right after it, by the caller that holds the resource's row lock. The event
-- keeps the resource's facts as they are now (its row: a payment's, a
-- refund's; an order with its lines, orderlock_order_facts); the service renders `data.object` from them
-- with the resource's one renderer. Returns those facts.
--
-- Its id is time-ordered (orderlock_new_id, a UUID version 7; src/db/new-id.ts):
-- a new event's key entries land at the end of the events' indexes.
--
-- Its feed position is this transaction's id, or the resource's previous
-- event's position if that is higher: the previous event committed before
-- this transaction got the row lock, so this statement's snapshot sees it,
-- and the resource's events come in the order of its changes even when this
-- transaction took its id earlier. (A position is never lower than the
-- writer's own transaction id, which is what keeps the feed gap-free: see
-- src/events/list-events.ts.)
CREATE OR REPLACE FUNCTION orderlock_append_event(p_type text, p_resource_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_facts jsonb;
BEGIN
  IF p_type LIKE 'order.%' THEN
    v_facts := orderlock_order_facts(p_resource_id);
  ELSIF p_type LIKE 'payment.%' THEN
    SELECT to_jsonb(p) INTO v_facts FROM payments p WHERE p.id = p_resource_id;
  ELSIF p_type LIKE 'refund.%' THEN
    SELECT to_jsonb(r) INTO v_facts FROM refunds r WHERE r.id = p_resource_id;
  ELSE
    RAISE EXCEPTION 'no facts for event type %', p_type USING ERRCODE = '22023';
  END IF;
  IF v_facts IS NULL THEN
    RAISE EXCEPTION 'event % for a missing resource %', p_type, p_resource_id USING ERRCODE = '22023';
  END IF;
  INSERT INTO events (id, type, resource_id, resource_version, position, facts)
  SELECT 'evt_' || replace(orderlock_new_id()::text, '-', ''), p_type, p_resource_id, (v_facts ->> 'version')::int,
         greatest(pg_current_xact_id(), (SELECT max(e.position) FROM events e WHERE e.resource_id = p_resource_id)),
         v_facts;
  RETURN v_facts;
END
$fn$;
