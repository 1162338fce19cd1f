-- The one definition of a refund's compensating counter entries, in the
-- caller's transaction (the last statement of it: counter rows are the last
-- in the lock order). Counters are never decremented in place:
--   p_kind 'refund':   a succeeded refund of a COUNTED payment adds
--                      refunds +1 and refunded_cents + amount on the UTC day
--                      of now() (the refund's settlement); counted_refunds
--                      (refund id primary key, ON CONFLICT DO NOTHING) is the
--                      dedupe key, and a refund of a payment that was never
--                      counted (a late success) inserts nothing;
--   p_kind 'reversal': a dispute refund whose funds were reinstated adds
--                      reversed_refunds +1 and reversed_refunded_cents +
--                      amount on the UTC day of the reinstatement, once
--                      (counted_refund_reversals), and only if its refund
--                      entry was taken.
-- Returns the refund ids this call counted.
CREATE OR REPLACE FUNCTION orderlock_record_refunds(p_refund_ids uuid[], p_kind text, p_shard int)
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
  IF p_kind = 'refund' THEN
    RETURN QUERY
    WITH counted AS (
      INSERT INTO counted_refunds (refund_id, day, amount_cents)
      SELECT r.id, (now() AT TIME ZONE 'UTC')::date, r.amount_cents
        FROM refunds r
       WHERE r.id = ANY(p_refund_ids) AND r.status = 'succeeded'
         AND EXISTS (SELECT 1 FROM counted_payments cp WHERE cp.payment_id = r.payment_id)
       ORDER BY r.id
      ON CONFLICT (refund_id) DO NOTHING
      RETURNING refund_id, day, amount_cents
    ), bumped AS (
      INSERT INTO purchase_counters (day, shard, refunds, refunded_cents)
      SELECT c.day, p_shard, count(*), sum(c.amount_cents) FROM counted c GROUP BY c.day
      ON CONFLICT (day, shard) DO UPDATE
         SET refunds = purchase_counters.refunds + EXCLUDED.refunds,
             refunded_cents = purchase_counters.refunded_cents + EXCLUDED.refunded_cents
      RETURNING 1
    )
    SELECT c.refund_id FROM counted c;
  ELSIF p_kind = 'reversal' THEN
    RETURN QUERY
    WITH counted AS (
      INSERT INTO counted_refund_reversals (refund_id, day, amount_cents)
      SELECT cr.refund_id, (now() AT TIME ZONE 'UTC')::date, cr.amount_cents
        FROM counted_refunds cr JOIN refunds r ON r.id = cr.refund_id
       WHERE cr.refund_id = ANY(p_refund_ids) AND r.status = 'reversed'
       ORDER BY cr.refund_id
      ON CONFLICT (refund_id) DO NOTHING
      RETURNING refund_id, day, amount_cents
    ), bumped AS (
      INSERT INTO purchase_counters (day, shard, reversed_refunds, reversed_refunded_cents)
      SELECT c.day, p_shard, count(*), sum(c.amount_cents) FROM counted c GROUP BY c.day
      ON CONFLICT (day, shard) DO UPDATE
         SET reversed_refunds = purchase_counters.reversed_refunds + EXCLUDED.reversed_refunds,
             reversed_refunded_cents = purchase_counters.reversed_refunded_cents + EXCLUDED.reversed_refunded_cents
      RETURNING 1
    )
    SELECT c.refund_id FROM counted c;
  ELSE
    RAISE EXCEPTION 'unknown counter entry kind %', p_kind USING ERRCODE = '22023';
  END IF;
END
$fn$;
