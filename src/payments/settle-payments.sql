-- Provider events about payments in ONE transaction: the service batches
-- the events that arrive while earlier ones are in the database
-- (src/db/batcher.ts); one event alone is a batch of one. Each element of
-- p_events carries one event (eventId, type, paymentId, amountCents,
-- holdSeconds: the fresh hold a failure gives the order).
--
-- What must stay true (lock order: payments → orders → products →
-- counters, each class in key order, as everywhere):
-- - A batch of several events locks every payment it names (by id), then
--   their pending payments' orders (by id), then the product rows of the
--   orders a success would sell (by SKU), all up front; only then does it
--   judge each event, in arrival order, with orderlock_settle_payment (the
--   verdict; it finds the payment already locked). One event alone is
--   settled the same way without the locks up front: the verdict locks the
--   payment, orderlock_apply_payments its order and products.
-- - What the verdicts call for (payment, order, stock) is applied by
--   orderlock_apply_payments for all the batch's payments at once, after
--   the loop: one statement per table, not one per payment. An event about
--   a payment judged processed earlier in the batch first has what is
--   judged so far applied, so it is judged on the payment as it now is, as
--   one by one.
-- - The events the settlements call for are written after that, one
--   orderlock_append_events per event type, in arrival order within a type
--   (each resource changes at most once per batch: see settle-payment.sql).
-- - The counters move last, once per batch, set-based
--   (orderlock_record_purchases): per payment at most once, by
--   counted_payments' key.
-- - Two events with one id in a batch: the second finds the first's event
--   row (same transaction) and is a duplicate.
CREATE OR REPLACE FUNCTION orderlock_settle_payments(p_events jsonb, p_shard int)
RETURNS TABLE (pos int, outcome text, reason text, counted boolean, late_refund_id uuid)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_e record;
  v_s record;
  v_ids uuid[];
  v_succeeding uuid[];
  v_orders uuid[];
  v_selling uuid[];
  v_pos int[] := '{}';
  v_outcomes text[] := '{}';
  v_reasons text[] := '{}';
  v_paid uuid[] := '{}';
  v_customers uuid[] := '{}';
  v_amounts bigint[] := '{}';
  v_payment_of uuid[] := '{}';
  v_late_refunds uuid[] := '{}';
  v_counted uuid[];
  v_event_types text[] := '{}';
  v_event_ids uuid[] := '{}';
  v_type text;
  v_payment uuid;
  v_apply_ids uuid[] := '{}';
  v_apply_versions int[] := '{}';
  v_apply_orders uuid[] := '{}';
  v_apply_success boolean[] := '{}';
  v_apply_holds int[] := '{}';
