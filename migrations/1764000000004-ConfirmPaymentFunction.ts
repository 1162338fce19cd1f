import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The payment-success signal as ONE database call (its own transaction), for
 * the same reason as orderlock_place_order: about ten statements as separate
 * round trips held the payment, order, product and counter rows across every
 * one of them. What must stay true is exactly what src/payments/confirm-payment.ts
 * documents; in order:
 *   1. lock the payment row FOR UPDATE (every event about one payment is
 *      serialised here), then record the event id (primary key, ON CONFLICT
 *      DO NOTHING): already recorded → duplicate, nothing else happens;
 *   2. unknown payment, failed payment, amount mismatch → ignored; already
 *      succeeded → duplicate (the event row records the outcome);
 *   3. pending with the right amount: lock the order row, which must be
 *      pending_payment; payment → succeeded and order → paid, each a
 *      compare-and-swap on the version read under the lock (a lost swap is
 *      raised as 40001, so the caller retries the whole call); the order's
 *      product rows locked in SKU order and their held stock sold; then the
 *      purchase counters, last (orderlock_record_purchase).
 * Lock order: payment → order → products → counters, as everywhere.
 */
export class ConfirmPaymentFunction1764000000004 implements MigrationInterface {
  name = "ConfirmPaymentFunction1764000000004";

  async up(q: QueryRunner): Promise<void> {
    // The one definition of counting a purchase; recordPurchase() calls it too.
    await q.query(`
      CREATE FUNCTION orderlock_record_purchase(p_payment_id uuid, p_customer_id uuid, p_amount_cents bigint, p_shard int)
      RETURNS boolean LANGUAGE sql VOLATILE
      AS $fn$
        WITH counted AS (
          INSERT INTO counted_payments (payment_id, day, customer_id, amount_cents)
          VALUES (p_payment_id, (now() AT TIME ZONE 'UTC')::date, p_customer_id, p_amount_cents)
          ON CONFLICT (payment_id) DO NOTHING
          RETURNING day, customer_id, amount_cents
        ), first_of_day AS (
          INSERT INTO counted_customer_days (day, customer_id)
          SELECT day, customer_id FROM counted
          ON CONFLICT (day, customer_id) DO NOTHING
          RETURNING customer_id
        ), bumped AS (
          INSERT INTO purchase_counters (day, shard, purchases, revenue_cents, unique_customers)
          SELECT day, p_shard, 1, amount_cents, (SELECT count(*) FROM first_of_day) FROM counted
          ON CONFLICT (day, shard) DO UPDATE
             SET purchases = purchase_counters.purchases + EXCLUDED.purchases,
                 revenue_cents = purchase_counters.revenue_cents + EXCLUDED.revenue_cents,
                 unique_customers = purchase_counters.unique_customers + EXCLUDED.unique_customers
          RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM bumped)
      $fn$`);

    await q.query(`
      CREATE FUNCTION orderlock_confirm_payment(p_event_id text, p_payment_id uuid, p_amount_cents bigint, p_shard int)
      RETURNS TABLE (outcome text, reason text, counted boolean)
      LANGUAGE plpgsql VOLATILE
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
          RETURN QUERY SELECT 'duplicate'::text, 'event id already received'::text, false;
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
          RETURN QUERY SELECT v_outcome, v_reason, false;
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

        RETURN QUERY SELECT 'processed'::text, 'payment succeeded; order paid'::text,
                            orderlock_record_purchase(v_pay.id, v_pay.customer_id, v_pay.amount_cents, p_shard);
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS orderlock_confirm_payment(text, uuid, bigint, int)`);
    await q.query(`DROP FUNCTION IF EXISTS orderlock_record_purchase(uuid, uuid, bigint, int)`);
  }
}
