import type { MigrationInterface, QueryRunner } from "typeorm";
import { ConfirmPaymentFunction1764000000004 } from "./1764000000004-ConfirmPaymentFunction.js";

/**
 * Several payment-success events in ONE transaction
 * (`orderlock_confirm_payments`), batched by the service like orders
 * (src/db/batcher.ts): one call, one lock per row and one commit for all the
 * confirmations that arrived while earlier ones were in the database.
 *
 * orderlock_confirm_payment (migration 4) is split in two, with no change of
 * behaviour: orderlock_settle_payment applies one event to the payment, the
 * order and the stock and says what to count; the counting is
 * orderlock_record_purchase for one payment, orderlock_record_purchases for
 * a batch.
 *
 * What must stay true (lock order: payments → orders → products → counters,
 * each class in key order, as everywhere):
 * - The batch locks every payment it names (by id), then their pending
 *   payments' orders (by id), then those orders' product rows (by SKU), all
 *   up front; only then does it settle each event, in arrival order, with
 *   exactly the single-event logic (which finds its rows already locked).
 * - The counters move last, once per batch, set-based: counted_payments (the
 *   dedupe key), the customer-day rows in customer order, then one counter
 *   shard row. Per payment at most once, as before: counted_payments' key.
 * - Two events with one id in a batch: the second finds the first's event
 *   row (same transaction) and is a duplicate.
 */
export class ConfirmPaymentsBatch1764000000007 implements MigrationInterface {
  name = "ConfirmPaymentsBatch1764000000007";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION orderlock_settle_payment(p_event_id text, p_payment_id uuid, p_amount_cents bigint)
      RETURNS TABLE (outcome text, reason text, paid_by uuid, paid_cents bigint)
      LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan
      AS $fn$
      DECLARE
        v_pay payments%ROWTYPE;
        v_order orders%ROWTYPE;
        v_outcome text;
        v_reason text;
        v_skus text[];
        v_qtys int[];
        v_sold int;
      BEGIN
        IF p_payment_id IS NOT NULL THEN
          SELECT * INTO v_pay FROM payments WHERE id = p_payment_id FOR UPDATE;
        END IF;
        INSERT INTO payment_events (event_id, payment_id, type, outcome)
        VALUES (p_event_id, p_payment_id, 'payment.succeeded', 'processed')
        ON CONFLICT (event_id) DO NOTHING;
        IF NOT FOUND THEN
          RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, NULL::uuid, NULL::bigint;
          RETURN;
        END IF;

        IF v_pay.id IS NULL THEN
          v_outcome := 'ignored'; v_reason := 'unknown payment';
        ELSIF v_pay.status = 'succeeded' THEN
          v_outcome := 'duplicate'; v_reason := 'payment already succeeded';
        ELSIF v_pay.status = 'failed' THEN
          v_outcome := 'ignored'; v_reason := 'success signal for a payment that already failed; needs a manual refund if money moved';
        ELSIF v_pay.amount_cents <> p_amount_cents THEN
          v_outcome := 'ignored'; v_reason := format('amount mismatch: event %s, payment %s', p_amount_cents, v_pay.amount_cents);
        END IF;
        IF v_outcome IS NOT NULL THEN
          UPDATE payment_events SET outcome = v_outcome WHERE event_id = p_event_id;
          RETURN QUERY SELECT v_outcome, v_reason, NULL::uuid, NULL::bigint;
          RETURN;
        END IF;

        SELECT * INTO v_order FROM orders WHERE id = v_pay.order_id FOR UPDATE;
        IF v_order.status IS DISTINCT FROM 'pending_payment' THEN
          RAISE EXCEPTION 'invariant broken: pending payment % has order % in % status', v_pay.id, v_pay.order_id, coalesce(v_order.status, 'no');
        END IF;