BEGIN
  -- One event alone takes its rows itself, in the same order (payment, then
  -- its order, then the order's products): no locks up front.
  IF jsonb_array_length(p_events) > 1 THEN
    SELECT array_agg(DISTINCT x.id), array_agg(DISTINCT x.id) FILTER (WHERE x.type = 'payment.succeeded')
      INTO v_ids, v_succeeding
      FROM (SELECT (e ->> 'paymentId')::uuid AS id, e ->> 'type' AS type FROM jsonb_array_elements(p_events) e) x
     WHERE x.id IS NOT NULL;
    -- The payments locked and read in one statement. Their status is read
    -- after the lock, above the locking subquery: a status test beside the
    -- ids could be planned as a scan of every pending payment (a partial
    -- index on status), stale statistics permitting.
    SELECT array_agg(x.order_id) FILTER (WHERE x.status = 'pending'),
           array_agg(x.order_id) FILTER (WHERE x.status = 'pending' AND x.id = ANY(v_succeeding))
      INTO v_orders, v_selling
      FROM (SELECT p.id, p.order_id, p.status FROM payments p WHERE p.id = ANY(v_ids) ORDER BY p.id FOR UPDATE) x;
    PERFORM 1 FROM orders o WHERE o.id = ANY(v_orders) ORDER BY o.id FOR UPDATE;
    -- (= ANY(ARRAY(...)), not IN (SELECT ...): the generic plan of IN scans the table.)
    PERFORM 1 FROM products pr
      WHERE pr.sku = ANY(ARRAY(SELECT l.sku FROM order_lines l WHERE l.order_id = ANY(v_selling)))
      ORDER BY pr.sku FOR UPDATE;
  END IF;

  FOR v_e IN SELECT x.e, x.n FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, n) LOOP
    v_payment := (v_e.e ->> 'paymentId')::uuid;
    IF v_payment = ANY(v_apply_ids) THEN
      -- Judged processed earlier in this batch: apply what is judged so far,
      -- so that this event is judged on the payment as it now is.
      PERFORM orderlock_apply_payments(v_apply_ids, v_apply_versions, v_apply_orders, v_apply_success, v_apply_holds);
      v_apply_ids := '{}'; v_apply_versions := '{}'; v_apply_orders := '{}'; v_apply_success := '{}'; v_apply_holds := '{}';
    END IF;
    SELECT * INTO v_s FROM orderlock_settle_payment(
      v_e.e ->> 'eventId', v_e.e ->> 'type', v_payment, (v_e.e ->> 'amountCents')::bigint);
    IF v_s.apply_version IS NOT NULL THEN
      v_apply_ids := v_apply_ids || v_payment;
      v_apply_versions := v_apply_versions || v_s.apply_version;
      v_apply_orders := v_apply_orders || v_s.apply_order_id;
      v_apply_success := v_apply_success || v_s.apply_success;
      v_apply_holds := v_apply_holds || (v_e.e ->> 'holdSeconds')::int;
    END IF;
    v_pos := v_pos || v_e.n::int;
    v_outcomes := v_outcomes || v_s.outcome;
    v_reasons := v_reasons || v_s.reason;
    v_late_refunds := v_late_refunds || v_s.late_refund_id;
    IF v_s.event_type IS NOT NULL THEN
      v_event_types := v_event_types || v_s.event_type;
      v_event_ids := v_event_ids || v_s.event_resource;
    END IF;
    v_payment_of := v_payment_of || CASE WHEN v_s.paid_by IS NOT NULL THEN v_payment END;
    IF v_s.paid_by IS NOT NULL THEN
      v_paid := v_paid || v_payment;
      v_customers := v_customers || v_s.paid_by;
      v_amounts := v_amounts || v_s.paid_cents;
    END IF;
  END LOOP;
  IF cardinality(v_apply_ids) > 0 THEN
    PERFORM orderlock_apply_payments(v_apply_ids, v_apply_versions, v_apply_orders, v_apply_success, v_apply_holds);
  END IF;

  IF cardinality(v_event_types) > 0 AND v_event_types[1] = ALL(v_event_types) THEN
    -- All of one type, the usual batch: one call, no grouping.
    PERFORM 1 FROM orderlock_append_events(v_event_types[1], v_event_ids);
  ELSE
    FOR v_type IN SELECT x.t FROM unnest(v_event_types) WITH ORDINALITY AS x(t, n) GROUP BY x.t ORDER BY min(x.n) LOOP
      PERFORM 1 FROM orderlock_append_events(v_type,
        ARRAY(SELECT x.id FROM unnest(v_event_types, v_event_ids) WITH ORDINALITY AS x(t, id, n) WHERE x.t = v_type ORDER BY x.n));
    END LOOP;
  END IF;

  v_counted := ARRAY(SELECT orderlock_record_purchases(v_paid, v_customers, v_amounts, p_shard));
  RETURN QUERY
    SELECT r.pos, r.outcome, r.reason, coalesce(r.payment_id = ANY(v_counted), false), r.late_refund_id
      FROM unnest(v_pos, v_outcomes, v_reasons, v_payment_of, v_late_refunds) AS r(pos, outcome, reason, payment_id, late_refund_id);
END
$fn$;
