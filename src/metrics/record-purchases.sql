-- The one definition of counting a purchase: succeeded payments into the
-- purchase counters, each payment at most once, in the caller's
-- transaction, set-based:
--   1. counted_payments (payment id primary key, ON CONFLICT DO NOTHING) is
--      the dedupe key: a payment already counted inserts nothing and moves
--      nothing below;
--   2. counted_customer_days: a customer's first counted purchase of the UTC
--      day adds one unique customer;
--   3. purchase_counters: one atomic increment of one shard row per day
--      (ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n), never a
--      read-modify-write; readers sum the shards.
-- The day is the UTC day of the transaction's now(), the instant of the
-- payments' succeeded_at. Rows are taken in key order, the counter row last
-- (an aggregate over every counted row), so waits on them cannot form a
-- cycle; it must be the last statement of its transaction. Returns the ids
-- of the payments this call counted.
CREATE OR REPLACE FUNCTION orderlock_record_purchases(p_payment_ids uuid[], p_customer_ids uuid[], p_amounts bigint[], p_shard int)
RETURNS SETOF uuid
LANGUAGE sql VOLATILE
SET plan_cache_mode = force_generic_plan
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
$fn$;
