-- Every change of an order's status, by any statement of any path (the
-- service's TypeScript, every SQL function, a hand-written UPDATE), obeys
-- the state machine (orderlock_order_may_become): anything else is refused
-- with SQLSTATE 23514 (check_violation) and the constraint name
-- orders_status_transition, so the statement and its transaction fail
-- and nothing is written. The service maps that name to 409 invalid_state.
-- Cost: the trigger's WHEN skips every update that keeps the status; a
-- change runs one PL/pgSQL call evaluating one inlined expression.
CREATE OR REPLACE FUNCTION orderlock_guard_order_status() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  IF NOT orderlock_order_may_become(OLD.status, NEW.status) THEN
    RAISE EXCEPTION 'an order cannot go from % to %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_status_transition',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'status';
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE TRIGGER orders_status_transition
  BEFORE UPDATE OF status ON orders
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION orderlock_guard_order_status();