        UPDATE payments
           SET status = 'succeeded', succeeded_at = now(), version = version + 1, updated_at = now()
         WHERE id = v_pay.id AND version = v_pay.version AND status = 'pending';
        IF NOT FOUND THEN
          RAISE EXCEPTION 'concurrent modification of payment %', v_pay.id USING ERRCODE = '40001';
        END IF;
        UPDATE orders
           SET status = 'paid', reserved_until = NULL, version = version + 1, updated_at = now()
         WHERE id = v_order.id AND version = v_order.version;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'concurrent modification of order %', v_order.id USING ERRCODE = '40001';
        END IF;

        -- Read after the order lock: this snapshot sees the order's current lines.
        SELECT array_agg(sku ORDER BY sku), array_agg(quantity ORDER BY sku) INTO v_skus, v_qtys
          FROM order_lines WHERE order_id = v_order.id;
        WITH req AS (SELECT * FROM unnest(v_skus, v_qtys) AS r(sku, qty)),
        locked AS (SELECT p.sku FROM products p WHERE p.sku = ANY(v_skus) ORDER BY p.sku FOR UPDATE)
        UPDATE products p
           SET on_hand = p.on_hand - r.qty, reserved = p.reserved - r.qty, version = p.version + 1, updated_at = now()
          FROM req r, locked l
         WHERE p.sku = ANY(v_skus) AND p.sku = r.sku AND l.sku = r.sku;
        GET DIAGNOSTICS v_sold = ROW_COUNT;
        IF v_sold <> coalesce(cardinality(v_skus), 0) THEN
          RAISE EXCEPTION 'invariant broken: sold % of % products for order %', v_sold, cardinality(v_skus), v_order.id;
        END IF;

        RETURN QUERY SELECT 'processed'::text, 'payment succeeded; order paid'::text, v_pay.customer_id, v_pay.amount_cents;
      END
      $fn$`);

    await q.query(`
      CREATE OR REPLACE FUNCTION orderlock_confirm_payment(p_event_id text, p_payment_id uuid, p_amount_cents bigint, p_shard int)
      RETURNS TABLE (outcome text, reason text, counted boolean)
      LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan
      AS $fn$
      DECLARE
        v record;
      BEGIN
        SELECT * INTO v FROM orderlock_settle_payment(p_event_id, p_payment_id, p_amount_cents);
        RETURN QUERY SELECT v.outcome, v.reason,
          CASE WHEN v.outcome = 'processed' THEN orderlock_record_purchase(p_payment_id, v.paid_by, v.paid_cents, p_shard) ELSE false END;
      END
      $fn$`);

    await q.query(`
      CREATE FUNCTION orderlock_record_purchases(p_payment_ids uuid[], p_customer_ids uuid[], p_amounts bigint[], p_shard int)
      RETURNS SETOF uuid LANGUAGE sql VOLATILE
      AS $fn$
        WITH req AS (SELECT * FROM unnest(p_payment_ids, p_customer_ids, p_amounts) AS r(payment_id, customer_id, amount_cents)),
        counted AS (
          INSERT INTO counted_payments (payment_id, day, customer_id, amount_cents)
          SELECT r.payment_id, (now() AT TIME ZONE 'UTC')::date, r.customer_id, r.amount_cents FROM req r ORDER BY r.payment_id
          ON CONFLICT (payment_id) DO NOTHING
          RETURNING payment_id, day, customer_id, amount_cents
        ), first_of_day AS (
          INSERT INTO counted_customer_days (day, customer_id)
          SELECT DISTINCT c.day, c.customer_id FROM counted c ORDER BY c.customer_id
          ON CONFLICT (day, customer_id) DO NOTHING
          RETURNING customer_id
        ), bumped AS (
          -- (an aggregate over every counted row and every new customer-day:
          -- the shard row is taken after all of them, never between)
          INSERT INTO purchase_counters (day, shard, purchases, revenue_cents, unique_customers)
          SELECT c.day, p_shard, count(*), sum(c.amount_cents), (SELECT count(*) FROM first_of_day)
            FROM counted c GROUP BY c.day
          ON CONFLICT (day, shard) DO UPDATE
             SET purchases = purchase_counters.purchases + EXCLUDED.purchases,
                 revenue_cents = purchase_counters.revenue_cents + EXCLUDED.revenue_cents,
                 unique_customers = purchase_counters.unique_customers + EXCLUDED.unique_customers
          RETURNING 1
        )
        SELECT c.payment_id FROM counted c
      $fn$`);

    await q.query(`
      CREATE FUNCTION orderlock_confirm_payments(p_events jsonb, p_shard int)
      RETURNS TABLE (pos int, outcome text, reason text, counted boolean)
      LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan
      AS $fn$
      DECLARE
        v_e record;
        v_s record;
        v_ids uuid[];
        v_orders uuid[];
        v_pos int[] := '{}';
        v_outcomes text[] := '{}';
        v_reasons text[] := '{}';
        v_paid uuid[] := '{}';
        v_customers uuid[] := '{}';
        v_amounts bigint[] := '{}';
        v_payment_of uuid[] := '{}';
        v_counted uuid[];
      BEGIN
        -- (= ANY(ARRAY(...)), not IN (SELECT ...): the generic plan of IN scans the table.)
        v_ids := ARRAY(SELECT DISTINCT (e ->> 'paymentId')::uuid FROM jsonb_array_elements(p_events) e
                        WHERE e ->> 'paymentId' IS NOT NULL);
        PERFORM 1 FROM payments p WHERE p.id = ANY(v_ids) ORDER BY p.id FOR UPDATE;
        v_orders := ARRAY(SELECT p.order_id FROM payments p WHERE p.id = ANY(v_ids) AND p.status = 'pending');
        PERFORM 1 FROM orders o WHERE o.id = ANY(v_orders) ORDER BY o.id FOR UPDATE;
        PERFORM 1 FROM products pr
          WHERE pr.sku = ANY(ARRAY(SELECT l.sku FROM order_lines l WHERE l.order_id = ANY(v_orders)))
          ORDER BY pr.sku FOR UPDATE;

        FOR v_e IN SELECT x.e, x.n FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, n) LOOP
          SELECT * INTO v_s FROM orderlock_settle_payment(
            v_e.e ->> 'eventId', (v_e.e ->> 'paymentId')::uuid, (v_e.e ->> 'amountCents')::bigint);
          v_pos := v_pos || v_e.n::int;
          v_outcomes := v_outcomes || v_s.outcome;
          v_reasons := v_reasons || v_s.reason;
          v_payment_of := v_payment_of || CASE WHEN v_s.outcome = 'processed' THEN (v_e.e ->> 'paymentId')::uuid END;
          IF v_s.outcome = 'processed' THEN
            v_paid := v_paid || (v_e.e ->> 'paymentId')::uuid;
            v_customers := v_customers || v_s.paid_by;
            v_amounts := v_amounts || v_s.paid_cents;
          END IF;
        END LOOP;

        v_counted := ARRAY(SELECT orderlock_record_purchases(v_paid, v_customers, v_amounts, p_shard));
        RETURN QUERY
          SELECT r.pos, r.outcome, r.reason, coalesce(r.payment_id = ANY(v_counted), false)
            FROM unnest(v_pos, v_outcomes, v_reasons, v_payment_of) AS r(pos, outcome, reason, payment_id);
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS orderlock_confirm_payments(jsonb, int)`);
    await q.query(`DROP FUNCTION IF EXISTS orderlock_record_purchases(uuid[], uuid[], bigint[], int)`);
    // Back to migration 4's single function (and migration 5's setting on it).
    await q.query(`DROP FUNCTION IF EXISTS orderlock_confirm_payment(text, uuid, bigint, int)`);
    await q.query(`DROP FUNCTION IF EXISTS orderlock_record_purchase(uuid, uuid, bigint, int)`);
    await q.query(`DROP FUNCTION IF EXISTS orderlock_settle_payment(text, uuid, bigint)`);
    await new ConfirmPaymentFunction1764000000004().up(q);
    await q.query(`ALTER FUNCTION orderlock_confirm_payment(text, uuid, bigint, int) SET plan_cache_mode = force_generic_plan`);
  }
}
